import type { ApolloServerPlugin } from '@apollo/server';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';

/**
 * A span per GraphQL operation over HTTP, child of the request's span, named as the
 * semantic conventions say (`query FlowList`, or `GraphQL Operation` until it resolves).
 * Resolvers run in the request's span context, so their store calls are its children too.
 */
export function useOperationTracing<C extends object>(tracer: Tracer): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      const span = tracer.startSpan('GraphQL Operation', { kind: SpanKind.INTERNAL });
      return {
        async didResolveOperation({ operation, operationName }) {
          if (operation === undefined) return;
          span.setAttribute('graphql.operation.type', operation.operation);
          if (operationName !== null) span.setAttribute('graphql.operation.name', operationName);
          span.updateName(operationName === null ? operation.operation : `${operation.operation} ${operationName}`);
        },
        async willSendResponse({ errors }) {
          if (errors !== undefined && errors.length > 0) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: errors.map((e) => e.message).join('; ').slice(0, 500) });
          }
          span.end();
        },
      };
    },
  };
}
