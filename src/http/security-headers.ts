import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler, onSendHookHandler } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { appendRouteHook } from './route-hooks';

export interface SecurityHeadersOptions {
  /** Where GraphQL is served: its HTML landing page gets the policy that lets it run. */
  graphqlPath: string;
  /** Apollo's development landing page is on (GRAPHQL_LANDING_PAGE). */
  landingPage: boolean;
  /** The route of the gateway's own media URLs: fetched cross-origin by players and tools. */
  mediaRoute: string;
}

type HeaderSet = Readonly<Record<string, string>>;

/** Stands in for Apollo's per-response nonce until the page is sent (see landingPagePolicy). */
const NONCE = 'nonce-placeholder';

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

/** Apollo's CDNs, as its landing page plugin lists them (@apollo/server/plugin/landingPage/default). */
const APOLLO_CDNS = [
  'https://apollo-server-landing-page.cdn.apollographql.com',
  'https://embeddable-sandbox.cdn.apollographql.com',
  'https://embeddable-explorer.cdn.apollographql.com',
];

/**
 * The landing page (development): Apollo's sandbox script and styles from its CDN under the
 * page's own nonce, Google's font, the sandbox iframe, and requests back to this endpoint
 * (the page runs the operations the iframe asks for, WebSocket subscriptions included).
 * Still no framing of the page itself and no plugins.
 */
const LANDING_PAGE_CSP: typeof API_CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'", `'${NONCE}'`, ...APOLLO_CDNS],
    styleSrc: [`'${NONCE}'`, ...APOLLO_CDNS, 'https://fonts.googleapis.com'],
    fontSrc: ['https://fonts.gstatic.com'],
    imgSrc: ["'self'", 'https://apollo-server-landing-page.cdn.apollographql.com'],
    manifestSrc: ['https://apollo-server-landing-page.cdn.apollographql.com'],
    frameSrc: ['https://explorer.embed.apollographql.com', 'https://sandbox.embed.apollographql.com'],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
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

/** Replaces the placeholder with the nonce of the page Apollo rendered (its own `<meta>` CSP carries it). */
function landingPagePolicy(policy: string): onSendHookHandler {
  return (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (typeof payload !== 'string' || typeof type !== 'string' || !type.startsWith('text/html')) return done(null, payload);
    const nonce = /'nonce-([0-9a-f]{16,128})'/.exec(payload)?.[1];
    // Without a nonce to share the page's scripts cannot run: it keeps the strict policy.
    if (nonce !== undefined) reply.header('content-security-policy', policy.replaceAll(NONCE, `nonce-${nonce}`));
    done(null, payload);
  };
}

/**
 * The gateway is the one owner of security headers (NGINX and the Ingress add none): helmet's
 * set, each exactly once on every response (errors, 404s, HEAD and media included), with a
 * strict CSP and frame denial; HSTS only on requests that arrived over TLS (directly, or per
 * `X-Forwarded-Proto` from a proxy trusted by TRUST_PROXY); no `X-Powered-By`. Media URLs may
 * be embedded by other origins (CORP cross-origin); the GraphQL landing page gets a CSP that
 * lets Apollo's sandbox load.
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
  const landingCsp = helmetHeaders({ ...base, contentSecurityPolicy: LANDING_PAGE_CSP })['content-security-policy'] as string;

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    reply.headers(api);
    if (request.protocol === 'https') reply.header('strict-transport-security', hsts);
    done();
  });

  const mediaHook: onRequestHookHandler = (_request, reply, done) => {
    reply.header('cross-origin-resource-policy', mediaPolicy);
    done();
  };
  const landingHook = landingPagePolicy(landingCsp);
  // Route-level hooks: the routes that differ pay for it, the others do not.
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url === options.mediaRoute) route.onRequest = appendRouteHook(route.onRequest, mediaHook);
    if (options.landingPage && route.url === options.graphqlPath) route.onSend = appendRouteHook(route.onSend, landingHook);
  });
}
