import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType } from 'type-graphql';
import type { Tags } from '../../domain/entities';
import { compact } from '../resolvers/mutation-edge';

@InputType({
  description:
    'A webhook registration (TAMS webhook-post.json / webhook-put.json). An update replaces the registration: filters left out are removed; apiKeyValue left out keeps the stored key while apiKeyName stays.',
})
export class WebhookInput {
  @Field({ description: 'Where events are POSTed: an absolute http or https URL.' })
  url!: string;

  @Field(() => [String], { description: 'TAMS event types, e.g. flows/segments_added.' })
  events!: string[];

  @Field(() => String, { nullable: true, description: 'created (enabled, the default on create) or disabled. Required by updateWebhook.' })
  status?: string | null;

  @Field(() => String, { nullable: true, description: 'The HTTP header deliveries carry the key in.' })
  apiKeyName?: string | null;

  @Field(() => String, { nullable: true, description: 'Write-only: never returned.' })
  apiKeyValue?: string | null;

  @Field(() => [ID], { nullable: true })
  flowIds?: string[] | null;

  @Field(() => [ID], { nullable: true })
  sourceIds?: string[] | null;

  @Field(() => [ID], { nullable: true })
  flowCollectedByIds?: string[] | null;

  @Field(() => [ID], { nullable: true })
  sourceCollectedByIds?: string[] | null;

  @Field(() => [String], { nullable: true })
  acceptGetUrls?: string[] | null;

  @Field(() => [ID], { nullable: true })
  acceptStorageIds?: string[] | null;

  @Field(() => Boolean, { nullable: true })
  presigned?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  verboseStorage?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  includeObjectTimerange?: boolean | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Only events of entities with these tags.' })
  tags?: Tags | null;
}

/** The TAMS webhook body `input` stands for (with the path id for an update), before validation. */
export function toWebhookBody(input: WebhookInput, id?: string): Record<string, unknown> {
  return compact({
    id,
    url: input.url,
    events: input.events,
    status: input.status,
    api_key_name: input.apiKeyName,
    api_key_value: input.apiKeyValue,
    flow_ids: input.flowIds,
    source_ids: input.sourceIds,
    flow_collected_by_ids: input.flowCollectedByIds,
    source_collected_by_ids: input.sourceCollectedByIds,
    accept_get_urls: input.acceptGetUrls,
    accept_storage_ids: input.acceptStorageIds,
    presigned: input.presigned,
    verbose_storage: input.verboseStorage,
    include_object_timerange: input.includeObjectTimerange,
    tags: input.tags,
  });
}
