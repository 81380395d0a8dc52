/**
 * Row shapes as the PostgreSQL store reads them (int8 as BigInt, booleans as booleans), turned
 * into the shared row shapes of ../sql-common/rows.ts, whose conversions to domain objects both
 * SQL stores use.
 */
import type { ObjectRow, OutboxRow } from '../sql-common/rows';

export interface PgOutboxRow {
  seq: bigint;
  event_type: string;
  event_timestamp: string;
  payload: string;
  flow_id: string | null;
  source_id: string | null;
}

export function toOutboxRow(row: PgOutboxRow): OutboxRow {
  return { ...row, seq: Number(row.seq) };
}

export interface PgObjectRow extends Omit<ObjectRow, 'registered' | 'key_frame_count'> {
  registered: boolean;
  key_frame_count: bigint | null;
}

/** The columns of an objects row, in the order of PgObjectRow. */
export const OBJECT_COLUMNS = `id, storage_id, storage_key, allocated_for_flow, content_type, role, registered,
  key_frame_count, timerange, init_object_id, first_referenced_by_flow, get_urls, created`;

export function toObjectRow(row: PgObjectRow): ObjectRow {
  return { ...row, registered: row.registered ? 1 : 0, key_frame_count: row.key_frame_count === null ? null : Number(row.key_frame_count) };
}
