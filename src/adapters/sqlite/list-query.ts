import type { TagFilter } from '../../ports/metadata-store';
import type { ListCursor } from './cursors';

/** A WHERE clause assembled from optional filters, with positional parameters. */
export class WhereBuilder {
  private readonly clauses: string[] = [];
  readonly params: unknown[] = [];

  add(sql: string, ...params: unknown[]): void {
    this.clauses.push(sql);
    this.params.push(...params);
  }

  get sql(): string {
    return this.clauses.length === 0 ? '' : `WHERE ${this.clauses.join(' AND ')}`;
  }
}

/**
 * `tag.{name}` matches a string tag equal to one of the values, or an array tag holding one
 * of them; `tag_exists.{name}` tests presence. Tags live in the row's JSON `doc`.
 */
export function addTagFilters(where: WhereBuilder, docColumn: string, tags: TagFilter | undefined): void {
  if (!tags) return;
  for (const [name, values] of Object.entries(tags.values)) {
    where.add(
      `EXISTS (SELECT 1 FROM json_each(${docColumn}, '$.tags') t WHERE t.key = ? AND (
        (t.type = 'text' AND t.value IN (SELECT value FROM json_each(?)))
        OR (t.type = 'array' AND EXISTS (SELECT 1 FROM json_each(t.value) v
              WHERE v.type = 'text' AND v.value IN (SELECT value FROM json_each(?))))))`,
      name,
      JSON.stringify(values),
      JSON.stringify(values),
    );
  }
  for (const [name, exists] of Object.entries(tags.exists)) {
    where.add(`${exists ? '' : 'NOT '}EXISTS (SELECT 1 FROM json_each(${docColumn}, '$.tags') t WHERE t.key = ?)`, name);
  }
}

/** An empty list selects items collected by nobody; otherwise items collected by any of the ids. */
export function addCollectedByFilter(where: WhereBuilder, docColumn: string, ids: string[] | undefined): void {
  if (ids === undefined) return;
  if (ids.length === 0) {
    where.add(`coalesce(json_array_length(${docColumn}, '$.collected_by'), 0) = 0`);
    return;
  }
  where.add(
    `EXISTS (SELECT 1 FROM json_each(${docColumn}, '$.collected_by') c WHERE c.value IN (SELECT value FROM json_each(?)))`,
    JSON.stringify(ids),
  );
}

/**
 * Keyset ordering per ADR 0052: items with the sort key set come first (dates newest first,
 * strings A-Z), ties and unset keys fall back to id; `reverse` is the exact mirror image.
 * Returns the ORDER BY text and adds the "after the cursor" condition.
 */
export function addKeysetOrder(
  where: WhereBuilder,
  column: string,
  idColumn: string,
  newestFirst: boolean,
  reverse: boolean,
  cursor: ListCursor | undefined,
): string {
  const keyAfter = newestFirst !== reverse ? '<' : '>';
  const idAfter = reverse ? '<' : '>';
  if (cursor) {
    if (cursor.k !== null) {
      const onward = `${column} ${keyAfter} ? OR (${column} = ? AND ${idColumn} ${idAfter} ?)`;
      if (reverse) where.add(`(${onward})`, cursor.k, cursor.k, cursor.i);
      else where.add(`(${onward} OR ${column} IS NULL)`, cursor.k, cursor.k, cursor.i);
    } else if (reverse) {
      where.add(`((${column} IS NULL AND ${idColumn} ${idAfter} ?) OR ${column} IS NOT NULL)`, cursor.i);
    } else {
      where.add(`(${column} IS NULL AND ${idColumn} ${idAfter} ?)`, cursor.i);
    }
  }
  const keyDir = newestFirst !== reverse ? 'DESC' : 'ASC';
  const idDir = reverse ? 'DESC' : 'ASC';
  return `ORDER BY (${column} IS NULL) ${reverse ? 'DESC' : 'ASC'}, ${column} ${keyDir}, ${idColumn} ${idDir}`;
}
