import { Field, ID, Int, ObjectType } from 'type-graphql';
import { GetUrl, toGetUrl } from './segment.type';
import { TimeRangeScalar } from './time-range.scalar';

@ObjectType({ description: 'The object holding the initialisation segment a media object needs.' })
export class InitObject {
  @Field(() => ID)
  id!: string;

  @Field(() => [GetUrl])
  getUrls!: GetUrl[];
}

@ObjectType({ description: 'A media object: the bytes one or more flow segments point at (/objects/{id}).' })
export class MediaObject {
  @Field(() => ID)
  id!: string;

  @Field(() => TimeRangeScalar, { nullable: true, description: 'The timerange of the samples in the object, on its own timeline.' })
  timerange?: string;

  @Field(() => Int, { nullable: true })
  keyFrameCount?: number;

  @Field(() => InitObject, { nullable: true })
  initObject?: InitObject;

  @Field(() => [GetUrl])
  getUrls!: GetUrl[];

  @Field(() => [ID], { description: 'Every flow with a segment on this object, by id.' })
  referencedByFlowIds!: string[];

  @Field(() => ID, { nullable: true, description: 'The first flow that referenced the object.' })
  firstReferencedByFlowId?: string;
}

/** An object as StorageService presents it (the REST body, verbose get_urls). */
export function toMediaObject(o: Record<string, unknown>): MediaObject {
  const out: MediaObject = {
    id: o.id as string,
    getUrls: ((o.get_urls ?? []) as Record<string, unknown>[]).map(toGetUrl),
    referencedByFlowIds: [...((o.referenced_by_flows ?? []) as string[])].sort(),
  };
  if (typeof o.timerange === 'string') out.timerange = o.timerange;
  if (typeof o.key_frame_count === 'number') out.keyFrameCount = o.key_frame_count;
  if (typeof o.first_referenced_by_flow === 'string') out.firstReferencedByFlowId = o.first_referenced_by_flow;
  const init = o.init_object as { id?: unknown; get_urls?: unknown } | undefined;
  if (typeof init?.id === 'string') {
    out.initObject = { id: init.id, getUrls: ((init.get_urls ?? []) as Record<string, unknown>[]).map(toGetUrl) };
  }
  return out;
}
