/**
 * A small HTTP(S) client for edge tests: verifies the server against a given CA (never
 * `rejectUnauthorized: false`), can pick the local source address, and keeps raw headers so
 * duplicates can be counted.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface EdgeRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** CA certificate(s) the server must chain to (HTTPS only). */
  ca?: string | Buffer;
  localAddress?: string;
  lookup?: LookupFunction;
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

export interface EdgeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Header names (lower case) in the order received, repeated as often as they were sent. */
  headerNames: string[];
  body: Buffer;
  text: string;
  /** The TLS version negotiated (HTTPS only). */
  tlsVersion: string | undefined;
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
}

export function edgeRequest(url: string, options: EdgeRequest = {}): Promise<EdgeResponse> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) headers['content-length'] = String(body.length);
  const common = {
    method: options.method ?? 'GET',
    hostname: target.hostname.replace(/^\[|\]$/g, ''),
    port: target.port,
    path: `${target.pathname}${target.search}`,
    headers,
    agent: false as const,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  };
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      const socket = res.socket as TLSSocket;
      const tlsVersion = secure ? (socket.getProtocol() ?? undefined) : undefined;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        const text = buffer.toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          headerNames: res.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase()),
          body: buffer,
          text,
          tlsVersion,
          json: () => JSON.parse(text),
        });
      });
    };
    const req = secure
      ? https.request(
          {
            ...common,
            ...(options.ca === undefined ? {} : { ca: options.ca }),
            ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
            ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
            ...(options.ciphers === undefined ? {} : { ciphers: options.ciphers }),
          },
          onResponse,
        )
      : http.request(common, onResponse);
    req.on('error', reject);
    req.end(body);
  });
}
