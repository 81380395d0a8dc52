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
 *
 * Each event is stored with its context (src/ports/webhook-delivery.ts EventContext: what its flow
 * or source is as the event commits), read from the flow and source rows the transaction sees
 * when the events are appended. A writer that removes the resource passes the context it had
 * (`PendingEvent.context`): the rows are gone by then.
 */
import { allOf, column } from '../client/filter';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import type { OutboxEvent, TamsEventPayload, TamsEventType } from '../../../domain/events';
import type { ContextualEvent, EventContext } from '../../../ports/webhook-delivery';
import { parseContext } from '../../sql-common/store-helpers';
import { selectByIds } from './objects';
import { readPrunedRow } from './outbox-retention';
import { OUTBOX_COUNTER_NAME, type VastStoreTables } from './vast-tables';

export interface PendingEvent {
  readonly payload: TamsEventPayload;
  readonly timestamp: string;
  readonly flowId?: string;
  readonly sourceId?: string;
  /** The event's context, when the rows it comes from are gone (otherwise read at append). */
  readonly context?: EventContext;
}

/** The flow (flows/* events) or source (sources/*) an event is about. */
function subjectOf(event: PendingEvent): { kind: 'flow' | 'source'; id: string | undefined } {
  const body = event.payload.event as { flow_id?: string; flow?: { id?: string }; source_id?: string; source?: { id?: string } };
  if (event.payload.type.startsWith('flows/')) return { kind: 'flow', id: event.flowId ?? body.flow_id ?? body.flow?.id };
  return { kind: 'source', id: event.sourceId ?? body.source_id ?? body.source?.id };
}

function docOf(record: VastRecord | undefined): { collected_by?: unknown; tags?: { auth_classes?: unknown } } | undefined {
  return record === undefined ? undefined : (JSON.parse(record.doc as string) as { collected_by?: unknown; tags?: { auth_classes?: unknown } });
}

/** Each event's context as JSON text (null when neither it nor its resource can be found), as the SQL stores keep it. */
async function contextsOf(tx: VastTransaction, tables: VastStoreTables, events: readonly PendingEvent[]): Promise<(string | null)[]> {
  const subjects = events.map((event) => (event.context === undefined ? subjectOf(event) : undefined));
  const flowIds = subjects.flatMap((s) => (s?.kind === 'flow' && s.id !== undefined ? [s.id] : []));
  const flows = new Map<string, VastRecord>();
  if (flowIds.length > 0) for (const row of await selectByIds(tx, tables.flows, 'id', flowIds, { columns: ['id', 'source_id', 'doc'] })) flows.set(row.id as string, row);
  const sourceIds = new Set<string>();
  for (const s of subjects) {
    if (s?.id === undefined) continue;
    if (s.kind === 'source') sourceIds.add(s.id);
    else if (flows.has(s.id)) sourceIds.add(flows.get(s.id)?.source_id as string);
  }
  const sources = new Map<string, VastRecord>();
  if (sourceIds.size > 0) for (const row of await selectByIds(tx, tables.sources, 'id', sourceIds, { columns: ['id', 'doc'] })) sources.set(row.id as string, row);
  return events.map((event, i) => {
    if (event.context !== undefined) return JSON.stringify(event.context);
    const subject = subjects[i];
    if (subject?.id === undefined) return null;
    if (subject.kind === 'source') {
      const source = docOf(sources.get(subject.id));
      return source === undefined ? null : JSON.stringify({ source_id: subject.id, source_collected_by: source.collected_by ?? null, source_classes: source.tags?.auth_classes ?? null });
    }
    const flowRow = flows.get(subject.id);
    if (flowRow === undefined) return null;
    const flow = docOf(flowRow);
    const source = docOf(sources.get(flowRow.source_id as string));
    return JSON.stringify({
      source_id: flowRow.source_id,
      flow_collected_by: flow?.collected_by ?? null,
      flow_classes: flow?.tags?.auth_classes ?? null,
      source_collected_by: source?.collected_by ?? null,
      source_classes: source?.tags?.auth_classes ?? null,
    });
  });
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
  const contexts = await contextsOf(tx, tables, events);
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
      context: contexts[i] ?? null,
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
