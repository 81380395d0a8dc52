import { Field, InputType, Int } from 'type-graphql';
import { TimeRange, formatTimeRange } from '../../domain/timerange';
import { compact, given } from '../resolvers/mutation-edge';
import { TimeRangeScalar } from './time-range.scalar';

@InputType({ description: 'A URL the media object can also be read from, outside the stores the gateway controls.' })
export class UncontrolledUrlInput {
  @Field()
  url!: string;

  @Field()
  label!: string;
}

@InputType({ description: 'A segment to register (TAMS flow-segment-post.json): a media object placed on the flow timeline.' })
export class FlowSegmentInput {
  @Field({ description: 'The media object: allocated with allocateStorage and uploaded, or reused from another flow.' })
  objectId!: string;

  @Field(() => TimeRangeScalar, { description: 'Where the segment sits on the flow timeline; it needs a start and an end.' })
  timerange!: TimeRange;

  @Field(() => String, { nullable: true, description: 'The initialisation object the segment needs, if any.' })
  initObjectId?: string | null;

  @Field(() => String, { nullable: true, description: 'A TAMS timestamp, e.g. "0:0".' })
  tsOffset?: string | null;

  @Field(() => TimeRangeScalar, { nullable: true })
  objectTimerange?: TimeRange | null;

  @Field(() => String, { nullable: true, description: 'A TAMS timestamp: the duration of the last sample.' })
  lastDuration?: string | null;

  @Field(() => Int, { nullable: true })
  sampleOffset?: number | null;

  @Field(() => Int, { nullable: true })
  sampleCount?: number | null;

  @Field(() => Int, { nullable: true })
  keyFrameCount?: number | null;

  @Field(() => [UncontrolledUrlInput], { nullable: true })
  getUrls?: UncontrolledUrlInput[] | null;
}

/** The TAMS segment body `input` stands for, before validation. */
export function toSegmentPostBody(input: FlowSegmentInput): Record<string, unknown> {
  return compact({
    object_id: input.objectId,
    timerange: formatTimeRange(input.timerange),
    init_object_id: input.initObjectId,
    ts_offset: input.tsOffset,
    object_timerange: given(input.objectTimerange) ? formatTimeRange(input.objectTimerange) : undefined,
    last_duration: input.lastDuration,
    sample_offset: input.sampleOffset,
    sample_count: input.sampleCount,
    key_frame_count: input.keyFrameCount,
    get_urls: input.getUrls?.map((u) => ({ url: u.url, label: u.label })),
  });
}
