import { Field, Int, ObjectType } from 'type-graphql';
import { TimeRangeScalar } from './time-range.scalar';

// simpleResolvers: plain data, read by graphql's default resolver, not a type-graphql wrapper per field.
@ObjectType({ simpleResolvers: true, description: 'Where a media object can be read from.' })
export class GetUrl {
  @Field()
  url!: string;

  @Field({ description: 'True when the URL is signed and needs no further credentials.' })
  presigned!: boolean;

  @Field(() => String, { nullable: true })
  label?: string;

  @Field(() => String, { nullable: true, description: 'The storage backend, for an instance the gateway controls.' })
  storageId?: string;

  @Field({ description: 'True when the gateway controls this instance (stores the bytes).' })
  controlled!: boolean;
}

@ObjectType({ simpleResolvers: true, description: 'A segment of a flow: one media object placed on the flow timeline.' })
export class FlowSegment {
  @Field()
  objectId!: string;

  @Field(() => TimeRangeScalar)
  timerange!: string;

  @Field(() => String, { nullable: true })
  tsOffset?: string;

  @Field(() => String, { nullable: true })
  lastDuration?: string;

  @Field(() => TimeRangeScalar, { nullable: true })
  objectTimerange?: string;

  @Field(() => Int, { nullable: true })
  keyFrameCount?: number;

  @Field(() => Int, { nullable: true })
  sampleOffset?: number;

  @Field(() => Int, { nullable: true })
  sampleCount?: number;

  @Field(() => String, { nullable: true, description: 'The initialisation object, when the segment needs one.' })
  initObjectId?: string;

  @Field(() => [GetUrl])
  getUrls!: GetUrl[];
}

export function toGetUrl(u: Record<string, unknown>): GetUrl {
  // Assignments, not conditional spreads: this runs for every URL of every segment listed.
  const url: GetUrl = { url: u.url as string, presigned: u.presigned === true, controlled: u.controlled === true };
  if (typeof u.label === 'string') url.label = u.label;
  if (typeof u.storage_id === 'string') url.storageId = u.storage_id;
  return url;
}

/** A segment as SegmentService presents it (the REST body, verbose get_urls). */
export function toFlowSegment(s: Record<string, unknown>): FlowSegment {
  const segment: FlowSegment = {
    objectId: s.object_id as string,
    timerange: s.timerange as string,
    getUrls: ((s.get_urls ?? []) as Record<string, unknown>[]).map(toGetUrl),
  };
  if (typeof s.ts_offset === 'string') segment.tsOffset = s.ts_offset;
  if (typeof s.last_duration === 'string') segment.lastDuration = s.last_duration;
  if (typeof s.object_timerange === 'string') segment.objectTimerange = s.object_timerange;
  if (typeof s.key_frame_count === 'number') segment.keyFrameCount = s.key_frame_count;
  if (typeof s.sample_offset === 'number') segment.sampleOffset = s.sample_offset;
  if (typeof s.sample_count === 'number') segment.sampleCount = s.sample_count;
  const init = s.init_object as { object_id?: unknown } | undefined;
  if (typeof init?.object_id === 'string') segment.initObjectId = init.object_id;
  return segment;
}
