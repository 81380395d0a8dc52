/**
 * Compiled validators for the REST request bodies, returning a short message that names the
 * offending JSON path (for TAMS 400 bodies) or `undefined` when the body is valid.
 *
 * These use their own Ajv instance rather than fastify's: fastify's default Ajv coerces types,
 * removes properties that `additionalProperties: false` forbids and inserts defaults, which
 * would silently accept bodies the TAMS schemas reject. Call these from a preValidation hook
 * or the handler (or register `compileRequestBodySchema` as the route's validatorCompiler).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import {
  CONTENT_FORMATS,
  TIMERANGE_PATTERN,
  TIMESTAMP_PATTERN,
  UUID_PATTERN,
} from './common.schema';
import {
  flowCollectionSchema,
  flowCommonSchema,
  flowFormatBranchSchemas,
  flowProfileBranchSchema,
  flowPutSchema,
} from './flow-put.schema';
import { segmentPostArraySchema, segmentPostItemSchema } from './segment-post.schema';
import { servicePostSchema } from './service-post.schema';
import { storagePostSchema } from './storage-post.schema';

const ajv = new Ajv({ allErrors: false, strict: false });
addFormats(ajv);

/** Compiles a request-body schema with the same Ajv settings as the validators below. */
export function compileRequestBodySchema(schema: object): ValidateFunction {
  return ajv.compile(schema);
}

const MAX_QUOTED = 64;
const MAX_MESSAGE = 512;

const PATTERN_NAMES: Readonly<Record<string, string>> = {
  [UUID_PATTERN]: 'must be a lowercase UUID',
  [TIMESTAMP_PATTERN]: 'must be a TAMS timestamp such as "10:500000000"',
  [TIMERANGE_PATTERN]: 'must be a TAMS timerange such as "[0:0_10:0)"',
};

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return `'${text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}...` : text}'`;
}

function describeError(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  let detail: string;
  switch (error.keyword) {
    case 'additionalProperties':
      detail = `must NOT have additional property ${quote(params.additionalProperty)}`;
      break;
    case 'enum':
      detail = `must be one of ${(params.allowedValues as unknown[]).map(quote).join(', ')}`;
      break;
    case 'pattern':
      detail = PATTERN_NAMES[String(params.pattern)] ?? error.message ?? 'is invalid';
      break;
    case 'propertyNames':
      detail = `has a property name longer than allowed (${quote(params.propertyName)})`;
      break;
    default:
      detail = error.message ?? `is invalid (${error.keyword})`;
  }
  const message = `body${error.instancePath} ${detail}`;
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message;
}

function firstError(validate: ValidateFunction, body: unknown): string | undefined {
  if (validate(body)) return undefined;
  const error = validate.errors?.[0];
  return error ? describeError(error) : 'body is invalid';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const flowPut = ajv.compile(flowPutSchema);
const flowCommon = ajv.compile(flowCommonSchema);
const flowProfileBranch = ajv.compile(flowProfileBranchSchema);
const flowFormatBranches = new Map<string, ValidateFunction>(
  Object.entries(flowFormatBranchSchemas).map(([format, schema]) => [format, ajv.compile(schema)]),
);
const flowCollection = ajv.compile(flowCollectionSchema);
const segmentPostItem = ajv.compile(segmentPostItemSchema);
const segmentPostArray = ajv.compile(segmentPostArraySchema);
const storagePost = ajv.compile(storagePostSchema);
const servicePost = ajv.compile(servicePostSchema);

/**
 * `PUT /flows/{flowId}`. The verdict is the full schema's; the message comes from the branch
 * the client evidently meant (its `format`, else `profile_id`), because Ajv's first error for
 * a failed `oneOf` belongs to whichever branch it tried first.
 */
export function validateFlowPut(body: unknown): string | undefined {
  if (flowPut(body)) return undefined;
  const commonError = firstError(flowCommon, body);
  if (commonError !== undefined) return commonError;
  const flow = body as Record<string, unknown>;
  if ('format' in flow) {
    const branch = typeof flow.format === 'string' ? flowFormatBranches.get(flow.format) : undefined;
    if (!branch) return `body/format must be one of ${CONTENT_FORMATS.map(quote).join(', ')}`;
    const branchError = firstError(branch, body);
    if (branchError !== undefined) return branchError;
    if ('profile_id' in flow && flowProfileBranch(body)) {
      return 'body must not combine profile_id with technical metadata (format, codec, essence_parameters...); set profile_id to "" to unlink the Profile';
    }
  } else if ('profile_id' in flow) {
    const profileError = firstError(flowProfileBranch, body);
    if (profileError !== undefined) return profileError;
  } else {
    return "body must have required property 'format' or 'profile_id'";
  }
  return firstError(flowPut, body) ?? 'body is invalid';
}

/** `PUT /flows/{flowId}/flow_collection`. */
export function validateFlowCollectionPut(body: unknown): string | undefined {
  return firstError(flowCollection, body);
}

/** `POST /flows/{flowId}/segments`: one segment object or an array of them. */
export function validateSegmentPost(body: unknown): string | undefined {
  if (Array.isArray(body)) return firstError(segmentPostArray, body);
  if (isRecord(body)) return firstError(segmentPostItem, body);
  return 'body must be a segment object or an array of segment objects';
}

/** `POST /flows/{flowId}/storage`. */
export function validateStoragePost(body: unknown): string | undefined {
  if (storagePost(body)) return undefined;
  // Ajv evaluates `not` before `type`, so a non-object would get the limit/object_ids message.
  if (!isRecord(body)) return 'body must be object';
  const error = storagePost.errors?.[0];
  if (error?.keyword === 'not' && error.instancePath === '') {
    return "body must not have both 'limit' and 'object_ids'";
  }
  return error ? describeError(error) : 'body is invalid';
}

/** `POST /service`. */
export function validateServicePost(body: unknown): string | undefined {
  return firstError(servicePost, body);
}
