import { Field, Int, ObjectType } from 'type-graphql';
import { ERROR_REGISTRY } from '../../domain/errors';
import type { DeletionOutcome } from '../../services/deletion-service';
import type { FailedSegment as FailedSegmentEntity } from '../../services/segment-service';
import type { MediaObjectAllocation as AllocationEntity } from '../../services/storage-service';
import { DeletionRequest, ErrorInfo, toDeletionRequest } from './deletion-request.type';
import { Flow } from './flow.type';

@ObjectType({ description: 'The flow as stored after putFlow.' })
export class PutFlowResult {
  @Field({ description: 'True when the flow did not exist before (REST 201), false when it was replaced (204).' })
  created!: boolean;

  @Field(() => Flow)
  flow!: Flow;
}

@ObjectType({ description: 'A deletion: finished within the request, or continuing as a deletion request.' })
export class DeletionResult {
  @Field({ description: 'True when everything asked for is already deleted (REST 204).' })
  done!: boolean;

  @Field(() => DeletionRequest, { nullable: true, description: 'The asynchronous deletion under way, when done is false (REST 202).' })
  deletionRequest?: DeletionRequest;
}

export function toDeletionResult(outcome: DeletionOutcome): DeletionResult {
  return outcome.done ? { done: true } : { done: false, deletionRequest: toDeletionRequest(outcome.request) };
}

@ObjectType({ description: 'A segment deletion, and the flow it changed.' })
export class DeleteSegmentsResult extends DeletionResult {
  @Field(() => Flow)
  flow!: Flow;
}

@ObjectType({ description: 'A segment that was not registered, and why (TAMS failed_segments).' })
export class FailedSegment {
  @Field()
  objectId!: string;

  @Field(() => String, { nullable: true, description: 'The timerange as sent.' })
  timerange?: string;

  @Field({ description: 'The extensions.code the same error has when it fails a whole request, e.g. BAD_USER_INPUT.' })
  code!: string;

  @Field(() => ErrorInfo, { description: 'The TAMS error, e.g. type SegmentOverlap.' })
  error!: ErrorInfo;
}

@ObjectType({ description: 'The outcome of registerSegments: each bad segment fails alone, the others are stored.' })
export class RegisterSegmentsResult {
  @Field(() => Int)
  registeredCount!: number;

  @Field(() => [FailedSegment], { description: 'Empty when every segment was registered.' })
  failed!: FailedSegment[];

  @Field(() => Flow)
  flow!: Flow;
}

export function toFailedSegment(f: FailedSegmentEntity, now: Date): FailedSegment {
  return {
    objectId: f.object_id,
    ...(f.timerange === undefined ? {} : { timerange: f.timerange }),
    code: ERROR_REGISTRY[f.error.code].graphql,
    error: { type: f.error.type, summary: f.error.message, time: now.toISOString() },
  };
}

@ObjectType({ description: 'An HTTP header a request must carry.' })
export class HttpHeader {
  @Field()
  name!: string;

  @Field()
  value!: string;
}

@ObjectType({ description: 'Where and how to upload a media object (TAMS put_url).' })
export class PutUrl {
  @Field()
  url!: string;

  @Field({ description: 'The Content-Type the upload must carry.' })
  contentType!: string;

  @Field(() => [HttpHeader], { description: 'Further headers the upload must carry.' })
  headers!: HttpHeader[];
}

@ObjectType({ description: 'A media object allocated for upload (TAMS media_objects).' })
export class MediaObjectAllocation {
  @Field()
  objectId!: string;

  @Field(() => PutUrl)
  putUrl!: PutUrl;

  @Field()
  presigned!: boolean;
}

export function toMediaObjectAllocation(a: AllocationEntity): MediaObjectAllocation {
  return {
    objectId: a.object_id,
    putUrl: {
      url: a.put_url.url,
      contentType: a.put_url['content-type'],
      headers: Object.entries(a.put_url.headers ?? {}).map(([name, value]) => ({ name, value })),
    },
    presigned: a.presigned,
  };
}
