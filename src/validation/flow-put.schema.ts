/**
 * Request body of `PUT /flows/{flowId}` (TAMS 8.2 flow-put.json) and of
 * `PUT /flows/{flowId}/flow_collection` (flow-collection.json).
 *
 * Structure mirrors the official schema: the common flow fields, then exactly one of
 * "profile-linked" (`profile_id`) or one technical description per content format. Because
 * the branches are a `oneOf`, a body carrying a `profile_id` and a complete technical
 * description matches two branches and is rejected, which is how the spec's "a Profile ID
 * plus technical metadata is a 400" rule is expressed. `profile_id: ""` (unlinking a flow from
 * its profile) fails the uuid pattern, so such a body must carry technical metadata.
 *
 * Differences from the official schema, all deliberate:
 * - `unevaluatedProperties: false` (2020-12) on video essence_parameters is written as
 *   `additionalProperties: false`; every property it could evaluate is declared in the same
 *   object, so the two accept the same documents.
 * - `default` annotations are omitted: fastify's Ajv runs with `useDefaults`, which would
 *   insert them into bodies (even from a `oneOf` branch that fails).
 * - Strings and arrays carry the size limits in REQUEST_LIMITS.
 */
import {
  CODEC_PATTERN,
  REQUEST_LIMITS,
  dateTimeSchema,
  labelSchema,
  nonNegativeIntegerSchema,
  positiveIntegerSchema,
  ratioSchema,
  rationalDenominatorOptionalSchema,
  tagsSchema,
  textSchema,
  timerangeSchema,
  uuidSchema,
} from './common.schema';

const codecSchema = { type: 'string', maxLength: REQUEST_LIMITS.mimeTypeLength, pattern: CODEC_PATTERN } as const;

/** container-mapping.json */
export const containerMappingSchema = {
  type: 'object',
  properties: {
    track_index: nonNegativeIntegerSchema,
    format_track_index: nonNegativeIntegerSchema,
    audio_track: {
      type: 'object',
      properties: {
        channel_numbers: {
          type: 'array',
          minItems: 1,
          maxItems: REQUEST_LIMITS.tagValues,
          items: nonNegativeIntegerSchema,
        },
        channel_range: { type: 'string', maxLength: REQUEST_LIMITS.timeLength, pattern: '^[0-9]+_[0-9]+$' },
      },
    },
    mp2ts_container: {
      type: 'object',
      properties: { pid: { type: 'integer' } },
    },
    mxf_container: {
      type: 'object',
      properties: {
        package_uid: {
          type: 'string',
          maxLength: REQUEST_LIMITS.labelLength,
          pattern:
            '^urn:smpte:umid:[0-9a-fA-F]{8}(.[0-9a-fA-F]{8}){7}$|^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
        },
        track_id: { type: 'integer' },
      },
    },
    isobmff_container: {
      type: 'object',
      properties: { track_id: { type: 'integer' } },
    },
  },
} as const;

/** flow-collection.json: an ordered list of member flows. */
export const flowCollectionSchema = {
  type: 'array',
  maxItems: REQUEST_LIMITS.collectionItems,
  items: {
    type: 'object',
    required: ['id'],
    properties: {
      id: uuidSchema,
      role: labelSchema,
      container_mapping: containerMappingSchema,
    },
  },
} as const;

/** flow-common.json */
const flowCommonProperties = {
  id: uuidSchema,
  source_id: uuidSchema,
  label: labelSchema,
  description: textSchema,
  created_by: labelSchema,
  updated_by: labelSchema,
  tags: tagsSchema,
  metadata_version: labelSchema,
  generation: nonNegativeIntegerSchema,
  created: dateTimeSchema,
  metadata_updated: dateTimeSchema,
  segments_updated: dateTimeSchema,
  status: { type: 'string', enum: ['awaiting_content', 'ingesting', 'replication_in_progress', 'closed_complete'] },
  read_only: { type: 'boolean' },
  max_bit_rate: nonNegativeIntegerSchema,
  timerange: timerangeSchema,
  flow_collection: flowCollectionSchema,
  collected_by: { type: 'array', maxItems: REQUEST_LIMITS.collectionItems, items: uuidSchema },
} as const;

/** flow-technical.json */
const flowTechnicalProperties = {
  codec: codecSchema,
  container: codecSchema,
  avg_bit_rate: nonNegativeIntegerSchema,
  segment_duration: rationalDenominatorOptionalSchema,
  container_mapping: containerMappingSchema,
} as const;

const videoEssenceParametersSchema = {
  type: 'object',
  required: ['frame_width', 'frame_height'],
  additionalProperties: false,
  properties: {
    frame_width: positiveIntegerSchema,
    frame_height: positiveIntegerSchema,
    bit_depth: positiveIntegerSchema,
    interlace_mode: { type: 'string', enum: ['progressive', 'interlaced_tff', 'interlaced_bff', 'interlaced_psf'] },
    colorspace: { type: 'string', enum: ['BT601', 'BT709', 'BT2020', 'BT2100'] },
    transfer_characteristic: { type: 'string', enum: ['SDR', 'HLG', 'PQ'] },
    aspect_ratio: ratioSchema,
    pixel_aspect_ratio: ratioSchema,
    component_type: { type: 'string', enum: ['YCbCr', 'RGB'] },
    horiz_chroma_subs: positiveIntegerSchema,
    vert_chroma_subs: positiveIntegerSchema,
    unc_parameters: {
      type: 'object',
      required: ['unc_type'],
      properties: {
        unc_type: {
          type: 'string',
          enum: [
            'planar', 'YUYV', 'UYVY', 'AYUV', 'v210', 'v216', 'RGB', 'RGBx',
            'xRGB', 'BGRx', 'xBGR', 'RGBA', 'ARGB', 'BGRA', 'ABGR', 'alpha',
          ],
        },
      },
    },
    avc_parameters: {
      type: 'object',
      required: ['profile', 'level', 'flags'],
      properties: {
        profile: { type: 'integer' },
        level: { type: 'integer' },
        flags: { type: 'integer' },
      },
    },
    frame_rate: rationalDenominatorOptionalSchema,
    vfr: { type: 'boolean' },
    init_segments: { type: 'boolean' },
  },
  // Fixed frame rate flows (vfr absent or false) must state frame_rate; VFR flows must not.
  if: { properties: { vfr: { enum: [false, null] } } },
  then: { required: ['frame_rate'] },
  else: { not: { required: ['frame_rate'] } },
} as const;

const audioEssenceParametersSchema = {
  type: 'object',
  required: ['sample_rate', 'channels'],
  additionalProperties: false,
  properties: {
    sample_rate: positiveIntegerSchema,
    channels: positiveIntegerSchema,
    bit_depth: positiveIntegerSchema,
    codec_parameters: {
      type: 'object',
      properties: {
        coded_frame_size: { type: 'integer' },
        mp4_oti: { type: 'integer' },
      },
    },
    unc_parameters: {
      type: 'object',
      required: ['unc_type'],
      properties: { unc_type: { type: 'string', enum: ['interleaved', 'planar', 'pairs'] } },
    },
    init_segments: { type: 'boolean' },
  },
} as const;

const imageEssenceParametersSchema = {
  type: 'object',
  required: ['frame_width', 'frame_height'],
  additionalProperties: false,
  properties: {
    frame_width: positiveIntegerSchema,
    frame_height: positiveIntegerSchema,
    aspect_ratio: ratioSchema,
  },
} as const;

const dataEssenceParametersSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    data_type: labelSchema,
    init_segments: { type: 'boolean' },
  },
} as const;

const multiEssenceParametersSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { init_segments: { type: 'boolean' } },
} as const;

/** flow-video.json, flow-audio.json, ...: technical fields plus the format's essence parameters. */
function technicalBranch<F extends string, E extends object, R extends readonly string[]>(
  format: F,
  essenceParameters: E,
  required: R,
) {
  return {
    type: 'object',
    required,
    properties: {
      ...flowTechnicalProperties,
      format: { type: 'string', enum: [format] },
      essence_parameters: essenceParameters,
    },
  } as const;
}

/** The profile-linked form: technical metadata comes from the referenced Profile. */
export const flowProfileBranchSchema = {
  type: 'object',
  required: ['profile_id'],
  properties: { profile_id: uuidSchema },
} as const;

const withEssence = ['format', 'essence_parameters', 'codec'] as const;

/** One technical branch per content format, keyed by the `format` URN. */
export const flowFormatBranchSchemas = {
  'urn:x-nmos:format:video': technicalBranch('urn:x-nmos:format:video', videoEssenceParametersSchema, withEssence),
  'urn:x-nmos:format:audio': technicalBranch('urn:x-nmos:format:audio', audioEssenceParametersSchema, withEssence),
  'urn:x-tam:format:image': technicalBranch('urn:x-tam:format:image', imageEssenceParametersSchema, withEssence),
  'urn:x-nmos:format:data': technicalBranch('urn:x-nmos:format:data', dataEssenceParametersSchema, withEssence),
  'urn:x-nmos:format:multi': technicalBranch('urn:x-nmos:format:multi', multiEssenceParametersSchema, ['format'] as const),
} as const;

/** The fields every flow body may carry, whatever its branch (flow-common.json). */
export const flowCommonSchema = {
  type: 'object',
  required: ['id', 'source_id'],
  properties: flowCommonProperties,
} as const;

export const flowPutSchema = {
  type: 'object',
  required: ['id', 'source_id'],
  properties: flowCommonProperties,
  oneOf: [
    flowProfileBranchSchema,
    flowFormatBranchSchemas['urn:x-nmos:format:video'],
    flowFormatBranchSchemas['urn:x-nmos:format:audio'],
    flowFormatBranchSchemas['urn:x-tam:format:image'],
    flowFormatBranchSchemas['urn:x-nmos:format:data'],
    flowFormatBranchSchemas['urn:x-nmos:format:multi'],
  ],
} as const;
