/**
 * Webhook delivery state in the SQLite store (migration 7): each webhook's cursor into the
 * outbox, its failed attempts, its status changes made by the delivery worker, and outbox
 * retention. Writes run inside the store's write transactions.
 *
 * Status changes are conditional on the status read in the same statement, so a client's PUT
 * (disable, re-enable) is never overwritten by a worker that read the webhook earlier; cursor
 * moves are compare-and-set, so a worker that lost its lease cannot move a cursor back.
 */
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { Webhook } from '../../domain/entities';
import type { ContextualEvent, IdleCursorMove, OutboxPruned, WebhookBacklog, WebhookDelivery } from '../../ports/webhook-delivery';
import { toOutboxEvent, type OutboxRow } from '../sql-common/rows';
import { parseContext } from '../sql-common/store-helpers';

interface Statements {
  deliveries: Statement;
  behind: Statement;
  delivery: Statement;
  events: Statement;
  advance: Statement;
  advanceIdle: Statement;
  markStartedMany: Statement;
  markStarted: Statement;
  setSkipped: Statement;
  failure: Statement;
  fail: Statement;
  pruned: Statement;
  pruneThrough: Statement;
  prune: Statement;
  recordPruned: Statement;
  pruneGone: Statement;
  backlogs: Statement;
}

interface DeliveryRow {
  doc: string;
  cursor: number;
  attempts: number;
  next_attempt_ms: number;
  last_error: string | null;
}

interface EventRow extends OutboxRow {
  context: string | null;
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    webhook: JSON.parse(row.doc) as Webhook,
    revision: row.doc,
    cursor: row.cursor,
    attempts: row.attempts,
    next_attempt_ms: row.next_attempt_ms,
    ...(row.last_error === null ? {} : { last_error: row.last_error }),
  };
}

export class SqliteWebhookDeliveries {
  private statements: Statements | undefined;

  constructor(private readonly db: Database.Database) {}

  private get s(): Statements {
    const p = (sql: string): Statement => this.db.prepare(sql);
    this.statements ??= {
      deliveries: p(`SELECT w.doc, d.cursor, d.attempts, d.next_attempt_ms, d.last_error
        FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id ORDER BY d.webhook_id`),
      behind: p(`SELECT w.doc, d.cursor, d.attempts, d.next_attempt_ms, d.last_error
        FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
        WHERE d.cursor < (SELECT coalesce(max(seq), 0) FROM outbox) AND w.doc ->> '$.status' IN ('created', 'started')
        ORDER BY d.webhook_id`),
      delivery: p(`SELECT w.doc, d.cursor, d.attempts, d.next_attempt_ms, d.last_error
        FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.webhook_id = ?`),
      events: p(`SELECT seq, event_type, event_timestamp, payload, flow_id, source_id, context FROM outbox
        WHERE seq > ? ORDER BY seq LIMIT ?`),
      advance: p(`UPDATE webhook_deliveries SET cursor = @to, attempts = 0, next_attempt_ms = 0, last_error = NULL
        WHERE webhook_id = @id AND cursor = @from`),
      // The moves are unpacked once (MATERIALIZED), then each finds its rows by primary key.
      advanceIdle: p(`WITH m AS MATERIALIZED (SELECT value ->> '$.id' AS id, value ->> '$.from' AS f, value ->> '$.to' AS t,
          value ->> '$.revision' AS revision FROM json_each(?))
        UPDATE webhook_deliveries SET cursor = m.t, attempts = 0, next_attempt_ms = 0, last_error = NULL
        FROM m CROSS JOIN webhooks w
        WHERE webhook_deliveries.webhook_id = m.id AND w.id = m.id AND webhook_deliveries.cursor = m.f AND w.doc = m.revision
        RETURNING webhook_id`).pluck(true),
      markStartedMany: p(`UPDATE webhooks SET doc = json_set(doc, '$.status', 'started')
        WHERE id IN (SELECT value FROM json_each(?)) AND doc ->> '$.status' = 'created'`),
      markStarted: p(`UPDATE webhooks SET doc = json_set(doc, '$.status', 'started')
        WHERE id = ? AND doc ->> '$.status' = 'created'`),
      setSkipped: p(`UPDATE webhooks SET doc = json_set(doc, '$.error', json(?)) WHERE id = ?`),
      failure: p('UPDATE webhook_deliveries SET attempts = ?, next_attempt_ms = ?, last_error = ? WHERE webhook_id = ?'),
      fail: p(`UPDATE webhooks SET doc = json_set(doc, '$.status', 'error', '$.error', json(?))
        WHERE id = ? AND doc ->> '$.status' IN ('created', 'started')`),
      pruned: p('SELECT through_seq, before FROM outbox_pruned WHERE id = 1'),
      // Events are stamped as they commit, so they grow old in seq order: a prune stops at the
      // first young one (a clock stepping back never makes a later event go before an earlier).
      pruneThrough: p(`WITH head AS (SELECT seq, event_timestamp FROM outbox ORDER BY seq LIMIT @limit)
        SELECT max(seq) FROM head
        WHERE seq < coalesce((SELECT min(seq) FROM head WHERE event_timestamp >= @before), 9223372036854775807)`).pluck(true),
      prune: p('DELETE FROM outbox WHERE seq <= ?'),
      recordPruned: p(`INSERT INTO outbox_pruned (id, through_seq, before) VALUES (1, ?, ?)
        ON CONFLICT(id) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq), before = excluded.before`),
      pruneGone: p('DELETE FROM gone_event_context WHERE gone < ?'),
      backlogs: p(`SELECT w.doc ->> '$.status' AS status,
          (SELECT coalesce(max(seq), 0) FROM outbox) - d.cursor AS depth,
          (SELECT event_timestamp FROM outbox o WHERE o.seq > d.cursor ORDER BY o.seq LIMIT 1) AS oldest
        FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id`),
    };
    return this.statements;
  }

  list(behind: boolean): WebhookDelivery[] {
    return ((behind ? this.s.behind : this.s.deliveries).all() as DeliveryRow[]).map(toDelivery);
  }

  get(id: string): WebhookDelivery | undefined {
    const row = this.s.delivery.get(id) as DeliveryRow | undefined;
    return row === undefined ? undefined : toDelivery(row);
  }

  events(afterSeq: number, limit: number): ContextualEvent[] {
    return (this.s.events.all(afterSeq, limit) as EventRow[]).map((row) => {
      const event: ContextualEvent = toOutboxEvent(row);
      if (row.context !== null) event.context = parseContext(row.context);
      return event;
    });
  }

  advance(id: string, from: number, to: number, skipped: Webhook['error'] | undefined): boolean {
    if (this.s.advance.run({ id, from, to }).changes === 0) return false;
    this.s.markStarted.run(id);
    if (skipped !== undefined) this.s.setSkipped.run(JSON.stringify(skipped), id);
    return true;
  }

  advanceIdle(moves: readonly IdleCursorMove[]): number {
    if (moves.length === 0) return 0;
    const moved = this.s.advanceIdle.all(JSON.stringify(moves)) as string[];
    if (moved.length > 0) this.s.markStartedMany.run(JSON.stringify(moved));
    return moved.length;
  }

  recordFailure(id: string, attempts: number, nextAttemptMs: number, lastError: string): void {
    this.s.failure.run(attempts, nextAttemptMs, lastError, id);
  }

  fail(id: string, error: NonNullable<Webhook['error']>): boolean {
    return this.s.fail.run(JSON.stringify(error), id).changes > 0;
  }

  pruned(): OutboxPruned {
    const row = this.s.pruned.get() as { through_seq: number; before: string } | undefined;
    return row === undefined ? { through_seq: 0 } : { through_seq: row.through_seq, before: row.before };
  }

  prune(before: string, limit: number): number {
    const through = this.s.pruneThrough.get({ limit, before }) as number | null;
    this.s.pruneGone.run(before);
    if (through === null) return 0;
    const removed = this.s.prune.run(through).changes;
    this.s.recordPruned.run(through, before);
    return removed;
  }

  backlogs(): WebhookBacklog[] {
    return (this.s.backlogs.all() as { status: Webhook['status']; depth: number; oldest: string | null }[]).map((row) => ({
      status: row.status,
      depth: row.depth,
      ...(row.oldest === null ? {} : { oldest_timestamp: row.oldest }),
    }));
  }
}
