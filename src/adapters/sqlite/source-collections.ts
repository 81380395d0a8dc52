/**
 * Source collections kept in step with flow collections (src/domain/source-collections.ts) in
 * the SQLite store: a source's `source_collection` is inferred from the flow collections of its
 * flows, and each source it names lists it in `collected_by`. Runs inside the store's write
 * transactions; every source it changes gets `updated` and a `sources/updated` event (these
 * are the gateway's own changes: `updated_by` stays as the last writer of the source left it).
 *
 * The collections a flow gives its source are read in SQLite (json_each over the documents,
 * joined to the members' rows by primary key): one statement for a flow, one for all the
 * collecting flows of a source, whatever their length.
 */
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
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

type AppendEvent = (payload: TamsEventPayload, timestamp: string, ids: { source_id: string }) => void;

interface Statements {
  derivedOfItems: Statement;
  derivedOfSource: Statement;
  sourceHasFlows: Statement;
  getSource: Statement;
  setSourceDoc: Statement;
  collectingSources: Statement;
}

/** The member sources (in collection order) a collection names, its own source left out. */
const DERIVED_OF_ITEMS = `SELECT m.source_id AS id, json_extract(j.value, '$.role') AS role
  FROM json_each(?) j JOIN flows m ON m.id = json_extract(j.value, '$.id')
  WHERE m.source_id <> ? ORDER BY j.key`;

/** The same for every flow of a source that collects something, flow by flow (oldest first). */
const DERIVED_OF_SOURCE = `SELECT x.id AS flow_id, m.source_id AS id, json_extract(j.value, '$.role') AS role
  FROM flows x, json_each(x.doc, '$.flow_collection') j JOIN flows m ON m.id = json_extract(j.value, '$.id')
  WHERE x.source_id = ? AND m.source_id <> x.source_id ORDER BY x.created, x.id, j.key`;

export class SqliteSourceCollections {
  private statements: Statements | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly appendEvent: AppendEvent,
  ) {}

  private get s(): Statements {
    this.statements ??= {
      derivedOfItems: this.db.prepare(DERIVED_OF_ITEMS),
      derivedOfSource: this.db.prepare(DERIVED_OF_SOURCE),
      sourceHasFlows: this.db.prepare('SELECT 1 FROM flows WHERE source_id = ? LIMIT 1').pluck(true),
      getSource: this.db.prepare('SELECT doc FROM sources WHERE id = ?').pluck(true),
      setSourceDoc: this.db.prepare('UPDATE sources SET updated = ?, doc = ? WHERE id = ?'),
      collectingSources: this.db.prepare("SELECT DISTINCT source_id FROM flows WHERE json_extract(doc, '$.flow_collection[0]') IS NOT NULL").pluck(true),
    };
    return this.statements;
  }

  /** The source collection a collection gives source `sourceId` (members that are not stored are left out). */
  derived(sourceId: string, items: readonly CollectionItem[] | undefined): SourceCollectionItem[] {
    if (items === undefined || items.length === 0) return [];
    return this.s.derivedOfItems.all(JSON.stringify(items), sourceId) as SourceCollectionItem[];
  }

  /** What each stored flow of the source that collects something gives it, by flow id (oldest flow first). */
  private derivedOfSource(sourceId: string): Map<string, SourceCollectionItem[]> {
    const byFlow = new Map<string, SourceCollectionItem[]>();
    for (const row of this.s.derivedOfSource.all(sourceId) as { flow_id: string; id: string; role: string }[]) {
      let list = byFlow.get(row.flow_id);
      if (list === undefined) byFlow.set(row.flow_id, (list = []));
      list.push({ id: row.id, role: row.role });
    }
    return byFlow;
  }

  /** The flows of `sourceId`, other than `flowId`, whose collections contradict `collection`, and how. */
  conflictingSiblings(flowId: string, sourceId: string, collection: readonly SourceCollectionItem[]): Map<string, SourceCollectionConflict> {
    if (collection.length === 0) return new Map();
    return siblingConflicts(this.derivedOfSource(sourceId), flowId, collection);
  }

  /**
   * Why a flow's collection, with the sibling conflicts it had `before` and has `after` a change, contradicts a sibling where it did
   * not before (a source in another role, or sources in another order), or undefined. A
   * disagreement the gateway's own changes left (a member deleted or moved) does not block
   * writes that do not add to it.
   */
  addedConflict(before: ReadonlyMap<string, SourceCollectionConflict>, after: ReadonlyMap<string, SourceCollectionConflict>): { sibling: string; why: string } | undefined {
    return addedConflict(before, after);
  }

  /**
   * Refuses (400) a flow document whose collection contradicts that of a sibling flow of the
   * same source where its stored collection did not (`before`: what the stored flow gave the
   * same source; undefined for a new flow or one moving to this source).
   */
  checkConflict(flow: Pick<Flow, 'id' | 'source_id' | 'flow_collection'>, before: readonly SourceCollectionItem[] | undefined): void {
    const mine = this.derived(flow.source_id, flow.flow_collection);
    const already = before === undefined ? new Map<string, SourceCollectionConflict>() : this.conflictingSiblings(flow.id, flow.source_id, before);
    refuseAddedConflict(flow, mine, already, this.conflictingSiblings(flow.id, flow.source_id, mine));
  }

  /**
   * Recomputes `source_collection` of each source from its flows (the merge of what each
   * gives it) and the `collected_by` of the sources it adds or drops.
   */
  refresh(sourceIds: Iterable<string>, now: string): void {
    for (const sourceId of new Set(sourceIds)) {
      const source = this.source(sourceId);
      if (!source) continue;
      const collection = mergeSourceCollections([...this.derivedOfSource(sourceId).values()]);
      const before = (source.source_collection ?? []).map((item) => ({ id: item.id, role: item.role }));
      if (sameSourceCollection(before, collection)) continue;
      if (collection.length > 0) source.source_collection = collection.map((item) => ({ id: item.id, role: item.role }));
      else delete source.source_collection;
      // A source left without flows is about to be deleted by the caller: only its members are told.
      if (this.s.sourceHasFlows.get(sourceId) !== undefined) this.save(source, now);
      const was = new Set(before.map((item) => item.id));
      const is = new Set(collection.map((item) => item.id));
      for (const id of is) if (!was.has(id)) this.editCollectedBy(id, sourceId, true, now);
      for (const id of was) if (!is.has(id)) this.editCollectedBy(id, sourceId, false, now);
    }
  }

  /** Every source that has a flow with a collection, refreshed (a store migrated from before source collections). */
  refreshAll(now: string): void {
    this.refresh(this.s.collectingSources.all() as string[], now);
  }

  private source(id: string): Source | undefined {
    const doc = this.s.getSource.get(id) as string | undefined;
    return doc === undefined ? undefined : (JSON.parse(doc) as Source);
  }

  private editCollectedBy(memberId: string, collector: string, add: boolean, now: string): void {
    const member = this.source(memberId);
    if (!member) return;
    const list = member.collected_by ?? [];
    if (list.includes(collector) === add) return;
    const updated = add ? [...list, collector] : list.filter((id) => id !== collector);
    if (updated.length > 0) member.collected_by = updated;
    else delete member.collected_by;
    // A member left without flows is about to be deleted with its last flow: no update for it.
    if (this.s.sourceHasFlows.get(memberId) !== undefined) this.save(member, now);
  }

  private save(source: Source, now: string): void {
    source.updated = now;
    this.s.setSourceDoc.run(now, JSON.stringify(source), source.id);
    this.appendEvent({ type: 'sources/updated', event: { source } }, now, { source_id: source.id });
  }
}
