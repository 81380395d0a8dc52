import type { ApolloServerPlugin } from '@apollo/server';
import type { Histogram } from 'prom-client';

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
 * Times each GraphQL operation over HTTP, from the request reaching Apollo to its response:
 * `operation` is its name or `anonymous`, `type` query or mutation (`unknown` when it never
 * resolved: a parse or validation error), `outcome` ok or error (any error in the response).
 */
export function useOperationMetrics<C extends object>(options: OperationMetricsOptions): ApolloServerPlugin<C> {
  const max = options.maxOperationNames ?? DEFAULT_MAX_OPERATION_NAMES;
  const names = new Set<string>();
  const labelOf = (name: string | null | undefined): string => {
    if (name === null || name === undefined) return 'anonymous';
    if (names.has(name)) return name;
    if (names.size >= max) return 'other';
    names.add(name);
    return name;
  };
  return {
    async requestDidStart() {
      const startMs = performance.now();
      return {
        async willSendResponse({ operationName, operation, errors }) {
          const labels = {
            operation: labelOf(operationName),
            type: operation?.operation ?? 'unknown',
            outcome: errors === undefined || errors.length === 0 ? 'ok' : 'error',
          };
          options.duration.observe(labels, (performance.now() - startMs) / 1000);
        },
      };
    },
  };
}
