/**
 * A VAST request that failed, as a TamsError of the one registry. Whoever called the gateway did
 * nothing wrong when the metadata store fails, so most failures are `unavailable` (503: the
 * request may work later); `kind` keeps what happened, for the client layer (a `conflict` means
 * "run the transaction again", a `not_found` may mean "create the schema") and for the log.
 *
 * | VAST answer or failure | kind | TamsError |
 * | --- | --- | --- |
 * | 503 SlowDown | `slow_down` | `unavailable` |
 * | other 503 | `unavailable` | `unavailable` |
 * | 500, 507, other 5xx | `server_error` | `unavailable` |
 * | 409 (a transaction conflict, or a bucket not enabled for tables) | `conflict` | `unavailable` |
 * | 404 (no such bucket, schema, table or transaction) | `not_found` | `unavailable`: the store's own tables are missing, an operator's problem |
 * | 401, 403 (credentials refused, signature mismatch) | `forbidden` | `unavailable`: the store is unusable until an operator fixes the keys |
 * | other 4xx | `rejected` | `internal`: the gateway built a request VAST does not accept |
 * | connect or response timeout | `timeout` | `unavailable` |
 * | refused, reset, DNS, TLS failures | `connection` | `unavailable` |
 * | a body over the 5 MiB limit, refused before sending | `request_too_large` | `payload_too_large` |
 * | an answer over the configured limit | `response_too_large` | `internal` |
 * | a name or header the transport will not send | `invalid_request` | `internal` |
 *
 * The message (a client may read it) names the status and VAST's error code only; VAST's own text
 * and socket errors go to `detail`, for logs. Neither ever holds a key or a signature.
 */
import { TamsError, type ErrorCode } from '../../../domain/errors';

export type VastFailureKind =
  | 'slow_down'
  | 'unavailable'
  | 'server_error'
  | 'conflict'
  | 'not_found'
  | 'forbidden'
  | 'rejected'
  | 'timeout'
  | 'connection'
  | 'request_too_large'
  | 'response_too_large'
  | 'invalid_request';

export interface VastFailure {
  kind: VastFailureKind;
  /** What the caller was doing ("begin transaction", "insert rows"), for logs. */
  operation: string;
  /** Requests sent (0 when refused before sending). */
  attempts: number;
  /** The HTTP status VAST answered, when it answered. */
  status?: number;
  /** The `<Code>` of VAST's S3-style XML error body (`SlowDown`, `NoSuchKey`, ...). */
  vastCode?: string;
  /** VAST's `<Message>`, a socket error's text or the transport's reason: logs only. */
  detail?: string;
  /** VAST's `<RequestId>`, to find the request in the cluster's logs. */
  requestId?: string;
  /** For timeouts and limits: the limit that was hit (ms or bytes). */
  limit?: number;
}

const TAMS_CODE: Record<VastFailureKind, ErrorCode> = {
  slow_down: 'unavailable',
  unavailable: 'unavailable',
  server_error: 'unavailable',
  conflict: 'unavailable',
  not_found: 'unavailable',
  forbidden: 'unavailable',
  rejected: 'internal',
  timeout: 'unavailable',
  connection: 'unavailable',
  request_too_large: 'payload_too_large',
  response_too_large: 'internal',
  invalid_request: 'internal',
};

/** A status and VAST code as a client may see them; a code that is not a plain word is left out. */
function answered(failure: VastFailure): string {
  const code = failure.vastCode !== undefined && /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(failure.vastCode) ? ` ${failure.vastCode}` : '';
  return `${failure.status ?? 'no status'}${code}`;
}

function summaryOf(failure: VastFailure): string {
  const store = 'The VAST metadata store';
  switch (failure.kind) {
    case 'slow_down':
      return `${store} is busy (${answered(failure)}): try again`;
    case 'unavailable':
      return `${store} is unavailable (${answered(failure)})`;
    case 'server_error':
      return `${store} failed (${answered(failure)})`;
    case 'conflict':
      return `${store} is busy with conflicting changes (${answered(failure)}): try again`;
    case 'not_found':
      return `${store} has no such bucket, schema, table or transaction (${answered(failure)})`;
    case 'forbidden':
      return `${store} refused the gateway's credentials (${answered(failure)})`;
    case 'rejected':
      return `${store} rejected a request the gateway built (${answered(failure)})`;
    case 'timeout':
      return `${store} did not answer within ${failure.limit ?? '?'} ms`;
    case 'connection':
      return `${store} cannot be reached`;
    case 'request_too_large':
      // Reached by a document (a flow, source, webhook or profile with its tags) too large for one VAST row.
      return `A VAST request body exceeds the ${grouped(failure.limit)}-byte limit: the VAST store keeps a document (a flow, source, webhook or profile, tags included) of up to about 4.5 MB; nothing was changed`;
    case 'response_too_large':
      return `A VAST answer exceeds the ${grouped(failure.limit)}-byte limit`;
    case 'invalid_request':
      return 'The gateway built a VAST request it cannot send';
  }
}

function grouped(limit: number | undefined): string {
  return limit === undefined ? '?' : limit.toLocaleString('en-US');
}

const DETAIL_MAX = 500;

/** Longest VAST error code or request id kept (a real one is a few dozen characters). */
const FIELD_MAX = 128;

export class VastRequestError extends TamsError {
  readonly kind: VastFailureKind;
  readonly operation: string;
  readonly attempts: number;
  readonly vastStatus: number | undefined;
  readonly vastCode: string | undefined;
  readonly detail: string | undefined;
  readonly requestId: string | undefined;

  constructor(failure: VastFailure) {
    super(TAMS_CODE[failure.kind], summaryOf(failure));
    this.kind = failure.kind;
    this.operation = failure.operation;
    this.attempts = failure.attempts;
    this.vastStatus = failure.status;
    // What the server sent is capped as the detail is: these fields go to logs.
    this.vastCode = failure.vastCode?.slice(0, FIELD_MAX);
    this.detail = failure.detail === undefined ? undefined : failure.detail.slice(0, DETAIL_MAX);
    this.requestId = failure.requestId?.slice(0, FIELD_MAX);
  }
}

/** The kind of failure an HTTP status (and VAST's code) stands for; undefined for a success. */
export function kindOfStatus(status: number, vastCode: string | undefined): VastFailureKind | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 503) return vastCode === 'SlowDown' ? 'slow_down' : 'unavailable';
  if (status >= 500) return 'server_error';
  if (status === 409) return 'conflict';
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403) return 'forbidden';
  return 'rejected';
}
