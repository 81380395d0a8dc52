import { SpanKind, SpanStatusCode, context, trace, type Tracer } from '@opentelemetry/api';
import type { StoreCallObserver } from '../adapters/instrumented-store';

/**
 * A client span per metadata store call made within a traced request (`store getFlow`), made
 * once the call has settled with its real start and end. Calls outside any request (the
 * outbox poll every second, background deletions) make none: they would only be noise.
 */
export function storeSpans(tracer: Tracer, storeName: string): StoreCallObserver {
  const record = (method: string, startMs: number, endMs: number, failed: boolean, error?: unknown): void => {
    const parent = context.active();
    if (trace.getSpan(parent) === undefined) return;
    const span = tracer.startSpan(
      `store ${method}`,
      { kind: SpanKind.CLIENT, startTime: startMs, attributes: { 'db.system.name': storeName, 'db.operation.name': method } },
      parent,
    );
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : 'store call failed' });
    span.end(endMs);
  };
  return {
    succeeded: (method, startMs, endMs) => record(method, startMs, endMs, false),
    failed: (method, startMs, endMs, error) => record(method, startMs, endMs, true, error),
  };
}
