import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { TimeRange } from '../../domain/timerange';
import type { Connection } from '../types/connection.type';
import type { GraphqlContext } from '../context';
import { FlowSegmentConnection } from '../types/connections.type';
import { MediaObject, toMediaObject } from '../types/media-object.type';
import { FlowSegment } from '../types/segment.type';
import { TimeRangeScalar } from '../types/time-range.scalar';
import { uuidArg } from './arguments';
import { segmentConnection } from './segment-listing';

@Resolver(() => FlowSegment)
export class SegmentResolver {
  @Query(() => FlowSegmentConnection, { description: "A flow's segments overlapping `timerange` (GET /flows/{flowId}/segments)." })
  async segments(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('timerange', () => TimeRangeScalar, { nullable: true }) timerange: TimeRange | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('reverse', () => Boolean, { defaultValue: false }) reverse: boolean,
    @Arg('objectId', () => String, { nullable: true }) objectId: string | null,
  ): Promise<Connection<FlowSegment>> {
    return segmentConnection(ctx, uuidArg('flowId', flowId), { timerange, first, after, reverse, objectId });
  }

  @FieldResolver(() => MediaObject, { nullable: true, description: 'The media object this segment points at.' })
  async object(@Root() segment: FlowSegment, @Ctx() ctx: GraphqlContext): Promise<MediaObject | null> {
    const found = await ctx.loaders.objects.load(segment.objectId);
    return found === null ? null : toMediaObject(found);
  }
}
