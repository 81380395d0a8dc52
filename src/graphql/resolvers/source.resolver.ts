import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { TagValue } from '../../domain/entities';
import type { Connection } from '../types/connection.type';
import type { GraphqlContext } from '../context';
import { FlowConnection, SourceConnection } from '../types/connections.type';
import { Flow, toFlow } from '../types/flow.type';
import { FlowSortBy, toFlowFilter } from '../types/flow-filter.input';
import { paginate } from './paging';
import { SourceFilterInput, SourceSortBy, toSourceFilter } from '../types/source-filter.input';
import { Source, SourceCollectionItem, toSource } from '../types/source.type';
import { recordIfHidden } from './not-found';
import { uuidArg } from './arguments';
import { loadVisible } from './loaders';
import { TimeRangeScalar } from '../types/time-range.scalar';
import type { TimeRange } from '../../domain/timerange';
import { hlsUrl, sourcePlaylistPath } from '../../services/hls/hls-paths';

@Resolver(() => Source)
export class SourceResolver {
  @Query(() => SourceConnection, { description: 'Sources (GET /sources).' })
  async sources(
    @Ctx() ctx: GraphqlContext,
    @Arg('filter', () => SourceFilterInput, { nullable: true }) filter: SourceFilterInput | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('sortBy', () => SourceSortBy, { nullable: true }) sortBy: SourceSortBy | null,
    @Arg('reverse', () => Boolean, { defaultValue: false }) reverse: boolean,
  ): Promise<Connection<Source>> {
    const sourceFilter = toSourceFilter(filter ?? undefined, sortBy ?? undefined, reverse);
    return paginate(
      (limit, page) => ctx.services.flows.listSources(ctx.request, sourceFilter, { limit, ...(page === undefined ? {} : { page }) }),
      { first, after },
      ctx.limits,
      (source) => {
        ctx.loaders.sources.prime(source.id, source);
        return toSource(source);
      },
    );
  }

  @Query(() => Source, { nullable: true, description: 'One source, or null when there is none with this id.' })
  async source(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string): Promise<Source | null> {
    const sourceId = uuidArg('id', id);
    const source = await ctx.loaders.sources.load(sourceId);
    if (source === null) return recordIfHidden(ctx.services.flows.getSource(ctx.request, sourceId), () => ctx.request.concealed?.(`source:${sourceId}`));
    return toSource(source);
  }

  @FieldResolver(() => GraphQLJSON, { nullable: true, description: 'One tag: a string or a list of strings, null when absent.' })
  tag(@Root() source: Source, @Arg('name') name: string): TagValue | null {
    return source.tags?.[name] ?? null;
  }

  @FieldResolver(() => [Source], { description: 'The sources whose collection holds this one.' })
  async collectedBy(@Root() source: Source, @Ctx() ctx: GraphqlContext): Promise<Source[]> {
    return (await loadVisible(ctx.loaders.sources, source.collectedByIds)).map(toSource);
  }

  @FieldResolver(() => [SourceCollectionItem], {
    description: "The source's collection (source_collection, inferred from its flows' collections), each member with its role.",
  })
  collection(@Root() source: Source): SourceCollectionItem[] {
    return source.collectionItems.map((item) => ({ sourceId: item.id, role: item.role }));
  }

  @FieldResolver(() => String, {
    description:
      "Absolute URL of the source's HLS multivariant playlist over its video and audio flows (docs/hls.md): live without `timerange`, VOD over the segments overlapping it.",
  })
  hlsUrl(@Root('id') sourceId: string, @Ctx() ctx: GraphqlContext, @Arg('timerange', () => TimeRangeScalar, { nullable: true }) timerange: TimeRange | null): string {
    return hlsUrl(ctx.request.baseUrl, sourcePlaylistPath(sourceId), timerange);
  }

  @FieldResolver(() => FlowConnection, { description: 'The flows of this source.' })
  async flows(
    @Root() source: Source,
    @Ctx() ctx: GraphqlContext,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('sortBy', () => FlowSortBy, { nullable: true }) sortBy: FlowSortBy | null,
    @Arg('reverse', () => Boolean, { defaultValue: false }) reverse: boolean,
  ): Promise<Connection<Flow>> {
    const filter = { ...toFlowFilter(undefined, sortBy ?? undefined, reverse), source_id: source.id };
    return paginate(
      (limit, page) =>
        page === undefined
          ? ctx.loaders.flowsOfSource.load({ sourceId: source.id, limit, sortBy: filter.sort_by, reverse })
          : ctx.services.flows.listFlows(ctx.request, filter, { limit, page }),
      { first, after },
      ctx.limits,
      (flow) => {
        ctx.loaders.flows.prime(flow.id, flow);
        return toFlow(flow);
      },
    );
  }
}
