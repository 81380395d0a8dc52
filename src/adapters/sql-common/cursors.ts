import { TamsError } from '../../domain/errors';

/**
 * Keyset cursors of the SQL metadata stores (SQLite, PostgreSQL). They reach us as arbitrary
 * JSON (the edge signs them, but a store never trusts their shape), so each is validated key by
 * key.
 */

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

const INTEGER_RE = /^-?(0|[1-9][0-9]*)$/;

/** Segment pages continue after the last returned segment's `end_ns`. */
export interface SegmentCursor {
  e: string;
}

/** Listing pages continue after the sort key `k` (null when unset) and id `i` of the last item. */
export interface ListCursor {
  s: string;
  k: string | null;
  i: string;
}

function badCursor(): TamsError {
  return new TamsError('bad_cursor', 'Invalid paging key');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasExactlyKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(value, k));
}

export function segmentCursor(endNs: bigint): SegmentCursor {
  return { e: endNs.toString() };
}

export function parseSegmentCursor(after: unknown): bigint {
  if (!isPlainObject(after) || !hasExactlyKeys(after, ['e'])) throw badCursor();
  const e = after.e;
  if (typeof e !== 'string' || !INTEGER_RE.test(e)) throw badCursor();
  const n = BigInt(e);
  // No segment ends at INT64_MIN (ends are exclusive), so that is no key either.
  if (n <= INT64_MIN || n > INT64_MAX) throw badCursor();
  return n;
}

export function listCursor(sort: string, key: string | null, id: string): ListCursor {
  return { s: sort, k: key, i: id };
}

/** A cursor made for another sort order is refused rather than silently misread. */
export function parseListCursor(after: unknown, sort: string): ListCursor {
  if (!isPlainObject(after) || !hasExactlyKeys(after, ['s', 'k', 'i'])) throw badCursor();
  const { s, k, i } = after;
  if (s !== sort || typeof i !== 'string' || !(k === null || typeof k === 'string')) throw badCursor();
  return { s, k, i };
}
