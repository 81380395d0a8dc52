/**
 * The PostgreSQL texts of the listing filters (the SQLite store's are in ../sqlite/list-query.ts,
 * with the same meaning): tags and collected_by are read from the row's JSON document, a value
 * of the wrong JSON type matching nothing, as in SQLite.
 */
import type { TagFilter } from '../../ports/metadata-store';
import type { WhereBuilder } from '../sql-common/keyset-query';

/** `doc`'s member `name` when it is a JSON object / array, else NULL (json_each on NULL yields no rows). */
function member(docColumn: string, name: string, type: 'object' | 'array'): string {
  return `(CASE WHEN json_typeof(${docColumn}::json -> '${name}') = '${type}' THEN ${docColumn}::json -> '${name}' END)`;
}

/**
 * `tag.{name}` matches a string tag equal to one of the values, or an array tag holding one of
 * them; `tag_exists.{name}` tests presence.
 */
export function addTagFilters(where: WhereBuilder, docColumn: string, tags: TagFilter | undefined): void {
  if (!tags) return;
  const tagsObject = member(docColumn, 'tags', 'object');
  for (const [name, values] of Object.entries(tags.values)) {
    where.add(
      `EXISTS (SELECT 1 FROM json_each(${tagsObject}) t WHERE t.key = ? AND (
        (json_typeof(t.value) = 'string' AND (t.value #>> '{}') = ANY(?::text[]))
        OR (json_typeof(t.value) = 'array' AND EXISTS (SELECT 1 FROM json_array_elements(t.value) v
              WHERE json_typeof(v) = 'string' AND (v #>> '{}') = ANY(?::text[])))))`,
      name,
      values,
      values,
    );
  }
  for (const [name, exists] of Object.entries(tags.exists)) {
    where.add(`${exists ? '' : 'NOT '}EXISTS (SELECT 1 FROM json_each(${tagsObject}) t WHERE t.key = ?)`, name);
  }
}

/** An empty list selects items collected by nobody; otherwise items collected by any of the ids. */
export function addCollectedByFilter(where: WhereBuilder, docColumn: string, ids: string[] | undefined): void {
  if (ids === undefined) return;
  const list = member(docColumn, 'collected_by', 'array');
  if (ids.length === 0) {
    where.add(`coalesce(json_array_length(${list}), 0) = 0`);
    return;
  }
  where.add(`EXISTS (SELECT 1 FROM json_array_elements(${list}) c WHERE json_typeof(c) = 'string' AND (c #>> '{}') = ANY(?::text[]))`, ids);
}

/** A statement written with `?` placeholders (WhereBuilder, addKeysetOrder) in PostgreSQL's `$n` form. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
