/**
 * Validators for the webhook and object-instance request bodies, with the same Ajv settings
 * as validators.ts (no coercion, no property removal). Each returns a short message naming
 * the offending JSON path, or `undefined` when the body is valid.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { compileRequestBodySchema } from './validators';
import { webhookPostSchema, webhookPutSchema } from './webhook.schema';
import { objectInstancePostSchema } from './object-instance-post.schema';

const MAX_QUOTED = 64;

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return `'${text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}...` : text}'`;
}

function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `body${error.instancePath} must NOT have additional property ${quote(params.additionalProperty)}`;
    case 'enum':
      return `body${error.instancePath} must be one of ${(params.allowedValues as unknown[]).map(quote).join(', ')}`;
    default:
      return `body${error.instancePath} ${error.message ?? `is invalid (${error.keyword})`}`;
  }
}

function firstError(validate: ValidateFunction, body: unknown): string | undefined {
  if (validate(body)) return undefined;
  const error = validate.errors?.[0];
  return error ? describe(error) : 'body is invalid';
}

const webhookPost = compileRequestBodySchema(webhookPostSchema);
const webhookPut = compileRequestBodySchema(webhookPutSchema);
const objectInstancePost = compileRequestBodySchema(objectInstancePostSchema);

/** `POST /service/webhooks`. */
export function validateWebhookPost(body: unknown): string | undefined {
  return firstError(webhookPost, body);
}

/** `PUT /service/webhooks/{webhookId}`. */
export function validateWebhookPut(body: unknown): string | undefined {
  return firstError(webhookPut, body);
}

/** `POST /objects/{objectId}/instances`. */
export function validateObjectInstancePost(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be object';
  const b = body as Record<string, unknown>;
  if ('storage_id' in b && ('url' in b || 'label' in b)) {
    return "body must be either a controlled instance ('storage_id') or an uncontrolled one ('url' and 'label'), not both";
  }
  if (!('storage_id' in b) && !('url' in b && 'label' in b)) {
    return "body must have 'storage_id', or both 'url' and 'label'";
  }
  return firstError(objectInstancePost, body);
}
