/**
 * Request body of `POST /flows/{flowId}/segments` (TAMS 8.2 flow-segment-post.json):
 * one segment object, or an array of them.
 *
 * Ours adds size limits (REQUEST_LIMITS): ids and labels are bounded, a segment carries at
 * most `getUrlsPerSegment` get_urls and one body at most `segmentsPerPost` segments.
 */
import {
  REQUEST_LIMITS,
  labelSchema,
  objectIdSchema,
  timerangeSchema,
  timestampSchema,
} from './common.schema';

export const segmentPostItemSchema = {
  type: 'object',
  required: ['object_id', 'timerange'],
  properties: {
    object_id: objectIdSchema,
    init_object_id: objectIdSchema,
    ts_offset: timestampSchema,
    timerange: timerangeSchema,
    object_timerange: timerangeSchema,
    last_duration: timestampSchema,
    // Deprecated in TAMS 8 but still accepted.
    sample_offset: { type: 'integer' },
    sample_count: { type: 'integer' },
    get_urls: {
      type: 'array',
      maxItems: REQUEST_LIMITS.getUrlsPerSegment,
      items: {
        type: 'object',
        required: ['url', 'label'],
        properties: {
          url: { type: 'string', maxLength: REQUEST_LIMITS.urlLength },
          label: labelSchema,
        },
      },
    },
    key_frame_count: { type: 'integer' },
  },
} as const;

export const segmentPostArraySchema = {
  type: 'array',
  maxItems: REQUEST_LIMITS.segmentsPerPost,
  items: segmentPostItemSchema,
} as const;

/** The whole body. An object and an array can never both match, so oneOf is exact. */
export const segmentPostSchema = {
  oneOf: [segmentPostItemSchema, segmentPostArraySchema],
} as const;
