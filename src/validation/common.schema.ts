/**
 * Building blocks shared by the REST request-body schemas.
 *
 * The schemas are plain draft-07 JSON Schema objects with no `$id`/`$ref`, so they work both
 * with our own Ajv instance (see validators.ts) and as a fastify route `schema.body`.
 * Pieces are reused by object identity instead of `$ref` so no schema registry is needed.
 *
 * Patterns and structure follow the TAMS 8.2 schemas (uuid.json, timestamp.json,
 * timerange.json, tags.json, mime-type.json, content-format.json). The size limits below
 * are ours: the official schemas leave strings and arrays unbounded, and a gateway must not.
 */
import { CONTENT_FORMATS } from '../domain/entities';

/**
 * Upper bounds the gateway enforces on request bodies (the TAMS schemas set none).
 * Kept well above what real clients send; they exist to bound memory and store rows.
 */
export const REQUEST_LIMITS = {
  /** Identifiers that are not UUIDs: object ids, storage object ids (characters). */
  idLength: 1024,
  /** Short human-readable strings: labels, names, roles, created_by, metadata_version (characters). */
  labelLength: 4096,
  /** Free text: descriptions and tag values (characters). */
  textLength: 65536,
  /** URLs supplied by clients, e.g. segment `get_urls[].url` (characters). */
  urlLength: 8192,
  /** MIME types: codec, container, content_type (characters). */
  mimeTypeLength: 255,
  /** Timestamps and timeranges (characters); 20-digit seconds already exceed int64 nanoseconds. */
  timeLength: 64,
  /** Distinct tag names on one entity. */
  tagsPerEntity: 1024,
  /** Values in one multi-valued tag. */
  tagValues: 1024,
  /** Segments in one `POST /flows/{id}/segments` body. */
  segmentsPerPost: 10_000,
  /** `get_urls` on one posted segment. */
  getUrlsPerSegment: 64,
  /** `object_ids` in one `POST /flows/{id}/storage` body. */
  objectIdsPerStoragePost: 10_000,
  /** Maximum `limit` in one `POST /flows/{id}/storage` body (minimum is 1). */
  storageLimitMax: 10_000,
  /**
   * Members of one flow collection, and entries of `collected_by` (which the gateway bounds to
   * the same number: domain/source-collections.ts MAX_COLLECTORS, so a flow read back can be PUT).
   */
  collectionItems: 1000,
} as const;

export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';
export const TIMESTAMP_PATTERN = '^-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8})$';
export const TIMERANGE_PATTERN =
  '^(\\[|\\()?(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?(_(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?)?(\\]|\\))?$';
export const MIME_TYPE_PATTERN =
  "^(application|audio|font|example|image|message|model|multipart|text|video|x-(?:[0-9A-Za-z!#$%&'*+.^_`|~-]+))/([0-9A-Za-z!#$%&'*+.^_`|~-]+)$";
/** Looser `type/subtype` form used by flow `codec` and `container`. */
export const CODEC_PATTERN = '^[^\\s/]+/[^\\s/]+$';

export { CONTENT_FORMATS };

export const uuidSchema = { type: 'string', pattern: UUID_PATTERN } as const;

export const timestampSchema = {
  type: 'string',
  maxLength: REQUEST_LIMITS.timeLength,
  pattern: TIMESTAMP_PATTERN,
} as const;

export const timerangeSchema = {
  type: 'string',
  maxLength: REQUEST_LIMITS.timeLength * 2,
  pattern: TIMERANGE_PATTERN,
} as const;

export const mimeTypeSchema = {
  type: 'string',
  maxLength: REQUEST_LIMITS.mimeTypeLength,
  pattern: MIME_TYPE_PATTERN,
} as const;

export const labelSchema = { type: 'string', maxLength: REQUEST_LIMITS.labelLength } as const;
export const textSchema = { type: 'string', maxLength: REQUEST_LIMITS.textLength } as const;
export const objectIdSchema = { type: 'string', maxLength: REQUEST_LIMITS.idLength } as const;
export const nonNegativeIntegerSchema = { type: 'integer', minimum: 0 } as const;
export const positiveIntegerSchema = { type: 'integer', exclusiveMinimum: 0 } as const;
export const dateTimeSchema = { type: 'string', maxLength: REQUEST_LIMITS.timeLength, format: 'date-time' } as const;

/** A value is a string or an array of strings (tags.json). */
export const tagsSchema = {
  type: 'object',
  maxProperties: REQUEST_LIMITS.tagsPerEntity,
  propertyNames: { maxLength: REQUEST_LIMITS.idLength },
  additionalProperties: {
    anyOf: [
      textSchema,
      { type: 'array', maxItems: REQUEST_LIMITS.tagValues, items: textSchema },
    ],
  },
} as const;

/** A numerator with optional denominator, both > 0 (frame rates, segment durations). */
export const rationalDenominatorOptionalSchema = {
  type: 'object',
  required: ['numerator'],
  properties: {
    numerator: positiveIntegerSchema,
    denominator: positiveIntegerSchema,
  },
} as const;

/** A ratio where both terms are required and > 0 (aspect ratios). */
export const ratioSchema = {
  type: 'object',
  required: ['numerator', 'denominator'],
  properties: {
    numerator: positiveIntegerSchema,
    denominator: positiveIntegerSchema,
  },
} as const;
