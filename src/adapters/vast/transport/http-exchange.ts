/**
 * One HTTP request to VAST and its whole answer, over node:http or node:https: a select is a GET
 * with a body, which fetch (and undici's fetch) refuse to send. Never throws: every ending is a
 * result, and the result says whether the request can have reached the server, which decides
 * whether repeating it is safe (retry-policy.ts).
 */
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { VastEndpoint } from './vast-endpoint';

export interface ExchangeRequest {
  agent: http.Agent;
  endpoint: VastEndpoint;
  method: string;
  /** Path and query, as sent. */
  path: string;
  headers: OutgoingHttpHeaders;
  body: Buffer | undefined;
  /** Until the TCP connection (and TLS handshake) is up. */
  connectTimeoutMs: number;
  /** Until the last byte of the answer, from the start. */
  requestTimeoutMs: number;
  /** An answer longer than this is cut off. */
  maxResponseBytes: number;
}

export type ExchangeResult =
  | { type: 'answer'; status: number; headers: IncomingHttpHeaders; body: Buffer; reusedSocket: boolean }
  /** Nothing of the request reached the server: no connection, or none in time. */
  | { type: 'unsent'; failure: 'timeout' | 'connection'; detail: string; limit?: number }
  /** The request may have reached the server. */
  | { type: 'lost'; failure: 'timeout' | 'connection' | 'response_too_large'; detail: string; limit?: number };

/** A socket error's code and text. Read by shape: node's own errors can come from another realm (a VM context, jest), where `instanceof Error` is false. */
function errorText(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'unknown error';
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : 'unknown error';
  return typeof code === 'string' ? `${code}: ${text}` : text;
}

export function exchange(request: ExchangeRequest): Promise<ExchangeResult> {
  return new Promise<ExchangeResult>((resolve) => {
    // Set once a byte of the request may be on its way: the connection is up (and, for TLS,
    // the handshake done), or the socket came from the keep-alive pool already connected.
    let mayHaveArrived = false;
    let settled = false;
    let connectTimer: NodeJS.Timeout | undefined;

    // Only ever called from events and timers, after everything below is set up.
    const finish = (result: ExchangeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(requestTimer);
      clearTimeout(connectTimer);
      resolve(result);
    };
    const abandon = (result: ExchangeResult): void => {
      finish(result);
      // Destroyed, not returned to the pool: a half-read answer must not reach the next request.
      outgoing.destroy();
    };

    const client = request.endpoint.protocol === 'https:' ? https : http;
    const outgoing = client.request({
      agent: request.agent,
      host: request.endpoint.connectHost,
      port: request.endpoint.port,
      method: request.method,
      path: request.path,
      headers: request.headers,
    });

    const requestTimer = setTimeout(() => {
      const detail = `no complete answer within ${request.requestTimeoutMs} ms`;
      abandon({ type: mayHaveArrived ? 'lost' : 'unsent', failure: 'timeout', detail, limit: request.requestTimeoutMs });
    }, request.requestTimeoutMs);

    outgoing.on('socket', (socket: Socket) => {
      if (!socket.connecting) {
        mayHaveArrived = true;
        return;
      }
      connectTimer = setTimeout(() => {
        abandon({ type: 'unsent', failure: 'timeout', detail: `no connection within ${request.connectTimeoutMs} ms`, limit: request.connectTimeoutMs });
      }, request.connectTimeoutMs);
      socket.once(request.endpoint.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
        mayHaveArrived = true;
        clearTimeout(connectTimer);
      });
    });

    outgoing.on('response', (incoming) => {
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxResponseBytes) {
          abandon({ type: 'lost', failure: 'response_too_large', detail: `answer longer than ${request.maxResponseBytes} bytes`, limit: request.maxResponseBytes });
          return;
        }
        chunks.push(chunk);
      });
      incoming.on('end', () => {
        finish({ type: 'answer', status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks, size), reusedSocket: outgoing.reusedSocket });
      });
      incoming.on('error', (error) => finish({ type: 'lost', failure: 'connection', detail: `answer cut off: ${errorText(error)}` }));
      incoming.on('close', () => {
        if (!incoming.complete) finish({ type: 'lost', failure: 'connection', detail: 'answer cut off' });
      });
    });

    outgoing.on('error', (error) => {
      finish({ type: mayHaveArrived ? 'lost' : 'unsent', failure: 'connection', detail: errorText(error) });
    });

    outgoing.end(request.body);
  });
}
