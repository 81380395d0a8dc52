import { Field, ID, ObjectType } from 'type-graphql';
import type { DeletionRequest as DeletionRequestEntity } from '../../domain/entities';
import { TimeRangeScalar } from './time-range.scalar';

@ObjectType({ description: 'A TAMS error: why a deletion or a webhook delivery failed.' })
export class ErrorInfo {
  @Field()
  type!: string;

  @Field()
  summary!: string;

  @Field()
  time!: string;
}

@ObjectType({ description: 'An asynchronous deletion of a flow or of part of its timeline (/flow-delete-requests).' })
export class DeletionRequest {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  flowId!: string;

  @Field(() => TimeRangeScalar)
  timerangeToDelete!: string;

  @Field(() => TimeRangeScalar, { nullable: true, description: 'What is still to delete while the request runs.' })
  timerangeRemaining?: string;

  @Field({ description: 'True when the whole flow is deleted once its segments are gone.' })
  deleteFlow!: boolean;

  @Field({ description: 'created, started, done or error.' })
  status!: string;

  @Field(() => String, { nullable: true })
  created?: string;

  @Field(() => String, { nullable: true })
  createdBy?: string;

  @Field(() => String, { nullable: true })
  updated?: string;

  @Field(() => String, { nullable: true })
  expiry?: string;

  @Field(() => ErrorInfo, { nullable: true })
  error?: ErrorInfo;
}

export function toDeletionRequest(r: DeletionRequestEntity): DeletionRequest {
  const out: DeletionRequest = {
    id: r.id,
    flowId: r.flow_id,
    timerangeToDelete: r.timerange_to_delete,
    deleteFlow: r.delete_flow,
    status: r.status,
  };
  if (r.timerange_remaining !== undefined) out.timerangeRemaining = r.timerange_remaining;
  if (r.created !== undefined) out.created = r.created;
  if (r.created_by !== undefined) out.createdBy = r.created_by;
  if (r.updated !== undefined) out.updated = r.updated;
  if (r.expiry !== undefined) out.expiry = r.expiry;
  if (r.error !== undefined) out.error = { ...r.error };
  return out;
}
