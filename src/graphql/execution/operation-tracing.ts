import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { OperationObserver } from './operation-observer';

/**
 * A span per GraphQL operation over HTTP, child of the request's span, named as the
 * semantic conventions say (`query FlowList`, or `GraphQL Operation` until it resolves).
 * Resolvers run in the request's span context, so their store calls are its children too.
 */
export function useOperationTracing(tracer: Tracer): OperationObserver {
  return () => {
    const span = tracer.startSpan('GraphQL Operation', { kind: SpanKind.INTERNAL });
    return {
      resolved(type, name) {
        span.setAttribute('graphql.operation.type', type);
        if (name !== null) span.setAttribute('graphql.operation.name', name);
        span.updateName(name === null ? type : `${type} ${name}`);
      },
      finished(errors) {
        if (errors !== undefined && errors.length > 0) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: errors.map((e) => e.message).join('; ').slice(0, 500) });
        }
        span.end();
      },
    };
  };
}
