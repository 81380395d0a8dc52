import type { SegmentQuery } from '../../ports/metadata-store';
import { INT64_MAX } from './cursors';
import { SEGMENT_COLUMNS, SEGMENT_TEXT_COLUMNS } from './rows';
import { limitClause } from './statement-cache';

/**
 * The end of the last segment that can overlap a window ending at @qe: the first one ending
 * at or after @qe. Bounding the range by it keeps the scan to the rows returned.
 */
export const WINDOW_BOUND = `coalesce((SELECT b.end_ns FROM segments b WHERE b.flow_id = @flow AND b.end_ns >= @qe
      ORDER BY b.end_ns LIMIT 1), ${INT64_MAX})`;

/** Which row a window statement returns: a SegmentRow (records) or a SegmentTextRow (texts). */
export type WindowLayout = 'records' | 'texts';

/**
 * A short name for the window statement a query needs (forward or backward, object filter,
 * texts, object timerange).
 */
export function windowKind(query: SegmentQuery, layout: WindowLayout = 'records'): string {
  return `${query.reverse ? 'b' : 'f'}${query.object_id === undefined ? '' : 'o'}${layout === 'texts' ? 'x' : ''}${query.object_timerange === false ? '' : 't'}`;
}

/**
 * The window query of a kind (see {@link windowKind}) returning at most `limit` rows, with
 * parameters @flow, @lo, @qe (and @hi backward, @object with an object filter).
 */
export function windowSql(kind: string, limit: number): string {
  const row = kind.includes('x') ? SEGMENT_TEXT_COLUMNS : SEGMENT_COLUMNS;
  const columns = kind.endsWith('t') ? `${row}, s.object_own_timerange` : row;
  const objectFilter = kind.includes('o') ? 'AND s.object_id = @object' : '';
  const upper = kind.startsWith('b') ? `min(${WINDOW_BOUND}, @hi)` : WINDOW_BOUND;
  return `SELECT ${columns} FROM segments s
      WHERE s.flow_id = @flow AND s.end_ns > @lo AND s.end_ns <= ${upper} AND s.start_ns < @qe ${objectFilter}
      ORDER BY s.end_ns${kind.startsWith('b') ? ' DESC' : ''} ${limitClause(limit)}`;
}
