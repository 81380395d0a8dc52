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
 *    `start < qend AND end > qstart`), and each segment is checked in order against them and
 *    against the batch's earlier stored ones; each fails alone with `segment_overlap` (or
 *    `bad_timerange` when empty), as in the SQL stores;
 * 3. the rest are inserted in one request (sliced under the request budget by the client), the
 *    guard row gets the new count and bounds, and one `flows/segments_added` event takes its seq
 *    from the counter row (outbox.ts).
 *
 * Objects are not looked at yet (no objects table in VAST so far): storage copies are null and
 * the object's own timerange is the segment's (what a first registration records).
 */
import type { NewSegment } from '../../../domain/entities';
import { TamsError } from '../../../domain/errors';
import { jsonString } from '../../../domain/json-text';
import type { SegmentOutcome } from '../../../ports/metadata-store';
import { INT64_MAX, INT64_MIN } from '../../sql-common/cursors';
import { optionalFieldsJson, segmentJsonTail } from '../../sql-common/rows';
import { bounds, segmentEventJson } from '../../sql-common/store-helpers';
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastTransaction } from '../client/vast-transaction';
import type { VastRow } from '../protocol/row-batches';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { appendEvents } from './outbox';
import type { VastStoreTables } from './vast-tables';

/** A flow's guard row as read in a transaction. */
export interface FlowGuard {
  readonly rowId: bigint;
  readonly sourceId: string;
  readonly version: bigint;
  readonly segmentCount: bigint;
  readonly minStartNs: bigint | null;
  readonly maxEndNs: bigint | null;
}

/**
 * Makes the flow's guard row (what creating the flow will do in the full store). Two
 * transactions inserting one flow's guard row do not conflict by themselves (inserts never do):
 * flow creation also writes a `flows/created` event through the counter row, which makes them
 * conflict; this foundation checks for an existing row in the same transaction.
 */
export async function createFlowGuard(tx: VastTransaction, tables: VastStoreTables, flowId: string, sourceId: string): Promise<void> {
  if ((await readFlowGuard(tx, tables, flowId)) !== undefined) return;
  await tx.table(tables.flowGuards).insert([{ flow_id: flowId, source_id: sourceId, version: 0n, segment_count: 0n, min_start_ns: null, max_end_ns: null, segments_updated: null }]);
}

export async function readFlowGuard(tx: VastTransaction, tables: VastStoreTables, flowId: string): Promise<FlowGuard | undefined> {
  const rows = await tx.table(tables.flowGuards).select({
    columns: ['source_id', 'version', 'segment_count', 'min_start_ns', 'max_end_ns'],
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
  };
}

/** Half-open `[lo, hi)` intervals that never overlap, kept sorted (by end, hence by start too). */
class Intervals {
  private readonly los: bigint[] = [];
  private readonly his: bigint[] = [];

  /** Index of the first interval ending after `lo`. */
  private firstEndingAfter(lo: bigint): number {
    let a = 0;
    let b = this.his.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if ((this.his[m] as bigint) > lo) b = m;
      else a = m + 1;
    }
    return a;
  }

  overlaps(lo: bigint, hi: bigint): boolean {
    const i = this.firstEndingAfter(lo);
    return i < this.los.length && (this.los[i] as bigint) < hi;
  }

  /** Adds an interval that overlaps none held. */
  add(lo: bigint, hi: bigint): void {
    const i = this.firstEndingAfter(lo);
    this.los.splice(i, 0, lo);
    this.his.splice(i, 0, hi);
  }
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

/** The segment row the SQL stores would write (json_head as theirs: `{"object_id":…` then segmentJsonTail). */
export function segmentRow(flowId: string, seg: NewSegment): VastRow {
  const { lo, hi } = bounds(seg.timerange);
  return {
    flow_id: flowId,
    start_ns: lo,
    end_ns: hi,
    object_id: seg.object_id,
    init_object_id: seg.init_object_id ?? null,
    json_head: `{"object_id":${jsonString(seg.object_id)}${segmentJsonTail(seg.timerange_text, optionalFieldsJson(seg))}`,
    object_storage_id: null,
    object_storage_key: null,
    object_own_timerange: seg.object_timerange ?? seg.timerange_text,
    init_storage_id: null,
    init_storage_key: null,
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
  return client.withTransaction(async (tx) => {
    const guard = await readFlowGuard(tx, tables, flowId);
    if (guard === undefined) throw new TamsError('not_found', `Flow ${flowId} does not exist`);
    const guards = tx.table(tables.flowGuards);
    await guards.update(['version'], [{ [ROW_ID_COLUMN_NAME]: guard.rowId, version: guard.version + 1n }]);

    const taken = new Intervals();
    const span = batchSpan(segments);
    if (span !== undefined) {
      const stored = await tx.table(tables.segments).select({
        columns: ['start_ns', 'end_ns'],
        filter: allOf(column('flow_id').equal(flowId), column('start_ns').less(span.hi), column('end_ns').greater(span.lo)),
      });
      for (const row of stored) taken.add(row.start_ns as bigint, row.end_ns as bigint);
    }

    const outcomes: SegmentOutcome[] = [];
    const rows: VastRow[] = [];
    const added: NewSegment[] = [];
    let minStart = guard.minStartNs;
    let maxEnd = guard.maxEndNs;
    for (const segment of segments) {
      if (segment.timerange.empty) {
        outcomes.push({ segment, error: new TamsError('bad_timerange', `Segment timerange ${segment.timerange_text} is empty`) });
        continue;
      }
      const { lo, hi } = bounds(segment.timerange);
      if (taken.overlaps(lo, hi)) {
        outcomes.push({ segment, error: new TamsError('segment_overlap', `Segment ${segment.timerange_text} overlaps an existing segment`) });
        continue;
      }
      taken.add(lo, hi);
      rows.push(segmentRow(flowId, segment));
      added.push(segment);
      outcomes.push({ segment });
      if (minStart === null || lo < minStart) minStart = lo;
      if (maxEnd === null || hi > maxEnd) maxEnd = hi;
    }
    if (added.length === 0) return outcomes;

    await tx.table(tables.segments).insert(rows);
    await guards.update(
      ['segment_count', 'min_start_ns', 'max_end_ns', 'segments_updated'],
      [{ [ROW_ID_COLUMN_NAME]: guard.rowId, segment_count: guard.segmentCount + BigInt(added.length), min_start_ns: minStart ?? INT64_MIN, max_end_ns: maxEnd ?? INT64_MAX, segments_updated: now }],
    );
    await appendEvents(tx, tables, [
      { payload: { type: 'flows/segments_added', event: { flow_id: flowId, segments: added.map(segmentEventJson) } }, timestamp: now, flowId, sourceId: guard.sourceId },
    ]);
    return outcomes;
  });
}
