/**
 * Sources and flows in VAST: their rows, putFlow / updateFlow with the SQLite store's rules
 * (src/adapters/sqlite/sqlite-metadata-store.ts: storeFlow, replaceFlow, editCollectedBy,
 * storeOwnChange, createSourceFor), reads and listings.
 *
 * Documents are the SQL stores' JSON text (`doc`), written by the same code paths, so getFlow /
 * getSource answer what SQLite answers. The columns beside `doc` are what VAST can narrow a
 * listing on (equality on utf8) and the sort keys; sorting, keyset paging and the filters VAST
 * cannot express (tags, collected_by, essence numbers, init_segments, timerange) are finished in
 * TypeScript (list-order.ts).
 *
 * Every write here writes an event, so every two of them conflict at the outbox counter row
 * (outbox.ts): flows and sources change one transaction at a time, as in SQLite, and a loser's
 * rerun sees the winner's rows (a second creation of one flow becomes its update). Events are
 * collected in order and appended last, just before commit.
 */
import { randomUUID } from 'node:crypto';
import type { Flow, Source } from '../../../domain/entities';
import { TamsError } from '../../../domain/errors';
import { usesInitSegments } from '../../../domain/init-segments';
import { metadataVersionAfter } from '../../../domain/metadata-version';
import { MAX_COLLECTORS, type SourceCollectionConflict } from '../../../domain/source-collections';
import { isEternity } from '../../../domain/timerange';
import type { FlowFilter, Page, PageRequest, PutFlowResult, SourceFilter } from '../../../ports/metadata-store';
import { parseListCursor } from '../../sql-common/cursors';
import { toFlow, toSource, type FlowRow, type SourceRow } from '../../sql-common/rows';
import { bounds, essenceNumber, flowReplacement, sourceForFlow, sourceUpdate, FLOW_EQUAL_FILTERS, FLOW_SORTS, plain, sortColumn, SOURCE_SORTS } from '../../sql-common/store-helpers';
import { allOf, column, type OrGroup } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import type { VastRow } from '../protocol/row-batches';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { keysetPage, matchesCollectedBy, matchesTags, type KeyedRow } from './list-order';
import { refuseWhileBeingDeleted } from './deletion-requests';
import { readObjectRows } from './objects';
import { selectByIds } from './select-by-ids';
import { createFlowGuard, readFlowGuard } from './segment-registration';
import { VastSourceCollections } from './source-collections';
import { contextFromDocs } from './event-context';
import { claimOutboxCounter } from './outbox';
import { VastWrite } from './vast-write';
import type { VastStoreTables } from './vast-tables';

/** A stored flow row (segments_updated from its guard row) with its `$row_id`. */
export interface StoredFlow {
  readonly rowId: bigint;
  readonly row: FlowRow;
}

export interface StoredSource {
  readonly rowId: bigint;
  readonly row: SourceRow;
}

const FLOW_COLUMNS = ['id', 'source_id', 'created', 'doc'];

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export async function readFlow(tx: VastTransaction, tables: VastStoreTables, id: string): Promise<StoredFlow | undefined> {
  const rows = await tx.table(tables.flows).select({ columns: FLOW_COLUMNS, filter: allOf(column('id').equal(id)), withRowId: true });
  if (rows.length > 1) throw new Error(`flow ${id} has ${rows.length} rows`);
  const record = rows[0];
  if (record === undefined) return undefined;
  const guard = await readFlowGuard(tx, tables, id);
  return { rowId: record[ROW_ID_COLUMN_NAME] as bigint, row: flowRow(record, guard?.segmentsUpdated ?? null) };
}

function flowRow(record: VastRecord, segmentsUpdated: string | null): FlowRow {
  return { id: record.id as string, source_id: record.source_id as string, segments_updated: segmentsUpdated, created: text(record.created), doc: record.doc as string };
}

/** segments_updated of each flow, from the guard rows. */
async function segmentsUpdatedOf(tx: VastTransaction, tables: VastStoreTables, flowIds: readonly string[]): Promise<Map<string, string | null>> {
  const found = new Map<string, string | null>();
  for (const r of await selectByIds(tx, tables.flowGuards, 'flow_id', flowIds, { columns: ['flow_id', 'segments_updated'] })) found.set(r.flow_id as string, text(r.segments_updated));
  return found;
}

export async function readSource(tx: VastTransaction, tables: VastStoreTables, id: string): Promise<StoredSource | undefined> {
  const rows = await tx.table(tables.sources).select({ columns: ['id', 'format', 'doc'], filter: allOf(column('id').equal(id)), withRowId: true });
  if (rows.length > 1) throw new Error(`source ${id} has ${rows.length} rows`);
  const record = rows[0];
  return record === undefined ? undefined : { rowId: record[ROW_ID_COLUMN_NAME] as bigint, row: { id: record.id as string, format: record.format as string, doc: record.doc as string } };
}

export async function sourceHasFlows(tx: VastTransaction, tables: VastStoreTables, sourceId: string): Promise<boolean> {
  return (await tx.table(tables.flows).select({ columns: ['id'], filter: allOf(column('source_id').equal(sourceId)), limit: 1 })).length > 0;
}

/** The flow columns beside `doc`, as the SQL stores fill theirs. */
function flowColumns(doc: Flow): VastRow {
  return {
    id: doc.id,
    source_id: doc.source_id,
    format: doc.format,
    codec: doc.codec ?? null,
    label: doc.label ?? null,
    profile_id: doc.profile_id ?? null,
    status: doc.status ?? null,
    created: doc.created ?? null,
    metadata_updated: doc.metadata_updated ?? null,
    doc: JSON.stringify(doc),
  };
}

const FLOW_UPDATE_COLUMNS = ['source_id', 'format', 'codec', 'label', 'profile_id', 'status', 'created', 'metadata_updated', 'doc'];

export async function getSources(client: VastClient, tables: VastStoreTables, ids: readonly string[]): Promise<(Source | undefined)[]> {
  if (ids.length === 0) return [];
  const rows = await client.withTransaction((tx) => selectByIds(tx, tables.sources, 'id', ids, { columns: ['id', 'doc'] }));
  const byId = new Map(rows.map((r) => [r.id as string, r.doc as string]));
  return ids.map((id) => {
    const doc = byId.get(id);
    return doc === undefined ? undefined : toSource({ id, format: '', doc });
  });
}

export async function getFlows(client: VastClient, tables: VastStoreTables, ids: readonly string[]): Promise<(Flow | undefined)[]> {
  if (ids.length === 0) return [];
  return client.withTransaction(async (tx) => {
    const rows = await selectByIds(tx, tables.flows, 'id', ids, { columns: FLOW_COLUMNS });
    const updated = await segmentsUpdatedOf(
      tx,
      tables,
      rows.map((r) => r.id as string),
    );
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    return ids.map((id) => {
      const record = byId.get(id);
      return record === undefined ? undefined : toFlow(flowRow(record, updated.get(id) ?? null));
    });
  });
}

/** The equality filters VAST narrows on, as one OR-group each. */
function equalities(pairs: readonly (readonly [string, string | undefined])[]): OrGroup[] {
  return pairs.flatMap(([name, value]) => (value === undefined ? [] : [column(name).equal(value)]));
}

interface Candidate extends KeyedRow {
  readonly doc?: string;
}

function sortKey(record: VastRecord, sort: string): string | null {
  return text(record[sort]);
}

export async function listSources(client: VastClient, tables: VastStoreTables, filter: SourceFilter, page: PageRequest): Promise<Page<Source>> {
  const sort = sortColumn(filter.sort_by, SOURCE_SORTS);
  const cursor = page.after === undefined ? undefined : parseListCursor(page.after, sort);
  const needsDoc = filter.tags !== undefined || filter.collected_by_ids !== undefined;
  return client.withTransaction(async (tx) => {
    const narrow = equalities([
      ['label', filter.label],
      ['format', filter.format],
    ]);
    const records = await tx.table(tables.sources).select({ columns: needsDoc ? ['id', sort, 'doc'] : ['id', sort], filter: allOf(...narrow) });
    const candidates: Candidate[] = records.map((r) => (needsDoc ? { id: r.id as string, key: sortKey(r, sort), doc: r.doc as string } : { id: r.id as string, key: sortKey(r, sort) }));
    const order = { sort, newestFirst: sort !== 'label', reverse: filter.reverse === true };
    return keysetPage(candidates, order, cursor, page.limit, async (chunk) => {
      const docs = needsDoc ? new Map(chunk.map((c) => [c.id, c.doc as string])) : await docsById(tx, tables.sources, chunk);
      return chunk.map((c) => {
        const source = toSource({ id: c.id, format: '', doc: docs.get(c.id) as string });
        return matchesTags(source, filter.tags) && matchesCollectedBy(source, filter.collected_by_ids) ? source : undefined;
      });
    });
  });
}

async function docsById(tx: VastTransaction, table: VastStoreTables['flows'], chunk: readonly KeyedRow[]): Promise<Map<string, string>> {
  const rows = await selectByIds(
    tx,
    table,
    'id',
    chunk.map((c) => c.id),
    { columns: ['id', 'doc'] },
  );
  return new Map(rows.map((r) => [r.id as string, r.doc as string]));
}

/** Whether the flow has a segment overlapping the filter's timerange (EMPTY: whether it has none), from its guard row and at most one probe. */
async function matchesTimerange(tx: VastTransaction, tables: VastStoreTables, flowId: string, filter: FlowFilter): Promise<boolean> {
  const timerange = filter.timerange;
  if (timerange === undefined || isEternity(timerange)) return true;
  const guard = await readFlowGuard(tx, tables, flowId);
  const count = guard?.segmentCount ?? 0n;
  if (timerange.empty) return count === 0n;
  if (count === 0n || guard === undefined) return false;
  const { lo, hi } = bounds(timerange);
  if ((guard.minStartNs !== null && guard.minStartNs >= hi) || (guard.maxEndNs !== null && guard.maxEndNs <= lo)) return false;
  const rows = await tx.table(tables.segments).select({
    columns: ['end_ns'],
    filter: allOf(column('flow_id').equal(flowId), column('start_ns').less(hi), column('end_ns').greater(lo)),
    limit: 1,
  });
  return rows.length > 0;
}

function flowMatches(flow: Flow, filter: FlowFilter): boolean {
  if (filter.frame_width !== undefined && essenceNumber(flow, 'frame_width') !== filter.frame_width) return false;
  if (filter.frame_height !== undefined && essenceNumber(flow, 'frame_height') !== filter.frame_height) return false;
  if (filter.init_segments !== undefined && (flow.essence_parameters?.init_segments === true) !== filter.init_segments) return false;
  return matchesTags(flow, filter.tags) && matchesCollectedBy(flow, filter.collected_by_ids);
}

export async function listFlows(client: VastClient, tables: VastStoreTables, filter: FlowFilter, page: PageRequest): Promise<Page<Flow>> {
  const sort = sortColumn(filter.sort_by, FLOW_SORTS);
  const cursor = page.after === undefined ? undefined : parseListCursor(page.after, sort);
  return client.withTransaction(async (tx) => {
    const narrow = equalities(
      FLOW_EQUAL_FILTERS.flatMap(([key, name]) => {
        const value = filter[key];
        // frame_width / frame_height are numbers in the document: compared in TypeScript.
        return typeof value === 'string' ? [[name, value] as const] : [];
      }),
    );
    const records = await tx.table(tables.flows).select({ columns: ['id', sort], filter: allOf(...narrow) });
    const candidates: KeyedRow[] = records.map((r) => ({ id: r.id as string, key: sortKey(r, sort) }));
    const order = { sort, newestFirst: sort !== 'label', reverse: filter.reverse === true };
    return keysetPage(candidates, order, cursor, page.limit, async (chunk) => {
      const rows = await selectByIds(
        tx,
        tables.flows,
        'id',
        chunk.map((c) => c.id),
        { columns: FLOW_COLUMNS },
      );
      const byId = new Map(rows.map((r) => [r.id as string, r]));
      const docs = chunk.map((c) => toFlow(flowRow(byId.get(c.id) as VastRecord, null)));
      const passing = docs.map((f) => flowMatches(f, filter));
      for (const [i, f] of docs.entries()) if (passing[i] === true) passing[i] = await matchesTimerange(tx, tables, f.id, filter);
      const updated = await segmentsUpdatedOf(
        tx,
        tables,
        docs.filter((_, i) => passing[i]).map((f) => f.id),
      );
      return docs.map((f, i) => {
        if (passing[i] !== true) return undefined;
        const segmentsUpdated = updated.get(f.id) ?? null;
        if (segmentsUpdated !== null) f.segments_updated = segmentsUpdated;
        return f;
      });
    });
  });
}

export async function putFlow(client: VastClient, tables: VastStoreTables, flow: Flow, now: string): Promise<PutFlowResult> {
  return client.withTransaction(async (tx) => {
    await claimOutboxCounter(tx, tables);
    const w = new VastWrite(tx, tables, now);
    const previous = await readFlow(tx, tables, flow.id);
    if (previous !== undefined) await refuseWhileBeingDeleted(tx, tables, flow.id, 'metadata');
    const stored = await new FlowWriter(w).replaceFlow(flow, previous);
    await w.flush();
    return { created: previous === undefined, flow: stored };
  });
}

export async function updateFlow(client: VastClient, tables: VastStoreTables, id: string, change: (flow: Flow) => Flow, now: string): Promise<Flow | undefined> {
  return client.withTransaction(async (tx) => {
    await claimOutboxCounter(tx, tables);
    const previous = await readFlow(tx, tables, id);
    if (previous === undefined) return undefined;
    await refuseWhileBeingDeleted(tx, tables, id, 'metadata');
    const next = plain(change(plain(toFlow(previous.row))));
    if (next.id !== id) throw new TamsError('validation_failed', 'The id of a flow cannot be changed');
    const w = new VastWrite(tx, tables, now);
    const stored = await new FlowWriter(w).replaceFlow(next, previous);
    await w.flush();
    return stored;
  });
}

/** The SQLite store's flow writes (see the module comment), in one VastWrite. */
class FlowWriter {
  private readonly collections: VastSourceCollections;

  constructor(private readonly w: VastWrite) {
    this.collections = new VastSourceCollections(w);
  }

  private get tx(): VastTransaction {
    return this.w.tx;
  }

  private get tables(): VastStoreTables {
    return this.w.tables;
  }

  /** See SqliteMetadataStore.replaceFlow. */
  async replaceFlow(next: Flow, previous: StoredFlow | undefined): Promise<Flow> {
    const id = next.id;
    const current = previous ? toFlow(previous.row) : undefined;
    const { doc, added, removed, collectionChanged } = flowReplacement(next, current);
    const movedSource = current !== undefined && current.source_id !== doc.source_id;
    if (movedSource || collectionChanged || current === undefined) {
      const stayed = current !== undefined && !movedSource;
      await this.collections.checkConflict(doc, stayed ? await this.collections.derived(current.source_id, current.flow_collection) : undefined);
    }
    const collectors = movedSource ? (current.collected_by ?? []).filter((c) => c !== id) : [];
    const collectorConflicts: Map<string, SourceCollectionConflict>[] = [];
    for (const c of collectors) collectorConflicts.push(await this.collectorConflicts(c));
    const stored = await this.storeFlow(doc, previous);
    for (const [i, collector] of collectors.entries()) {
      const conflict = this.collections.addedConflict(collectorConflicts[i] as Map<string, SourceCollectionConflict>, await this.collectorConflicts(collector));
      if (conflict === undefined) continue;
      throw new TamsError(
        'validation_failed',
        `Moving flow ${id} to source ${doc.source_id} would make the collection of flow ${collector}, which collects it, contradict flow ${conflict.sibling} of the same source: ${conflict.why}`,
      );
    }
    for (const member of removed) if (member !== id) await this.editCollectedBy(member, id, false);
    for (const member of added) if (member !== id) await this.editCollectedBy(member, id, true);
    if (movedSource || collectionChanged) {
      const affected = [doc.source_id];
      if (movedSource) affected.push(current.source_id, ...(await this.sourcesOfFlows(collectors)));
      await this.collections.refresh(affected);
      if (movedSource) await this.deleteSourceIfUnused(current.source_id);
    }
    return stored;
  }

  /** See SqliteMetadataStore.storeFlow; the guard row is made with the flow, and follows its source and init_segments. */
  private async storeFlow(flow: Flow, previous: StoredFlow | undefined): Promise<Flow> {
    const now = this.w.now;
    const source = await readSource(this.tx, this.tables, flow.source_id);
    if (!source) await this.createSourceFor(flow);
    else if (source.row.format !== flow.format) throw new TamsError('source_conflict', `Source ${flow.source_id} has format ${source.row.format}, not the flow's ${flow.format}`);
    const stored0 = previous ? (JSON.parse(previous.row.doc) as Flow) : undefined;
    const doc: Flow = { ...plain(flow), created: previous?.row.created ?? now, metadata_updated: now };
    delete doc.segments_updated;
    doc.metadata_version = metadataVersionAfter(stored0?.metadata_version, flow.metadata_version, !previous, randomUUID);
    if (stored0 !== undefined && usesInitSegments(stored0) !== usesInitSegments(doc)) await this.checkInitSegmentsChange(doc);
    const flows = this.tx.table(this.tables.flows);
    const initSegments = doc.essence_parameters?.init_segments === true;
    if (previous === undefined) {
      await flows.insert([flowColumns(doc)]);
      await createFlowGuard(this.tx, this.tables, doc.id, doc.source_id, initSegments);
    } else {
      await flows.update(FLOW_UPDATE_COLUMNS, [{ ...flowColumns(doc), [ROW_ID_COLUMN_NAME]: previous.rowId }]);
      const guard = await readFlowGuard(this.tx, this.tables, doc.id);
      if (guard !== undefined && (guard.sourceId !== doc.source_id || guard.initSegments !== initSegments)) {
        await this.tx.table(this.tables.flowGuards).update(['source_id', 'init_segments', 'version'], [{ [ROW_ID_COLUMN_NAME]: guard.rowId, source_id: doc.source_id, init_segments: initSegments, version: guard.version + 1n }]);
      }
    }
    const stored: Flow = previous?.row.segments_updated ? { ...doc, segments_updated: previous.row.segments_updated } : doc;
    await this.w.event({ type: previous ? 'flows/updated' : 'flows/created', event: { flow: stored } }, { flow_id: flow.id, source_id: flow.source_id });
    return stored;
  }

  /**
   * See SqliteMetadataStore.checkInitSegmentsChange: a segment without an init object (of its
   * own or of its re-used object) contradicts init_segments: true, one with either contradicts
   * false. Reads the flow's segments without an init object (and their objects); turning it off
   * first probes for one segment with an init object.
   */
  private async checkInitSegmentsChange(flow: Flow): Promise<void> {
    const on = usesInitSegments(flow);
    const segments = this.tx.table(this.tables.segments);
    let contradicting = false;
    if (!on) contradicting = (await segments.select({ columns: ['end_ns'], filter: allOf(column('flow_id').equal(flow.id), column('init_object_id').isValid()), limit: 1 })).length > 0;
    if (!contradicting) {
      const without = await segments.select({ columns: ['object_id'], filter: allOf(column('flow_id').equal(flow.id), column('init_object_id').isNull()) });
      const ids = new Set(without.map((r) => r.object_id as string));
      const objects = await readObjectRows(this.tx, this.tables, ids);
      const inherits = (id: string): boolean => (objects.get(id)?.row.init_object_id ?? null) !== null;
      contradicting = on ? [...ids].some((id) => !inherits(id)) : [...ids].some(inherits);
    }
    if (!contradicting) return;
    throw new TamsError(
      'validation_failed',
      on
        ? `Flow ${flow.id} has segments without an init object, so essence_parameters.init_segments cannot be true`
        : `Flow ${flow.id} has segments with an init object, so essence_parameters.init_segments must stay true`,
    );
  }

  private async collectorConflicts(flowId: string): Promise<Map<string, SourceCollectionConflict>> {
    const stored = await readFlow(this.tx, this.tables, flowId);
    if (!stored) return new Map();
    const flow = JSON.parse(stored.row.doc) as Flow;
    return this.collections.conflictingSiblings(flowId, stored.row.source_id, await this.collections.derived(stored.row.source_id, flow.flow_collection));
  }

  private async sourcesOfFlows(flowIds: readonly string[]): Promise<string[]> {
    const sources: string[] = [];
    for (const flowId of flowIds) {
      const stored = await readFlow(this.tx, this.tables, flowId);
      if (stored) sources.push(stored.row.source_id);
    }
    return sources;
  }

  /** See SqliteMetadataStore.editCollectedBy. */
  private async editCollectedBy(memberId: string, collector: string, add: boolean): Promise<void> {
    const stored = await readFlow(this.tx, this.tables, memberId);
    if (!stored) return;
    const doc = JSON.parse(stored.row.doc) as Flow;
    const list = doc.collected_by ?? [];
    if (list.includes(collector) === add) return;
    if (add && list.length >= MAX_COLLECTORS) {
      throw new TamsError('validation_failed', `Flow ${memberId} is already a member of ${MAX_COLLECTORS} collections, the most one flow may be in`);
    }
    const updated = add ? [...list, collector] : list.filter((c) => c !== collector);
    if (updated.length > 0) doc.collected_by = updated;
    else delete doc.collected_by;
    await this.storeOwnChange(stored, doc);
  }

  /** See SqliteMetadataStore.storeOwnChange. */
  private async storeOwnChange(stored: StoredFlow, doc: Flow): Promise<void> {
    const now = this.w.now;
    doc.metadata_updated = now;
    doc.metadata_version = randomUUID();
    await this.tx.table(this.tables.flows).update(['metadata_updated', 'doc'], [{ [ROW_ID_COLUMN_NAME]: stored.rowId, metadata_updated: now, doc: JSON.stringify(doc) }]);
    const flow: Flow = stored.row.segments_updated !== null ? { ...doc, segments_updated: stored.row.segments_updated } : doc;
    await this.w.event({ type: 'flows/updated', event: { flow } }, { flow_id: stored.row.id, source_id: stored.row.source_id });
  }

  /** See SqliteMetadataStore.createSourceFor. */
  private async createSourceFor(flow: Flow): Promise<void> {
    const now = this.w.now;
    const source = sourceForFlow(flow, now);
    await this.tx.table(this.tables.sources).insert([{ id: source.id, format: source.format, label: source.label ?? null, created: now, updated: now, doc: JSON.stringify(source) }]);
    await this.w.event({ type: 'sources/created', event: { source } }, { source_id: source.id });
  }

  private async deleteSourceIfUnused(sourceId: string): Promise<void> {
    if (await sourceHasFlows(this.tx, this.tables, sourceId)) return;
    const source = await readSource(this.tx, this.tables, sourceId);
    if (source === undefined) return;
    // Its context is what it was: the row is gone once the event is recorded.
    const context = contextFromDocs(sourceId, undefined, JSON.parse(source.row.doc) as Source);
    await this.tx.table(this.tables.sources).delete([source.rowId]);
    await this.w.event({ type: 'sources/deleted', event: { source_id: sourceId } }, { source_id: sourceId }, context);
  }
}

export async function getSource(client: VastClient, tables: VastStoreTables, id: string): Promise<Source | undefined> {
  return (await getSources(client, tables, [id]))[0];
}

export async function getFlow(client: VastClient, tables: VastStoreTables, id: string): Promise<Flow | undefined> {
  return (await getFlows(client, tables, [id]))[0];
}

/** Read-modify-write of a source (label, description, tags), as the SQLite store's updateSource; writes `sources/updated`. */
export async function updateSource(client: VastClient, tables: VastStoreTables, id: string, change: (source: Source) => Source, now: string): Promise<Source | undefined> {
  return client.withTransaction(async (tx) => {
    await claimOutboxCounter(tx, tables);
    const stored = await readSource(tx, tables, id);
    if (stored === undefined) return undefined;
    const doc = sourceUpdate(toSource(stored.row), change, now);
    await tx.table(tables.sources).update(['label', 'updated', 'doc'], [{ [ROW_ID_COLUMN_NAME]: stored.rowId, label: doc.label ?? null, updated: now, doc: JSON.stringify(doc) }]);
    const w = new VastWrite(tx, tables, now);
    await w.event({ type: 'sources/updated', event: { source: doc } }, { source_id: id });
    await w.flush();
    return doc;
  });
}
