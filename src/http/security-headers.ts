import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { appendRouteHook } from './route-hooks';

export interface SecurityHeadersOptions {
  /** The route of the gateway's own media URLs: fetched cross-origin by players and tools. */
  mediaRoute: string;
}

type HeaderSet = Readonly<Record<string, string>>;

/**
 * JSON answers load nothing: no sources at all, never framed, no base or form targets. A
 * browser opening an API URL gets an inert document.
 */
const API_CSP: NonNullable<Exclude<HelmetOptions['contentSecurityPolicy'], boolean>> = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
};

/**
 * The gateway's own pages (the GraphQL IDE, the explorer: src/http/web-pages.ts) are bundled
 * at build time and load nothing from another origin: scripts, styles and requests back to
 * the gateway only ('self' covers its ws:/wss: URLs too, CSP level 3), fonts and images inline
 * as data: URLs, media and hls.js's workers from blob: URLs (MediaSource). No inline script,
 * no framing, no plugins; `<base>` is the page's own prefix.
 */
const WEB_PAGE_POLICY: typeof API_CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    mediaSrc: ["'self'", 'blob:'],
    workerSrc: ["'self'", 'blob:'],
    manifestSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
};

/**
 * The headers helmet sets for `options`, lower-cased. Helmet's middleware runs once here,
 * against a stand-in response, instead of on every request: per-request helmet halves
 * fastify's throughput (ARCHITECTURE.md), and its output only depends on its options.
 */
function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
    },
    removeHeader() {},
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => {
    failure = err;
  });
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error('helmet refused its options');
  return headers;
}

function withoutHsts(headers: Record<string, string>): HeaderSet {
  const { 'strict-transport-security': _hsts, ...rest } = headers;
  return Object.freeze(rest);
}

/** The CSP of the gateway's own pages (see WEB_PAGE_POLICY), with no other origin: webPageCsp adds some. */
export const WEB_PAGE_CSP = helmetHeaders({ contentSecurityPolicy: WEB_PAGE_POLICY })['content-security-policy'] as string;

/** `value` when it is an http(s) origin as URL parsing writes it (no path, user, query; lower case). */
function checkedOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`web page media origin is not a URL: ${JSON.stringify(value)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== value) {
    throw new Error(`web page media origin must be an http(s) origin such as https://bucket.example:9000, not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The CSP of a gateway page (see WEB_PAGE_POLICY) that also reads media from `mediaOrigins`:
 * the explorer's player follows segment redirects to presigned URLs of S3 storage backends,
 * fetched by hls.js (connect-src) or, with the browser's own HLS, by the video element
 * (media-src). Each must be an http(s) origin; duplicates count once.
 */
export function webPageCsp(mediaOrigins: readonly string[] = []): string {
  const extra = [...new Set(mediaOrigins.map(checkedOrigin))];
  if (extra.length === 0) return WEB_PAGE_CSP;
  const { directives } = WEB_PAGE_POLICY;
  const policy: typeof API_CSP = {
    ...WEB_PAGE_POLICY,
    directives: { ...directives, connectSrc: [...(directives.connectSrc as string[]), ...extra], mediaSrc: [...(directives.mediaSrc as string[]), ...extra] },
  };
  return helmetHeaders({ contentSecurityPolicy: policy })['content-security-policy'] as string;
}

/**
 * The gateway is the one owner of security headers (NGINX and the Ingress add none): helmet's
 * set, each exactly once on every response (errors, 404s, HEAD and media included), with a
 * strict CSP and frame denial; HSTS only on requests that arrived over TLS (directly, or per
 * `X-Forwarded-Proto` from a proxy trusted by TRUST_PROXY); no `X-Powered-By`. Media URLs may
 * be embedded by other origins (CORP cross-origin); the gateway's own pages set webPageCsp's policy.
 */
export function useSecurityHeaders(app: FastifyInstance, options: SecurityHeadersOptions): void {
  const base: HelmetOptions = {
    contentSecurityPolicy: API_CSP,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: { maxAge: 365 * 24 * 3600, includeSubDomains: true },
  };
  const apiHeaders = helmetHeaders(base);
  const hsts = apiHeaders['strict-transport-security'];
  if (hsts === undefined) throw new Error('helmet set no Strict-Transport-Security header');
  const api = withoutHsts(apiHeaders);
  const mediaPolicy = helmetHeaders({ ...base, crossOriginResourcePolicy: { policy: 'cross-origin' } })['cross-origin-resource-policy'] as string;

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    reply.headers(api);
    if (request.protocol === 'https') reply.header('strict-transport-security', hsts);
    done();
  });

  const mediaHook: onRequestHookHandler = (_request, reply, done) => {
    reply.header('cross-origin-resource-policy', mediaPolicy);
    done();
  };
  // Route-level hooks: the routes that differ pay for it, the others do not.
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url === options.mediaRoute) route.onRequest = appendRouteHook(route.onRequest, mediaHook);
  });
}
