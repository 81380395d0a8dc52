/**
 * The outbox in VAST: events are written in the transaction of the change they report, with
 * seqs taken from the single `outbox_counter` row (read, increment, write, in that
 * transaction). Snapshot isolation with write-write conflicts then hands seqs out in commit
 * order without gaps: two transactions that both wrote the counter row cannot both commit (the
 * later writer is refused with 409 and run again by withTransaction, reading the winner's
 * value), so a transaction's seqs are larger than those of every transaction committed before
 * it and no reader tailing `seq > last` can skip one committed later with a smaller seq.
 *
 * The cost: every two event-writing transactions that overlap in time conflict, whatever rows
 * they change otherwise (docs/vast.md, "Store foundation"). The counter is written last, just
 * before commit, to keep that window short.
 */
import { allOf, column } from '../client/filter';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import type { OutboxEvent, TamsEventPayload, TamsEventType } from '../../../domain/events';
import { OUTBOX_COUNTER_NAME, type VastStoreTables } from './vast-tables';

export interface PendingEvent {
  readonly payload: TamsEventPayload;
  readonly timestamp: string;
  readonly flowId?: string;
  readonly sourceId?: string;
}

/** Writes the events with the next seqs; returns the seqs, in order. */
export async function appendEvents(tx: VastTransaction, tables: VastStoreTables, events: readonly PendingEvent[]): Promise<bigint[]> {
  if (events.length === 0) return [];
  const counter = tx.table(tables.outboxCounter);
  const rows = await counter.select({ columns: ['last_seq'], filter: allOf(column('name').equal(OUTBOX_COUNTER_NAME)), withRowId: true });
  const row = rows[0];
  const last = row?.last_seq;
  const rowId = row?.[ROW_ID_COLUMN_NAME];
  if (rows.length !== 1 || typeof last !== 'bigint' || typeof rowId !== 'bigint') {
    throw new Error(`${tables.outboxCounter.schema}/outbox_counter holds ${rows.length} rows named ${OUTBOX_COUNTER_NAME}, not one`);
  }
  const seqs = events.map((_, i) => last + 1n + BigInt(i));
  await counter.update(['last_seq'], [{ [ROW_ID_COLUMN_NAME]: rowId, last_seq: last + BigInt(events.length) }]);
  await tx.table(tables.outbox).insert(
    events.map((event, i) => ({
      seq: seqs[i] as bigint,
      event_type: event.payload.type,
      event_timestamp: event.timestamp,
      payload: JSON.stringify(event.payload.event),
      flow_id: event.flowId ?? null,
      source_id: event.sourceId ?? null,
    })),
  );
  return seqs;
}

/**
 * Committed events after `afterSeq`, in seq order (up to `limit`). Seqs have no gaps, so the
 * next `limit` events are exactly those with seq in `(afterSeq, afterSeq + limit]`: VAST returns
 * only them, and they are sorted here (a select has no order).
 */
export async function readEvents(tx: VastTransaction, tables: VastStoreTables, afterSeq: bigint, limit: number): Promise<OutboxEvent[]> {
  if (limit <= 0) return [];
  const filter = allOf(column('seq').greater(afterSeq), column('seq').lessEqual(afterSeq + BigInt(limit)));
  const rows = await tx.table(tables.outbox).select({ filter });
  rows.sort((a, b) => ((a.seq as bigint) < (b.seq as bigint) ? -1 : 1));
  return rows.slice(0, limit).map((row) => {
    const event: OutboxEvent = {
      seq: Number(row.seq),
      event_type: row.event_type as TamsEventType,
      event_timestamp: row.event_timestamp as string,
      event: JSON.parse(row.payload as string) as OutboxEvent['event'],
    };
    if (typeof row.flow_id === 'string') event.flow_id = row.flow_id;
    if (typeof row.source_id === 'string') event.source_id = row.source_id;
    return event;
  });
}
