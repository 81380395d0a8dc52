/**
 * Source collections inferred from flow collections (source.json: `source_collection` and
 * `collected_by` are read-only, "managed internally. Source collections can be inferred from
 * Flow collection definitions"). A flow collecting flows F1..Fn in roles r1..rn gives its source
 * the collection (source of F1, r1) .. (source of Fn, rn), in that order. Every flow of one
 * source that has a collection must give the same one: a write that would make two of them
 * disagree in sources, roles or order is refused (the PUT /flows/{flowId} rule on conflicting
 * `source_collection` and `flow_collection`).
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

export function sameSourceCollection(a: readonly SourceCollectionItem[], b: readonly SourceCollectionItem[]): boolean {
  return a.length === b.length && a.every((item, i) => item.id === b[i]!.id && item.role === b[i]!.role);
}

export function describeSourceCollection(items: readonly SourceCollectionItem[]): string {
  return items.length === 0 ? '(none)' : items.map((item) => `${item.id} as ${JSON.stringify(item.role)}`).join(', ');
}
