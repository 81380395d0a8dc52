import { type RequestFunction, type TokenSource, graphqlRequester } from './graphql-request';
import { type RetryOptions, type SubscribeFunction, resumableSubscriber } from './resumable-subscription';

export interface TamsClientOptions {
  /** The gateway's GraphQL endpoint, e.g. `https://tams.example.com/graphql`. */
  url: string;
  /** A bearer token, or a function giving the current one (called per request and per connection). */
  token?: TokenSource;
  /** Default: the global `fetch` (browsers, Node 18+). */
  fetch?: typeof fetch;
  /** The WebSocket endpoint; default: `url` with ws:// or wss://. */
  wsUrl?: string;
  /** A WebSocket constructor for subscriptions; default: the global one (browsers, Node 22). On Node 20 pass `ws`'s. */
  webSocketImpl?: unknown;
  /** How subscriptions back off between reconnection attempts. */
  retry?: RetryOptions;
}

export interface TamsClient {
  /** Runs a query or mutation; rejects with TamsGraphqlError when the gateway reports errors. */
  request: RequestFunction;
  /** A subscription that reconnects and resumes after the last event it delivered (each event once). */
  subscribe: SubscribeFunction;
}

export function createTamsClient(options: TamsClientOptions): TamsClient {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const request = graphqlRequester(options.url, options.token, fetchImpl);
  const subscribe = resumableSubscriber({
    wsUrl: options.wsUrl ?? options.url.replace(/^http/, 'ws'),
    token: options.token,
    webSocketImpl: options.webSocketImpl,
    request,
    retry: options.retry ?? {},
  });
  return { request, subscribe };
}
