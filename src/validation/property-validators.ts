/**
 * Validators for the property endpoints' bare-value bodies and for profile creation. Same
 * contract as validators.ts: a short message naming the offending JSON path, or undefined.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { compileRequestBodySchema } from './validators';
import {
  PROFILE_FORMATS,
  bitRateBodySchema,
  descriptionBodySchema,
  labelBodySchema,
  profileCommonSchema,
  profileFlowMetadataBranchSchemas,
  readOnlyBodySchema,
  tagValueSchema,
} from './property-bodies.schema';

const MAX_MESSAGE = 512;

function describe(error: ErrorObject, prefix: string): string {
  const params = error.params as Record<string, unknown>;
  const detail =
    error.keyword === 'enum'
      ? `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
      : (error.message ?? `is invalid (${error.keyword})`);
  const message = `${prefix}${error.instancePath} ${detail}`;
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message;
}

function validator(schema: object, what: string): (body: unknown) => string | undefined {
  const validate: ValidateFunction = compileRequestBodySchema(schema);
  return (body) => {
    if (body === undefined) return `body must be ${what}`;
    if (validate(body)) return undefined;
    const error = validate.errors?.[0];
    // anyOf failures report each branch; the summary is clearer than the first branch's error.
    if (error === undefined || error.keyword === 'anyOf' || error.instancePath === '') return `body must be ${what}`;
    return describe(error, 'body');
  };
}

/** `PUT .../tags/{name}`. */
export const validateTagValue = validator(tagValueSchema, 'a string or an array of strings');
/** `PUT .../label`. */
export const validateLabel = validator(labelBodySchema, 'a string (at most 4096 characters)');
/** `PUT .../description`. */
export const validateDescription = validator(descriptionBodySchema, 'a string (at most 65536 characters)');
/** `PUT /flows/{flowId}/read_only`. */
export const validateReadOnly = validator(readOnlyBodySchema, 'true or false');
/** `PUT /flows/{flowId}/max_bit_rate` and `avg_bit_rate`. */
export const validateBitRate = validator(bitRateBodySchema, 'a non-negative integer (1000 bits/second)');

const profileCommon = compileRequestBodySchema(profileCommonSchema);
const profileBranches = new Map<string, ValidateFunction>(
  Object.entries(profileFlowMetadataBranchSchemas).map(([format, schema]) => [format, compileRequestBodySchema(schema)]),
);

/** `POST /service/profiles/{profileId}`: profile.json, with flow_metadata checked against its format. */
export function validateProfilePost(body: unknown): string | undefined {
  if (!profileCommon(body)) {
    const error = profileCommon.errors?.[0];
    return error ? describe(error, 'body') : 'body is invalid';
  }
  const metadata = (body as { flow_metadata: Record<string, unknown> }).flow_metadata;
  const branch = typeof metadata.format === 'string' ? profileBranches.get(metadata.format) : undefined;
  if (!branch) return `body/flow_metadata/format must be one of ${PROFILE_FORMATS.map((f) => JSON.stringify(f)).join(', ')}`;
  if (branch(metadata)) return undefined;
  const error = branch.errors?.[0];
  return error ? describe(error, 'body/flow_metadata') : 'body/flow_metadata is invalid';
}
