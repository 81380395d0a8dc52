/**
 * Request bodies of the flow and source property endpoints (bare JSON values) and of
 * `POST /service/profiles/{profileId}` (profile.json). Draft-07, no `$ref`, reusing the
 * building blocks of common.schema.ts and flow-put.schema.ts.
 */
import {
  REQUEST_LIMITS,
  dateTimeSchema,
  labelSchema,
  tagsSchema,
  textSchema,
  uuidSchema,
} from './common.schema';
import { flowFormatBranchSchemas } from './flow-put.schema';

/** A tag value: a string or an array of strings (tags.json). */
export const tagValueSchema = {
  anyOf: [textSchema, { type: 'array', maxItems: REQUEST_LIMITS.tagValues, items: textSchema }],
} as const;

export const labelBodySchema = labelSchema;
export const descriptionBodySchema = textSchema;
export const readOnlyBodySchema = { type: 'boolean' } as const;

/** Bit rates in 1000 bits/second; bounded so they survive a JSON number round trip. */
export const bitRateBodySchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

/** Profile content formats: every single-essence format (multi is not applicable). */
export const PROFILE_FORMATS = [
  'urn:x-nmos:format:video',
  'urn:x-nmos:format:audio',
  'urn:x-tam:format:image',
  'urn:x-nmos:format:data',
] as const;

/** profile.json's `flow_metadata`, one technical branch per format. */
export const profileFlowMetadataBranchSchemas = {
  'urn:x-nmos:format:video': flowFormatBranchSchemas['urn:x-nmos:format:video'],
  'urn:x-nmos:format:audio': flowFormatBranchSchemas['urn:x-nmos:format:audio'],
  'urn:x-tam:format:image': flowFormatBranchSchemas['urn:x-tam:format:image'],
  'urn:x-nmos:format:data': flowFormatBranchSchemas['urn:x-nmos:format:data'],
} as const;

/** The profile fields apart from `flow_metadata`, which is checked per format. */
export const profileCommonSchema = {
  type: 'object',
  required: ['id', 'flow_metadata'],
  properties: {
    id: uuidSchema,
    label: labelSchema,
    description: textSchema,
    created_by: labelSchema,
    created: dateTimeSchema,
    tags: tagsSchema,
    flow_metadata: { type: 'object' },
  },
} as const;
