/**
 * Source collections kept in step with flow collections (src/domain/source-collections.ts) in
 * the PostgreSQL store, exactly as the SQLite store's source-collections.ts keeps them: a
 * source's `source_collection` is inferred from the flow collections of its flows, and each
 * source it names lists it in `collected_by`. Runs inside the store's transactions; every source
 * it changes gets `updated` and a `sources/updated` event. Sources are read FOR UPDATE before
 * they are rewritten, so a concurrent change to one is never lost.
 */
import type { CollectionItem, Flow, Source } from '../../domain/entities';
import type { TamsEventPayload } from '../../domain/events';
import {
  mergeSourceCollections,
  addedConflict,
  refuseAddedConflict,
  siblingConflicts,
  sameSourceCollection,
  type SourceCollectionConflict,
  type SourceCollectionItem,
} from '../../domain/source-collections';
import { statement, type Tx } from './pool';

export type AppendEvent = (tx: Tx, payload: TamsEventPayload, timestamp: string, ids: { source_id: string }) => Promise<void>;

/** The member sources (in collection order) a collection names, its own source left out. */
const DERIVED_OF_ITEMS = statement(`SELECT m.source_id AS id, j.value ->> 'role' AS role
  FROM json_array_elements($1::json) WITH ORDINALITY AS j(value, n) JOIN flows m ON m.id = j.value ->> 'id'
  WHERE m.source_id <> $2 ORDER BY j.n`);

/** The same for every flow of a source that collects something, flow by flow (oldest first). */
const DERIVED_OF_SOURCE = statement(`SELECT x.id AS flow_id, m.source_id AS id, j.value ->> 'role' AS role
  FROM flows x
    CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof(x.doc::json -> 'flow_collection') = 'array'
      THEN x.doc::json -> 'flow_collection' END) WITH ORDINALITY AS j(value, n)
    JOIN flows m ON m.id = j.value ->> 'id'
  WHERE x.source_id = $1 AND m.source_id <> x.source_id ORDER BY x.created NULLS FIRST, x.id, j.n`);
const SOURCE_HAS_FLOWS = statement('SELECT 1 AS one FROM flows WHERE source_id = $1 LIMIT 1');
const GET_SOURCE_FOR_UPDATE = statement('SELECT doc FROM sources WHERE id = $1 FOR UPDATE');
const SET_SOURCE_DOC = statement('UPDATE sources SET updated = $1, doc = $2 WHERE id = $3');

export class PostgresSourceCollections {
  constructor(private readonly appendEvent: AppendEvent) {}

  /** The source collection a collection gives source `sourceId` (members that are not stored are left out). */
  async derived(tx: Tx, sourceId: string, items: readonly CollectionItem[] | undefined): Promise<SourceCollectionItem[]> {
    if (items === undefined || items.length === 0) return [];
    return tx.rows<SourceCollectionItem>(DERIVED_OF_ITEMS, [JSON.stringify(items), sourceId]);
  }

  /** What each stored flow of the source that collects something gives it, by flow id (oldest flow first). */
  private async derivedOfSource(tx: Tx, sourceId: string): Promise<Map<string, SourceCollectionItem[]>> {
    const byFlow = new Map<string, SourceCollectionItem[]>();
    for (const row of await tx.rows<{ flow_id: string; id: string; role: string }>(DERIVED_OF_SOURCE, [sourceId])) {
      let list = byFlow.get(row.flow_id);
      if (list === undefined) byFlow.set(row.flow_id, (list = []));
      list.push({ id: row.id, role: row.role });
    }
    return byFlow;
  }

  /** The flows of `sourceId`, other than `flowId`, whose collections contradict `collection`, and how. */
  async conflictingSiblings(tx: Tx, flowId: string, sourceId: string, collection: readonly SourceCollectionItem[]): Promise<Map<string, SourceCollectionConflict>> {
    if (collection.length === 0) return new Map();
    return siblingConflicts(await this.derivedOfSource(tx, sourceId), flowId, collection);
  }

  /** See SqliteSourceCollections.addedConflict. */
  addedConflict(before: ReadonlyMap<string, SourceCollectionConflict>, after: ReadonlyMap<string, SourceCollectionConflict>): { sibling: string; why: string } | undefined {
    return addedConflict(before, after);
  }

  /** See SqliteSourceCollections.checkConflict. */
  async checkConflict(tx: Tx, flow: Pick<Flow, 'id' | 'source_id' | 'flow_collection'>, before: readonly SourceCollectionItem[] | undefined): Promise<void> {
    const mine = await this.derived(tx, flow.source_id, flow.flow_collection);
    const already = before === undefined ? new Map<string, SourceCollectionConflict>() : await this.conflictingSiblings(tx, flow.id, flow.source_id, before);
    refuseAddedConflict(flow, mine, already, await this.conflictingSiblings(tx, flow.id, flow.source_id, mine));
  }

  /** See SqliteSourceCollections.refresh. */
  async refresh(tx: Tx, sourceIds: Iterable<string>, now: string): Promise<void> {
    for (const sourceId of new Set(sourceIds)) {
      const source = await this.source(tx, sourceId);
      if (!source) continue;
      const collection = mergeSourceCollections([...(await this.derivedOfSource(tx, sourceId)).values()]);
      const before = (source.source_collection ?? []).map((item) => ({ id: item.id, role: item.role }));
      if (sameSourceCollection(before, collection)) continue;
      if (collection.length > 0) source.source_collection = collection.map((item) => ({ id: item.id, role: item.role }));
      else delete source.source_collection;
      // A source left without flows is about to be deleted by the caller: only its members are told.
      if (await this.hasFlows(tx, sourceId)) await this.save(tx, source, now);
      const was = new Set(before.map((item) => item.id));
      const is = new Set(collection.map((item) => item.id));
      for (const id of is) if (!was.has(id)) await this.editCollectedBy(tx, id, sourceId, true, now);
      for (const id of was) if (!is.has(id)) await this.editCollectedBy(tx, id, sourceId, false, now);
    }
  }

  private async hasFlows(tx: Tx, sourceId: string): Promise<boolean> {
    return (await tx.row(SOURCE_HAS_FLOWS, [sourceId])) !== undefined;
  }

  private async source(tx: Tx, id: string): Promise<Source | undefined> {
    const row = await tx.row<{ doc: string }>(GET_SOURCE_FOR_UPDATE, [id]);
    return row === undefined ? undefined : (JSON.parse(row.doc) as Source);
  }

  private async editCollectedBy(tx: Tx, memberId: string, collector: string, add: boolean, now: string): Promise<void> {
    const member = await this.source(tx, memberId);
    if (!member) return;
    const list = member.collected_by ?? [];
    if (list.includes(collector) === add) return;
    const updated = add ? [...list, collector] : list.filter((id) => id !== collector);
    if (updated.length > 0) member.collected_by = updated;
    else delete member.collected_by;
    // A member left without flows is about to be deleted with its last flow: no update for it.
    if (await this.hasFlows(tx, memberId)) await this.save(tx, member, now);
  }

  private async save(tx: Tx, source: Source, now: string): Promise<void> {
    source.updated = now;
    await tx.run(SET_SOURCE_DOC, [now, JSON.stringify(source), source.id]);
    await this.appendEvent(tx, { type: 'sources/updated', event: { source } }, now, { source_id: source.id });
  }
}
