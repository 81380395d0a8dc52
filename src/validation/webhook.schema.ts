/**
 * Request bodies of `POST /service/webhooks` (webhook-post.json) and
 * `PUT /service/webhooks/{webhookId}` (webhook-put.json), TAMS 8.2.
 *
 * Ours adds: unknown properties are refused (a misspelt filter such as `flow_id` would
 * otherwise silently widen what a receiver gets, and the spec asks for a 400 on filters the
 * service does not support), and the usual size limits. URL scheme and header-name rules
 * need more than a pattern and are checked by the webhook service.
 */
import { TAMS_EVENT_TYPES } from '../domain/events';
import { REQUEST_LIMITS, labelSchema, tagsSchema, uuidSchema } from './common.schema';

/** Ids in one webhook filter list. */
const MAX_FILTER_IDS = 10_000;

const uuidListSchema = { type: 'array', maxItems: MAX_FILTER_IDS, items: uuidSchema } as const;

const webhookFields = {
  url: { type: 'string', minLength: 1, maxLength: REQUEST_LIMITS.urlLength },
  api_key_name: { type: 'string', minLength: 1, maxLength: 256 },
  api_key_value: { type: 'string', maxLength: REQUEST_LIMITS.urlLength },
  events: { type: 'array', maxItems: 64, items: { type: 'string', enum: TAMS_EVENT_TYPES } },
  flow_ids: uuidListSchema,
  source_ids: uuidListSchema,
  flow_collected_by_ids: uuidListSchema,
  source_collected_by_ids: uuidListSchema,
  accept_get_urls: { type: 'array', maxItems: 1024, items: labelSchema },
  accept_storage_ids: uuidListSchema,
  presigned: { type: 'boolean' },
  verbose_storage: { type: 'boolean' },
  include_object_timerange: { type: 'boolean' },
  tags: tagsSchema,
} as const;

/** A client may only ask for `created` (enabled) or `disabled`; the other statuses are the service's. */
const clientStatusSchema = { type: 'string', enum: ['created', 'disabled'] } as const;

export const webhookPostSchema = {
  type: 'object',
  required: ['url', 'events'],
  additionalProperties: false,
  properties: { ...webhookFields, status: clientStatusSchema },
} as const;

export const webhookPutSchema = {
  type: 'object',
  required: ['id', 'url', 'events', 'status'],
  additionalProperties: false,
  properties: { ...webhookFields, id: uuidSchema, status: clientStatusSchema },
} as const;
