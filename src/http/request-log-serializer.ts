import type { FastifyRequest } from 'fastify';

const REDACTED = '[REDACTED]';

/**
 * The request URL as it may be logged. A query can carry credentials: `access_token=<jwt>`,
 * under any spelling the query parser decodes to that name (`access%5Ftoken`, `%61ccess_token`),
 * and every signed media URL (`/media/...?exp=&sig=`, PUT URLs too) is itself a credential
 * for its object. So parameters are matched by their decoded names, an access token's value
 * is replaced, and a media URL is logged without its query at all.
 */
export function redactUrl(url: string): string {
  const mark = url.indexOf('?');
  if (mark < 0) return url;
  const path = url.slice(0, mark);
  if (path.startsWith('/media/')) return `${path}?${REDACTED}`;
  const pairs = [...new URLSearchParams(url.slice(mark + 1))];
  if (!pairs.some(([name]) => name.toLowerCase() === 'access_token')) return url;
  const query = pairs.map(([name, value]) => `${encodeURIComponent(name)}=${name.toLowerCase() === 'access_token' ? REDACTED : encodeURIComponent(value)}`);
  return `${path}?${query.join('&')}`;
}

/** fastify's request log line, with credentials in the URL redacted ({@link redactUrl}). */
export function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrl(request.url),
    version: request.headers['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
