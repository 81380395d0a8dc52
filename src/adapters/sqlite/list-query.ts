import type { TagFilter } from '../../ports/metadata-store';
import type { WhereBuilder } from '../sql-common/keyset-query';

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
