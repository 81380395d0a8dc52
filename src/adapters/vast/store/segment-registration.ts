/**
 * Registering one batch of segments of one flow in VAST, in one transaction (withTransaction,
 * run again from the start when VAST reports a conflict):
 *
 * 1. the flow's guard row is read and updated first. A select-then-insert alone allows write
 *    skew under snapshot isolation: two writers of one flow would each find no overlap in their
 *    snapshot and both insert. Both now write the guard row, so one of them is refused (409, at
 *    that write while the other is open, or at any write or commit once the other has
 *    committed) and runs again in a new snapshot, where it sees the winner's segments;
 * 2. the stored segments overlapping the batch's span are read in one select (overlap is
 *    `start < qend AND end > qstart`), the object rows the batch names in another (and the init
 *    objects re-used objects bring in a third), and each segment is checked in order by
 *    sql-common's SegmentChecks, the PostgreSQL store's checks of the SQLite store's rules
 *    (overlap with stored and earlier segments, `bad_timerange`, object re-use, init objects,
 *    init_segments, unknown objects); each fails alone, as in the SQL stores;
 * 3. objects registered on first use are written (allocated rows updated, others inserted, after
 *    the `objects` store guard row: objects.ts), the stored segments inserted in one request
 *    (sliced under the request budget by the client) with the objects' storage and own timerange
 *    copied in, the guard row gets the new count and bounds, and one `flows/segments_added` event
 *    takes its seq from the counter row (outbox.ts).
 */
import type { NewSegment } from '../../../domain/entities';
import { TamsError } from '../../../domain/errors';
import { jsonString } from '../../../domain/json-text';
import type { SegmentOutcome } from '../../../ports/metadata-store';
import { INT64_MAX, INT64_MIN } from '../../sql-common/cursors';
import { optionalFieldsJson, segmentJsonTail, type ObjectRow } from '../../sql-common/rows';
import { Intervals, objectIdsOf, SegmentChecks, type SegmentInsert } from '../../sql-common/segment-batch';
import { bounds, segmentEventJson } from '../../sql-common/store-helpers';
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastTransaction } from '../client/vast-transaction';
import type { VastUpdateRow } from '../client/vast-table';
import type { VastRow } from '../protocol/row-batches';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { refuseWhileBeingDeleted } from './deletion-requests';
import { readObjectRows, objectRecordRow, type StoredObject } from './objects';
import { updateStoreGuard } from './store-guards';
import { OBJECTS_GUARD_NAME, type VastStoreTables } from './vast-tables';
import { appendEvents, claimOutboxCounter } from './outbox';

/** A flow's guard row as read in a transaction. */
export interface FlowGuard {
  readonly rowId: bigint;
  readonly sourceId: string;
  readonly version: bigint;
  readonly segmentCount: bigint;
  readonly minStartNs: bigint | null;
  readonly maxEndNs: bigint | null;
  /** The flow's `essence_parameters.init_segments === true`, kept here for registration (putFlow writes it). */
  readonly initSegments: boolean;
  readonly segmentsUpdated: string | null;
}

/**
 * Makes the flow's guard row (putFlow does, with the flow). Two transactions inserting one
 * flow's guard row do not conflict by themselves (inserts never do): flow creation also writes a
 * `flows/created` event through the counter row, which makes them conflict; an existing row is
 * left as it is.
 */
export async function createFlowGuard(tx: VastTransaction, tables: VastStoreTables, flowId: string, sourceId: string, initSegments = false): Promise<void> {
  if ((await readFlowGuard(tx, tables, flowId)) !== undefined) return;
  await tx.table(tables.flowGuards).insert([
    { flow_id: flowId, source_id: sourceId, version: 0n, segment_count: 0n, min_start_ns: null, max_end_ns: null, segments_updated: null, init_segments: initSegments },
  ]);
}

export async function readFlowGuard(tx: VastTransaction, tables: VastStoreTables, flowId: string): Promise<FlowGuard | undefined> {
  const rows = await tx.table(tables.flowGuards).select({
    columns: ['source_id', 'version', 'segment_count', 'min_start_ns', 'max_end_ns', 'init_segments', 'segments_updated'],
    filter: allOf(column('flow_id').equal(flowId)),
    withRowId: true,
  });
  if (rows.length > 1) throw new Error(`flow ${flowId} has ${rows.length} guard rows`);
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    rowId: row[ROW_ID_COLUMN_NAME] as bigint,
    sourceId: row.source_id as string,
    version: row.version as bigint,
    segmentCount: row.segment_count as bigint,
    minStartNs: (row.min_start_ns ?? null) as bigint | null,
    maxEndNs: (row.max_end_ns ?? null) as bigint | null,
    initSegments: row.init_segments === true,
    segmentsUpdated: (row.segments_updated ?? null) as string | null,
  };
}

/** The span `[lo, hi)` covering every non-empty segment of the batch, or undefined for none. */
function batchSpan(segments: readonly NewSegment[]): { lo: bigint; hi: bigint } | undefined {
  let lo: bigint | undefined;
  let hi: bigint | undefined;
  for (const { timerange } of segments) {
    if (timerange.empty) continue;
    const b = bounds(timerange);
    if (lo === undefined || b.lo < lo) lo = b.lo;
    if (hi === undefined || b.hi > hi) hi = b.hi;
  }
  return lo === undefined || hi === undefined ? undefined : { lo, hi };
}

/** The segment row the SQL stores write (json_head as theirs: `{"object_id":…` then segmentJsonTail; the objects' storage and own timerange copied). */
export function segmentRow(flowId: string, insert: SegmentInsert): VastRow {
  const { segment: seg, object, init } = insert;
  return {
    flow_id: flowId,
    start_ns: insert.lo,
    end_ns: insert.hi,
    object_id: seg.object_id,
    init_object_id: seg.init_object_id ?? null,
    json_head: `{"object_id":${jsonString(seg.object_id)}${segmentJsonTail(seg.timerange_text, optionalFieldsJson(seg))}`,
    object_storage_id: object?.storage_id ?? null,
    object_storage_key: object?.storage_key ?? null,
    object_own_timerange: insert.objectTimerange,
    init_storage_id: init?.storage_id ?? null,
    init_storage_key: init?.storage_key ?? null,
  };
}

/**
 * Registers the segments of one flow in one transaction (see the module comment); each
 * outcome says whether its segment was stored. An unknown flow (no guard row) fails the call
 * with `not_found`.
 */
export async function registerSegments(
  client: VastClient,
  tables: VastStoreTables,
  flowId: string,
  segments: readonly NewSegment[],
  now: string,
): Promise<SegmentOutcome[]> {
  const run = await client.withTransaction(async (tx) => {
    // Each run checks its own copies: SegmentChecks gives a segment its re-used object's init object.
    const batch = segments.map((segment) => ({ ...segment }));
    await claimOutboxCounter(tx, tables);
    const guard = await readFlowGuard(tx, tables, flowId);
    if (guard === undefined) throw new TamsError('not_found', `Flow ${flowId} does not exist`);
    const guards = tx.table(tables.flowGuards);
    await guards.update(['version'], [{ [ROW_ID_COLUMN_NAME]: guard.rowId, version: guard.version + 1n }]);
    await refuseWhileBeingDeleted(tx, tables, flowId, 'segments');

    const taken = new Intervals();
    const span = batchSpan(batch);
    if (span !== undefined) {
      const stored = await tx.table(tables.segments).select({
        columns: ['start_ns', 'end_ns'],
        filter: allOf(column('flow_id').equal(flowId), column('start_ns').less(span.hi), column('end_ns').greater(span.lo)),
      });
      for (const row of stored) taken.add(row.start_ns as bigint, row.end_ns as bigint);
    }
    const checks = new SegmentChecks(flowId, guard.initSegments, now);
    for (const [i, segment] of batch.entries()) {
      if (segment.timerange.empty) continue;
      const { lo, hi } = bounds(segment.timerange);
      if (taken.overlaps(lo, hi)) checks.overlapsStored.add(i);
    }
    const ids = [...objectIdsOf(batch)];
    const stored = await readObjectRows(tx, tables, ids);
    for (const id of ids) checks.objects.set(id, stored.get(id)?.row);
    // Re-used objects bring their init objects (SegmentChecks.register): those are read too.
    const inherited = [...checks.objects.values()].flatMap((o) => (o?.registered && o.init_object_id !== null && !checks.objects.has(o.init_object_id) ? [o.init_object_id] : []));
    if (inherited.length > 0) {
      const more = await readObjectRows(tx, tables, inherited);
      for (const id of inherited) {
        const row = more.get(id);
        checks.objects.set(id, row?.row);
        if (row !== undefined) stored.set(id, row);
      }
    }
    const outcomes: SegmentOutcome[] = batch.map((segment, i) => {
      const error = checks.register(segment, i);
      return error ? { segment, error } : { segment };
    });
    const added = checks.inserts;
    if (added.length === 0) return outcomes;

    if (checks.registrations.length > 0) await writeRegistrations(tx, tables, flowId, checks, stored, now);
    await touchReusedObjects(tx, tables, added, checks, stored);
    await tx.table(tables.segments).insert(added.map((insert) => segmentRow(flowId, insert)));
    let minStart = guard.minStartNs;
    let maxEnd = guard.maxEndNs;
    for (const { lo, hi } of added) {
      if (minStart === null || lo < minStart) minStart = lo;
      if (maxEnd === null || hi > maxEnd) maxEnd = hi;
    }
    await guards.update(
      ['segment_count', 'min_start_ns', 'max_end_ns', 'segments_updated'],
      [{ [ROW_ID_COLUMN_NAME]: guard.rowId, segment_count: guard.segmentCount + BigInt(added.length), min_start_ns: minStart ?? INT64_MIN, max_end_ns: maxEnd ?? INT64_MAX, segments_updated: now }],
    );
    await appendEvents(tx, tables, [
      { payload: { type: 'flows/segments_added', event: { flow_id: flowId, segments: added.map((a) => segmentEventJson(a.segment)) } }, timestamp: now, flowId, sourceId: guard.sourceId },
    ]);
    return outcomes;
  });
  // As the SQL stores do, a segment re-using an object registered with an init object is handed back with it.
  return run.map((outcome, i) => {
    const segment = segments[i] as NewSegment;
    if (outcome.segment.init_object_id !== undefined) segment.init_object_id = outcome.segment.init_object_id;
    return outcome.error === undefined ? { segment } : { segment, error: outcome.error };
  });
}

/**
 * Updates (to the values they hold) the rows of the stored objects the batch's segments re-use,
 * as media or init object, that writeRegistrations did not write. Garbage collection deletes an
 * object's row and instance changes update it, and they write nothing else a registration
 * writes: without this, a registration re-using an object would commit beside a collection of
 * that object (a segment naming a deleted object) or beside an instance change (a segment with a
 * stale copy of its instances). Writing the row makes them conflict; the loser runs again.
 * Flows registering at once that share an object (an init object, typically) conflict too.
 */
async function touchReusedObjects(tx: VastTransaction, tables: VastStoreTables, added: readonly SegmentInsert[], checks: SegmentChecks, stored: ReadonlyMap<string, StoredObject>): Promise<void> {
  const written = new Set(checks.registrations.map((r) => r.id));
  const ids = new Set<string>();
  for (const { segment } of added) {
    for (const id of [segment.object_id, segment.init_object_id]) if (id !== undefined && !written.has(id) && stored.has(id)) ids.add(id);
  }
  if (ids.size === 0) return;
  await tx.table(tables.objects).update(
    ['registered'],
    [...ids].map((id) => ({ [ROW_ID_COLUMN_NAME]: (stored.get(id) as StoredObject).rowId, registered: (stored.get(id) as StoredObject).row.registered === 1 })),
  );
}

/** The objects a batch registers on first use: allocated rows updated, the others inserted (after the objects guard row). */
async function writeRegistrations(tx: VastTransaction, tables: VastStoreTables, flowId: string, checks: SegmentChecks, stored: ReadonlyMap<string, StoredObject>, now: string): Promise<void> {
  await updateStoreGuard(tx, tables, OBJECTS_GUARD_NAME);
  const updates: VastUpdateRow[] = [];
  const inserts: VastRow[] = [];
  for (const r of checks.registrations) {
    const row: ObjectRow = {
      id: r.id,
      storage_id: null,
      storage_key: null,
      allocated_for_flow: null,
      content_type: null,
      role: r.role,
      registered: 1,
      key_frame_count: r.keyFrameCount,
      timerange: r.timerange,
      init_object_id: r.initObjectId,
      first_referenced_by_flow: flowId,
      get_urls: r.getUrls,
      created: now,
    };
    const existing = stored.get(r.id);
    if (r.allocated && existing !== undefined) updates.push({ ...objectRecordRow(row), [ROW_ID_COLUMN_NAME]: existing.rowId });
    else inserts.push(objectRecordRow(row));
  }
  if (updates.length > 0) await tx.table(tables.objects).update(['role', 'registered', 'key_frame_count', 'timerange', 'init_object_id', 'first_referenced_by_flow'], updates);
  if (inserts.length > 0) await tx.table(tables.objects).insert(inserts);
}
