/**
 * What a failure of the PostgreSQL store means to a client. The database being out of reach
 * (refused or dropped connections, no pooled connection within the acquire timeout, a statement
 * past its timeout, a server shutting down) is `unavailable` (503): the request may work later.
 * Constraint violations become the errors the SQLite store gives for the same rule. Anything
 * else is left as it is, for the edge to mask and the log to keep.
 */
import { TamsError } from '../../domain/errors';

/** The fields of a pg DatabaseError this adapter reads. */
interface PgErrorFields {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

function fieldsOf(err: unknown): PgErrorFields {
  return typeof err === 'object' && err !== null ? err : {};
}

/** SQLSTATE classes and codes meaning "the database cannot serve this now". */
function isUnavailableCode(code: string): boolean {
  return (
    code.startsWith('08') || // connection exception
    code.startsWith('53') || // insufficient resources (too many connections, out of memory, disk full)
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now
    code === '57014' || // query_canceled: statement_timeout
    code === '55P03' // lock_not_available: lock_timeout
  );
}

/** Node socket errors and pg's own texts for a lost connection or an acquire timeout. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
const CONNECTION_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'connection timeout',
];

function unavailableSummary(code: string, message: string): string | undefined {
  if (code === '57014') return 'The metadata database did not answer in time (statement timeout)';
  if (code === '55P03') return 'The metadata database did not answer in time (lock timeout)';
  if (code !== '' && isUnavailableCode(code)) return `The metadata database is unavailable (${code})`;
  if (CONNECTION_ERRNOS.has(code)) return `The metadata database cannot be reached (${code})`;
  if (message.includes('timeout exceeded when trying to connect')) {
    return 'The metadata database is unavailable: no connection free within the acquire timeout';
  }
  if (CONNECTION_MESSAGES.some((m) => message.includes(m))) return 'The metadata database connection was lost';
  return undefined;
}

/** Unique and exclusion constraints whose violation is a TAMS error, by constraint name. */
const CONSTRAINT_ERRORS: Record<string, () => TamsError> = {
  objects_pkey: () => new TamsError('object_exists', 'Object already exists'),
  profiles_pkey: () => new TamsError('profile_exists', 'Profile already exists'),
  segments_pkey: () => new TamsError('segment_overlap', 'A segment overlaps an existing segment'),
};

/** A transaction that failed only because of another one at the same time: run it again. */
export function isRetryable(err: unknown): boolean {
  const code = fieldsOf(err).code;
  // serialization_failure, deadlock_detected, unique_violation (two writers inserting one key:
  // on a second run the loser sees the winner's row and takes the path the SQLite store takes).
  return code === '40001' || code === '40P01' || code === '23505';
}

/** The TamsError a pg failure stands for, or the error unchanged. */
export function toStoreError(err: unknown): unknown {
  if (err instanceof TamsError) return err;
  const { code, constraint, message } = fieldsOf(err);
  const codeText = typeof code === 'string' ? code : '';
  const summary = unavailableSummary(codeText, typeof message === 'string' ? message : '');
  if (summary !== undefined) return new TamsError('unavailable', summary);
  if ((codeText === '23505' || codeText === '23P01') && typeof constraint === 'string') {
    const mapped = CONSTRAINT_ERRORS[constraint];
    if (mapped) return mapped();
  }
  if (codeText === '23P01') return new TamsError('segment_overlap', 'A segment overlaps an existing segment');
  // character_not_in_repertoire / untranslatable_character: PostgreSQL text cannot hold U+0000
  // (the only such character a JavaScript string can send). Bad input, not a server failure.
  if (codeText === '22021' || codeText === '22P05') {
    return new TamsError('bad_request', 'Text holding the character U+0000 (NUL) cannot be stored or looked up: the metadata database (PostgreSQL) cannot hold it');
  }
  if (codeText === '40001' || codeText === '40P01') {
    return new TamsError('unavailable', 'The metadata database is busy with conflicting changes: try again');
  }
  return err;
}
