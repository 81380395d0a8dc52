/**
 * The window query of the PostgreSQL store (listSegments, listSegmentTexts): one prepared
 * statement per kind (forward or backward, object filter, object timerange), one round trip per
 * page, reading one range of the (flow_id, end_ns) primary key with a keyset cursor (never
 * OFFSET). The range is bounded above by the end of the first segment ending at or after the
 * window's end (an InitPlan, one index probe), so the scan reads only the rows it returns.
 *
 * Rows come back as arrays (no object per row) with the columns of a SegmentRow, plus the init
 * object's storage copy, so the page needs no second query for it.
 */
import type { ObjectStorageRef } from '../../domain/entities';
import type { SegmentQuery } from '../../ports/metadata-store';
import { INT64_MAX } from '../sql-common/cursors';
import { splitInstances, type InitStorageLookup, type SegmentRow } from '../sql-common/rows';
import { statement, type Statement } from './pool';

/** The end of the last segment that can overlap a window ending at $3 in flow $1. */
const WINDOW_BOUND = `coalesce((SELECT b.end_ns FROM segments b WHERE b.flow_id = $1 AND b.end_ns >= $3
      ORDER BY b.end_ns LIMIT 1), ${INT64_MAX})`;

/**
 * Parameters: $1 flow, $2 lo (rows end after it), $3 qe (rows start before it), $4 limit, $5 hi
 * (backward: rows end at or before it), $6 object id (with an object filter).
 */
function windowSql(backward: boolean, byObject: boolean, withObjectTimerange: boolean): string {
  const upper = backward ? `least(${WINDOW_BOUND}, $5)` : WINDOW_BOUND;
  return `SELECT s.end_ns::text, s.start_ns::text, s.object_storage_id, s.object_storage_key,
      ${withObjectTimerange ? 's.object_own_timerange' : 'NULL'}, s.json_head, s.init_object_id, s.init_storage_id, s.init_storage_key
    FROM segments s
    WHERE s.flow_id = $1 AND s.end_ns > $2 AND s.end_ns <= ${upper} AND s.start_ns < $3${byObject ? ` AND s.object_id = $${backward ? 6 : 5}` : ''}
    ORDER BY s.end_ns${backward ? ' DESC' : ''} LIMIT $4`;
}

const STATEMENTS = new Map<string, Statement>();
for (const backward of [false, true]) {
  for (const byObject of [false, true]) {
    for (const withObjectTimerange of [false, true]) {
      STATEMENTS.set(`${backward}${byObject}${withObjectTimerange}`, statement(windowSql(backward, byObject, withObjectTimerange)));
    }
  }
}

/** The statement and parameters of one page of a window (`after`: the cursor's end_ns). */
export function windowQuery(
  flowId: string,
  query: SegmentQuery,
  lo: bigint,
  hi: bigint,
  limit: number,
  after: bigint | undefined,
): { sql: Statement; params: unknown[] } {
  const backward = query.reverse === true;
  const byObject = query.object_id !== undefined;
  const sql = STATEMENTS.get(`${backward}${byObject}${query.object_timerange !== false}`) as Statement;
  const params: unknown[] = [flowId];
  if (backward) params.push(lo, hi, limit, after === undefined ? INT64_MAX : after - 1n);
  else params.push(after !== undefined && after > lo ? after : lo, hi, limit);
  if (byObject) params.push(query.object_id);
  return { sql, params };
}

/** The rows of a page, and the init objects' storage they carry (by the row's end_ns). */
export function readWindowRows(arrays: readonly unknown[][]): { rows: SegmentRow[]; initStorage: InitStorageLookup } {
  const initByEnd = new Map<string, ObjectStorageRef[] | undefined>();
  const rows = arrays.map((a): SegmentRow => {
    const row: SegmentRow = {
      endNs: a[0] as string,
      startNs: a[1] as string,
      storageId: a[2] as string | null,
      storageKey: a[3] as string | null,
      objectTimerange: a[4] as string | null,
      head: a[5] as string,
      initObjectId: a[6] as string | null,
    };
    if (row.initObjectId !== null) initByEnd.set(row.endNs, splitInstances(a[7] as string | null, a[8] as string | null));
    return row;
  });
  return { rows, initStorage: (endNs) => initByEnd.get(endNs.toString()) };
}
