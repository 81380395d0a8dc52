import type { FastifyInstance } from 'fastify';
import type { SourceSort } from '../../ports/metadata-store';
import type { RestOptions, RestServices } from '../rest-context';
import { publicBase, requestContext } from '../rest-context';
import { setPagingHeaders } from '../paging-headers';
import { Query, bool, enumValue, format, pageLimit, single, tagFilter, uuidList } from '../query-params';
import { pathUuid } from './path-params';

const SOURCE_SORTS: readonly SourceSort[] = ['created', 'updated', 'label'];

export function registerSourceRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/sources', async (request, reply) => {
    const q = request.query as Query;
    const reverse = bool(q, 'reverse_order') ?? false;
    const label = single(q, 'label');
    const fmt = format(q);
    const tags = tagFilter(q, 'tag');
    const collectedBy = uuidList(q, 'collected_by_ids');
    const sortBy = enumValue(q, 'sort_by', SOURCE_SORTS);
    const page = await services.flows.listSources(
      requestContext(request, options),
      {
        reverse,
        ...(label === undefined ? {} : { label }),
        ...(fmt === undefined ? {} : { format: fmt }),
        ...(tags === undefined ? {} : { tags }),
        ...(collectedBy === undefined ? {} : { collected_by_ids: collectedBy }),
        ...(sortBy === undefined ? {} : { sort_by: sortBy }),
      },
      { limit: pageLimit(q, options.pageLimitDefault, options.pageLimitMax), ...pageParam(q) },
    );
    setPagingHeaders(request, reply, publicBase(request, options), page, { reverse });
    return page.items;
  });

  app.get('/sources/:sourceId', async (request) => {
    const id = pathUuid(request.params, 'sourceId');
    return services.flows.getSource(requestContext(request, options), id);
  });
}

export function pageParam(q: Query): { page?: string } {
  const page = single(q, 'page');
  return page === undefined ? {} : { page };
}
