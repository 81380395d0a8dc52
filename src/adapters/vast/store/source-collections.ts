/**
 * Source collections kept in step with flow collections (src/domain/source-collections.ts) in
 * the VAST store, exactly as the SQLite store's source-collections.ts keeps them: a source's
 * `source_collection` is inferred from the flow collections of its flows, and each source it
 * names lists it in `collected_by`. What SQLite joins with json_each is joined here in
 * TypeScript: the collecting flows' documents and their members' rows are read by id.
 */
import type { CollectionItem, Flow, Source } from '../../../domain/entities';
import {
  mergeSourceCollections,
  addedConflict,
  refuseAddedConflict,
  siblingConflicts,
  sameSourceCollection,
  type SourceCollectionConflict,
  type SourceCollectionItem,
} from '../../../domain/source-collections';
import { allOf, column } from '../client/filter';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import type { VastWrite } from './vast-write';
import { compareText } from './list-order';
import { selectByIds } from './select-by-ids';

export class VastSourceCollections {
  constructor(private readonly w: VastWrite) {}

  /** The source of each of these flows that exists. */
  private async sourcesOf(flowIds: Iterable<string>): Promise<Map<string, string>> {
    const rows = await selectByIds(this.w.tx, this.w.tables.flows, 'id', flowIds, { columns: ['id', 'source_id'] });
    return new Map(rows.map((r) => [r.id as string, r.source_id as string]));
  }

  private static itemsOf(items: unknown): CollectionItem[] {
    return Array.isArray(items) ? (items as CollectionItem[]) : [];
  }

  private static joined(sourceId: string, items: readonly CollectionItem[], members: ReadonlyMap<string, string>): SourceCollectionItem[] {
    return items.flatMap((item) => {
      const member = typeof item?.id === 'string' ? members.get(item.id) : undefined;
      return member === undefined || member === sourceId ? [] : [{ id: member, role: item.role }];
    });
  }

  /** The source collection a collection gives source `sourceId` (members that are not stored are left out). */
  async derived(sourceId: string, items: readonly CollectionItem[] | undefined): Promise<SourceCollectionItem[]> {
    if (items === undefined || items.length === 0) return [];
    const list = VastSourceCollections.itemsOf(items);
    return VastSourceCollections.joined(sourceId, list, await this.sourcesOf(list.flatMap((i) => (typeof i?.id === 'string' ? [i.id] : []))));
  }

  /** What each stored flow of the source that collects something gives it, by flow id (oldest flow first, as SQLite orders: created, unset first, then id). */
  private async derivedOfSource(sourceId: string): Promise<Map<string, SourceCollectionItem[]>> {
    const flows = await this.w.tx.table(this.w.tables.flows).select({ columns: ['id', 'created', 'doc'], filter: allOf(column('source_id').equal(sourceId)) });
    const collecting = flows
      .map((r) => ({ id: r.id as string, created: typeof r.created === 'string' ? r.created : null, items: VastSourceCollections.itemsOf((JSON.parse(r.doc as string) as Flow).flow_collection) }))
      .filter((f) => f.items.length > 0)
      .sort((a, b) => (a.created === b.created ? 0 : a.created === null ? -1 : b.created === null ? 1 : compareText(a.created, b.created)) || compareText(a.id, b.id));
    const members = await this.sourcesOf(collecting.flatMap((f) => f.items.flatMap((i) => (typeof i?.id === 'string' ? [i.id] : []))));
    const byFlow = new Map<string, SourceCollectionItem[]>();
    for (const f of collecting) {
      const list = VastSourceCollections.joined(sourceId, f.items, members);
      if (list.length > 0) byFlow.set(f.id, list);
    }
    return byFlow;
  }

  /** The flows of `sourceId`, other than `flowId`, whose collections contradict `collection`, and how. */
  async conflictingSiblings(flowId: string, sourceId: string, collection: readonly SourceCollectionItem[]): Promise<Map<string, SourceCollectionConflict>> {
    if (collection.length === 0) return new Map();
    return siblingConflicts(await this.derivedOfSource(sourceId), flowId, collection);
  }

  /** See SqliteSourceCollections.addedConflict. */
  addedConflict(before: ReadonlyMap<string, SourceCollectionConflict>, after: ReadonlyMap<string, SourceCollectionConflict>): { sibling: string; why: string } | undefined {
    return addedConflict(before, after);
  }

  /** See SqliteSourceCollections.checkConflict. */
  async checkConflict(flow: Pick<Flow, 'id' | 'source_id' | 'flow_collection'>, before: readonly SourceCollectionItem[] | undefined): Promise<void> {
    const mine = await this.derived(flow.source_id, flow.flow_collection);
    const already = before === undefined ? new Map<string, SourceCollectionConflict>() : await this.conflictingSiblings(flow.id, flow.source_id, before);
    refuseAddedConflict(flow, mine, already, await this.conflictingSiblings(flow.id, flow.source_id, mine));
  }

  /** See SqliteSourceCollections.refresh. */
  async refresh(sourceIds: Iterable<string>): Promise<void> {
    for (const sourceId of new Set(sourceIds)) {
      const stored = await this.source(sourceId);
      if (!stored) continue;
      const { source } = stored;
      const collection = mergeSourceCollections([...(await this.derivedOfSource(sourceId)).values()]);
      const before = (source.source_collection ?? []).map((item) => ({ id: item.id, role: item.role }));
      if (sameSourceCollection(before, collection)) continue;
      if (collection.length > 0) source.source_collection = collection.map((item) => ({ id: item.id, role: item.role }));
      else delete source.source_collection;
      if (await this.hasFlows(sourceId)) await this.save(stored.rowId, source);
      const was = new Set(before.map((item) => item.id));
      const is = new Set(collection.map((item) => item.id));
      for (const id of is) if (!was.has(id)) await this.editCollectedBy(id, sourceId, true);
      for (const id of was) if (!is.has(id)) await this.editCollectedBy(id, sourceId, false);
    }
  }

  private async hasFlows(sourceId: string): Promise<boolean> {
    return (await this.w.tx.table(this.w.tables.flows).select({ columns: ['id'], filter: allOf(column('source_id').equal(sourceId)), limit: 1 })).length > 0;
  }

  private async source(id: string): Promise<{ rowId: bigint; source: Source } | undefined> {
    const rows = await this.w.tx.table(this.w.tables.sources).select({ columns: ['doc'], filter: allOf(column('id').equal(id)), withRowId: true });
    const row = rows[0];
    return row === undefined ? undefined : { rowId: row[ROW_ID_COLUMN_NAME] as bigint, source: JSON.parse(row.doc as string) as Source };
  }

  private async editCollectedBy(memberId: string, collector: string, add: boolean): Promise<void> {
    const stored = await this.source(memberId);
    if (!stored) return;
    const member = stored.source;
    const list = member.collected_by ?? [];
    if (list.includes(collector) === add) return;
    const updated = add ? [...list, collector] : list.filter((id) => id !== collector);
    if (updated.length > 0) member.collected_by = updated;
    else delete member.collected_by;
    if (await this.hasFlows(memberId)) await this.save(stored.rowId, member);
  }

  private async save(rowId: bigint, source: Source): Promise<void> {
    source.updated = this.w.now;
    await this.w.tx.table(this.w.tables.sources).update(['updated', 'doc'], [{ [ROW_ID_COLUMN_NAME]: rowId, updated: this.w.now, doc: JSON.stringify(source) }]);
    await this.w.event({ type: 'sources/updated', event: { source } }, { source_id: source.id });
  }
}
