/**
 * Outbox events of one transaction of the PostgreSQL store, in commit order.
 *
 * A reader tails the outbox with `seq > last`, so a seq must never become visible after a
 * larger one: with a sequence, a transaction that took seq 5 and commits after the one that took
 * seq 6 would be skipped by a reader that saw 6 first. Here every event-writing transaction
 * takes its seqs from the single `outbox_counter` row in its last statement before COMMIT, and
 * that row's lock is held until the commit: the next writer gets larger seqs only once this one
 * has committed (or rolled back, giving its seqs back). Only that last statement and the commit
 * run under the lock, so the rest of concurrent transactions still runs side by side.
 *
 * The context of each event (what its flow or source is when it is written, as the SQLite
 * store's trigger computes it) is read when the event is appended, in the transaction, so it sees
 * exactly what the SQLite store's trigger sees at that point. An event of the transaction's last
 * change (appendLast) has it computed by the flush statement instead, which sees the same and
 * saves a round trip (segment registration and deletion).
 *
 * The same statement sends a NOTIFY (delivered to listeners at commit, in commit order) naming
 * the store's schema and this store instance, so other replicas wake their readers and this one
 * does not hear its own commits twice (notifications.ts).
 */
import type { TamsEventPayload } from '../../domain/events';
import { statement, type Tx } from './pool';

interface PendingEvent {
  type: string;
  timestamp: string;
  payload: string;
  flow_id: string | null;
  source_id: string | null;
  context: string | null;
  /** The context is computed by the flush statement (an event of the transaction's last change). */
  contextAtFlush: boolean;
}

const CONTEXT = statement('SELECT tams_event_context($1, $2, $3, $4) AS context');

/**
 * The events and the NOTIFY in one statement. The notify CTE is joined (one row) so it runs
 * exactly once, after the counter row is locked.
 */
const FLUSH = statement(`WITH c AS (UPDATE outbox_counter SET seq = seq + $1 WHERE id = 1 RETURNING seq),
    n AS MATERIALIZED (SELECT pg_notify($8, $9) AS sent)
  INSERT INTO outbox (seq, event_type, event_timestamp, payload, flow_id, source_id, context)
  SELECT c.seq - $1 + e.n, e.t, e.ts, e.p, e.f, e.s, CASE WHEN e.k THEN tams_event_context(e.t, e.f, e.s, e.p) ELSE e.c END
  FROM c CROSS JOIN n CROSS JOIN unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $10::boolean[])
    WITH ORDINALITY AS e(t, ts, p, f, s, c, k, n)`);

export const OUTBOX_CHANNEL = 'tams_outbox';

/** The events a transaction has written so far; flushed into the outbox just before it commits. */
export class OutboxWriter {
  private readonly pending: PendingEvent[] = [];
  /** appendLast was called: no event may follow. */
  private closed = false;

  constructor(private readonly tx: Tx) {}

  get count(): number {
    return this.pending.length;
  }

  async append(payload: TamsEventPayload, timestamp: string, ids: { flow_id?: string; source_id?: string } = {}): Promise<void> {
    const event = this.pendingEvent(payload, timestamp, ids);
    const row = await this.tx.row<{ context: string | null }>(CONTEXT, [event.type, event.flow_id, event.source_id, event.payload]);
    event.context = row?.context ?? null;
    this.pending.push(event);
  }

  /**
   * An event of the transaction's last change: nothing the transaction writes after it may
   * change its context (no other event may follow it), so the flush computes the context.
   */
  appendLast(payload: TamsEventPayload, timestamp: string, ids: { flow_id?: string; source_id?: string } = {}): void {
    const event = this.pendingEvent(payload, timestamp, ids);
    event.contextAtFlush = true;
    this.pending.push(event);
    this.closed = true;
  }

  private pendingEvent(payload: TamsEventPayload, timestamp: string, ids: { flow_id?: string; source_id?: string }): PendingEvent {
    if (this.closed) throw new Error('OutboxWriter: an event appended after the transaction\'s last change');
    return { type: payload.type, timestamp, payload: JSON.stringify(payload.event), flow_id: ids.flow_id ?? null, source_id: ids.source_id ?? null, context: null, contextAtFlush: false };
  }

  /** Writes the pending events with the next seqs (the last statement before COMMIT); `origin` is the NOTIFY payload. */
  async flush(origin: string): Promise<void> {
    const events = this.pending;
    if (events.length === 0) return;
    await this.tx.run(FLUSH, [
      events.length,
      events.map((e) => e.type),
      events.map((e) => e.timestamp),
      events.map((e) => e.payload),
      events.map((e) => e.flow_id),
      events.map((e) => e.source_id),
      events.map((e) => e.context),
      OUTBOX_CHANNEL,
      origin,
      events.map((e) => e.contextAtFlush),
    ]);
  }
}
