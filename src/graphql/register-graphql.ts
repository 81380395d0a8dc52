import type { IncomingMessage } from 'node:http';
import type { SharedOperations } from '../ports/shared-operations';
import { ApolloServer } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { GraphqlConfig } from '../config';
import { TamsError } from '../domain/errors';
import type { Principal } from '../domain/principal';
import type { EventDispatcher } from '../services/event-dispatcher';
import { GraphqlContext, GraphqlServices, createContext } from './context';
import type { BatchObserver } from './resolvers/loaders';
import type { PageLimits } from './resolvers/paging';
import { buildTamsSchema } from './schema';
import { CompiledQueries, jitGateway } from './execution/jit-executor';
import { PreparedQueries } from './execution/prepared-queries';
import { tamsErrorOf, useOutageStatus } from './execution/outage-status';
import { type OperationObserver, observerPlugin } from './execution/operation-observer';
import { PersistedQueryCache, readPersistedQueries } from './execution/persisted-queries';
import { auditOperation, auditedContext, useGraphqlAudit } from './execution/audit-plugin';
import { markConcealed } from '../http/audit-log';
import type { QueryLimits } from './limits/query-limits';
import { OperationGuard, TOO_MANY_TOKENS } from './limits/operation-guard';
import { guardHttpOperation } from './limits/http-guard';
import { guardedContext, useInProcessGuard } from './limits/guard-plugin';
import { cursorRowsSkipped } from './resolvers/paging';
import { stripSuggestion } from './limits/schema-hints';
import { useMutationResultAccess } from './access/mutation-result-access';
import { useIntrospectionCache } from './execution/introspection-cache';
import { BoundedDocumentStore } from './execution/document-store';
import { registerSubscriptionServer } from './subscriptions/subscription-server';
import { applyShield } from './access/shield';
import { withClientAddress } from './access/rate-limit-rules';
import { RateLimitedError, type RateLimiter } from '../services/rate-limiter';

export interface GraphqlOptions extends PageLimits {
  /** Configured absolute public URL (no trailing slash), or undefined to derive it per request. */
  publicUrl: string | undefined;
  /** Where GraphQL is served, HTTP and WebSocket: `/graphql`, or under TAMS_BASE_PATH if so configured. */
  path: string;
  /** The GRAPHQL_* settings (introspection, landing page, limits, persisted queries). */
  graphql: GraphqlConfig;
  /** The scheme and host a WebSocket upgrade came to, honouring TRUST_PROXY as HTTP requests do. */
  originOf: (request: IncomingMessage) => string;
  /** The client address of a WebSocket upgrade, honouring TRUST_PROXY as `request.ip` does. */
  clientAddressOf: (request: IncomingMessage) => string;
}

export interface GraphqlDependencies {
  services: GraphqlServices;
  /** Committed store events (the outbox), feeding subscriptions. */
  events: EventDispatcher;
  options: GraphqlOptions;
  /** Operation metrics and traces, told of every operation over HTTP. */
  observers?: OperationObserver[];
  /** Told the size of every DataLoader batch (HTTP operations and subscription events). */
  observeBatch?: BatchObserver;
  /** Given the count of open subscriptions, for a gauge. */
  watchSubscriptions?: (active: () => number) => void;
  /** List queries and mutations spend their principal's budget; undefined when RATE_LIMIT_ENABLED=false. */
  rateLimiter?: RateLimiter | undefined;
  /** Automatic persisted queries shared by every replica (REDIS_URL). */
  sharedOperations?: SharedOperations | undefined;
}

const MASKED = 'Internal server error';


/**
 * Errors go out through the one registry: a TamsError gets its `graphqlCode`, Apollo's own
 * (parse, validation, bad variables) keep theirs, anything else is logged and masked.
 * `hideSuggestions`: graphql-js's "Did you mean ...?" is cut from every message.
 * Only message, locations, path and code leave: never a stack trace.
 */
function errorFormatter(app: FastifyInstance, hideSuggestions: boolean): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const where = {
      ...(formatted.locations === undefined ? {} : { locations: formatted.locations }),
      ...(formatted.path === undefined ? {} : { path: formatted.path }),
    };
    const tams = tamsErrorOf(error);
    const code = tams?.graphqlCode ?? formatted.extensions?.code;
    if (tams?.code === 'internal' || typeof code !== 'string' || code === 'INTERNAL_SERVER_ERROR') {
      app.log.error({ err: error }, 'GraphQL request failed');
      return { message: MASKED, ...where, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
    // A rate-limit refusal also says when to retry (seconds), as REST's Retry-After does.
    const retryAfter = tams instanceof RateLimitedError ? { retryAfter: tams.retryAfterSec } : {};
    const message = hideSuggestions ? stripSuggestion(formatted.message) : formatted.message;
    return { message, ...where, extensions: { code, ...retryAfter } };
  };
}

/**
 * Serves GraphQL at `options.path` with Apollo. Resolvers reach the same services as REST
 * through a per-request context.
 */
export function registerGraphql(app: FastifyInstance, deps: GraphqlDependencies): void {
  const { options, services } = deps;
  const config = options.graphql;
  const limits: PageLimits = { pageLimitDefault: options.pageLimitDefault, pageLimitMax: options.pageLimitMax };
  const persisted = config.persistedQueriesFile === undefined ? new Map<string, string>() : readPersistedQueries(config.persistedQueriesFile);
  // With introspection off, no message may name the schema's fields ("Did you mean ...?"):
  // validation's, and variable coercion's (enum values) too, over HTTP and WebSocket alike.
  const registryFormat = errorFormatter(app, !config.introspection);
  const formatError = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError =>
    formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' && TOO_MANY_TOKENS.test(formatted.message)
      ? { message: formatted.message, extensions: { code: 'QUERY_TOO_COMPLEX' } }
      : registryFormat(formatted, error);
  const queryLimits: QueryLimits = {
    maxDepth: config.maxDepth,
    maxCost: config.maxCost,
    maxAliases: config.maxAliases,
    maxDirectives: config.maxDirectives,
    maxPageSize: config.maxPageSize,
    defaultPageSize: options.pageLimitDefault,
    rowsSkipped: (after) => cursorRowsSkipped(after, limits),
  };
  const inProcess: InProcessGraphql = {
    server: undefined,
    contextFor: (principal) =>
      withClientAddress(
        createContext(services, { baseUrl: options.publicUrl ?? 'http://in-process', principal }, limits, deps.observeBatch),
        'in-process',
      ),
  };
  app.decorate('graphql', inProcess);
  void app.register(async (scope) => {
    // One schema for both transports: scope rules (and rate limits) on every root field.
    const schema = applyShield(await buildTamsSchema(), { rateLimiter: deps.rateLimiter });
    const guard = new OperationGuard({ schema, limits: queryLimits, maxTokens: config.maxTokens, maxCharacters: config.maxCharacters });
    const compiled = new CompiledQueries(schema);
    inProcess.guard = guard;
    inProcess.compiled = compiled;
    const observers = deps.observers ?? [];
    const persistedCache = new PersistedQueryCache(persisted, !config.persistedOnly, undefined, undefined, deps.sharedOperations);
    const prepared = config.preparedQueries
      ? new PreparedQueries<GraphqlContext>({
          compiled,
          observers,
          formatError,
          answered: (request, operation) => auditOperation(app.audit, options.path, request, operation),
        })
      : undefined;
    inProcess.prepared = prepared;
    const httpContext = (request: FastifyRequest): GraphqlContext =>
      guardedContext(
        auditedContext(
          request,
          withClientAddress(
            createContext(
              services,
              {
                baseUrl: options.publicUrl ?? `${request.protocol}://${request.host}`,
                principal: request.principal,
                concealed: (reference) => markConcealed(request, reference),
              },
              limits,
              deps.observeBatch,
            ),
            request.ip,
          ),
        ),
      );
    const apollo = new ApolloServer<GraphqlContext>({
      // Queries run compiled (graphql-jit); parsing, validation, plugins and formatError stay Apollo's.
      gateway: jitGateway(schema, compiled),
      csrfPrevention: true,
      introspection: config.introspection,
      includeStacktraceInErrorResponses: false,
      stopOnTerminationSignals: false,
      formatError,
      parseOptions: { maxTokens: config.maxTokens },
      documentStore: new BoundedDocumentStore(),
      persistedQueries: { cache: persistedCache },
      plugins: [
        ApolloServerPluginCacheControlDisabled(),
        // The IDE a browser gets at this path (GRAPHQL_LANDING_PAGE) is the gateway's own: src/http/graphql-ide.ts.
        ApolloServerPluginLandingPageDisabled(),
        useInProcessGuard<GraphqlContext>(guard),
        useMutationResultAccess(schema),
        ...(config.introspection ? [useIntrospectionCache<GraphqlContext>()] : []),
        // Before the audit plugin, which records the status.
        useOutageStatus<GraphqlContext>(),
        useGraphqlAudit<GraphqlContext>(app.audit, options.path),
        ...observers.map((observer) => observerPlugin<GraphqlContext>(observer)),
        ...(prepared === undefined ? [] : [prepared.plugin()]),
      ],
    });
    await apollo.start();
    inProcess.server = apollo;
    // fastify drains HTTP connections itself on close (Apollo's drain plugin would call
    // fastify.close() again from inside the close under way and deadlock); Apollo stops after.
    scope.addHook('onClose', async () => {
      await apollo.stop();
    });
    registerSubscriptionServer(scope, {
      path: options.path,
      guard,
      persistedOnly: config.persistedOnly ? persisted : undefined,
      schema,
      events: deps.events,
      services,
      limits,
      publicUrl: options.publicUrl,
      originOf: options.originOf,
      formatError: registryFormat,
      observeBatch: deps.observeBatch,
      watchSubscriptions: deps.watchSubscriptions,
      clientAddressOf: options.clientAddressOf,
      rateLimiter: deps.rateLimiter,
    });
    if (config.persistedOnly) scope.addHook('preHandler', refuseOperationText(options.path));
    const viaApollo = fastifyApolloHandler(apollo, { context: async (request) => httpContext(request) });
    const guardOptions = {
      guard,
      persisted: (hash: string) => persistedCache.get(hash),
      rateLimiter: deps.rateLimiter,
      formatError,
      refused: (request: FastifyRequest, error: TamsError) => {
        for (const observe of observers) observe().finished([error]);
        auditOperation(app.audit, options.path, request, {
          operation: undefined,
          document: undefined,
          variables: undefined,
          data: undefined,
          formatted: [{ message: error.message, extensions: { code: error.graphqlCode } }],
          raw: [error],
          status: error.status,
        });
      },
    };
    scope.route<{ Reply: string }>({
      url: options.path,
      method: ['GET', 'POST', 'OPTIONS'],
      bodyLimit: config.maxBodyBytes,
      handler: async function (request, reply) {
        // Limits first: a refused operation is never validated, compiled or run.
        const refusal = await guardHttpOperation(request, guardOptions);
        if (refusal !== undefined) {
          void reply.code(refusal.status).headers(refusal.headers);
          return refusal.body;
        }
        const body = prepared === undefined ? undefined : await prepared.serve(request, reply, httpContext);
        return body ?? viaApollo.call(this, request, reply);
      },
    });
  });
}

/**
 * The same Apollo server without HTTP, for operators' scripts and tests:
 * `app.graphql.server.executeOperation({ query }, { contextValue: app.graphql.contextFor(principal) })`.
 */
export interface InProcessGraphql {
  /** Set once the app is ready. */
  server: ApolloServer<GraphqlContext> | undefined;
  /** The prepared-query path (GRAPHQL_PREPARED_QUERIES), set once the app is ready. */
  prepared?: PreparedQueries<GraphqlContext> | undefined;
  /** The limits every operation passes first, set once the app is ready. */
  guard?: OperationGuard;
  /** graphql-jit's compiled operations, set once the app is ready. */
  compiled?: CompiledQueries;
  contextFor(principal: Principal): GraphqlContext;
}

declare module 'fastify' {
  interface FastifyInstance {
    graphql: InProcessGraphql;
  }
}

/**
 * GRAPHQL_PERSISTED_ONLY: a request carrying operation text is refused before Apollo sees it,
 * so nothing outside the persisted-queries file runs or gets registered.
 */
function refuseOperationText(path: string): preHandlerAsyncHookHandler {
  return async (request, reply) => {
    if (request.routeOptions.url !== path) return;
    const source = (request.method === 'GET' ? request.query : request.body) as { query?: unknown } | undefined;
    if (source?.query === undefined) return;
    await reply.code(400).send({
      errors: [{ message: 'Only persisted operations are accepted: send extensions.persistedQuery.sha256Hash without query', extensions: { code: 'PERSISTED_QUERY_REQUIRED' } }],
    });
  };
}
