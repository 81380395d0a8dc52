import type { FastifyRequest } from 'fastify';

/** `access_token=<jwt>` in a query string, whatever it is followed by. */
const ACCESS_TOKEN_RE = /([?&]access_token=)[^&#]*/gi;

export function redactAccessToken(url: string): string {
  return url.replace(ACCESS_TOKEN_RE, '$1[REDACTED]');
}

/**
 * fastify's request log line, with `?access_token=` redacted: a URL token is a credential
 * and must not end up in log storage.
 */
export function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactAccessToken(request.url),
    version: request.headers['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
