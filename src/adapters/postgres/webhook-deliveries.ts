/**
 * Webhook delivery state in the PostgreSQL store (the SQLite store's webhook-deliveries.ts, the
 * same rules): each webhook's cursor into the outbox, its failed attempts, its status changes
 * made by the delivery worker, and outbox retention. Writes run inside the store's transactions.
 *
 * Status changes read the webhook row FOR UPDATE and change it only if its status still allows
 * it, so a client's PUT (disable, re-enable) committed meanwhile is never overwritten; the
 * document is edited in TypeScript (members keep their order, as SQLite's json_set keeps them).
 * Cursor moves are compare-and-set, so a worker that lost its lease cannot move a cursor back.
 */
import type { Webhook } from '../../domain/entities';
import type { ContextualEvent, CursorMove, IdleCursorMove, OutboxPruned, WebhookBacklog, WebhookDelivery } from '../../ports/webhook-delivery';
import { toOutboxEvent } from '../sql-common/rows';
import { statement, type Queryable, type Tx } from './pool';
import { toOutboxRow, type PgOutboxRow } from './rows';
import { parseContext } from '../sql-common/store-helpers';

const DELIVERY_COLUMNS = 'w.doc, d.cursor, d.attempts, d.next_attempt_ms, d.last_error';
const DELIVERIES = statement(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id ORDER BY d.webhook_id`);
const BEHIND = statement(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
  WHERE d.cursor < (SELECT coalesce(max(seq), 0) FROM outbox) AND (w.doc::json ->> 'status') IN ('created', 'started')
  ORDER BY d.webhook_id`);
const DELIVERY = statement(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.webhook_id = $1`);
const EVENTS = statement(`SELECT seq, event_type, event_timestamp, payload, flow_id, source_id, context FROM outbox
  WHERE seq > $1 ORDER BY seq LIMIT $2`);
const ADVANCE = statement(`UPDATE webhook_deliveries SET cursor = $3, attempts = 0, next_attempt_ms = 0, last_error = NULL
  WHERE webhook_id = $1 AND cursor = $2`);
const ADVANCE_MANY = statement(`UPDATE webhook_deliveries d SET cursor = m.t, attempts = 0, next_attempt_ms = 0, last_error = NULL
  FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS m(id, f, t)
  WHERE d.webhook_id = m.id AND d.cursor = m.f
  RETURNING d.webhook_id`);
const ADVANCE_IDLE = statement(`UPDATE webhook_deliveries d SET cursor = m.t, attempts = 0, next_attempt_ms = 0, last_error = NULL
  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS m(id, f, t, revision), webhooks w
  WHERE d.webhook_id = m.id AND w.id = m.id AND d.cursor = m.f AND w.doc = m.revision
  RETURNING d.webhook_id`);
const LOCK_WEBHOOKS = statement('SELECT id, doc FROM webhooks WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE');
const SET_DOCS = statement('UPDATE webhooks w SET doc = u.doc FROM unnest($1::text[], $2::text[]) AS u(id, doc) WHERE w.id = u.id');
const FAILURE = statement('UPDATE webhook_deliveries SET attempts = $2, next_attempt_ms = $3, last_error = $4 WHERE webhook_id = $1');
const PRUNED = statement('SELECT through_seq, before FROM outbox_pruned WHERE id = 1');
/**
 * Events are stamped as they commit, so they grow old in seq order: a prune stops at the first
 * young one (a clock stepping back never makes a later event go before an earlier).
 */
const PRUNE_THROUGH = statement(`WITH head AS (SELECT seq, event_timestamp FROM outbox ORDER BY seq LIMIT $1)
  SELECT max(seq) AS through FROM head
  WHERE seq < coalesce((SELECT min(seq) FROM head WHERE event_timestamp >= $2), 9223372036854775807)`);
const PRUNE = statement('DELETE FROM outbox WHERE seq <= $1');
const RECORD_PRUNED = statement(`INSERT INTO outbox_pruned (id, through_seq, before) VALUES (1, $1, $2)
  ON CONFLICT (id) DO UPDATE SET through_seq = greatest(outbox_pruned.through_seq, excluded.through_seq), before = excluded.before`);
const PRUNE_GONE = statement('DELETE FROM gone_event_context WHERE gone < $1');
const BACKLOGS = statement(`SELECT w.doc::json ->> 'status' AS status,
    (SELECT coalesce(max(seq), 0) FROM outbox) - d.cursor AS depth,
    (SELECT event_timestamp FROM outbox o WHERE o.seq > d.cursor ORDER BY o.seq LIMIT 1) AS oldest
  FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id`);

interface DeliveryRow {
  doc: string;
  cursor: bigint;
  attempts: bigint;
  next_attempt_ms: bigint;
  last_error: string | null;
}

interface EventRow extends PgOutboxRow {
  context: string | null;
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    webhook: JSON.parse(row.doc) as Webhook,
    revision: row.doc,
    cursor: Number(row.cursor),
    attempts: Number(row.attempts),
    next_attempt_ms: Number(row.next_attempt_ms),
    ...(row.last_error === null ? {} : { last_error: row.last_error }),
  };
}

export class PostgresWebhookDeliveries {
  async list(q: Queryable, behind: boolean): Promise<WebhookDelivery[]> {
    return (await q.rows<DeliveryRow>(behind ? BEHIND : DELIVERIES)).map(toDelivery);
  }

  async get(q: Queryable, id: string): Promise<WebhookDelivery | undefined> {
    const row = await q.row<DeliveryRow>(DELIVERY, [id]);
    return row === undefined ? undefined : toDelivery(row);
  }

  async events(q: Queryable, afterSeq: number, limit: number): Promise<ContextualEvent[]> {
    return (await q.rows<EventRow>(EVENTS, [afterSeq, limit])).map((row) => {
      const event: ContextualEvent = toOutboxEvent(toOutboxRow(row));
      if (row.context !== null) event.context = parseContext(row.context);
      return event;
    });
  }

  async advance(tx: Tx, id: string, from: number, to: number, skipped: Webhook['error'] | undefined): Promise<boolean> {
    if ((await tx.run(ADVANCE, [id, from, to])) === 0) return false;
    await this.editDocs(tx, [id], (doc) => {
      let changed = false;
      if (doc.status === 'created') {
        doc.status = 'started';
        changed = true;
      }
      if (skipped !== undefined) {
        doc.error = skipped;
        changed = true;
      }
      return changed;
    });
    return true;
  }

  /** advance for many webhooks (one statement); whether each moved, in order. */
  async advanceMany(tx: Tx, moves: readonly CursorMove[]): Promise<boolean[]> {
    const moved = new Set(
      (await tx.rows<{ webhook_id: string }>(ADVANCE_MANY, [moves.map((m) => m.id), moves.map((m) => m.from), moves.map((m) => m.to)])).map((r) => r.webhook_id),
    );
    if (moved.size > 0) {
      await this.editDocs(tx, [...moved], (doc) => {
        if (doc.status !== 'created') return false;
        doc.status = 'started';
        return true;
      });
    }
    return moves.map((m) => moved.has(m.id));
  }

  async advanceIdle(tx: Tx, moves: readonly IdleCursorMove[]): Promise<number> {
    if (moves.length === 0) return 0;
    const moved = await tx.rows<{ webhook_id: string }>(ADVANCE_IDLE, [
      moves.map((m) => m.id),
      moves.map((m) => m.from),
      moves.map((m) => m.to),
      moves.map((m) => m.revision),
    ]);
    if (moved.length > 0) {
      await this.editDocs(tx, moved.map((m) => m.webhook_id), (doc) => {
        if (doc.status !== 'created') return false;
        doc.status = 'started';
        return true;
      });
    }
    return moved.length;
  }

  async recordFailure(tx: Tx, id: string, attempts: number, nextAttemptMs: number, lastError: string): Promise<void> {
    await tx.run(FAILURE, [id, attempts, nextAttemptMs, lastError]);
  }

  async fail(tx: Tx, id: string, error: NonNullable<Webhook['error']>): Promise<boolean> {
    return (
      (await this.editDocs(tx, [id], (doc) => {
        if (doc.status !== 'created' && doc.status !== 'started') return false;
        doc.status = 'error';
        doc.error = error;
        return true;
      })) > 0
    );
  }

  /**
   * Edits the documents of webhooks under their row locks: `edit` changes a parsed document and
   * says whether to write it. Returns how many were written.
   */
  private async editDocs(tx: Tx, ids: readonly string[], edit: (doc: Webhook) => boolean): Promise<number> {
    const rows = await tx.rows<{ id: string; doc: string }>(LOCK_WEBHOOKS, [[...ids]]);
    const changed: { id: string; doc: string }[] = [];
    for (const row of rows) {
      const doc = JSON.parse(row.doc) as Webhook;
      if (edit(doc)) changed.push({ id: row.id, doc: JSON.stringify(doc) });
    }
    if (changed.length > 0) await tx.run(SET_DOCS, [changed.map((c) => c.id), changed.map((c) => c.doc)]);
    return changed.length;
  }

  async pruned(q: Queryable): Promise<OutboxPruned> {
    const row = await q.row<{ through_seq: bigint; before: string }>(PRUNED);
    return row === undefined ? { through_seq: 0 } : { through_seq: Number(row.through_seq), before: row.before };
  }

  async prune(tx: Tx, before: string, limit: number): Promise<number> {
    const through = (await tx.row<{ through: bigint | null }>(PRUNE_THROUGH, [limit, before]))?.through ?? null;
    await tx.run(PRUNE_GONE, [before]);
    if (through === null) return 0;
    const removed = await tx.run(PRUNE, [through]);
    await tx.run(RECORD_PRUNED, [through, before]);
    return removed;
  }

  async backlogs(q: Queryable): Promise<WebhookBacklog[]> {
    return (await q.rows<{ status: Webhook['status']; depth: bigint; oldest: string | null }>(BACKLOGS)).map((row) => ({
      status: row.status,
      depth: Number(row.depth),
      ...(row.oldest === null ? {} : { oldest_timestamp: row.oldest }),
    }));
  }
}
