import Fastify, { FastifyInstance } from 'fastify';
import type { SharedOperations } from '../ports/shared-operations';
import type { Config } from '../config';
import type { Clock } from '../ports/clock';
import type { EventDispatcher } from '../services/event-dispatcher';
import type { LocalObjectStore } from '../adapters/local-objects/local-object-store';
import type { RestServices } from '../rest/rest-context';
import { registerRestRoutes } from '../rest/register-rest-routes';
import { registerGraphql } from '../graphql/register-graphql';
import { frameworkErrorReply, installErrorHandling } from './error-handler';
import { forwardedOrigin } from './forwarded-origin';
import type { Authenticator } from '../auth/authenticator';
import { installAuthentication } from './authentication-hook';
import { serializeRequest } from './request-log-serializer';
import { MEDIA_ROUTE, registerMediaRoutes } from './media-routes';
import { HLS_ROUTE_ACTIONS, registerHlsRoutes } from './hls-routes';
import { registerHealthRoutes, HealthChecks } from './health-routes';
import { requestIdOptions, useRequestId } from './request-id';
import { useSecurityHeaders } from './security-headers';
import { registerGraphqlIde } from './graphql-ide';
import { registerWebPage } from './web-pages';
import { useCors } from './cors';
import { useJsonBody } from './json-body';
import { useAuditLog } from './audit-log';
import type { Tracer } from '@opentelemetry/api';
import { useOperationMetrics } from '../graphql/execution/operation-metrics';
import { useOperationTracing } from '../graphql/execution/operation-tracing';
import { GatewayMetrics, useHttpMetrics } from './metrics';
import { METRICS_PATH, registerMetricsRoute } from './metrics-routes';
import { useRequestTracing } from './tracing';
import { useShutdownDrain } from './graceful-shutdown';
import type { RateLimiter } from '../services/rate-limiter';
import { clientAddressResolver, useRateLimits } from './rate-limit';

/** Credentials that must never reach the log, should a log call ever include headers or a body. */
const LOG_REDACT = ['req.headers.authorization', 'req.headers.cookie', '*.api_key_value', '*.password', '*.access_token'];

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
  /** Prometheus metrics, or undefined when nobody may read them (no METRICS_TOKEN, no METRICS_PORT). */
  metrics: GatewayMetrics | undefined;
  /** Spans of requests, GraphQL operations and store calls, or undefined (no OTEL_EXPORTER_OTLP_ENDPOINT). */
  tracer: Tracer | undefined;
  /** REST and GraphQL rate limits, or undefined (RATE_LIMIT_ENABLED=false). */
  rateLimiter: RateLimiter | undefined;
  /** Automatic persisted queries shared by every replica (REDIS_URL), or undefined. */
  sharedOperations?: SharedOperations | undefined;
  /** Origins the S3 storage backends' presigned URLs are on: the explorer's player is redirected there. */
  mediaOrigins?: readonly string[];
}

/** Assembles the HTTP server: TAMS REST (under TAMS_BASE_PATH), GraphQL, media URLs and health. */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const { config, metrics } = deps;
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel, serializers: { req: serializeRequest }, redact: LOG_REDACT },
    ...requestIdOptions(),
    bodyLimit: config.maxBodyBytes,
    // Slow clients: the head within headersTimeout, the whole request (a media upload
    // included) within requestTimeout; idle keep-alive connections closed after keepAliveTimeout.
    // node checks the first two every connectionsCheckingInterval (30 s by default, which
    // would let a slow client hold on that much longer).
    http: { headersTimeout: config.http.headersTimeoutMs, connectionsCheckingInterval: Math.min(5_000, Math.ceil(config.http.headersTimeoutMs / 2)) },
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    trustProxy: config.trustProxy,
    exposeHeadRoutes: true,
    routerOptions: { maxParamLength: 2048 },
    // Shutting down, a request already on an open connection is answered (with
    // `Connection: close`), not refused: see graceful-shutdown.ts.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    frameworkErrors: frameworkErrorReply,
  });
  // First: the request span covers every other hook, and handlers are wrapped as routes are added.
  if (deps.tracer !== undefined) useRequestTracing(app, deps.tracer);
  if (metrics !== undefined) useHttpMetrics(app, metrics);
  useShutdownDrain(app, () => deps.health.shuttingDown());
  installErrorHandling(app);
  const graphqlPath = config.graphql.underBasePath ? `${config.basePath}/graphql` : '/graphql';
  // Before authentication: its refusals get the headers too, and preflights need no credentials.
  useRequestId(app);
  useSecurityHeaders(app, { mediaRoute: MEDIA_ROUTE });
  useCors(app, { origins: config.http.corsOrigins, mediaPrefix: MEDIA_ROUTE.slice(0, -1) });
  useJsonBody(app, { maxDepth: config.http.maxJsonDepth, untypedJsonOrigins: config.http.corsOrigins });
  useAuditLog(app, { file: config.auditLogFile, basePath: config.basePath, graphqlPath, mediaRoute: MEDIA_ROUTE });
  // Before authentication: an address with too many failed authentications is refused unchecked.
  if (deps.rateLimiter !== undefined) {
    useRateLimits(app, deps.rateLimiter, {
      basePath: config.basePath,
      graphqlPath,
      exemptRoutes: ['/livez', '/readyz', METRICS_PATH, MEDIA_ROUTE],
      authenticating: deps.authenticator.enabled,
      routeActions: HLS_ROUTE_ACTIONS,
    });
  }
  installAuthentication(app, deps.authenticator, { graphqlPath });
  registerHealthRoutes(app, deps.health);
  // With METRICS_PORT, /metrics has a listener of its own (main.ts) and is not served here.
  const metricsToken = config.metrics.port === undefined ? config.metrics.token : undefined;
  if (metrics !== undefined && metricsToken !== undefined) registerMetricsRoute(app, metrics.registry, metricsToken);
  registerMediaRoutes(app, deps.media, deps.clock, config.maxObjectBytes);
  registerHlsRoutes(app, deps.services.hls, { publicUrl: config.publicUrl, pageLimitDefault: config.pageLimitDefault, pageLimitMax: config.pageLimitMax });
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
  // Before registerGraphql: it hooks the GraphQL route as that route is added.
  if (config.graphql.landingPage) registerGraphqlIde(app, { graphqlPath });
  // Static files only: what the explorer shows comes from the API, with the token typed into it.
  // Its player follows segment redirects to the S3 buckets; the IDE plays nothing.
  registerWebPage(app, { prefix: '/explorer/', dir: 'explorer', mediaOrigins: deps.mediaOrigins ?? [] });
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
      clientAddressOf: clientAddressResolver(config.trustProxy),
    },
    rateLimiter: deps.rateLimiter,
    sharedOperations: deps.sharedOperations,
    observers: [
      ...(metrics === undefined ? [] : [useOperationMetrics({ duration: metrics.graphqlOperationDuration })]),
      ...(deps.tracer === undefined ? [] : [useOperationTracing(deps.tracer)]),
    ],
    observeBatch: metrics?.observeBatch,
    watchSubscriptions: metrics === undefined ? undefined : (active) => metrics.watchSubscriptions(active),
  });
  return app;
}
