import type { FastifyInstance } from 'fastify';
import { TamsError } from '../../domain/errors';
import type { InstanceSelector } from '../../ports/metadata-store';
import type { RestOptions, RestServices } from '../rest-context';
import { publicBase, requestContext } from '../rest-context';
import { setPagingHeaders } from '../paging-headers';
import { Query, UUID_RE, getUrlOptions, pageLimit, single, tagFilter } from '../query-params';
import { validateObjectInstancePost } from '../../validation/registration-validators';
import type { InstanceRequest } from '../../services/storage-service';
import { pathString } from './path-params';
import { pageParam } from './source-routes';

/** `storage_id=` or `label=`: exactly one names the instance to delete. */
function instanceSelector(q: Query): InstanceSelector {
  const storageId = single(q, 'storage_id');
  const label = single(q, 'label');
  if ((storageId === undefined) === (label === undefined)) {
    throw new TamsError('bad_request', 'Give exactly one of the query parameters storage_id and label');
  }
  if (storageId !== undefined) {
    if (!UUID_RE.test(storageId)) throw new TamsError('bad_request', 'Invalid query parameter storage_id: must be a UUID');
    return { storage_id: storageId };
  }
  if (label === '') throw new TamsError('bad_request', 'Invalid query parameter label: must not be empty');
  return { label: label as string };
}

export function registerObjectRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/objects/:objectId', async (request, reply) => {
    const id = pathString(request.params, 'objectId');
    const q = request.query as Query;
    const getUrls = getUrlOptions(q);
    const flowTags = tagFilter(q, 'flow_tag');
    const page = await services.storage.getObject(requestContext(request, options), id, getUrls, {
      limit: pageLimit(q, options.pageLimitDefault, options.pageLimitMax),
      ...pageParam(q),
      ...(flowTags === undefined ? {} : { flowTags }),
    });
    setPagingHeaders(request, reply, publicBase(request, options), page);
    return page.body;
  });

  app.post('/objects/:objectId/instances', async (request, reply) => {
    const id = pathString(request.params, 'objectId');
    const problem = validateObjectInstancePost(request.body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    await services.storage.addInstance(requestContext(request, options), id, request.body as InstanceRequest);
    return reply.code(201).send();
  });

  app.delete('/objects/:objectId/instances', async (request, reply) => {
    const id = pathString(request.params, 'objectId');
    await services.storage.removeInstance(requestContext(request, options), id, instanceSelector(request.query as Query));
    return reply.code(204).send();
  });
}
