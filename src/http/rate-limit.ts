import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../domain/errors';
import { actionOf } from '../rest/route-access';
import type { AccessAction } from '../services/access-policy';
import { type RateLimitEdge, type RateLimitedError, type RateLimiter, rateLimitIdentity, restRuleOf } from '../services/rate-limiter';

export interface RateLimitOptions {
  /** TAMS_BASE_PATH, under which the REST routes are registered. */
  basePath: string;
  /** Where GraphQL is served: its refusals take the GraphQL error shape. */
  graphqlPath: string;
  /** Route patterns never limited: probes, metrics and signed media URLs. */
  exemptRoutes: readonly string[];
  /** False with TAMS_AUTH=off: no credentials are checked, so none can fail and nothing is counted. */
  authenticating: boolean;
  /** `METHOD route` -> action of routes outside the REST API that spend a REST budget all the same (HLS). */
  routeActions?: ReadonlyMap<string, AccessAction>;
}

/**
 * Rate limits of the HTTP server (install before authentication):
 * - an address that has had too many credentials refused gets 429 before its credentials are
 *   even checked (a signature check, or an scrypt hash for Basic, is what a guesser costs us);
 * - each TAMS REST operation spends its principal's `read` or `write` budget (see
 *   `restRuleOf`), checked after authentication and before the body is read.
 * GraphQL fields are limited by shield rules instead (src/graphql/access/rate-limit-rules.ts).
 * Refusals are 429 with `Retry-After` and the TAMS error body.
 */
export function useRateLimits(app: FastifyInstance, limiter: RateLimiter, options: RateLimitOptions): void {
  const exempt = new Set(options.exemptRoutes);
  const edgeOf = (request: FastifyRequest): RateLimitEdge => (request.routeOptions.url === options.graphqlPath ? 'graphql' : 'rest');

  const refuse = (request: FastifyRequest, reply: FastifyReply, refusal: RateLimitedError): FastifyReply => {
    void reply.code(refusal.status).header('retry-after', String(refusal.retryAfterSec)).type('application/json');
    if (edgeOf(request) === 'graphql') {
      return reply.send({ errors: [{ message: refusal.message, extensions: { code: refusal.graphqlCode, retryAfter: refusal.retryAfterSec } }] });
    }
    return reply.send(errorBody(refusal));
  };

  if (options.authenticating) {
    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url;
      if (route !== undefined && exempt.has(route)) return;
      const refusal = await limiter.exhausted(edgeOf(request), 'auth_failure', request.ip);
      if (refusal !== undefined) return refuse(request, reply, refusal);
    });

    // Only credentials that were presented and refused count: a request without any is not a
    // guess, and an unreachable key set is not the caller's fault.
    // A callback hook, not an async one: nearly every response has nothing to count, and an
    // async hook costs a promise and a microtask on each. record() never rejects.
    app.addHook('onResponse', (request, _reply, done) => {
      const failure = request.authFailure;
      if (failure === null || failure.unavailable || failure.method === 'none') return done();
      limiter.record('auth_failure', request.ip).then(() => done(), done);
    });
  }

  app.addHook('preParsing', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    // Anything that is neither a TAMS REST operation nor one of routeActions (GraphQL, probes, media, 404s) has no budget here.
    const action = route === undefined ? undefined : (actionOf(request.method, route, options.basePath) ?? options.routeActions?.get(`${request.method} ${route}`));
    if (action === undefined) return payload;
    const refusal = await limiter.take('rest', restRuleOf(action), rateLimitIdentity(request.principal, request.ip));
    // Once the reply is sent fastify stops here: the payload is never read.
    if (refusal !== undefined) refuse(request, reply, refusal);
    return payload;
  });
}

/**
 * The client address of a request fastify never sees as a request (a WebSocket upgrade):
 * the peer, or the address a TRUST_PROXY proxy forwarded, exactly as fastify's `request.ip`.
 */
export function clientAddressResolver(trustProxy: boolean | string): (request: IncomingMessage) => string {
  const trusted: (address: string, hop: number) => boolean =
    trustProxy === true
      ? () => true
      : trustProxy === false
        ? () => false
        : proxyAddr.compile(trustProxy.split(',').map((a) => a.trim()).filter((a) => a !== ''));
  return (request) => proxyAddr(request, trusted);
}
