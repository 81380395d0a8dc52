import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_REGISTRY, TamsError } from '../domain/errors';
import { DEVELOPMENT_PRINCIPAL, type Principal } from '../domain/principal';
import { ANONYMOUS_PRINCIPAL, type AuthFailure, type Authenticator } from '../auth/authenticator';

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's authenticator, for the WebSocket server (see src/auth/connection-auth.ts). */
    authenticator: Authenticator;
  }
  interface FastifyRequest {
    principal: Principal;
    /** Why authentication failed, or null: for logs and the audit trail, never the client. */
    authFailure: AuthFailure | null;
  }
}

/** Routes without TAMS credentials: probes, media URLs and /metrics, which check their own (signature, METRICS_TOKEN). */
const OPEN_ROUTES = new Set(['/livez', '/readyz', '/media/*', '/metrics']);

export interface AuthenticationOptions {
  /** Where GraphQL is served: its refusals take the GraphQL error shape. */
  graphqlPath: string;
}

function accessTokenOf(query: Record<string, unknown>): string | string[] | undefined {
  const value = query.access_token;
  if (typeof value === 'string') return value;
  return Array.isArray(value) ? value.map(String) : undefined;
}

/**
 * Requests that are let through as anonymous: CORS preflights (browsers never send
 * credentials on them), the gateway's web pages, and a GET (or HEAD) of the GraphQL endpoint without an
 * operation (the IDE's page, or a 400).
 */
function needsNoCredentials(request: FastifyRequest, graphqlPath: string): boolean {
  const route = request.routeOptions.url;
  if (route !== undefined && OPEN_ROUTES.has(route)) return true;
  // The gateway's own web pages (web-pages.ts): static files a browser loads without a token.
  if (request.routeOptions.config.openToAnonymous === true) return true;
  if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) return true;
  if ((request.method !== 'GET' && request.method !== 'HEAD') || route !== graphqlPath) return false;
  const query = request.query as Record<string, unknown>;
  return query.query === undefined && query.extensions === undefined;
}

/**
 * Authenticates every request before any route runs (Bearer, `?access_token=`, Basic) and sets
 * `request.principal`. Failures answer 401 with `WWW-Authenticate` and a generic message; the
 * precise reason is logged with the request and left on `request.authFailure`.
 */
export function installAuthentication(app: FastifyInstance, authenticator: Authenticator, options: AuthenticationOptions): void {
  app.decorate('authenticator', authenticator);
  // null until the hook below sets it, first thing on every request (fastify refuses shared
  // object values as request decorations, so no default principal here).
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('authFailure', null);

  const refuse = async (request: FastifyRequest, reply: FastifyReply, error: TamsError): Promise<FastifyReply> => {
    if (request.routeOptions.url !== options.graphqlPath) throw error;
    return reply
      .code(error.status)
      .type('application/json')
      .send({ errors: [{ message: error.message, extensions: { code: ERROR_REGISTRY[error.code].graphql } }] });
  };

  app.addHook('onRequest', async (request, reply) => {
    if (!authenticator.enabled) {
      request.principal = DEVELOPMENT_PRINCIPAL;
      return;
    }
    if (needsNoCredentials(request, options.graphqlPath)) {
      request.principal = ANONYMOUS_PRINCIPAL;
      return;
    }
    const query = request.query as Record<string, unknown>;
    const outcome = await authenticator.authenticate({ authorization: request.headers.authorization, accessToken: accessTokenOf(query) });
    if (outcome.ok) {
      request.principal = outcome.principal;
      // Handlers copy the query into paging `Link` headers; the token must not travel there.
      delete query.access_token;
      return;
    }
    request.principal = ANONYMOUS_PRINCIPAL;
    request.authFailure = outcome.failure;
    request.log.warn({ reason: outcome.failure.reason, method: outcome.failure.method }, 'authentication failed');
    if (outcome.failure.unavailable) return refuse(request, reply, new TamsError('unavailable', 'Authentication is temporarily unavailable'));
    void reply.header('WWW-Authenticate', authenticator.challenges(outcome.failure));
    return refuse(request, reply, new TamsError('unauthorized', 'Authentication required'));
  });
}
