import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DeletionRequest } from '../../domain/entities';
import type { DeletionOutcome, DeletionSort } from '../../services/deletion-service';
import type { RestOptions, RestServices } from '../rest-context';
import { publicBase, requestContext } from '../rest-context';
import { setPagingHeaders } from '../paging-headers';
import { Query, bool, enumValue, pageLimit } from '../query-params';
import { pathUuid } from './path-params';
import { pageParam } from './source-routes';

const DELETION_SORTS: readonly DeletionSort[] = ['created', 'expiry'];

/** Absolute URL of a deletion request, under the REST base path (the instance's prefix). */
function deletionRequestUrl(app: FastifyInstance, request: FastifyRequest, options: RestOptions, req: DeletionRequest): string {
  return `${publicBase(request, options)}${app.prefix}/flow-delete-requests/${req.id}`;
}

/** 204 when the delete finished; 202 with Location and the request body when it continues. */
export function answerDeletion(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  options: RestOptions,
  outcome: DeletionOutcome,
): FastifyReply {
  if (outcome.done) return reply.code(204).send();
  return reply.code(202).header('Location', deletionRequestUrl(app, request, options, outcome.request)).send(outcome.request);
}

export function registerDeleteRequestRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/flow-delete-requests', async (request, reply) => {
    const q = request.query as Query;
    const reverse = bool(q, 'reverse_order') ?? false;
    const sort = enumValue(q, 'sort_by', DELETION_SORTS) ?? 'created';
    const page = await services.deletions.listRequests(requestContext(request, options), sort, reverse, {
      limit: pageLimit(q, options.pageLimitDefault, options.pageLimitMax),
      ...pageParam(q),
    });
    setPagingHeaders(request, reply, publicBase(request, options), page, { reverse });
    return page.items;
  });

  app.get('/flow-delete-requests/:requestId', async (request) => {
    return services.deletions.getRequest(requestContext(request, options), pathUuid(request.params, 'requestId'));
  });
}
