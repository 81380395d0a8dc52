/**
 * Request body of `POST /flows/{flowId}/storage` (TAMS 8.2 flow-storage-post.json).
 *
 * `limit` and `object_ids` are mutually exclusive; a body with neither is valid (the
 * service picks how many objects to allocate), exactly as in the official schema.
 *
 * Ours adds: `limit` must be 1..storageLimitMax (the official schema accepts any integer,
 * including 0 and negatives, which allocate nothing meaningful), at most
 * `objectIdsPerStoragePost` object_ids, each at most `idLength` characters.
 */
import { REQUEST_LIMITS, mimeTypeSchema, objectIdSchema, uuidSchema } from './common.schema';

export const storagePostSchema = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: REQUEST_LIMITS.storageLimitMax },
    object_ids: {
      type: 'array',
      maxItems: REQUEST_LIMITS.objectIdsPerStoragePost,
      items: objectIdSchema,
    },
    storage_id: uuidSchema,
    content_type: mimeTypeSchema,
    presigned: { type: 'boolean' },
  },
  not: { required: ['limit', 'object_ids'] },
} as const;
