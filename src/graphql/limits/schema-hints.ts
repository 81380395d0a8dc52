import { GraphQLError } from 'graphql';

/**
 * graphql-js's suggestions name the schema's fields, types, arguments and enum values
 * ("Did you mean "label"?", "Did you mean to use an inline fragment on "VideoFlow"?"): with
 * introspection off they must not leave, or the schema can be guessed name by name.
 */
const SUGGESTION = / ?Did you mean .*\?$/s;

/** The message without its suggestion. */
export function stripSuggestion(message: string): string {
  return message.replace(SUGGESTION, '');
}

/** The same error without a suggestion in its message. */
export function withoutSuggestions(error: GraphQLError): GraphQLError {
  const message = stripSuggestion(error.message);
  if (message === error.message) return error;
  return new GraphQLError(message, {
    ...(error.nodes === undefined ? {} : { nodes: error.nodes }),
    ...(error.source === undefined ? {} : { source: error.source }),
    ...(error.positions === undefined ? {} : { positions: error.positions }),
    ...(error.path === undefined ? {} : { path: error.path }),
    ...(error.originalError === undefined ? {} : { originalError: error.originalError }),
    extensions: error.extensions,
  });
}
