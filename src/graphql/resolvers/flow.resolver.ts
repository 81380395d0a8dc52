import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { TagValue } from '../../domain/entities';
import { EMPTY, TimeRange, formatTimeRange } from '../../domain/timerange';
import type { Connection } from '../types/connection.type';
import type { GraphqlContext } from '../context';
import { FlowConnection, FlowSegmentConnection } from '../types/connections.type';
import { FlowFilterInput, FlowSortBy, toFlowFilter } from '../types/flow-filter.input';
import { Flow, FlowCollectionItem, toFlow } from '../types/flow.type';
import { paginate } from './paging';
import type { FlowSegment } from '../types/segment.type';
import { segmentConnection } from './segment-listing';
import { Source, toSource } from '../types/source.type';
import { TimeRangeScalar } from '../types/time-range.scalar';
import { uuidArg } from './arguments';
import { loadVisible } from './loaders';
import { recordIfHidden } from './not-found';
import { playsAsHls } from '../../services/hls/hls-service';
import { flowPlaylistPath, hlsUrl } from '../../services/hls/hls-paths';

@Resolver(() => Flow)
export class FlowResolver {
  @Query(() => FlowConnection, { description: 'Flows (GET /flows).' })
  async flows(
    @Ctx() ctx: GraphqlContext,
    @Arg('filter', () => FlowFilterInput, { nullable: true }) filter: FlowFilterInput | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('sortBy', () => FlowSortBy, { nullable: true }) sortBy: FlowSortBy | null,
    @Arg('reverse', () => Boolean, { defaultValue: false }) reverse: boolean,
  ): Promise<Connection<Flow>> {
    const flowFilter = toFlowFilter(filter ?? undefined, sortBy ?? undefined, reverse);
    return paginate(
      (limit, page) => ctx.services.flows.listFlows(ctx.request, flowFilter, { limit, ...(page === undefined ? {} : { page }) }),
      { first, after },
      ctx.limits,
      (flow) => {
        ctx.loaders.flows.prime(flow.id, flow);
        return toFlow(flow);
      },
    );
  }

  @Query(() => Flow, { nullable: true, description: 'One flow, or null when there is none with this id.' })
  async flow(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string): Promise<Flow | null> {
    const flowId = uuidArg('id', id);
    const flow = await ctx.loaders.flows.load(flowId);
    if (flow === null) return recordIfHidden(ctx.services.flows.getFlow(ctx.request, flowId), () => ctx.request.concealed?.(`flow:${flowId}`));
    return toFlow(flow);
  }

  @FieldResolver(() => GraphQLJSON, { nullable: true, description: 'One tag: a string or a list of strings, null when absent.' })
  tag(@Root() flow: Flow, @Arg('name') name: string): TagValue | null {
    return flow.tags?.[name] ?? null;
  }

  // The root's id only (@Root('...')): with the whole root, type-graphql copies the flow into a new
  // instance for every call, and source and segments run for every flow a query lists.
  @FieldResolver(() => Source, { nullable: true, description: 'The source this flow renders.' })
  async source(@Root('sourceId') sourceId: string, @Ctx() ctx: GraphqlContext): Promise<Source | null> {
    const source = await ctx.loaders.sources.load(sourceId);
    return source === null ? null : toSource(source);
  }

  @FieldResolver(() => [Flow], { description: 'The flows whose collection holds this one.' })
  async collectedBy(@Root() flow: Flow, @Ctx() ctx: GraphqlContext): Promise<Flow[]> {
    return (await loadVisible(ctx.loaders.flows, flow.collectedByIds)).map(toFlow);
  }

  @FieldResolver(() => [FlowCollectionItem], { description: "The flow's collection (flow_collection), each member with its role." })
  collection(@Root() flow: Flow): FlowCollectionItem[] {
    return flow.collectionItems.map((item) => ({ flowId: item.id, role: item.role }));
  }

  @FieldResolver(() => String, {
    nullable: true,
    description:
      "Absolute URL of the flow's HLS media playlist (docs/hls.md): live without `timerange`, VOD over the segments overlapping it. Null when HLS cannot carry the flow's container or its hls_exclude tag is true.",
  })
  hlsUrl(@Root() flow: Flow, @Ctx() ctx: GraphqlContext, @Arg('timerange', () => TimeRangeScalar, { nullable: true }) timerange: TimeRange | null): string | null {
    if (!playsAsHls({ container: flow.container, tags: flow.tags, essence_parameters: flow.essenceParameters })) return null;
    return hlsUrl(ctx.request.baseUrl, flowPlaylistPath(flow.id), timerange);
  }

  @FieldResolver(() => FlowSegmentConnection, { description: 'Segments overlapping `timerange` (all when omitted).' })
  async segments(
    @Root('id') flowId: string,
    @Ctx() ctx: GraphqlContext,
    @Arg('timerange', () => TimeRangeScalar, { nullable: true }) timerange: TimeRange | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('reverse', () => Boolean, { defaultValue: false }) reverse: boolean,
  ): Promise<Connection<FlowSegment>> {
    return segmentConnection(ctx, flowId, { timerange, first, after, reverse });
  }

  @FieldResolver(() => TimeRangeScalar, {
    description: 'The span of the segments (overlapping `within`, when given); "()" when there are none.',
  })
  async timerange(
    @Root() flow: Flow,
    @Ctx() ctx: GraphqlContext,
    @Arg('within', () => TimeRangeScalar, { nullable: true }) within: TimeRange | null,
  ): Promise<string> {
    const found = await ctx.services.flows.getFlow(ctx.request, flow.id, { includeTimerange: true, ...(within === null ? {} : { within }) });
    return typeof found.timerange === 'string' ? found.timerange : formatTimeRange(EMPTY);
  }
}
