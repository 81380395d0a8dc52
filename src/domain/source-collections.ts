/**
 * Source collections inferred from flow collections (source.json: `source_collection` and
 * `collected_by` are read-only, "managed internally. Source collections can be inferred from
 * Flow collection definitions"). A flow collecting flows F1..Fn in roles r1..rn gives its source
 * the collection (source of F1, r1) .. (source of Fn, rn), in that order. The flows of one
 * source may each collect part of it (a proxy flow without its audio), but they must not
 * contradict each other: a source two of them name must play the same role in both, and the
 * sources both name must come in the same order (the PUT /flows/{flowId} rule on conflicting
 * `source_collection` and `flow_collection`: "`role` or ordering ... not matching"). The
 * source's collection is then the merge of its flows' ones.
 */
import type { CollectionItem } from './entities';

export interface SourceCollectionItem {
  id: string;
  role: string;
}

/**
 * The source collection a flow collection gives its flow's source `sourceId`: members whose
 * flow is unknown (`sourceOf` answers undefined) and members of the same source are left out
 * (a source does not collect itself).
 */
export function sourceCollectionOf(
  sourceId: string,
  items: readonly CollectionItem[] | undefined,
  sourceOf: (flowId: string) => string | undefined,
): SourceCollectionItem[] {
  const out: SourceCollectionItem[] = [];
  for (const item of items ?? []) {
    const memberSource = sourceOf(item.id);
    if (memberSource === undefined || memberSource === sourceId) continue;
    out.push({ id: memberSource, role: item.role });
  }
  return out;
}

/**
 * Why two flows of one source give it contradicting collections (a source with two roles, or
 * two sources in another order), or undefined when they agree where they overlap.
 */
export function sourceCollectionConflict(a: readonly SourceCollectionItem[], b: readonly SourceCollectionItem[]): string | undefined {
  const roleInB = new Map<string, string>();
  for (const item of b) if (!roleInB.has(item.id)) roleInB.set(item.id, item.role);
  const commonInA: string[] = [];
  for (const item of a) {
    const role = roleInB.get(item.id);
    if (role === undefined) continue;
    if (role !== item.role) return `source ${item.id} plays ${JSON.stringify(item.role)} in one and ${JSON.stringify(role)} in the other`;
    if (!commonInA.includes(item.id)) commonInA.push(item.id);
  }
  const common = new Set(commonInA);
  const commonInB = [...new Set(b.filter((item) => common.has(item.id)).map((item) => item.id))];
  if (commonInA.some((id, i) => commonInB[i] !== id)) return `they name sources ${commonInA.join(', ')} in another order`;
  return undefined;
}

/**
 * One source collection from its flows' ones (which agree): the longest (the first of those
 * as long), then what each other adds, in order.
 */
export function mergeSourceCollections(lists: readonly (readonly SourceCollectionItem[])[]): SourceCollectionItem[] {
  const merged: SourceCollectionItem[] = [];
  const longestFirst = [...lists].sort((x, y) => y.length - x.length);
  for (const list of longestFirst) {
    for (const item of list) if (!merged.some((m) => m.id === item.id && m.role === item.role)) merged.push({ id: item.id, role: item.role });
  }
  return merged;
}

export function sameSourceCollection(a: readonly SourceCollectionItem[], b: readonly SourceCollectionItem[]): boolean {
  return a.length === b.length && a.every((item, i) => item.id === b[i]!.id && item.role === b[i]!.role);
}

export function describeSourceCollection(items: readonly SourceCollectionItem[]): string {
  return items.length === 0 ? '(none)' : items.map((item) => `${item.id} as ${JSON.stringify(item.role)}`).join(', ');
}
