import type { FastifyInstance } from 'fastify';
import { TamsError, errorBody } from '../../domain/errors';
import { ETERNITY, formatTimeRange } from '../../domain/timerange';
import type { RestOptions, RestServices } from '../rest-context';
import { publicBase, requestContext } from '../rest-context';
import { setPagingHeaders } from '../paging-headers';
import { Query, bool, getUrlOptions, pageLimit, single, timerange } from '../query-params';
import { validateSegmentPost, validateStoragePost } from '../../validation/validators';
import type { SegmentPostBody } from '../../services/segment-service';
import type { StorageRequest } from '../../services/storage-service';
import { pathUuid } from './path-params';
import { pageParam } from './source-routes';
import { answerDeletion } from './delete-request-routes';

export function registerSegmentRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/flows/:flowId/segments', async (request, reply) => {
    const flowId = pathUuid(request.params, 'flowId');
    const q = request.query as Query;
    const reverse = bool(q, 'reverse_order') ?? false;
    const objectId = single(q, 'object_id');
    const page = await services.segments.listSegmentsJson(
      requestContext(request, options),
      flowId,
      { timerange: timerange(q) ?? ETERNITY, reverse, ...(objectId === undefined ? {} : { object_id: objectId }) },
      {
        limit: pageLimit(q, options.pageLimitDefault, options.pageLimitMax),
        getUrls: getUrlOptions(q),
        includeObjectTimerange: bool(q, 'include_object_timerange') ?? false,
        ...pageParam(q),
      },
    );
    reply.header('X-Paging-Timerange', formatTimeRange(page.timerange));
    setPagingHeaders(request, reply, publicBase(request, options), page, { reverse });
    return reply.type('application/json; charset=utf-8').send(`[${page.items.join(',')}]`);
  });

  app.post('/flows/:flowId/segments', async (request, reply) => {
    const flowId = pathUuid(request.params, 'flowId');
    const problem = validateSegmentPost(request.body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    const single = !Array.isArray(request.body);
    const bodies = (single ? [request.body] : request.body) as SegmentPostBody[];
    const failed = await services.segments.registerSegments(requestContext(request, options), flowId, bodies);
    if (failed.length === 0) return reply.code(201).send();
    if (single) throw (failed[0] as { error: TamsError }).error;
    const now = new Date();
    return reply.code(200).send({
      failed_segments: failed.map((f) => ({
        object_id: f.object_id,
        ...(f.timerange === undefined ? {} : { timerange: f.timerange }),
        error: errorBody(f.error, now),
      })),
    });
  });

  app.delete('/flows/:flowId/segments', async (request, reply) => {
    const flowId = pathUuid(request.params, 'flowId');
    const q = request.query as Query;
    const tr = timerange(q) ?? ETERNITY;
    const outcome = await services.deletions.deleteSegments(requestContext(request, options), flowId, tr, single(q, 'object_id'));
    return answerDeletion(app, request, reply, options, outcome);
  });

  app.post('/flows/:flowId/storage', async (request, reply) => {
    const flowId = pathUuid(request.params, 'flowId');
    // The body is optional (no body = defaults); an explicit JSON null is not.
    const body: unknown = request.body === undefined ? {} : request.body;
    const problem = validateStoragePost(body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    const mediaObjects = await services.storage.allocate(requestContext(request, options), flowId, body as StorageRequest);
    return reply.code(201).send({ media_objects: mediaObjects });
  });
}
