/**
 * Request body of `POST /objects/{objectId}/instances` (TAMS 8.2 objects-instances-post.json):
 * either a controlled instance (`storage_id`) or an uncontrolled one (`url` + `label`,
 * label mandatory since ADR 0042).
 *
 * Ours adds: a body mixing both forms is refused with a message saying so (the official
 * `oneOf` rejects it too, with a less helpful error), and the usual size limits.
 */
import { REQUEST_LIMITS, labelSchema, uuidSchema } from './common.schema';

export const objectInstancePostSchema = {
  type: 'object',
  properties: {
    storage_id: uuidSchema,
    url: { type: 'string', minLength: 1, maxLength: REQUEST_LIMITS.urlLength },
    label: { ...labelSchema, minLength: 1 },
  },
  anyOf: [{ required: ['storage_id'] }, { required: ['url', 'label'] }],
} as const;
