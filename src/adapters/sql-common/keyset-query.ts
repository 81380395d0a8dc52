import type { ListCursor } from './cursors';

/** A WHERE clause assembled from optional filters, with positional parameters (`?`). */
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
