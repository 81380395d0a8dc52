import type { Tags } from './entities';

export interface TagMatch {
  values: Record<string, string[]>;
  exists: Record<string, boolean>;
}

/**
 * TAMS tag filtering: `tag.{name}` matches when the tag's value (or one element of an array
 * value) equals one of the given values; `tag_exists.{name}` tests presence or absence.
 */
export function matchesTags(tags: Tags | undefined, filter: TagMatch): boolean {
  for (const [name, wanted] of Object.entries(filter.values)) {
    const value = tags?.[name];
    if (value === undefined) return false;
    const have = Array.isArray(value) ? value : [value];
    if (!have.some((v) => wanted.includes(v))) return false;
  }
  for (const [name, shouldExist] of Object.entries(filter.exists)) {
    if ((tags?.[name] !== undefined) !== shouldExist) return false;
  }
  return true;
}
