/**
 * HTTP 503 for a GraphQL operation the metadata store's outage failed, as REST answers it, so
 * load balancers, client retries and monitoring see the outage instead of a 200: when a store
 * error (`unavailable`, SERVICE_UNAVAILABLE) is among the operation's errors and no top-level
 * field produced a value. A partial result (some fields answered) keeps its status.
 * Applied on both paths: Apollo's (the plugin) and the prepared-query path.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { TamsError } from '../../domain/errors';

const UNAVAILABLE = 503;

/** The TamsError behind a GraphQL error, however many times graphql-js and Apollo wrapped it. */
export function tamsErrorOf(error: unknown): TamsError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (current instanceof TamsError) return current;
    current = (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}

/** 503 when the operation failed for the store's outage (see above); undefined otherwise. */
export function outageStatus(data: Record<string, unknown> | null | undefined, errors: readonly unknown[]): number | undefined {
  if (!errors.some((e) => tamsErrorOf(e)?.code === 'unavailable')) return undefined;
  const answered = data !== null && data !== undefined && Object.values(data).some((value) => value !== null && value !== undefined);
  return answered ? undefined : UNAVAILABLE;
}

/** Sets the status of Apollo's single results (before the audit plugin reads it: list it first). */
export function useOutageStatus<C extends object>(): ApolloServerPlugin<C> {
  return {
    requestDidStart: async () => ({
      willSendResponse: async ({ response, errors }) => {
        if (response.body.kind !== 'single' || errors === undefined) return;
        const status = outageStatus(response.body.singleResult.data, errors);
        if (status !== undefined) response.http.status = status;
      },
    }),
  };
}
