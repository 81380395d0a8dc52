import { type Client, createClient } from 'graphql-ws';
import { EventCursorDocument } from './generated/graphql';
import { type GraphqlErrorEntry, type Operation, type RequestFunction, TamsGraphqlError, type TokenSource, currentToken } from './graphql-request';

/** The variables of a resumable subscription: it declares `$after: String` and passes it to the field's `after:`. */
export interface ResumableVariables {
  after?: string | null;
}

export interface SubscribeOptions<TResult, TVariables extends ResumableVariables> {
  /** The operation's variables but `after`, which the helper sets. */
  variables?: Omit<TVariables, 'after'>;
  /**
   * Resume after this cursor (one `onEvent` was given earlier, kept across a page reload).
   * Default: from the moment `subscribe` is called.
   */
  after?: string;
  /** Each event once, in commit order, with its cursor. */
  onEvent: (data: TResult, cursor: string) => void;
  /**
   * The subscription ended for good and is not retried: the gateway refused it (bad variables,
   * a malformed cursor, EVENT_CURSOR_EXPIRED when retention removed events after the cursor,
   * credentials refused). Without it the error is thrown asynchronously.
   */
  onError?: (error: TamsGraphqlError) => void;
  /** Told false when the connection is lost and true when a connection is up again. */
  onConnectionChange?: (connected: boolean) => void;
}

export interface ResumableSubscription {
  /**
   * Resolves once the start position is fixed: every event committed from then on is
   * delivered. Rejects when the subscription could not start (onError is told too).
   */
  readonly ready: Promise<void>;
  /** The cursor of the last event delivered (or of the start position); keep it to resume later. */
  readonly cursor: string | undefined;
  /** Ends the subscription and closes its connection. */
  unsubscribe(): void;
}

export interface RetryOptions {
  /** The first wait before reconnecting (default 250 ms); it doubles up to maxDelayMs. */
  minDelayMs?: number;
  /** The longest wait between attempts (default 10 s). */
  maxDelayMs?: number;
}

export interface SubscriberOptions {
  wsUrl: string;
  token: TokenSource | undefined;
  /** A WebSocket constructor (browsers and Node 22 have one; Node 20 passes `ws`). */
  webSocketImpl: unknown;
  request: RequestFunction;
  retry: RetryOptions;
}

export type SubscribeFunction = <TResult, TVariables extends ResumableVariables>(
  operation: Operation<TResult, TVariables>,
  options: SubscribeOptions<TResult, TVariables>,
) => ResumableSubscription;

/**
 * graphql-ws close codes that retrying cannot mend: bad request, credentials refused, forbidden,
 * subprotocol, duplicate subscriber. Others (server restarting, network gone, 4429, 1013) are
 * retried with backoff.
 */
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4406, 4409, 4500]);

function closeCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code } = error as { code?: unknown };
  return typeof code === 'number' ? code : undefined;
}

function asGraphqlError(error: unknown): TamsGraphqlError | undefined {
  if (error instanceof TamsGraphqlError) return error;
  if (Array.isArray(error)) return new TamsGraphqlError(error as GraphqlErrorEntry[]);
  const code = closeCode(error);
  if (code !== undefined && FATAL_CLOSE_CODES.has(code)) {
    const reason = (error as { reason?: unknown }).reason;
    return new TamsGraphqlError([{ message: `Connection closed (${code}${typeof reason === 'string' && reason !== '' ? ` ${reason}` : ''})`, extensions: { code: `CLOSE_${code}` } }]);
  }
  return undefined;
}

function cursorOf(extensions: unknown): string | undefined {
  if (typeof extensions !== 'object' || extensions === null) return undefined;
  const { cursor } = extensions as { cursor?: unknown };
  return typeof cursor === 'string' ? cursor : undefined;
}

export function resumableSubscriber(options: SubscriberOptions): SubscribeFunction {
  const minDelayMs = options.retry.minDelayMs ?? 250;
  const maxDelayMs = options.retry.maxDelayMs ?? 10_000;
  return <TResult, TVariables extends ResumableVariables>(operation: Operation<TResult, TVariables>, sub: SubscribeOptions<TResult, TVariables>) => {
    let cursor = sub.after;
    let stopped = false;
    let failures = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let dispose: (() => void) | undefined;
    let connected = false;
    const client: Client = createClient({
      url: options.wsUrl,
      webSocketImpl: options.webSocketImpl,
      // This helper retries itself, each time with the newest cursor.
      retryAttempts: 0,
      connectionParams: async () => {
        const bearer = await currentToken(options.token);
        return bearer === undefined ? {} : { authorization: `Bearer ${bearer}` };
      },
      on: {
        connected: () => {
          failures = 0;
          connected = true;
          sub.onConnectionChange?.(true);
        },
        closed: () => {
          if (!connected) return;
          connected = false;
          sub.onConnectionChange?.(false);
        },
      },
    });

    const stop = (): void => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      dispose?.();
      dispose = undefined;
      void client.dispose();
    };
    const fail = (error: TamsGraphqlError): void => {
      if (stopped) return;
      stop();
      if (sub.onError !== undefined) sub.onError(error);
      else
        setTimeout(() => {
          throw error;
        });
    };
    const later = (attempt: () => void): void => {
      // Stopped: the attempt runs at once and sees it (a waiting start returns).
      if (stopped) {
        attempt();
        return;
      }
      const delay = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(failures, 16));
      failures++;
      timer = setTimeout(attempt, delay * (0.5 + Math.random() / 2));
    };

    const open = (): void => {
      if (stopped) return;
      const variables = { ...sub.variables, after: cursor ?? null };
      dispose = client.subscribe<TResult>(
        { query: operation.toString(), variables },
        {
          next: (result) => {
            if (stopped) return;
            if (result.errors !== undefined && result.errors.length > 0) {
              fail(new TamsGraphqlError(result.errors, undefined, result.data));
              return;
            }
            const next = cursorOf(result.extensions);
            if (next === undefined || result.data === undefined || result.data === null) {
              fail(new TamsGraphqlError([{ message: 'The gateway sent an event without a cursor: it cannot resume subscriptions' }]));
              return;
            }
            // The gateway never repeats an event on resume; this guards against a repeated message.
            if (next === cursor) return;
            cursor = next;
            failures = 0;
            sub.onEvent(result.data, next);
          },
          error: (error) => {
            dispose = undefined;
            const fatal = asGraphqlError(error);
            if (fatal !== undefined) fail(fatal);
            else later(open);
          },
          complete: () => {
            dispose = undefined;
            // The gateway ended it without an error (it is shutting down): resume.
            later(open);
          },
        },
      );
    };

    const start = async (): Promise<void> => {
      for (;;) {
        if (stopped) return;
        try {
          if (cursor === undefined) cursor = (await options.request(EventCursorDocument)).eventCursor;
          open();
          return;
        } catch (err) {
          if (err instanceof TamsGraphqlError && err.status !== undefined && err.status < 500 && err.status !== 429) throw err;
          await new Promise<void>((resolve) => later(resolve));
        }
      }
    };
    const ready = start();
    ready.catch((err: unknown) => fail(err instanceof TamsGraphqlError ? err : new TamsGraphqlError([{ message: String(err) }])));

    return {
      ready,
      get cursor() {
        return cursor;
      },
      unsubscribe: stop,
    };
  };
}
