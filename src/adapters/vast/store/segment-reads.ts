/**
 * Reads of a flow's segments besides the window listing itself (segment-window.ts): the page as
 * JSON texts, the span of the segments in a range, and the count. The span takes the first and
 * the last segment of the range from the window reader (one row each way) rather than every
 * segment in it; the count is the one the flow's guard row keeps (every writer of segments
 * updates it in its transaction).
 */
import type { SegmentRecord } from '../../../domain/entities';
import { EMPTY, range, type TimeRange } from '../../../domain/timerange';
import type { Page, PageRequest, SegmentQuery, SegmentTextPage } from '../../../ports/metadata-store';
import { INT64_MAX, INT64_MIN } from '../../sql-common/cursors';
import { boundToNanos, segmentTextPage } from '../../sql-common/rows';
import type { VastClient } from '../client/vast-client';
import { readFlowGuard } from './segment-registration';
import { listSegmentsPage, readWindowRows } from './segment-window';
import type { VastStoreTables } from './vast-tables';

export async function listSegments(client: VastClient, tables: VastStoreTables, flowId: string, query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>> {
  return listSegmentsPage(client, tables, flowId, query, page);
}

/** The page listSegments answers, as the SQL stores' listSegmentTexts writes it. */
export async function listSegmentTexts(client: VastClient, tables: VastStoreTables, flowId: string, query: SegmentQuery, page: PageRequest): Promise<SegmentTextPage> {
  const window = await client.withTransaction((tx) => readWindowRows(tx, tables, flowId, query, page));
  return segmentTextPage(window.rows, window.initStorage, window.next);
}

/** From the start of the first segment overlapping `within` to the end of the last (EMPTY when none). */
export async function getFlowTimerange(client: VastClient, tables: VastStoreTables, flowId: string, within: TimeRange): Promise<TimeRange> {
  if (within.empty) return EMPTY;
  return client.withTransaction(async (tx) => {
    const query = { timerange: within, object_timerange: false };
    const first = (await readWindowRows(tx, tables, flowId, query, { limit: 1 })).rows[0];
    if (first === undefined) return EMPTY;
    const last = (await readWindowRows(tx, tables, flowId, { ...query, reverse: true }, { limit: 1 })).rows[0];
    if (last === undefined) return EMPTY;
    return range(boundToNanos(BigInt(first.startNs), INT64_MIN), boundToNanos(BigInt(last.endNs), INT64_MAX));
  });
}

export async function countSegments(client: VastClient, tables: VastStoreTables, flowId: string): Promise<number> {
  const guard = await client.withTransaction((tx) => readFlowGuard(tx, tables, flowId));
  return guard === undefined ? 0 : Number(guard.segmentCount);
}
