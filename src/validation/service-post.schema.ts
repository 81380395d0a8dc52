/**
 * Request body of `POST /service` (TAMS 8.2 service-post.json).
 *
 * The official schema only names `name` and allows any other property; its own example also
 * sends `description`, which the service resource has, so ours types that too. Other
 * properties are accepted (as the spec does) and left to the service to ignore.
 */
import { labelSchema, textSchema } from './common.schema';

export const servicePostSchema = {
  type: 'object',
  properties: {
    name: labelSchema,
    description: textSchema,
  },
} as const;
