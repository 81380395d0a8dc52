import type { FastifyInstance } from 'fastify';
import type { Flow } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import type { FlowFilter, FlowSort } from '../../ports/metadata-store';
import type { RestOptions, RestServices } from '../rest-context';
import { publicBase, requestContext } from '../rest-context';
import { setPagingHeaders } from '../paging-headers';
import { Query, bool, enumValue, format, int, pageLimit, single, tagFilter, timerange, uuid, uuidList } from '../query-params';
import { validateFlowPut } from '../../validation/validators';
import { pathUuid } from './path-params';
import { pageParam } from './source-routes';
import { answerDeletion } from './delete-request-routes';

const FLOW_SORTS: readonly FlowSort[] = ['created', 'metadata_updated', 'label'];
const FLOW_STATUSES = ['ingesting', 'closed', 'unknown'] as const;

function flowFilter(q: Query): FlowFilter {
  const filter: FlowFilter = { reverse: bool(q, 'reverse_order') ?? false };
  const sourceId = uuid(q, 'source_id');
  if (sourceId !== undefined) filter.source_id = sourceId;
  const tr = timerange(q);
  if (tr !== undefined) filter.timerange = tr;
  const fmt = format(q);
  if (fmt !== undefined) filter.format = fmt;
  const codec = single(q, 'codec');
  if (codec !== undefined) filter.codec = codec;
  const profileId = uuid(q, 'profile_id');
  if (profileId !== undefined) filter.profile_id = profileId;
  const label = single(q, 'label');
  if (label !== undefined) filter.label = label;
  const status = enumValue(q, 'status', FLOW_STATUSES);
  if (status !== undefined) filter.status = status;
  const width = int(q, 'frame_width', 0, 2 ** 31);
  if (width !== undefined) filter.frame_width = width;
  const height = int(q, 'frame_height', 0, 2 ** 31);
  if (height !== undefined) filter.frame_height = height;
  const init = bool(q, 'init_segments');
  if (init !== undefined) filter.init_segments = init;
  const tags = tagFilter(q, 'tag');
  if (tags !== undefined) filter.tags = tags;
  const collectedBy = uuidList(q, 'collected_by_ids');
  if (collectedBy !== undefined) filter.collected_by_ids = collectedBy;
  const sortBy = enumValue(q, 'sort_by', FLOW_SORTS);
  if (sortBy !== undefined) filter.sort_by = sortBy;
  return filter;
}

export function registerFlowRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/flows', async (request, reply) => {
    const q = request.query as Query;
    const filter = flowFilter(q);
    const page = await services.flows.listFlows(requestContext(request, options), filter, {
      limit: pageLimit(q, options.pageLimitDefault, options.pageLimitMax),
      ...pageParam(q),
    });
    setPagingHeaders(request, reply, publicBase(request, options), page, { reverse: filter.reverse ?? false });
    return page.items;
  });

  app.get('/flows/:flowId', async (request) => {
    const id = pathUuid(request.params, 'flowId');
    const q = request.query as Query;
    const includeTimerange = bool(q, 'include_timerange') ?? false;
    const within = timerange(q);
    return services.flows.getFlow(requestContext(request, options), id, { includeTimerange, ...(within === undefined ? {} : { within }) });
  });

  app.put('/flows/:flowId', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    const problem = validateFlowPut(request.body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    const result = await services.flows.putFlow(requestContext(request, options), id, request.body as Flow);
    if (result.created) return reply.code(201).send(result.flow);
    return reply.code(204).send();
  });

  app.delete('/flows/:flowId', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    return answerDeletion(app, request, reply, options, await services.deletions.deleteFlow(requestContext(request, options), id));
  });
}
