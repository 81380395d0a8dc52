import { Arg, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import { TamsError } from '../../domain/errors';
import { ETERNITY, TimeRange } from '../../domain/timerange';
import { validateSegmentPost, validateStoragePost } from '../../validation/validators';
import type { SegmentPostBody } from '../../services/segment-service';
import type { GraphqlContext } from '../context';
import { toFlow } from '../types/flow.type';
import { checkBody, compact, forgetLoaded, given } from './mutation-edge';
import {
  DeleteSegmentsResult,
  MediaObjectAllocation,
  RegisterSegmentsResult,
  toFailedSegment,
  toDeletionResult,
  toMediaObjectAllocation,
} from '../types/mutation-results.type';
import { FlowSegmentInput, toSegmentPostBody } from '../types/segment.input';
import { TimeRangeScalar } from '../types/time-range.scalar';
import { objectIdArg, uuidArg } from './arguments';

/** Segment and storage writes of a flow (POST/DELETE /flows/{flowId}/segments, POST /flows/{flowId}/storage). */
@Resolver()
export class SegmentMutationResolver {
  @Mutation(() => RegisterSegmentsResult, {
    description:
      'Registers one or many segments (POST /flows/{flowId}/segments). A segment that cannot be registered (overlap, open timerange, object reused wrongly...) fails alone and is listed in failed; the others are stored. A body the TAMS schema refuses, an unknown or read-only flow, or a flow without a container fails the whole mutation.',
  })
  async registerSegments(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('segments', () => [FlowSegmentInput]) segments: FlowSegmentInput[],
  ): Promise<RegisterSegmentsResult> {
    const id = uuidArg('flowId', flowId);
    // Registering nothing changes nothing: it would only be a way to read the flow back.
    if (segments.length === 0) throw new TamsError('bad_request', 'segments must hold at least one segment');
    const bodies = segments.map(toSegmentPostBody);
    checkBody(validateSegmentPost(bodies));
    const failed = await ctx.services.segments.registerSegments(ctx.request, id, bodies as SegmentPostBody[]);
    forgetLoaded(ctx);
    const now = new Date();
    return {
      registeredCount: bodies.length - failed.length,
      failed: failed.map((f) => toFailedSegment(f, now)),
      flow: toFlow(await ctx.services.flows.getFlow(ctx.request, id)),
    };
  }

  @Mutation(() => DeleteSegmentsResult, {
    description:
      'Deletes the segments lying wholly within timerange (all when omitted), only those of objectId when given (DELETE /flows/{flowId}/segments). Many segments are deleted asynchronously: done is false and deletionRequest tracks it.',
  })
  async deleteSegments(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('timerange', () => TimeRangeScalar, { nullable: true }) timerange: TimeRange | null,
    @Arg('objectId', () => String, { nullable: true }) objectId: string | null,
  ): Promise<DeleteSegmentsResult> {
    const id = uuidArg('flowId', flowId);
    const object = given(objectId) ? objectIdArg('objectId', objectId) : undefined;
    const outcome = await ctx.services.deletions.deleteSegments(ctx.request, id, timerange ?? ETERNITY, object);
    forgetLoaded(ctx);
    return { ...toDeletionResult(outcome), flow: toFlow(await ctx.services.flows.getFlow(ctx.request, id)) };
  }

  @Mutation(() => [MediaObjectAllocation], {
    description:
      'Allocates media objects to upload for the flow (POST /flows/{flowId}/storage): limit new ids (a default number when neither limit nor objectIds is given), or the objectIds given. Each comes with a presigned putUrl.',
  })
  async allocateStorage(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('limit', () => Int, { nullable: true }) limit: number | null,
    @Arg('objectIds', () => [String], { nullable: true }) objectIds: string[] | null,
    @Arg('storageId', () => ID, { nullable: true, description: 'The storage backend; the default one when omitted.' }) storageId: string | null,
    @Arg('contentType', () => String, { nullable: true, description: "The uploads' MIME type; the flow's container when omitted." })
    contentType: string | null,
    @Arg('presigned', () => Boolean, { nullable: true }) presigned: boolean | null,
  ): Promise<MediaObjectAllocation[]> {
    const id = uuidArg('flowId', flowId);
    const body = compact({ limit, object_ids: objectIds, storage_id: storageId, content_type: contentType, presigned });
    checkBody(validateStoragePost(body));
    const allocations = await ctx.services.storage.allocate(ctx.request, id, body);
    return allocations.map(toMediaObjectAllocation);
  }
}
