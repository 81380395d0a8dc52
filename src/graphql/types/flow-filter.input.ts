import { Field, ID, InputType, Int, registerEnumType } from 'type-graphql';
import { TamsError } from '../../domain/errors';
import type { TimeRange } from '../../domain/timerange';
import type { FlowFilter } from '../../ports/metadata-store';
import { TagFilterInput } from './tag-filter.input';
import { TimeRangeScalar } from './time-range.scalar';
import { formatArg, tagFilterArg, uuidArg } from '../resolvers/arguments';

export enum FlowSortBy {
  CREATED = 'created',
  METADATA_UPDATED = 'metadata_updated',
  LABEL = 'label',
}

registerEnumType(FlowSortBy, { name: 'FlowSortBy', description: 'Orders of a flow listing.' });

const FLOW_STATUSES = ['ingesting', 'closed', 'unknown'];

@InputType({ description: 'Filters of a flow listing (the GET /flows query parameters).' })
export class FlowFilterInput {
  @Field(() => ID, { nullable: true })
  sourceId?: string | null;

  @Field(() => TimeRangeScalar, { nullable: true, description: 'Flows with segments overlapping it; "()" for flows with none.' })
  timerange?: TimeRange | null;

  @Field(() => String, { nullable: true })
  format?: string | null;

  @Field(() => String, { nullable: true })
  codec?: string | null;

  @Field(() => ID, { nullable: true })
  profileId?: string | null;

  @Field(() => String, { nullable: true })
  label?: string | null;

  @Field(() => String, { nullable: true, description: 'ingesting, closed or unknown.' })
  status?: string | null;

  @Field(() => Int, { nullable: true })
  frameWidth?: number | null;

  @Field(() => Int, { nullable: true })
  frameHeight?: number | null;

  @Field(() => Boolean, { nullable: true })
  initSegments?: boolean | null;

  @Field(() => [TagFilterInput], { nullable: true })
  tags?: TagFilterInput[] | null;

  @Field(() => [ID], { nullable: true, description: 'Flows collected by one of these; [] for flows collected by none.' })
  collectedByIds?: string[] | null;
}

function given<T>(value: T | null | undefined): value is T {
  return value !== undefined && value !== null;
}

export function toFlowFilter(input: FlowFilterInput | undefined, sortBy: FlowSortBy | undefined, reverse: boolean): FlowFilter {
  const filter: FlowFilter = { reverse };
  if (sortBy !== undefined) filter.sort_by = sortBy;
  if (input === undefined) return filter;
  if (given(input.sourceId)) filter.source_id = uuidArg('sourceId', input.sourceId);
  if (given(input.timerange)) filter.timerange = input.timerange;
  if (given(input.format)) filter.format = formatArg(input.format);
  if (given(input.codec)) filter.codec = input.codec;
  if (given(input.profileId)) filter.profile_id = uuidArg('profileId', input.profileId);
  if (given(input.label)) filter.label = input.label;
  if (given(input.status)) {
    if (!FLOW_STATUSES.includes(input.status)) {
      throw new TamsError('bad_request', `Invalid argument status: must be one of ${FLOW_STATUSES.join(', ')}`);
    }
    filter.status = input.status;
  }
  if (given(input.frameWidth)) filter.frame_width = input.frameWidth;
  if (given(input.frameHeight)) filter.frame_height = input.frameHeight;
  if (given(input.initSegments)) filter.init_segments = input.initSegments;
  const tags = tagFilterArg(input.tags ?? undefined);
  if (tags !== undefined) filter.tags = tags;
  if (given(input.collectedByIds)) filter.collected_by_ids = input.collectedByIds.map((id) => uuidArg('collectedByIds', id));
  return filter;
}
