import type { FastifyInstance } from 'fastify';
import type { RestOptions, RestServices } from '../rest-context';
import { requestContext } from '../rest-context';
import { Query, getUrlOptions } from '../query-params';
import { pathString } from './path-params';

export function registerObjectRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/objects/:objectId', async (request) => {
    const id = pathString(request.params, 'objectId');
    return services.storage.getObject(requestContext(request, options), id, getUrlOptions(request.query as Query));
  });
}
