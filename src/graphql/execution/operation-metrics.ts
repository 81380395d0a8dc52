import type { Histogram } from 'prom-client';
import type { OperationObserver } from './operation-observer';

export interface OperationMetricsOptions {
  /** Observes each operation's seconds, labelled by operation name, type and outcome. */
  duration: Histogram<'operation' | 'type' | 'outcome'>;
  /**
   * Distinct operation names kept as label values (default 200). Clients choose the names, so
   * later ones count as `other` rather than grow the series without bound.
   */
  maxOperationNames?: number;
}

const DEFAULT_MAX_OPERATION_NAMES = 200;

/**
 * Times each GraphQL operation over HTTP, from the request reaching GraphQL to its response:
 * `operation` is its name or `anonymous`, `type` query or mutation (`unknown` when it never
 * resolved: a parse or validation error), `outcome` ok or error (any error in the response).
 */
export function useOperationMetrics(options: OperationMetricsOptions): OperationObserver {
  const max = options.maxOperationNames ?? DEFAULT_MAX_OPERATION_NAMES;
  const names = new Set<string>();
  const labelOf = (name: string | null): string => {
    if (name === null) return 'anonymous';
    if (names.has(name)) return name;
    if (names.size >= max) return 'other';
    names.add(name);
    return name;
  };
  return () => {
    const startMs = performance.now();
    let type = 'unknown';
    let name: string | null = null;
    return {
      resolved(operationType, operationName) {
        type = operationType;
        name = operationName;
      },
      finished(errors) {
        const labels = { operation: labelOf(name), type, outcome: errors === undefined || errors.length === 0 ? 'ok' : 'error' };
        options.duration.observe(labels, (performance.now() - startMs) / 1000);
      },
    };
  };
}
