import type { FastifyInstance, FastifyRequest, RouteOptions, onRequestAsyncHookHandler } from 'fastify';
import { appendRouteHook } from './route-hooks';
import { registerWebPage } from './web-pages';

export interface GraphqlIdeOptions {
  /** Where GraphQL is served; the IDE's files are under `<path>/ide/`. */
  graphqlPath: string;
}

/**
 * A browser opening the endpoint: a GET (or HEAD) that accepts HTML and carries no operation.
 * GET with `?query=` or `?extensions=` stays GraphQL over HTTP, whatever its Accept header.
 */
function opensIde(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (!(request.headers.accept ?? '').includes('text/html')) return false;
  const query = request.query as Record<string, unknown>;
  return query.query === undefined && query.extensions === undefined;
}

/**
 * GRAPHQL_LANDING_PAGE: GraphiQL (web/graphiql/, bundled by scripts/build-web.js) answers a
 * browser opening the GraphQL endpoint, served by the gateway itself with the schema built in,
 * so it works offline and with introspection off. Its page runs operations against its own
 * URL, the endpoint, over HTTP and over WebSocket for subscriptions.
 */
export function registerGraphqlIde(app: FastifyInstance, options: GraphqlIdeOptions): void {
  const page = registerWebPage(app, { prefix: `${options.graphqlPath}/ide/`, dir: 'graphiql', index: false });
  const openIde: onRequestAsyncHookHandler = async (request, reply) => {
    if (opensIde(request)) return page.sendIndex(request, reply);
  };
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url === options.graphqlPath) route.onRequest = appendRouteHook(route.onRequest, openIde);
  });
}
