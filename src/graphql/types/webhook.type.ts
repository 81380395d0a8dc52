import { Field, ID, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Tags } from '../../domain/entities';
import type { WebhookView } from '../../services/webhook-service';
import { ErrorInfo } from './deletion-request.type';

@ObjectType({ description: 'A webhook registration. The API key value is write-only and never returned.' })
export class Webhook {
  @Field(() => ID)
  id!: string;

  @Field()
  url!: string;

  @Field(() => [String], { description: 'TAMS event types, e.g. flows/segments_added.' })
  events!: string[];

  @Field({ description: 'created, started, disabled or error.' })
  status!: string;

  @Field(() => String, { nullable: true })
  apiKeyName?: string;

  @Field(() => [ID], { nullable: true })
  flowIds?: string[];

  @Field(() => [ID], { nullable: true })
  sourceIds?: string[];

  @Field(() => [ID], { nullable: true })
  flowCollectedByIds?: string[];

  @Field(() => [ID], { nullable: true })
  sourceCollectedByIds?: string[];

  @Field(() => [String], { nullable: true })
  acceptGetUrls?: string[];

  @Field(() => [String], { nullable: true })
  acceptStorageIds?: string[];

  @Field(() => Boolean, { nullable: true })
  presigned?: boolean;

  @Field(() => Boolean, { nullable: true })
  verboseStorage?: boolean;

  @Field(() => Boolean, { nullable: true })
  includeObjectTimerange?: boolean;

  @Field(() => GraphQLJSONObject, { nullable: true })
  tags?: Tags;

  @Field(() => ErrorInfo, { nullable: true, description: 'Why delivery stopped, when status is error.' })
  error?: ErrorInfo;
}

export function toWebhook(w: WebhookView): Webhook {
  const out: Webhook = { id: w.id, url: w.url, events: w.events, status: w.status };
  const optional: [keyof Webhook, unknown][] = [
    ['apiKeyName', w.api_key_name],
    ['flowIds', w.flow_ids],
    ['sourceIds', w.source_ids],
    ['flowCollectedByIds', w.flow_collected_by_ids],
    ['sourceCollectedByIds', w.source_collected_by_ids],
    ['acceptGetUrls', w.accept_get_urls],
    ['acceptStorageIds', w.accept_storage_ids],
    ['presigned', w.presigned],
    ['verboseStorage', w.verbose_storage],
    ['includeObjectTimerange', w.include_object_timerange],
    ['tags', w.tags],
    ['error', w.error],
  ];
  for (const [key, value] of optional) if (value !== undefined) (out as unknown as Record<string, unknown>)[key] = value;
  return out;
}
