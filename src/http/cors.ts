import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface CorsOptions {
  /** CORS_ORIGINS: exact origins (`https://tools.example.com`) allowed; empty turns CORS off. */
  origins: readonly string[];
  /** Path prefix of the gateway's own media URLs (`/media/`). */
  mediaPrefix: string;
}

/**
 * Headers browser TAMS tools must read: paging (`Link`, every `X-Paging-*` of the 8.2 spec),
 * `Location` of asynchronous deletions, and the request id to quote in a support ticket.
 */
const API_EXPOSED = ['Link', 'Location', 'X-Paging-Count', 'X-Paging-Limit', 'X-Paging-NextKey', 'X-Paging-Reverse-Order', 'X-Paging-Timerange', 'X-Request-Id'].join(', ');
/** What a player needs to read from a ranged media GET. */
const MEDIA_EXPOSED = ['Accept-Ranges', 'Content-Length', 'Content-Range', 'X-Request-Id'].join(', ');

const API_METHODS = 'GET, HEAD, POST, PUT, DELETE';
const MEDIA_METHODS = 'GET, HEAD, PUT';
/** Browsers cache a preflight at most this long (Chromium caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SEC = '7200';
/** A list of header names; anything else in Access-Control-Request-Headers is not echoed. */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

/**
 * CORS from CORS_ORIGINS, for the API and the media URLs alike: an allowed origin gets
 * `Access-Control-Allow-Origin` (its own value, never `*`), credentials and the exposed
 * headers, and its preflights are answered here (the media URLs for GET, HEAD and PUT with
 * `Range`). Any other origin gets none of these, and its preflight goes on to the route as any
 * OPTIONS request would. Every answer varies by `Origin` so that no cache hands one
 * origin's answer to another. With no origin configured nothing is installed.
 */
export function useCors(app: FastifyInstance, options: CorsOptions): void {
  if (options.origins.length === 0) return;
  const allowed = new Set(options.origins);

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined || !allowed.has(origin)) return done();
    const media = request.url.startsWith(options.mediaPrefix);
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
    reply.header('access-control-expose-headers', media ? MEDIA_EXPOSED : API_EXPOSED);
    if (request.method !== 'OPTIONS' || request.headers['access-control-request-method'] === undefined) return done();
    const requested = request.headers['access-control-request-headers'];
    reply.header('vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    reply.header('access-control-allow-methods', media ? MEDIA_METHODS : API_METHODS);
    if (requested !== undefined && HEADER_LIST.test(requested)) reply.header('access-control-allow-headers', requested);
    reply.header('access-control-max-age', PREFLIGHT_MAX_AGE_SEC);
    reply.code(204).send();
  });
}
