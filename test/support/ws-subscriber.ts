/**
 * A graphql-ws client for integration tests: one connection, the results of its
 * subscriptions, and how the socket closed (the close code the server chose).
 */
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON results
type Json = any;

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `condition` every 10 ms; throws naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export class Subscriber {
  readonly results: Json[] = [];
  readonly errors: Json[] = [];
  closeCode: number | undefined;
  /** When the socket closed (Date.now()), for the tests that time it. */
  closedAtMs: number | undefined;
  acknowledged = false;
  readonly client: Client;

  constructor(url: string, connectionParams: Record<string, unknown>) {
    this.client = createClient({
      url,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams,
      on: {
        connected: () => (this.acknowledged = true),
        closed: (event) => {
          this.closeCode ??= (event as { code: number }).code;
          this.closedAtMs ??= Date.now();
        },
      },
    });
  }

  subscribe(query: string): void {
    this.client.subscribe(
      { query },
      { next: (result) => this.results.push(result), error: (err) => this.errors.push(err), complete: () => undefined },
    );
  }

  /** The `field` of every result, in order. */
  data(field: string): Json[] {
    return this.results.filter((r) => r.data?.[field] !== undefined).map((r) => r.data[field]);
  }
}
