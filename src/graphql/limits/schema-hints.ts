/**
 * graphql-js's suggestions name the schema's fields, types, arguments and enum values
 * ("Did you mean "label"?", "Did you mean to use an inline fragment on "VideoFlow"?", "Did you
 * mean the enum value "CREATED"?"): with introspection off they must not leave, or the schema
 * can be guessed name by name.
 */
const SUGGESTION = / ?Did you mean .*\?$/s;

/** The message without its suggestion. */
export function stripSuggestion(message: string): string {
  return message.replace(SUGGESTION, '');
}
