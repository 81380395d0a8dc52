/**
 * Where Prometheus reads `/metrics`: on a listener of its own (METRICS_PORT), which a
 * NetworkPolicy or firewall can keep apart from the API, or on the API port behind
 * `Authorization: Bearer <METRICS_TOKEN>`. Never open on the API port without the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { TamsError, errorBody } from '../domain/errors';

export const METRICS_PATH = '/metrics';

const CHALLENGE = 'Bearer realm="metrics"';

/** Whether `authorization` is `Bearer <token>`, compared in constant time (digests of equal length). */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const sent = /^Bearer +(\S+) *$/i.exec(authorization ?? '')?.[1];
  if (sent === undefined) return false;
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(sent), digest(token));
}

/** `/metrics` on the API port, for the bearer of `token` only (the TAMS authentication hook lets it through). */
export function registerMetricsRoute(app: FastifyInstance, registry: Registry, token: string): void {
  app.get(METRICS_PATH, async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, token)) {
      const error = new TamsError('unauthorized', 'Metrics need the bearer token METRICS_TOKEN');
      return reply.code(error.status).header('www-authenticate', CHALLENGE).type('application/json').send(errorBody(error));
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/** Serves `/metrics` alone on `host:port` (asking for `token` when there is one); resolves once listening. */
export async function listenForMetrics(registry: Registry, options: { host: string; port: number; token: string | undefined }): Promise<MetricsListener> {
  const { token } = options;
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '').split('?', 1)[0];
    if (path !== METRICS_PATH || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: only GET /metrics is served here\n');
      return;
    }
    if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
      response.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': CHALLENGE }).end('Unauthorized\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('Metrics collection failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's kept-alive connection must not hold the shutdown.
        server.closeAllConnections();
      }),
  };
}
