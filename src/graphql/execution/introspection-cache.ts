import type { ApolloServerPlugin, GraphQLRequestContext } from '@apollo/server';
import { type FormattedExecutionResult, Kind, type OperationDefinitionNode, OperationTypeNode, print } from 'graphql';
import { BoundedCache } from './bounded-cache';

/** Introspection answers kept (the full query's is about 160 KB here), and their bytes in all. */
const MAX_ANSWERS = 16;
const MAX_BYTES = 8 * 1024 * 1024;

/** An operation that selects only `__schema` and `__type` at its root (and `__typename`). */
function introspectionOnly(operation: OperationDefinitionNode | undefined): boolean {
  if (operation === undefined || operation.operation !== OperationTypeNode.QUERY) return false;
  const { selections } = operation.selectionSet;
  return (
    selections.some((s) => s.kind === Kind.FIELD && (s.name.value === '__schema' || s.name.value === '__type')) &&
    selections.every((s) => s.kind === Kind.FIELD && s.name.value.startsWith('__') && (s.directives?.length ?? 0) === 0)
  );
}

/**
 * Answers introspection from memory. What `__schema` and `__type` answer depends only on the
 * schema, never on the caller or the store, and executing the standard introspection query
 * costs about 9 ms of CPU (this schema, graphql-js), twenty times a small query: tools send it
 * on every page load, each with its own formatting. Answers are keyed by the printed document
 * (formatting and comments do not matter), operation name and variables, and kept for the
 * process's life (the schema never changes while it runs), at most MAX_ANSWERS of them and
 * MAX_BYTES in all (an answer larger than that is not kept).
 * Only installed with GRAPHQL_INTROSPECTION on; the operation has passed the limits and
 * validation like any other.
 */
export function useIntrospectionCache<C extends object>(): ApolloServerPlugin<C> {
  const answers = new BoundedCache<FormattedExecutionResult>(MAX_ANSWERS, MAX_BYTES);
  const keyOf = (rc: GraphQLRequestContext<C>): string | undefined => {
    if (rc.document === undefined || !introspectionOnly(rc.operation)) return undefined;
    return `${rc.operationName ?? ''}\n${JSON.stringify(rc.request.variables ?? {})}\n${print(rc.document)}`;
  };
  return {
    async requestDidStart() {
      let key: string | undefined;
      return {
        async responseForOperation(rc) {
          key = keyOf(rc);
          const answer = key === undefined ? undefined : answers.get(key);
          return answer === undefined ? null : { http: rc.response.http, body: { kind: 'single', singleResult: answer } };
        },
        async willSendResponse({ response }) {
          if (key === undefined || answers.has(key) || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          // Weighed by its JSON (twice: the heap holds the objects), once, when it is kept.
          if (result.errors === undefined && result.data !== undefined && result.data !== null) answers.set(key, result, 2 * JSON.stringify(result.data).length);
        },
      };
    },
  };
}
