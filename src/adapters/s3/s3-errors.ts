/**
 * S3 failures as TamsErrors. Whoever calls the gateway did nothing wrong when the bucket
 * fails, so the statuses say what the caller can do about it:
 *
 * | S3 answer | TamsError | why |
 * | --- | --- | --- |
 * | NoSuchKey, NotFound, 404 | `not_found` (404) | the object is not there |
 * | NoSuchBucket | `unavailable` (503) | a configured bucket is missing: the operator's problem, and this backend is down until fixed |
 * | AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch, other 403 | `forbidden` (403) | the bucket refuses the gateway's own credentials: not transient (a 503 would invite retries that cannot succeed), and the message names the backend so the caller knows it is the store, not their token |
 * | ExpiredToken, RequestTimeTooSkewed | `unavailable` (503) | temporary credentials being refreshed, or a clock being corrected: a retry may succeed |
 * | SlowDown, throttling, 500, 503, other 5xx, RequestTimeout | `unavailable` (503) | transient: retried by the SDK first, within its bounded attempts |
 * | connection refused/reset, DNS, timeouts, aborts | `unavailable` (503) | the endpoint is down or stalled |
 * | PermanentRedirect, AuthorizationHeaderMalformed (wrong region or endpoint) | `unavailable` (503) | the backend is misconfigured |
 * | anything else S3 answered | `unavailable` (503) | the backend refused what the gateway asked (named in the message for the operator) |
 *
 * 412 PreconditionFailed (and 409 ConditionalRequestConflict) only mean "the object exists" for
 * a conditional write: the write paths turn them into `media_exists` themselves. Errors that
 * are not from S3 or the network (programming errors) pass through unchanged, to be masked.
 */
import { TamsError } from '../../domain/errors';

export interface S3ErrorContext {
  /** The storage backend's label, for messages. */
  label: string;
  bucket: string;
}

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchVersion']);
const FORBIDDEN = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AllAccessDisabled', 'AccountProblem', 'InvalidSecurity', 'InvalidToken']);
const TRANSIENT_AUTH = new Set(['ExpiredToken', 'TokenRefreshRequired', 'RequestTimeTooSkewed', 'RequestExpired']);
const MISCONFIGURED = new Set(['PermanentRedirect', 'TemporaryRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException', 'InvalidBucketName']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);
const NETWORK_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException']);

const SDK_WRAPPER = 'AWS SDK error wrapper for ';

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** S3's error code (the SDK puts it in `name`) and HTTP status, when S3 answered at all. */
export function s3Failure(error: unknown): { code: string; status: number | undefined } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as ErrorShape;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  if (status === undefined && e.$metadata === undefined) return undefined;
  const code = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : 'Unknown';
  return { code, status };
}

function networkCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as ErrorShape & { cause?: unknown };
  if (typeof e.code === 'string' && NETWORK.has(e.code)) return e.code;
  if (typeof e.name === 'string' && NETWORK_NAMES.has(e.name)) return e.name;
  // The SDK's retry step turns what it does not recognise as an Error (a socket error from
  // another realm, e.g. a VM context) into text: "AWS SDK error wrapper for Error: connect ECONNREFUSED ...".
  if (typeof e.message === 'string' && e.message.startsWith(SDK_WRAPPER)) {
    const code = /\b(E[A-Z_]{3,})\b/.exec(e.message)?.[1];
    if (code !== undefined && NETWORK.has(code)) return code;
  }
  // fetch-style wrappers and SDK wrappers keep the socket error as the cause.
  return e.cause === undefined || e.cause === error ? undefined : networkCode(e.cause);
}

export function isNotFound(error: unknown): boolean {
  const failure = s3Failure(error);
  return failure !== undefined && failure.code !== 'NoSuchBucket' && (NOT_FOUND.has(failure.code) || failure.status === 404);
}

/** A conditional write (`If-None-Match: *`) found the key taken, or raced another writer of it. */
export function isObjectTaken(error: unknown): boolean {
  const failure = s3Failure(error);
  return failure !== undefined && (failure.code === 'PreconditionFailed' || failure.status === 412 || failure.code === 'ConditionalRequestConflict');
}

/** The product lacks the operation (S3-compatible stores without UploadPartCopy, say). */
export function isNotImplemented(error: unknown): boolean {
  const failure = s3Failure(error);
  return failure !== undefined && (failure.code === 'NotImplemented' || failure.status === 501);
}

/** A configured bucket is missing: this backend is down until the operator fixes it. */
export function bucketMissing(context: S3ErrorContext): TamsError {
  return new TamsError('unavailable', `Storage backend '${context.label}': bucket ${context.bucket} does not exist`);
}

/** The TamsError for an S3 or network failure (see the table above); anything else unchanged. */
export function toStoreError(error: unknown, context: S3ErrorContext): unknown {
  if (error instanceof TamsError) return error;
  const backend = `Storage backend '${context.label}'`;
  const failure = s3Failure(error);
  if (failure !== undefined) {
    const { code, status } = failure;
    const answered = status === undefined ? code : `${code}, HTTP ${status}`;
    if (code === 'NoSuchBucket') return bucketMissing(context);
    if (NOT_FOUND.has(code) || status === 404) return new TamsError('not_found', `No such media object on ${backend.toLowerCase()}`);
    if (TRANSIENT_AUTH.has(code)) return new TamsError('unavailable', `${backend} refused the gateway's credentials for now (${answered}); retry later`);
    if (FORBIDDEN.has(code) || status === 403) {
      return new TamsError('forbidden', `${backend} denies the gateway access to bucket ${context.bucket} (${answered}): the gateway's credentials for it need fixing`);
    }
    if (MISCONFIGURED.has(code) || status === 301 || status === 307) {
      return new TamsError('unavailable', `${backend} is misconfigured: bucket ${context.bucket} answered ${answered} (wrong region or endpoint?)`);
    }
    if (status !== undefined && (status >= 500 || status === 429)) return new TamsError('unavailable', `${backend} is unavailable (${answered})`);
    const network = networkCode(error);
    if (network !== undefined) return new TamsError('unavailable', `${backend} did not answer (${network})`);
    return new TamsError('unavailable', `${backend} refused the gateway's request (${answered})`);
  }
  const network = networkCode(error);
  if (network !== undefined) return new TamsError('unavailable', `${backend} did not answer (${network})`);
  if (typeof error === 'object' && error !== null && (error as ErrorShape).name === 'CredentialsProviderError') {
    return new TamsError('unavailable', `${backend} has no usable credentials: ${String((error as ErrorShape).message)}`);
  }
  return error;
}
