import Fastify, { FastifyInstance } from 'fastify';
import type { Config } from '../config';
import type { Clock } from '../ports/clock';
import type { EventDispatcher } from '../services/event-dispatcher';
import type { LocalObjectStore } from '../adapters/local-objects/local-object-store';
import type { RestServices } from '../rest/rest-context';
import { registerRestRoutes } from '../rest/register-rest-routes';
import { registerGraphql } from '../graphql/register-graphql';
import { installErrorHandling } from './error-handler';
import { forwardedOrigin } from './forwarded-origin';
import type { Authenticator } from '../auth/authenticator';
import { installAuthentication } from './authentication-hook';
import { serializeRequest } from './request-log-serializer';
import { registerMediaRoutes } from './media-routes';
import { registerHealthRoutes, HealthChecks } from './health-routes';

export interface AppDependencies {
  config: Config;
  services: RestServices;
  media: LocalObjectStore;
  clock: Clock;
  health: HealthChecks;
  /** Committed store events, for GraphQL subscriptions. */
  events: EventDispatcher;
  /** Credentials -> Principal for every request (and for GraphQL WebSocket connections). */
  authenticator: Authenticator;
}

/** Assembles the HTTP server: TAMS REST (under TAMS_BASE_PATH), GraphQL, media URLs and health. */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const { config } = deps;
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel, serializers: { req: serializeRequest } },
    bodyLimit: config.maxBodyBytes,
    trustProxy: config.trustProxy,
    exposeHeadRoutes: true,
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  installErrorHandling(app);
  const graphqlPath = config.graphql.underBasePath ? `${config.basePath}/graphql` : '/graphql';
  installAuthentication(app, deps.authenticator, { graphqlPath });
  registerHealthRoutes(app, deps.health);
  registerMediaRoutes(app, deps.media, deps.clock, config.maxObjectBytes);
  void app.register(
    async (rest) => {
      // TAMS bodies are JSON; anything else (text/plain included) is a 415, never parsed.
      rest.removeContentTypeParser('text/plain');
      registerRestRoutes(rest, deps.services, {
        publicUrl: config.publicUrl,
        pageLimitDefault: config.pageLimitDefault,
        pageLimitMax: config.pageLimitMax,
      });
    },
    { prefix: config.basePath },
  );
  registerGraphql(app, {
    services: deps.services,
    events: deps.events,
    options: {
      publicUrl: config.publicUrl,
      path: graphqlPath,
      pageLimitDefault: config.pageLimitDefault,
      pageLimitMax: config.pageLimitMax,
      graphql: config.graphql,
      originOf: forwardedOrigin(config.trustProxy),
    },
  });
  return app;
}
