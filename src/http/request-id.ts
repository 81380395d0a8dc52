import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';

/**
 * What an incoming `X-Request-Id` may look like to be kept (a proxy's or a client's
 * correlation id); anything else (too long, odd characters) is replaced by a fresh UUID
 * rather than copied into every log and audit line.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestIdOf(raw: IncomingMessage): string {
  const incoming = raw.headers['x-request-id'];
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** fastify options giving every request its id (`request.id`, `reqId` in log lines). */
export function requestIdOptions(): Pick<FastifyServerOptions, 'genReqId' | 'requestIdHeader'> {
  // requestIdHeader off: fastify would take any incoming value as is; genReqId checks it first.
  return { genReqId: requestIdOf, requestIdHeader: false };
}

/** Returns the request id as `X-Request-Id` on every response, errors and 404s included. */
export function useRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
}
