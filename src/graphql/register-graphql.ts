import { ApolloServer } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance } from 'fastify';
import { TamsError } from '../domain/errors';
import type { EventDispatcher } from '../services/event-dispatcher';
import { GraphqlContext, GraphqlServices, createContext } from './context';
import type { PageLimits } from './paging';
import { buildTamsSchema } from './schema';

export interface GraphqlOptions extends PageLimits {
  /** Configured absolute public URL (no trailing slash), or undefined to derive it per request. */
  publicUrl: string | undefined;
  /** NODE_ENV=production: no introspection, no landing page. */
  production: boolean;
  /** Overrides the NODE_ENV default for introspection. */
  introspection?: boolean;
  /** Overrides the NODE_ENV default for the landing page. */
  landingPage?: boolean;
}

export interface GraphqlDependencies {
  services: GraphqlServices;
  /** Committed store events (the outbox), feeding subscriptions. */
  events: EventDispatcher;
  options: GraphqlOptions;
}

const MASKED = 'Internal server error';

/** The TamsError behind a GraphQL error, however many times graphql-js and Apollo wrapped it. */
function tamsErrorOf(error: unknown): TamsError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (current instanceof TamsError) return current;
    current = (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}

/**
 * Errors go out through the one registry: a TamsError gets its `graphqlCode`, Apollo's own
 * (parse, validation, bad variables) keep theirs, anything else is logged and masked.
 * Only message, locations, path and code leave: never a stack trace.
 */
function errorFormatter(app: FastifyInstance): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
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
    return { message: formatted.message, ...where, extensions: { code } };
  };
}

/**
 * Serves GraphQL at `/graphql` (outside TAMS_BASE_PATH) with Apollo. Resolvers reach the
 * same services as REST through a per-request context.
 */
export function registerGraphql(app: FastifyInstance, deps: GraphqlDependencies): void {
  const { options, services } = deps;
  const limits: PageLimits = { pageLimitDefault: options.pageLimitDefault, pageLimitMax: options.pageLimitMax };
  const landingPage = options.landingPage ?? !options.production;
  void app.register(async (scope) => {
    const apollo = new ApolloServer<GraphqlContext>({
      schema: await buildTamsSchema(),
      csrfPrevention: true,
      introspection: options.introspection ?? !options.production,
      includeStacktraceInErrorResponses: false,
      stopOnTerminationSignals: false,
      formatError: errorFormatter(app),
      plugins: [
        ApolloServerPluginCacheControlDisabled(),
        landingPage ? ApolloServerPluginLandingPageLocalDefault() : ApolloServerPluginLandingPageDisabled(),
      ],
    });
    await apollo.start();
    // fastify drains HTTP connections itself on close (Apollo's drain plugin would call
    // fastify.close() again from inside the close under way and deadlock); Apollo stops after.
    scope.addHook('onClose', async () => {
      await apollo.stop();
    });
    scope.route({
      url: '/graphql',
      method: ['GET', 'POST', 'OPTIONS'],
      handler: fastifyApolloHandler(apollo, {
        context: async (request) =>
          createContext(services, { baseUrl: options.publicUrl ?? `${request.protocol}://${request.host}` }, limits),
      }),
    });
  });
}
