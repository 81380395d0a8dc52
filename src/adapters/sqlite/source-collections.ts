/**
 * Source collections kept in step with flow collections (src/domain/source-collections.ts) in
 * the SQLite store: a source's `source_collection` is inferred from the flow collections of its
 * flows, and each source it names lists it in `collected_by`. Runs inside the store's write
 * transactions; every source it changes gets `updated` and a `sources/updated` event.
 */
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { Flow, Source } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import type { TamsEventPayload } from '../../domain/events';
import {
  describeSourceCollection,
  mergeSourceCollections,
  sameSourceCollection,
  sourceCollectionConflict,
  sourceCollectionOf,
  type SourceCollectionItem,
} from '../../domain/source-collections';

type AppendEvent = (payload: TamsEventPayload, timestamp: string, ids: { source_id: string }) => void;

export class SqliteSourceCollections {
  private statements:
    | { flowsOfSource: Statement; sourceOfFlow: Statement; sourceHasFlows: Statement; getSource: Statement; setSourceDoc: Statement; collectingSources: Statement }
    | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly appendEvent: AppendEvent,
  ) {}

  private get s(): NonNullable<SqliteSourceCollections['statements']> {
    this.statements ??= {
      // Only the flows that collect something (flows_source finds the source's flows; the rest are skipped in SQLite, not parsed here).
      flowsOfSource: this.db.prepare(
        "SELECT id, doc FROM flows WHERE source_id = ? AND json_extract(doc, '$.flow_collection[0]') IS NOT NULL ORDER BY created, id",
      ),
      sourceOfFlow: this.db.prepare('SELECT source_id FROM flows WHERE id = ?').pluck(true),
      sourceHasFlows: this.db.prepare('SELECT 1 FROM flows WHERE source_id = ? LIMIT 1').pluck(true),
      getSource: this.db.prepare('SELECT doc FROM sources WHERE id = ?').pluck(true),
      setSourceDoc: this.db.prepare('UPDATE sources SET updated = ?, doc = ? WHERE id = ?'),
      collectingSources: this.db.prepare(
        "SELECT DISTINCT source_id FROM flows WHERE json_extract(doc, '$.flow_collection') IS NOT NULL",
      ).pluck(true),
    };
    return this.statements;
  }

  private sourceOf = (flowId: string): string | undefined => this.s.sourceOfFlow.get(flowId) as string | undefined;

  /** The source collection flow `flow` gives its source. */
  derived(flow: Pick<Flow, 'source_id' | 'flow_collection'>): SourceCollectionItem[] {
    return sourceCollectionOf(flow.source_id, flow.flow_collection, this.sourceOf);
  }

  /**
   * Refuses (400) a flow document whose collection contradicts that of a sibling flow of the
   * same source (a source in another role, or sources in another order).
   */
  checkConflict(flow: Pick<Flow, 'id' | 'source_id' | 'flow_collection'>): void {
    const mine = this.derived(flow);
    if (mine.length === 0) return;
    for (const row of this.s.flowsOfSource.all(flow.source_id) as { id: string; doc: string }[]) {
      if (row.id === flow.id) continue;
      const theirs = this.derived(JSON.parse(row.doc) as Flow);
      const conflict = sourceCollectionConflict(mine, theirs);
      if (conflict === undefined) continue;
      throw new TamsError(
        'validation_failed',
        `The collection of flow ${flow.id} gives source ${flow.source_id} the collection ${describeSourceCollection(mine)}, ` +
          `but flow ${row.id} of the same source gives it ${describeSourceCollection(theirs)}: ${conflict}`,
      );
    }
  }

  /**
   * Recomputes `source_collection` of each source from its flows (the merge of what each
   * gives it, oldest flow first) and the `collected_by` of the sources it adds or drops.
   */
  refresh(sourceIds: Iterable<string>, now: string, actor: string | undefined): void {
    for (const sourceId of new Set(sourceIds)) {
      const source = this.source(sourceId);
      if (!source) continue;
      const collecting = this.s.flowsOfSource.all(sourceId) as { id: string; doc: string }[];
      const collection = mergeSourceCollections(collecting.map((row) => this.derived(JSON.parse(row.doc) as Flow)));
      const before = (source.source_collection ?? []).map((item) => ({ id: item.id, role: item.role }));
      if (sameSourceCollection(before, collection)) continue;
      if (collection.length > 0) source.source_collection = collection.map((item) => ({ id: item.id, role: item.role }));
      else delete source.source_collection;
      // A source left without flows is about to be deleted by the caller: only its members are told.
      if (this.s.sourceHasFlows.get(sourceId) !== undefined) this.save(source, now, actor);
      const was = new Set(before.map((item) => item.id));
      const is = new Set(collection.map((item) => item.id));
      for (const id of is) if (!was.has(id)) this.editCollectedBy(id, sourceId, true, now, actor);
      for (const id of was) if (!is.has(id)) this.editCollectedBy(id, sourceId, false, now, actor);
    }
  }

  /** Every source that has a flow with a collection, refreshed (a store migrated from before source collections). */
  refreshAll(now: string): void {
    this.refresh(this.s.collectingSources.all() as string[], now, undefined);
  }

  private source(id: string): Source | undefined {
    const doc = this.s.getSource.get(id) as string | undefined;
    return doc === undefined ? undefined : (JSON.parse(doc) as Source);
  }

  private editCollectedBy(memberId: string, collector: string, add: boolean, now: string, actor: string | undefined): void {
    const member = this.source(memberId);
    if (!member) return;
    const list = member.collected_by ?? [];
    if (list.includes(collector) === add) return;
    const updated = add ? [...list, collector] : list.filter((id) => id !== collector);
    if (updated.length > 0) member.collected_by = updated;
    else delete member.collected_by;
    // A member left without flows is about to be deleted with its last flow: no update for it.
    if (this.s.sourceHasFlows.get(memberId) !== undefined) this.save(member, now, actor);
  }

  private save(source: Source, now: string, actor: string | undefined): void {
    source.updated = now;
    if (actor !== undefined) source.updated_by = actor;
    this.s.setSourceDoc.run(now, JSON.stringify(source), source.id);
    this.appendEvent({ type: 'sources/updated', event: { source } }, now, { source_id: source.id });
  }
}
