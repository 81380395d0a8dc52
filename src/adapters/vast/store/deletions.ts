/**
 * Deleting flows and segments in VAST, with the SQLite store's rules and events
 * (sqlite-metadata-store.ts: deleteFlow, dropCollectionMember, editCollectedBy, deleteSegments,
 * deletedSpan), and the deletion requests (deletion-requests.ts, re-exported here).
 *
 * Segments are selected with their `$row_id` and deleted by it (the client slices the request).
 * Every deletion that removes segments writes the flow's guard row (count, segments_updated; the
 * bounds stay loose, see segment-window.ts), so it conflicts with a registration of the same flow
 * and one of them runs again. A deleted flow's guard row is deleted with it, which conflicts the
 * same way. The objects the deleted segments named (object_id and init_object_id) become garbage
 * collection candidates in the same transaction, as the SQL stores' trigger makes them.
 *
 * Events about the deleted flow and source are appended after their rows are gone, so they carry
 * the context computed while the rows were there (what the SQL stores keep in gone_event_context).
 */
import { randomUUID } from 'node:crypto';
import type { Flow, Source } from '../../../domain/entities';
import { EMPTY, formatTimeRange, range, type TimeRange } from '../../../domain/timerange';
import type { DeletionProgress } from '../../../ports/metadata-store';
import { INT64_MAX, INT64_MIN } from '../../sql-common/cursors';
import { boundToNanos, toFlow } from '../../sql-common/rows';
import { bounds, collectionIds } from '../../sql-common/store-helpers';
import { allOf, column, type OrGroup } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { advanceDeletionRequest, refuseWhileBeingDeleted } from './deletion-requests';
import { readFlow, readSource, sourceHasFlows, type StoredFlow } from './documents';
import { markGcCandidates } from './object-gc';
import { contextFromDocs } from './event-context';
import { appendEvents, claimOutboxCounter } from './outbox';
import { readFlowGuard } from './segment-registration';
import { VastSourceCollections } from './source-collections';
import { VastWrite } from './vast-write';
import type { VastStoreTables } from './vast-tables';

export {
  deleteExpiredDeletionRequests,
  getDeletionRequest,
  listDeletionRequests,
  listUnfinishedDeletionRequests,
  putDeletionRequest,
  refuseWhileBeingDeleted,
} from './deletion-requests';

const SEGMENT_COLUMNS = ['start_ns', 'end_ns', 'object_id', 'init_object_id'];

/** Deletes the selected segment rows and names their objects as collection candidates; returns the span they covered (EMPTY for none). */
async function deleteSegmentRows(tx: VastTransaction, tables: VastStoreTables, rows: readonly VastRecord[]): Promise<TimeRange> {
  if (rows.length === 0) return EMPTY;
  await tx.table(tables.segments).delete(rows.map((r) => r[ROW_ID_COLUMN_NAME] as bigint));
  await markGcCandidates(
    tx,
    tables,
    rows.flatMap((r) => (typeof r.init_object_id === 'string' ? [r.object_id as string, r.init_object_id] : [r.object_id as string])),
  );
  // As deletedSpan: segments never overlap, so the first by end has the earliest start.
  let first = rows[0] as VastRecord;
  let lastEnd = first.end_ns as bigint;
  for (const r of rows) {
    if ((r.end_ns as bigint) < (first.end_ns as bigint)) first = r;
    if ((r.end_ns as bigint) > lastEnd) lastEnd = r.end_ns as bigint;
  }
  return range(boundToNanos(first.start_ns as bigint, INT64_MIN), boundToNanos(lastEnd, INT64_MAX));
}

/** See MetadataStore.deleteFlow and SqliteMetadataStore.deleteFlow, step by step. */
export async function deleteFlow(client: VastClient, tables: VastStoreTables, id: string, now: string, progress?: DeletionProgress): Promise<boolean> {
  return client.withTransaction(async (tx) => {
    await claimOutboxCounter(tx, tables);
    if (progress === undefined) await refuseWhileBeingDeleted(tx, tables, id, 'segments');
    else if (!(await advanceDeletionRequest(tx, tables, progress))) return false;
    const stored = await readFlow(tx, tables, id);
    if (stored === undefined) return false;
    const w = new VastWrite(tx, tables, now);
    const sourceId = stored.row.source_id;
    const ids = { flow_id: id, source_id: sourceId };
    const deleted = toFlow(stored.row);
    const source = await readSource(tx, tables, sourceId);
    const context = contextFromDocs(sourceId, deleted, source === undefined ? undefined : (JSON.parse(source.row.doc) as Source));

    const segments = await tx.table(tables.segments).select({ columns: SEGMENT_COLUMNS, filter: allOf(column('flow_id').equal(id)), withRowId: true });
    const gone = await deleteSegmentRows(tx, tables, segments);
    if (segments.length > 0) await w.event({ type: 'flows/segments_deleted', event: { flow_id: id, timerange: formatTimeRange(gone) } }, ids, context);
    await tx.table(tables.flows).delete([stored.rowId]);
    const guard = await readFlowGuard(tx, tables, id);
    if (guard !== undefined) await tx.table(tables.flowGuards).delete([guard.rowId]);
    await w.event({ type: 'flows/deleted', event: { flow_id: id } }, ids, context);

    // The flow no longer collects its members, nor is it a member of the collections that listed it.
    for (const member of collectionIds(deleted)) if (member !== id) await removeCollector(w, member, id);
    const affectedSources = [sourceId];
    for (const collector of deleted.collected_by ?? []) {
      if (collector === id) continue;
      const collectorSource = await dropCollectionMember(w, collector, id);
      if (collectorSource !== undefined) affectedSources.push(collectorSource);
    }
    await new VastSourceCollections(w).refresh(affectedSources);
    await deleteSourceIfUnused(w, sourceId);
    await w.flush();
    return true;
  });
}

/** See SqliteMetadataStore.editCollectedBy (removal only): the member's collected_by loses `collector`. */
async function removeCollector(w: VastWrite, memberId: string, collector: string): Promise<void> {
  const stored = await readFlow(w.tx, w.tables, memberId);
  if (stored === undefined) return;
  const doc = JSON.parse(stored.row.doc) as Flow;
  const list = doc.collected_by ?? [];
  if (!list.includes(collector)) return;
  const updated = list.filter((c) => c !== collector);
  if (updated.length > 0) doc.collected_by = updated;
  else delete doc.collected_by;
  await storeOwnChange(w, stored, doc);
}

/** See SqliteMetadataStore.dropCollectionMember; returns the collector's source when it changed. */
async function dropCollectionMember(w: VastWrite, collectorId: string, memberId: string): Promise<string | undefined> {
  const stored = await readFlow(w.tx, w.tables, collectorId);
  if (stored === undefined) return undefined;
  const doc = JSON.parse(stored.row.doc) as Flow;
  const items = doc.flow_collection ?? [];
  const kept = items.filter((item) => item.id !== memberId);
  if (kept.length === items.length) return undefined;
  if (kept.length > 0) doc.flow_collection = kept;
  else delete doc.flow_collection;
  await storeOwnChange(w, stored, doc);
  return stored.row.source_id;
}

/** See SqliteMetadataStore.storeOwnChange: metadata_updated, a new metadata_version, `flows/updated`; updated_by stays. */
async function storeOwnChange(w: VastWrite, stored: StoredFlow, doc: Flow): Promise<void> {
  doc.metadata_updated = w.now;
  doc.metadata_version = randomUUID();
  await w.tx.table(w.tables.flows).update(['metadata_updated', 'doc'], [{ [ROW_ID_COLUMN_NAME]: stored.rowId, metadata_updated: w.now, doc: JSON.stringify(doc) }]);
  const flow: Flow = stored.row.segments_updated !== null ? { ...doc, segments_updated: stored.row.segments_updated } : doc;
  await w.event({ type: 'flows/updated', event: { flow } }, { flow_id: stored.row.id, source_id: stored.row.source_id });
}

async function deleteSourceIfUnused(w: VastWrite, sourceId: string): Promise<void> {
  if (await sourceHasFlows(w.tx, w.tables, sourceId)) return;
  const stored = await readSource(w.tx, w.tables, sourceId);
  if (stored === undefined) return;
  const source = JSON.parse(stored.row.doc) as Source;
  await w.tx.table(w.tables.sources).delete([stored.rowId]);
  await w.event({ type: 'sources/deleted', event: { source_id: sourceId } }, { source_id: sourceId }, contextFromDocs(sourceId, undefined, source));
}

/** See MetadataStore.deleteSegments and SqliteMetadataStore.deleteSegments. */
export async function deleteSegments(
  client: VastClient,
  tables: VastStoreTables,
  flowId: string,
  timerange: TimeRange,
  objectId: string | undefined,
  now: string,
  progress?: DeletionProgress,
): Promise<number> {
  if (timerange.empty && progress === undefined) return 0;
  return client.withTransaction(async (tx) => {
    // The counter first, as every event writer claims it (outbox.ts), then the flow's guard row.
    await claimOutboxCounter(tx, tables);
    if (progress === undefined) await refuseWhileBeingDeleted(tx, tables, flowId, 'segments');
    else if (!(await advanceDeletionRequest(tx, tables, progress))) return 0;
    const guard = await readFlowGuard(tx, tables, flowId);
    if (guard === undefined || timerange.empty) return 0;
    const { lo, hi } = bounds(timerange);
    // Completely covered: ends in (lo, hi] and starts at or after lo (the SQL stores' deleteCovered).
    const filter: OrGroup[] = [column('flow_id').equal(flowId), column('end_ns').greater(lo), column('end_ns').lessEqual(hi), column('start_ns').greaterEqual(lo)];
    if (objectId !== undefined) filter.push(column('object_id').equal(objectId));
    const rows = await tx.table(tables.segments).select({ columns: SEGMENT_COLUMNS, filter: allOf(...filter), withRowId: true });
    if (rows.length === 0) return 0;
    await tx.table(tables.flowGuards).update(
      ['version', 'segment_count', 'segments_updated'],
      [{ [ROW_ID_COLUMN_NAME]: guard.rowId, version: guard.version + 1n, segment_count: guard.segmentCount - BigInt(rows.length), segments_updated: now }],
    );
    const gone = await deleteSegmentRows(tx, tables, rows);
    await appendEvents(tx, tables, [{ payload: { type: 'flows/segments_deleted', event: { flow_id: flowId, timerange: formatTimeRange(gone) } }, timestamp: now, flowId, sourceId: guard.sourceId }]);
    return rows.length;
  });
}
