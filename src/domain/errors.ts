/**
 * The one error registry. Every failure a client can see has a stable code, an HTTP status
 * and a GraphQL `extensions.code`; REST bodies carry the TAMS error shape.
 */
export const ERROR_REGISTRY = {
  bad_request: { status: 400, graphql: 'BAD_USER_INPUT', type: 'BadRequest' },
  bad_timerange: { status: 400, graphql: 'BAD_USER_INPUT', type: 'BadTimeRange' },
  bad_timestamp: { status: 400, graphql: 'BAD_USER_INPUT', type: 'BadTimestamp' },
  bad_cursor: { status: 400, graphql: 'BAD_USER_INPUT', type: 'BadPageCursor' },
  bad_event_cursor: { status: 400, graphql: 'BAD_USER_INPUT', type: 'BadEventCursor' },
  validation_failed: { status: 400, graphql: 'BAD_USER_INPUT', type: 'ValidationError' },
  flow_container_missing: { status: 400, graphql: 'BAD_USER_INPUT', type: 'FlowContainerMissing' },
  segment_overlap: { status: 400, graphql: 'BAD_USER_INPUT', type: 'SegmentOverlap' },
  object_reuse_conflict: { status: 400, graphql: 'BAD_USER_INPUT', type: 'ObjectReuseConflict' },
  object_exists: { status: 400, graphql: 'BAD_USER_INPUT', type: 'ObjectExists' },
  source_conflict: { status: 400, graphql: 'BAD_USER_INPUT', type: 'SourceConflict' },
  profile_exists: { status: 400, graphql: 'BAD_USER_INPUT', type: 'ProfileExists' },
  instance_conflict: { status: 400, graphql: 'BAD_USER_INPUT', type: 'InstanceConflict' },
  last_instance: { status: 400, graphql: 'BAD_USER_INPUT', type: 'LastInstance' },

  query_too_complex: { status: 400, graphql: 'QUERY_TOO_COMPLEX', type: 'QueryTooComplex' },
  persisted_query_required: { status: 400, graphql: 'PERSISTED_QUERY_REQUIRED', type: 'PersistedQueryRequired' },
  persisted_query_mismatch: { status: 400, graphql: 'PERSISTED_QUERY_HASH_MISMATCH', type: 'PersistedQueryHashMismatch' },
  unauthorized: { status: 401, graphql: 'UNAUTHENTICATED', type: 'Unauthorized' },
  read_only: { status: 403, graphql: 'FORBIDDEN', type: 'FlowReadOnly' },
  // A flow being deleted is read-only until the deletion is done: 403, which the spec declares for every write to a flow.
  flow_being_deleted: { status: 403, graphql: 'FLOW_BEING_DELETED', type: 'FlowBeingDeleted' },
  forbidden: { status: 403, graphql: 'FORBIDDEN', type: 'Forbidden' },
  not_found: { status: 404, graphql: 'NOT_FOUND', type: 'NotFound' },
  invalid_path_id: { status: 404, graphql: 'NOT_FOUND', type: 'InvalidPathId' },
  method_not_allowed: { status: 405, graphql: 'BAD_REQUEST', type: 'MethodNotAllowed' },
  media_exists: { status: 409, graphql: 'CONFLICT', type: 'MediaObjectExists' },
  // A subscription resumed after events that outbox retention has removed: they cannot be replayed.
  event_cursor_expired: { status: 410, graphql: 'EVENT_CURSOR_EXPIRED', type: 'EventCursorExpired' },
  payload_too_large: { status: 413, graphql: 'BAD_USER_INPUT', type: 'PayloadTooLarge' },
  unsupported_media_type: { status: 415, graphql: 'BAD_USER_INPUT', type: 'UnsupportedMediaType' },
  range_not_satisfiable: { status: 416, graphql: 'BAD_USER_INPUT', type: 'RangeNotSatisfiable' },
  rate_limited: { status: 429, graphql: 'RATE_LIMITED', type: 'TooManyRequests' },
  internal: { status: 500, graphql: 'INTERNAL_SERVER_ERROR', type: 'InternalError' },
  unavailable: { status: 503, graphql: 'SERVICE_UNAVAILABLE', type: 'ServiceUnavailable' },
} as const;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

export class TamsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'TamsError';
    this.code = code;
    this.status = ERROR_REGISTRY[code].status;
  }

  get graphqlCode(): string {
    return ERROR_REGISTRY[this.code].graphql;
  }

  get type(): string {
    return ERROR_REGISTRY[this.code].type;
  }
}

export interface TamsErrorBody {
  type: string;
  summary: string;
  time: string;
  message: string;
}

export function errorBody(err: TamsError, now: Date = new Date()): TamsErrorBody {
  return { type: err.type, summary: err.message, time: now.toISOString(), message: err.message };
}

/** Anything that is not a TamsError is masked: its text never reaches a client. */
export function toTamsError(err: unknown): TamsError {
  if (err instanceof TamsError) return err;
  return new TamsError('internal', 'Internal server error');
}
