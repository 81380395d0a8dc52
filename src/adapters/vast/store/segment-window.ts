/**
 * The window query in VAST (listSegments): the segments of a flow overlapping a timerange
 * (`start_ns < qend AND end_ns > qstart`), ordered by end_ns (descending when reversed), keyset
 * paged after the cursor's end_ns, as the SQL stores answer it (sql-common cursors and rows, so
 * pages, cursors and records are theirs).
 *
 * VAST has no ORDER BY or LIMIT-by-order: a select returns every matching row in no defined
 * order. Filtering on `flow_id = f AND end_ns > cursor AND start_ns < qend` alone would read
 * every remaining segment of the window for each page. So the page is read in probes over
 * ranges of end_ns: segments of a flow never overlap, so a range `(a, b]` of ends holds about
 * `(b - a) / average duration` segments. The flow's guard row (read first, in the same snapshot)
 * gives the count and the bounds of its segments, hence the average; the first probe is sized for
 * the page plus a quarter, and each later one (after a gap, or shorter segments) is twice as wide
 * as the one before. Each probe returns every row of its range, so once the probes so far hold
 * more than a page, sorting them in TypeScript gives exactly the SQL stores' page. The guard's
 * bounds end the walk (no segment ends outside them); a probe reaching the window's end takes
 * the rest at once (at most one segment beyond it can still start before it).
 */
import type { ObjectStorageRef, SegmentRecord } from '../../../domain/entities';
import type { Page, PageRequest, SegmentQuery } from '../../../ports/metadata-store';
import { INT64_MAX, INT64_MIN, parseSegmentCursor, segmentCursor } from '../../sql-common/cursors';
import { splitInstances, toSegments, type InitStorageLookup, type SegmentRow } from '../../sql-common/rows';
import { bounds } from '../../sql-common/store-helpers';
import { allOf, column, type OrGroup } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import { readFlowGuard, type FlowGuard } from './segment-registration';
import type { VastStoreTables } from './vast-tables';

/** What reading one page cost: selects sent (the guard's included) and segment rows they returned. */
export interface WindowCost {
  selects: number;
  rowsRead: number;
}

export interface WindowRows {
  rows: SegmentRow[];
  next?: unknown;
  initStorage: InitStorageLookup;
  cost: WindowCost;
}

const NO_INIT_STORAGE: InitStorageLookup = () => undefined;

/** One page of listSegments, read in its own (read-only) transaction. */
export async function listSegmentsPage(
  client: VastClient,
  tables: VastStoreTables,
  flowId: string,
  query: SegmentQuery,
  page: PageRequest,
): Promise<Page<SegmentRecord> & { cost: WindowCost }> {
  const window = await client.withTransaction((tx) => readWindowRows(tx, tables, flowId, query, page));
  const result: Page<SegmentRecord> & { cost: WindowCost } = { items: toSegments(flowId, window.rows, window.initStorage), cost: window.cost };
  if (window.next !== undefined) result.next = window.next;
  return result;
}

/** The rows of one page of a window, the next page's key, and the init objects' storage. */
export async function readWindowRows(tx: VastTransaction, tables: VastStoreTables, flowId: string, query: SegmentQuery, page: PageRequest): Promise<WindowRows> {
  const after = page.after === undefined ? undefined : parseSegmentCursor(page.after);
  const cost: WindowCost = { selects: 0, rowsRead: 0 };
  if (query.timerange.empty || page.limit <= 0) return { rows: [], initStorage: NO_INIT_STORAGE, cost };
  cost.selects += 1;
  const guard = await readFlowGuard(tx, tables, flowId);
  if (guard === undefined || guard.minStartNs === null || guard.maxEndNs === null || guard.segmentCount === 0n) {
    return { rows: [], initStorage: NO_INIT_STORAGE, cost };
  }
  const need = page.limit + 1;
  const { lo, hi: qe } = bounds(query.timerange);
  const columns = ['end_ns', 'start_ns', 'object_storage_id', 'object_storage_key', 'json_head', 'init_object_id', 'init_storage_id', 'init_storage_key'];
  if (query.object_timerange !== false) columns.push('object_own_timerange');
  const fixed: OrGroup[] = [column('flow_id').equal(flowId), column('start_ns').less(qe)];
  if (query.object_id !== undefined) fixed.push(column('object_id').equal(query.object_id));
  const found: VastRecord[] = [];
  /** Every row with end_ns in (a, b]. */
  const probe = async (a: bigint, b: bigint): Promise<void> => {
    cost.selects += 1;
    const rows = await tx.table(tables.segments).select({ columns, filter: allOf(...fixed, column('end_ns').greater(a), column('end_ns').lessEqual(b)) });
    cost.rowsRead += rows.length;
    found.push(...rows);
  };
  let width = firstWidth(guard, need);
  const minStart = guard.minStartNs;
  const maxEnd = guard.maxEndNs;
  if (query.reverse !== true) {
    // Every end is after minStart and at most maxEnd.
    let a = max(after !== undefined && after > lo ? after : lo, minStart);
    while (found.length < need && a < maxEnd) {
      const b = width === undefined || a + width >= qe || a + width >= maxEnd ? maxEnd : a + width;
      await probe(a, b);
      a = b;
      if (width !== undefined) width *= 2n;
    }
    found.sort((x, y) => compare(x.end_ns as bigint, y.end_ns as bigint));
  } else {
    let t = min(after === undefined ? INT64_MAX : after - 1n, maxEnd);
    const floor = max(lo, minStart);
    if (t > qe && width !== undefined) {
      // Beyond the window's end only the one segment holding qe can still start before it.
      await probe(qe, t);
      t = qe;
    }
    while (found.length < need && t > floor) {
      const b = width === undefined || t - width <= floor ? floor : t - width;
      await probe(b, t);
      t = b;
      if (width !== undefined) width *= 2n;
    }
    found.sort((x, y) => compare(y.end_ns as bigint, x.end_ns as bigint));
  }
  const more = found.length > page.limit;
  const shown = (more ? found.slice(0, page.limit) : found).map(toSegmentRow);
  const initByEnd = new Map<string, ObjectStorageRef[] | undefined>();
  for (const [i, row] of shown.entries()) {
    if (row.initObjectId !== null) {
      const record = found[i] as VastRecord;
      initByEnd.set(row.endNs, splitInstances((record.init_storage_id ?? null) as string | null, (record.init_storage_key ?? null) as string | null));
    }
  }
  const last = shown[shown.length - 1];
  const result: WindowRows = { rows: shown, initStorage: (endNs) => initByEnd.get(endNs.toString()), cost };
  if (more && last !== undefined) result.next = segmentCursor(BigInt(last.endNs));
  return result;
}

/**
 * The first probe's width in nanoseconds: the flow's average segment span (its bounds over its
 * count) times the rows wanted, plus a quarter; undefined (one probe for everything) when a
 * bound is unbounded and no average exists.
 */
function firstWidth(guard: FlowGuard, need: number): bigint | undefined {
  const { minStartNs, maxEndNs, segmentCount } = guard;
  if (minStartNs === null || maxEndNs === null || minStartNs === INT64_MIN || maxEndNs === INT64_MAX || segmentCount <= 0n) return undefined;
  const average = (maxEndNs - minStartNs) / segmentCount;
  const width = average * BigInt(need) + (average * BigInt(need)) / 4n + 1n;
  return width > 0n ? width : 1n;
}

function toSegmentRow(record: VastRecord): SegmentRow {
  return {
    endNs: (record.end_ns as bigint).toString(),
    startNs: (record.start_ns as bigint).toString(),
    storageId: (record.object_storage_id ?? null) as string | null,
    storageKey: (record.object_storage_key ?? null) as string | null,
    objectTimerange: (record.object_own_timerange ?? null) as string | null,
    head: record.json_head as string,
    initObjectId: (record.init_object_id ?? null) as string | null,
  };
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
