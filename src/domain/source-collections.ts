/**
 * Source collections inferred from flow collections (source.json: `source_collection` and
 * `collected_by` are read-only, "managed internally. Source collections can be inferred from
 * Flow collection definitions"). A flow collecting flows F1..Fn in roles r1..rn gives its source
 * the collection (source of F1, r1) .. (source of Fn, rn), in that order (members that are not
 * stored, and members of the same source, are left out: a source does not collect itself; the
 * SQLite store reads this in SQL, src/adapters/sqlite/source-collections.ts). The flows of one
 * source may each collect part of it (a proxy flow without its audio), but they must not
 * contradict each other: a source two of them name must play the same role in both, and the
 * sources both name must come in the same order (the PUT /flows/{flowId} rule on conflicting
 * `source_collection` and `flow_collection`: "`role` or ordering ... not matching"). The
 * source's collection is then the merge of its flows' ones.
 */
import { TamsError } from './errors';

/**
 * The most collections one flow may be a member of (entries of its collected_by): bounds the
 * fan-out of deleting it, and the size of its document and of each event carrying it. Adding it
 * to one more is refused (400).
 */
export const MAX_COLLECTORS = 1000;

export interface SourceCollectionItem {
  id: string;
  role: string;
}

/** How two flows of one source contradict each other: sources named in other roles, and sources named in another order. */
export interface SourceCollectionConflict {
  /** Source id to why (the two roles). */
  roles: Map<string, string>;
  /** Why the order differs, when it does. */
  order?: string;
}

/**
 * How two flows of one source give it contradicting collections, or undefined when they agree
 * where they overlap. Linear in the two lengths: each source is compared by its first
 * occurrence in each list.
 */
export function sourceCollectionConflict(a: readonly SourceCollectionItem[], b: readonly SourceCollectionItem[]): SourceCollectionConflict | undefined {
  const inB = new Map<string, { role: string; position: number }>();
  for (const item of b) if (!inB.has(item.id)) inB.set(item.id, { role: item.role, position: inB.size });
  const seen = new Set<string>();
  const roles = new Map<string, string>();
  let order: string | undefined;
  let lastPosition = -1;
  let lastId = '';
  for (const item of a) {
    const other = inB.get(item.id);
    if (other === undefined || seen.has(item.id)) continue;
    seen.add(item.id);
    if (other.role !== item.role) roles.set(item.id, `source ${item.id} plays ${JSON.stringify(item.role)} in one and ${JSON.stringify(other.role)} in the other`);
    if (other.position < lastPosition) order ??= `they name sources ${lastId} and ${item.id} in another order`;
    else {
      lastPosition = other.position;
      lastId = item.id;
    }
  }
  if (roles.size === 0 && order === undefined) return undefined;
  return { roles, ...(order === undefined ? {} : { order }) };
}

/** What `now` contradicts that `before` did not (undefined: nothing new), as a message. */
export function newConflict(before: SourceCollectionConflict | undefined, now: SourceCollectionConflict | undefined): string | undefined {
  if (now === undefined) return undefined;
  for (const [id, why] of now.roles) if (!before?.roles.has(id)) return why;
  if (now.order !== undefined && before?.order === undefined) return now.order;
  return undefined;
}

/**
 * One source collection from its flows' ones (which agree): the longest (the first of those
 * as long), then what each other adds, in order. Linear in the total length.
 */
export function mergeSourceCollections(lists: readonly (readonly SourceCollectionItem[])[]): SourceCollectionItem[] {
  const merged: SourceCollectionItem[] = [];
  const present = new Set<string>();
  const longestFirst = [...lists].sort((x, y) => y.length - x.length);
  for (const list of longestFirst) {
    for (const item of list) {
      const key = JSON.stringify([item.id, item.role]);
      if (present.has(key)) continue;
      present.add(key);
      merged.push({ id: item.id, role: item.role });
    }
  }
  return merged;
}

export function sameSourceCollection(a: readonly SourceCollectionItem[], b: readonly SourceCollectionItem[]): boolean {
  return a.length === b.length && a.every((item, i) => item.id === b[i]!.id && item.role === b[i]!.role);
}

/** The collection for a message: its first entries, and how many more there are. */
export function describeSourceCollection(items: readonly SourceCollectionItem[], shown = 8): string {
  if (items.length === 0) return '(none)';
  const listed = items.slice(0, shown).map((item) => `${item.id} as ${JSON.stringify(item.role.length > 64 ? `${item.role.slice(0, 64)}...` : item.role)}`);
  return items.length > shown ? `${listed.join(', ')} and ${items.length - shown} more` : listed.join(', ');
}

/**
 * The flows among `siblings` (each flow of one source with the collection it gives the source),
 * other than `flowId`, whose collections contradict `collection`, and how.
 */
export function siblingConflicts(
  siblings: Iterable<readonly [string, readonly SourceCollectionItem[]]>,
  flowId: string,
  collection: readonly SourceCollectionItem[],
): Map<string, SourceCollectionConflict> {
  const found = new Map<string, SourceCollectionConflict>();
  if (collection.length === 0) return found;
  for (const [sibling, theirs] of siblings) {
    if (sibling === flowId) continue;
    const conflict = sourceCollectionConflict(collection, theirs);
    if (conflict !== undefined) found.set(sibling, conflict);
  }
  return found;
}

/**
 * Why a flow's collection, with the sibling conflicts it had `before` and has `after` a change,
 * contradicts a sibling where it did not before (a source in another role, or sources in another
 * order), or undefined. A disagreement the gateway's own changes left (a member deleted or
 * moved) does not block writes that do not add to it.
 */
export function addedConflict(before: ReadonlyMap<string, SourceCollectionConflict>, after: ReadonlyMap<string, SourceCollectionConflict>): { sibling: string; why: string } | undefined {
  for (const [sibling, conflict] of after) {
    const why = newConflict(before.get(sibling), conflict);
    if (why !== undefined) return { sibling, why };
  }
  return undefined;
}

/**
 * Refuses (400) a flow document whose collection (`mine`: what it gives its source) contradicts
 * a sibling flow where the stored one did not (`already`: the sibling conflicts before; `now`: after).
 */
export function refuseAddedConflict(
  flow: { id: string; source_id: string },
  mine: readonly SourceCollectionItem[],
  already: ReadonlyMap<string, SourceCollectionConflict>,
  now: ReadonlyMap<string, SourceCollectionConflict>,
): void {
  const added = addedConflict(already, now);
  if (added === undefined) return;
  throw new TamsError(
    'validation_failed',
    `The collection of flow ${flow.id} gives source ${flow.source_id} the collection ${describeSourceCollection(mine)}, ` +
      `which flow ${added.sibling} of the same source contradicts: ${added.why}`,
  );
}
