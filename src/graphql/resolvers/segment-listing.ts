import { ETERNITY, TimeRange } from '../../domain/timerange';
import type { Connection } from '../types/connection.type';
import type { GraphqlContext } from '../context';
import { paginate } from './paging';
import { FlowSegment, toFlowSegment } from '../types/segment.type';

export interface SegmentArgs {
  timerange?: TimeRange | null;
  first?: number | null;
  after?: string | null;
  reverse: boolean;
  objectId?: string | null;
}

/**
 * A page of a flow's segments, with get_urls built as REST builds them (verbose form). First
 * pages go through the request's loader, so many flows' segments cost one store call.
 */
export async function segmentConnection(ctx: GraphqlContext, flowId: string, args: SegmentArgs): Promise<Connection<FlowSegment>> {
  const query = {
    timerange: args.timerange ?? ETERNITY,
    reverse: args.reverse,
    ...(args.objectId === undefined || args.objectId === null ? {} : { object_id: args.objectId }),
  };
  return paginate(
    (limit, page) =>
      page === undefined
        ? ctx.loaders.segmentsOfFlow.load({ flowId, limit, query })
        : ctx.services.segments.listSegments(ctx.request, flowId, query, {
            limit,
            page,
            getUrls: { verbose: true },
            includeObjectTimerange: false,
          }),
    args,
    ctx.limits,
    toFlowSegment,
  );
}
