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
 * they change otherwise (docs/vast.md, "Store foundation"). Writers claim the counter row first
 * (claimOutboxCounter), so that a loser is refused before it has done its work rather than after.
 *
 * Each event is stored with its context (event-context.ts): the one it was given, or else read
 * from the flow and source rows the transaction sees when the events are appended.
 */
import { allOf, column } from '../client/filter';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import type { OutboxEvent, TamsEventType } from '../../../domain/events';
import type { ContextualEvent } from '../../../ports/webhook-delivery';
import { parseContext } from '../../sql-common/store-helpers';
import { readContexts, type PendingEvent } from './event-context';
import { readPrunedRow } from './outbox-retention';
import { OUTBOX_COUNTER_NAME, type VastStoreTables } from './vast-tables';

export type { PendingEvent };

/** The counter row as a transaction holds it: read, or claimed (claimOutboxCounter) or advanced by it. */
interface CounterHold {
  readonly rowId: bigint;
  readonly last: bigint;
}

const held = new WeakMap<VastTransaction, CounterHold>();

async function readCounter(tx: VastTransaction, tables: VastStoreTables): Promise<CounterHold> {
  const rows = await tx.table(tables.outboxCounter).select({ columns: ['last_seq'], filter: allOf(column('name').equal(OUTBOX_COUNTER_NAME)), withRowId: true });
  const row = rows[0];
  const last = row?.last_seq;
  const rowId = row?.[ROW_ID_COLUMN_NAME];
  if (rows.length !== 1 || typeof last !== 'bigint' || typeof rowId !== 'bigint') {
    throw new Error(`${tables.outboxCounter.schema}/outbox_counter holds ${rows.length} rows named ${OUTBOX_COUNTER_NAME}, not one`);
  }
  return { rowId, last };
}

/**
 * Writes the counter row (to the value it holds) at the start of an event-writing transaction.
 * Writers that would meet at the counter when appending meet here instead, before doing their
 * work: in VAST's at-write conflict mode the second is refused at once and reruns after a
 * backoff (a few round trips lost, not a whole transaction's), and the holder keeps its claim to
 * commit. Claiming it first in every writer (before any flow guard row) also gives all writers
 * one order of rows, so two of them never each hold a row the other needs next.
 */
export async function claimOutboxCounter(tx: VastTransaction, tables: VastStoreTables): Promise<void> {
  if (held.has(tx)) return;
  const hold = await readCounter(tx, tables);
  await tx.table(tables.outboxCounter).update(['last_seq'], [{ [ROW_ID_COLUMN_NAME]: hold.rowId, last_seq: hold.last }]);
  held.set(tx, hold);
}

/** Writes the events with the next seqs; returns the seqs, in order. */
export async function appendEvents(tx: VastTransaction, tables: VastStoreTables, events: readonly PendingEvent[]): Promise<bigint[]> {
  if (events.length === 0) return [];
  const { rowId, last } = held.get(tx) ?? (await readCounter(tx, tables));
  const counter = tx.table(tables.outboxCounter);
  const contexts = await readContexts(tx, tables, events);
  const seqs = events.map((_, i) => last + 1n + BigInt(i));
  await counter.update(['last_seq'], [{ [ROW_ID_COLUMN_NAME]: rowId, last_seq: last + BigInt(events.length) }]);
  held.set(tx, { rowId, last: last + BigInt(events.length) });
  await tx.table(tables.outbox).insert(
    events.map((event, i) => ({
      seq: seqs[i] as bigint,
      event_type: event.payload.type,
      event_timestamp: event.timestamp,
      payload: JSON.stringify(event.payload.event),
      flow_id: event.flowId ?? null,
      source_id: event.sourceId ?? null,
      context: contexts[i] == null ? null : JSON.stringify(contexts[i]),
    })),
  );
  return seqs;
}

/**
 * Committed events after `afterSeq`, in seq order (up to `limit`), each with its context, as the
 * SQL stores' `seq > afterSeq ORDER BY seq LIMIT limit` returns them. The retained events are
 * the seqs `(through_seq, last_seq]` without gaps (outbox-retention.ts), so the next `limit` are
 * those with seq in `(from, from + limit]`, `from` being afterSeq or, when retention has pruned
 * past it, the pruned point: VAST returns only them, and they are sorted here (a select has no
 * order). The pruned row is read only when the range does not start at afterSeq + 1.
 */
export async function readEvents(tx: VastTransaction, tables: VastStoreTables, afterSeq: bigint, limit: number): Promise<ContextualEvent[]> {
  if (limit <= 0) return [];
  const range = async (from: bigint): Promise<VastRecord[]> => {
    const rows = await tx.table(tables.outbox).select({ filter: allOf(column('seq').greater(from), column('seq').lessEqual(from + BigInt(limit))) });
    return rows.sort((a, b) => ((a.seq as bigint) < (b.seq as bigint) ? -1 : 1));
  };
  let rows = await range(afterSeq);
  if (rows[0]?.seq !== afterSeq + 1n) {
    const { throughSeq } = await readPrunedRow(tx, tables);
    if (throughSeq > afterSeq) rows = await range(throughSeq);
  }
  return rows.slice(0, limit).map((row) => {
    const event: ContextualEvent = {
      seq: Number(row.seq),
      event_type: row.event_type as TamsEventType,
      event_timestamp: row.event_timestamp as string,
      event: JSON.parse(row.payload as string) as OutboxEvent['event'],
    };
    if (typeof row.flow_id === 'string') event.flow_id = row.flow_id;
    if (typeof row.source_id === 'string') event.source_id = row.source_id;
    if (typeof row.context === 'string') event.context = parseContext(row.context);
    return event;
  });
}

/** The last seq handed out (0 for an empty outbox): the counter row as this transaction sees it. */
export async function lastEventSeq(tx: VastTransaction, tables: VastStoreTables): Promise<bigint> {
  const rows = await tx.table(tables.outboxCounter).select({ columns: ['last_seq'], filter: allOf(column('name').equal(OUTBOX_COUNTER_NAME)) });
  const last = rows[0]?.last_seq;
  return typeof last === 'bigint' ? last : 0n;
}
