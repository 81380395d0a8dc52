import type { FastifyInstance } from 'fastify';
import type { TagValue, Tags } from '../../domain/entities';
import type { RequestContext } from '../../services/request-context';
import type { RestOptions } from '../rest-context';
import { requestContext } from '../rest-context';
import { validateTagValue } from '../../validation/property-validators';
import { checkBody, sendJsonValue } from './property-responses';
import { pathString, pathUuid } from './path-params';

/** The tag operations of one resource kind (flows or sources). */
export interface TagOperations {
  getAll(ctx: RequestContext, id: string): Promise<Tags>;
  get(ctx: RequestContext, id: string, name: string): Promise<TagValue>;
  put(ctx: RequestContext, id: string, name: string, value: TagValue): Promise<void>;
  delete(ctx: RequestContext, id: string, name: string): Promise<void>;
}

/** `/<resource>/{id}/tags` and `/<resource>/{id}/tags/{name}`, the same for flows and sources. */
export function registerTagRoutes(app: FastifyInstance, resource: 'flows' | 'sources', idParam: string, tags: TagOperations, options: RestOptions): void {
  const base = `/${resource}/:${idParam}/tags`;

  app.get(base, async (request, reply) => {
    const id = pathUuid(request.params, idParam);
    return sendJsonValue(reply, await tags.getAll(requestContext(request, options), id));
  });

  app.get(`${base}/:name`, async (request, reply) => {
    const id = pathUuid(request.params, idParam);
    return sendJsonValue(reply, await tags.get(requestContext(request, options), id, pathString(request.params, 'name')));
  });

  app.put(`${base}/:name`, async (request, reply) => {
    const id = pathUuid(request.params, idParam);
    const name = pathString(request.params, 'name');
    checkBody(validateTagValue(request.body));
    await tags.put(requestContext(request, options), id, name, request.body as TagValue);
    return reply.code(204).send();
  });

  app.delete(`${base}/:name`, async (request, reply) => {
    const id = pathUuid(request.params, idParam);
    await tags.delete(requestContext(request, options), id, pathString(request.params, 'name'));
    return reply.code(204).send();
  });
}
