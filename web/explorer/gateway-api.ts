/**
 * The explorer's link to the gateway: GraphQL queries over HTTP and subscriptions over
 * graphql-ws on the same path, both carrying the token typed into the page.
 */
import { type Client, createClient } from 'graphql-ws';

const TOKEN_KEY = 'tams-explorer-token';
/** graphql-ws close codes for a connection refused its credentials. */
const REFUSED_CLOSE_CODES = new Set([4401, 4403]);

/** The token of this tab (sessionStorage: gone with the tab, never sent to another origin). */
export function storedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function storeToken(token: string): void {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** The Authorization header value of a token: a bare token is a bearer token; "Basic ..." and "Bearer ..." pass as typed. */
export function authorizationOf(token: string): string | undefined {
  const trimmed = token.trim();
  if (trimmed === '') return undefined;
  return /^(Bearer|Basic)\s/i.test(trimmed) ? trimmed : `Bearer ${trimmed}`;
}

export interface GraphqlError {
  message: string;
  extensions?: { code?: string };
}

export class GatewayError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

export interface Observer<T> {
  next(data: T): void;
  error(message: string): void;
}

export class GatewayApi {
  private client: Client | undefined;
  private readonly reconnectListeners: (() => void)[] = [];

  constructor(
    private readonly graphqlPath: string,
    private token: string,
  ) {}

  setToken(token: string): void {
    this.token = token;
    // The socket authenticated with the old token; a new one authenticates with this one.
    void this.client?.dispose();
    this.client = undefined;
  }

  /** Called when the socket comes back after a drop: events sent meanwhile were missed. */
  onReconnected(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const authorization = authorizationOf(this.token);
    const response = await fetch(this.graphqlPath, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(authorization === undefined ? {} : { authorization }) },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    let body: { data?: T; errors?: GraphqlError[] } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new GatewayError(`the gateway answered ${response.status} with something other than JSON`, response.status);
    }
    if (body?.errors !== undefined && body.errors.length > 0) {
      throw new GatewayError(body.errors.map((e) => e.message).join('; '), response.status);
    }
    if (body?.data === undefined) throw new GatewayError(`the gateway answered ${response.status} without data`, response.status);
    return body.data;
  }

  /** Starts a subscription; the returned function ends it. */
  subscribe<T>(query: string, variables: Record<string, unknown>, observer: Observer<T>): () => void {
    return this.socket().subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors !== undefined && result.errors.length > 0) observer.error(result.errors.map((e) => e.message).join('; '));
          else if (result.data !== undefined && result.data !== null) observer.next(result.data);
        },
        error: (err) => observer.error(describeSocketError(err)),
        complete: () => undefined,
      },
    );
  }

  close(): void {
    void this.client?.dispose();
    this.client = undefined;
  }

  private socket(): Client {
    if (this.client !== undefined) return this.client;
    const url = new URL(this.graphqlPath, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let connections = 0;
    this.client = createClient({
      url: url.href,
      lazy: true,
      connectionParams: () => {
        const authorization = authorizationOf(this.token);
        return authorization === undefined ? {} : { authorization };
      },
      retryAttempts: Number.POSITIVE_INFINITY,
      // A refused token stays refused: retrying it would only count failed authentications.
      shouldRetry: (event) => !REFUSED_CLOSE_CODES.has((event as { code?: number } | undefined)?.code ?? 0),
      on: {
        connected: () => {
          connections += 1;
          if (connections > 1) for (const listener of this.reconnectListeners) listener();
        },
      },
    });
    return this.client;
  }
}

function describeSocketError(err: unknown): string {
  if (Array.isArray(err)) return err.map((e: GraphqlError) => e.message).join('; ');
  if (err instanceof Error) return err.message;
  const close = err as { code?: number; reason?: string } | undefined;
  if (close?.code !== undefined) return `subscription socket closed (${close.code}${close.reason ? `: ${close.reason}` : ''})`;
  return 'subscription failed';
}
