/**
 * Listings in VAST, finished in TypeScript: VAST has no ORDER BY, JSON functions or LIMIT by
 * order, so the rows a select narrowed on the server are sorted, paged and filtered here with
 * exactly the SQL stores' meaning (sql-common's keyset-query.ts and the stores' list-query.ts):
 *
 * - ADR 0052's keyset order: items with the sort key set first (dates newest first, strings
 *   A-Z), ties and unset keys by id; `reverse` the exact mirror; a page continues strictly after
 *   the cursor's (key, id), the cursor being sql-common's `{s, k, i}`;
 * - strings compared as SQLite's BINARY collation compares them (UTF-8 bytes, that is code
 *   points), not as JavaScript's `<` (UTF-16 units);
 * - `tag.{name}` / `tag_exists.{name}` and `collected_by` read from the JSON document.
 */
import type { TagFilter } from '../../../ports/metadata-store';
import { listCursor, type ListCursor } from '../../sql-common/cursors';

/** A candidate of a listing: its id and its sort key (null when unset). */
export interface KeyedRow {
  readonly id: string;
  readonly key: string | null;
}

/** Compares two strings by code point (UTF-8 byte order), as SQLite's BINARY collation does. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (code points above U+FFFF) sort after U+E000..U+FFFF in code point order.
    if (x >= 0xd800 && y >= 0xd800) {
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** The order of a listing: `newestFirst` for date keys (descending), false for labels. */
export interface KeysetOrder {
  readonly sort: string;
  readonly newestFirst: boolean;
  readonly reverse: boolean;
}

/** Negative when `a` comes before `b` in the listing's order (sql-common's addKeysetOrder). */
export function compareKeyed(a: KeyedRow, b: KeyedRow, order: KeysetOrder): number {
  let c: number;
  if (a.key === null || b.key === null) c = a.key === b.key ? 0 : a.key === null ? 1 : -1;
  else c = order.newestFirst ? compareText(b.key, a.key) : compareText(a.key, b.key);
  if (c === 0) c = compareText(a.id, b.id);
  return order.reverse ? -c : c;
}

/**
 * One page: the candidates after the cursor in order, each resolved (read, filtered) in chunks
 * until `limit + 1` pass (`resolve` answers undefined for one filtered out), so a filter only
 * TypeScript can apply reads little more than a page when most candidates pass it.
 */
export async function keysetPage<R extends KeyedRow, T>(
  candidates: readonly R[],
  order: KeysetOrder,
  cursor: ListCursor | undefined,
  limit: number,
  resolve: (chunk: readonly R[]) => Promise<(T | undefined)[]>,
): Promise<{ items: T[]; next?: ListCursor }> {
  const after: KeyedRow | undefined = cursor === undefined ? undefined : { id: cursor.i, key: cursor.k };
  const sorted = candidates.filter((r) => after === undefined || compareKeyed(r, after, order) > 0).sort((a, b) => compareKeyed(a, b, order));
  const found: { row: R; item: T }[] = [];
  let at = 0;
  let chunk = Math.max(limit + 1, 1);
  while (found.length <= limit && at < sorted.length) {
    const rows = sorted.slice(at, at + chunk);
    at += rows.length;
    const items = await resolve(rows);
    for (const [i, item] of items.entries()) if (item !== undefined) found.push({ row: rows[i] as R, item });
    chunk *= 2;
  }
  const shown = found.slice(0, Math.max(limit, 0));
  const last = shown[shown.length - 1];
  const page: { items: T[]; next?: ListCursor } = { items: shown.map((f) => f.item) };
  if (found.length > limit && last !== undefined) page.next = listCursor(order.sort, last.row.key, last.row.id);
  return page;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `tag.{name}=a,b`: the tag is a string among the values, or an array holding one of them;
 * `tag_exists.{name}`: the tags object has the member. Tags that are not an object match no
 * `tag.` filter and have no member (as PostgreSQL's list-query.ts reads them).
 */
export function matchesTags(doc: { tags?: unknown }, tags: TagFilter | undefined): boolean {
  if (tags === undefined) return true;
  const t = isPlainObject(doc.tags) ? doc.tags : undefined;
  const has = (name: string): boolean => t !== undefined && Object.prototype.hasOwnProperty.call(t, name);
  for (const [name, values] of Object.entries(tags.values)) {
    if (!has(name)) return false;
    const value = (t as Record<string, unknown>)[name];
    if (typeof value === 'string') {
      if (!values.includes(value)) return false;
    } else if (!Array.isArray(value) || !value.some((v) => typeof v === 'string' && values.includes(v))) {
      return false;
    }
  }
  for (const [name, exists] of Object.entries(tags.exists)) if (has(name) !== exists) return false;
  return true;
}

/** An empty list selects items collected by nobody; otherwise items collected by any of the ids. */
export function matchesCollectedBy(doc: { collected_by?: unknown }, ids: readonly string[] | undefined): boolean {
  if (ids === undefined) return true;
  const list: unknown[] = Array.isArray(doc.collected_by) ? doc.collected_by : [];
  if (ids.length === 0) return list.length === 0;
  return list.some((c) => typeof c === 'string' && ids.includes(c));
}
