import type { SegmentQuery } from '../../ports/metadata-store';
import { INT64_MAX } from '../sql-common/cursors';
import { segmentRowSql } from './rows';
import { limitClause } from './statement-cache';

/**
 * The end of the last segment that can overlap a window ending at @qe: the first one ending
 * at or after @qe. Bounding the range by it keeps the scan to the rows returned.
 */
export const WINDOW_BOUND = `coalesce((SELECT b.end_ns FROM segments b WHERE b.flow_id = @flow AND b.end_ns >= @qe
      ORDER BY b.end_ns LIMIT 1), ${INT64_MAX})`;

/** A short name for the window statement a query needs (forward or backward, object filter, object timerange). */
export function windowKind(query: SegmentQuery): string {
  return `${query.reverse ? 'b' : 'f'}${query.object_id === undefined ? '' : 'o'}${query.object_timerange === false ? '' : 't'}`;
}

/**
 * The window query of a kind (see {@link windowKind}) returning at most `limit` rows, with
 * parameters @flow, @lo, @qe (and @hi backward, @object with an object filter).
 */
export function windowSql(kind: string, limit: number): string {
  const columns = segmentRowSql(kind.endsWith('t'));
  const objectFilter = kind.includes('o') ? 'AND s.object_id = @object' : '';
  const upper = kind.startsWith('b') ? `min(${WINDOW_BOUND}, @hi)` : WINDOW_BOUND;
  return `SELECT ${columns} FROM segments s
      WHERE s.flow_id = @flow AND s.end_ns > @lo AND s.end_ns <= ${upper} AND s.start_ns < @qe ${objectFilter}
      ORDER BY s.end_ns${kind.startsWith('b') ? ' DESC' : ''} ${limitClause(limit)}`;
}
