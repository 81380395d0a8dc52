import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TamsError } from '../domain/errors';
import { type AccessAction, requireScopes } from '../services/access-policy';

/**
 * The REST scope table: every route the router registers (method + path as registered, under
 * the REST prefix) -> the action of the access policy it performs, whose scopes the request
 * must hold (application note 0016). HEAD routes (fastify's exposeHeadRoutes) take their GET
 * twin's action, so the table lists all 85 operations of the 8.2 API.
 */
const ROUTES_WITHOUT_HEAD: Readonly<Record<string, AccessAction>> = {
  'GET /': 'root.read',
  'GET /service': 'service.read',
  'POST /service': 'service.update',
  'GET /service/storage-backends': 'storage_backends.list',
  'GET /service/profiles': 'profiles.list',
  'GET /service/profiles/:profileId': 'profile.read',
  'POST /service/profiles/:profileId': 'profile.create',
  'GET /service/webhooks': 'webhooks.list',
  'POST /service/webhooks': 'webhook.create',
  'GET /service/webhooks/:webhookId': 'webhook.read',
  'PUT /service/webhooks/:webhookId': 'webhook.update',
  'DELETE /service/webhooks/:webhookId': 'webhook.delete',
  'GET /sources': 'sources.list',
  'GET /sources/:sourceId': 'source.read',
  'GET /sources/:sourceId/tags': 'source.read',
  'GET /sources/:sourceId/tags/:name': 'source.read',
  'PUT /sources/:sourceId/tags/:name': 'source.property.write',
  'DELETE /sources/:sourceId/tags/:name': 'source.property.delete',
  'GET /sources/:sourceId/label': 'source.read',
  'PUT /sources/:sourceId/label': 'source.property.write',
  'DELETE /sources/:sourceId/label': 'source.property.delete',
  'GET /sources/:sourceId/description': 'source.read',
  'PUT /sources/:sourceId/description': 'source.property.write',
  'DELETE /sources/:sourceId/description': 'source.property.delete',
  'GET /flows': 'flows.list',
  'GET /flows/:flowId': 'flow.read',
  'PUT /flows/:flowId': 'flow.put',
  'DELETE /flows/:flowId': 'flow.delete',
  'GET /flows/:flowId/tags': 'flow.read',
  'GET /flows/:flowId/tags/:name': 'flow.read',
  'PUT /flows/:flowId/tags/:name': 'flow.property.write',
  'DELETE /flows/:flowId/tags/:name': 'flow.property.delete',
  'GET /flows/:flowId/label': 'flow.read',
  'PUT /flows/:flowId/label': 'flow.property.write',
  'DELETE /flows/:flowId/label': 'flow.property.delete',
  'GET /flows/:flowId/description': 'flow.read',
  'PUT /flows/:flowId/description': 'flow.property.write',
  'DELETE /flows/:flowId/description': 'flow.property.delete',
  'GET /flows/:flowId/max_bit_rate': 'flow.read',
  'PUT /flows/:flowId/max_bit_rate': 'flow.property.write',
  'DELETE /flows/:flowId/max_bit_rate': 'flow.property.delete',
  'GET /flows/:flowId/avg_bit_rate': 'flow.read',
  'PUT /flows/:flowId/avg_bit_rate': 'flow.property.write',
  'DELETE /flows/:flowId/avg_bit_rate': 'flow.property.delete',
  'GET /flows/:flowId/read_only': 'flow.read',
  'PUT /flows/:flowId/read_only': 'flow.property.write',
  'GET /flows/:flowId/flow_collection': 'flow.read',
  'PUT /flows/:flowId/flow_collection': 'flow.property.write',
  'DELETE /flows/:flowId/flow_collection': 'flow.property.delete',
  'GET /flows/:flowId/segments': 'segments.list',
  'POST /flows/:flowId/segments': 'segments.register',
  'DELETE /flows/:flowId/segments': 'segments.delete',
  'POST /flows/:flowId/storage': 'storage.allocate',
  'GET /objects/:objectId': 'object.read',
  'POST /objects/:objectId/instances': 'object.instance.add',
  'DELETE /objects/:objectId/instances': 'object.instance.remove',
  'GET /flow-delete-requests': 'delete_requests.list',
  'GET /flow-delete-requests/:requestId': 'delete_request.read',
};

/** `METHOD /path` (path as registered, without the REST prefix) -> action; HEAD included. */
export const ROUTE_ACCESS: ReadonlyMap<string, AccessAction> = new Map(
  Object.entries(ROUTES_WITHOUT_HEAD).flatMap(([key, action]) =>
    key.startsWith('GET ') ? [[key, action], [`HEAD ${key.slice(4)}`, action]] : [[key, action]],
  ),
);

/** The table key of a route: its method and its path below the REST prefix (`/` for the root). */
export function routeKey(method: string, url: string, prefix: string): string {
  let path = url.startsWith(prefix) ? url.slice(prefix.length) : url;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return `${method.toUpperCase()} ${path === '' ? '/' : path}`;
}

/** The action of a registered route, undefined when the table has no entry for it. */
export function actionOf(method: string, url: string, prefix: string): AccessAction | undefined {
  return ROUTE_ACCESS.get(routeKey(method, url, prefix));
}

/**
 * Installs the table in the REST scope (call before registering routes): registering a route
 * the table does not know fails at start, and every matched request needs a scope of its
 * route's action (403 `forbidden` otherwise). Checked in preHandler, after the route matched
 * and authentication set `request.principal`; the services then apply the auth classes.
 */
export function installRouteAccess(rest: FastifyInstance): void {
  const prefix = rest.prefix;
  rest.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (actionOf(method, route.url, prefix) === undefined) {
        throw new Error(`REST route ${method} ${route.url} has no entry in the access table (src/rest/route-access.ts)`);
      }
    }
  });
  rest.addHook('preHandler', async (request: FastifyRequest) => {
    const url = request.routeOptions.url;
    // No matched route: the not-found handler answers.
    if (url === undefined) return;
    const action = actionOf(request.method, url, prefix);
    if (action === undefined) throw new TamsError('forbidden', 'This operation has no access rule');
    requireScopes(request.principal, action);
  });
}
