/**
 * Webhook delivery positions in VAST: one `webhook_deliveries` row per webhook (its cursor into
 * the outbox, failed attempts, next attempt time, last error), made and dropped with the webhook
 * by webhooks.ts, as the SQL stores' triggers do; the delivery worker's cursor moves and status
 * changes, with the SQL stores' rules (their webhook-deliveries.ts).
 *
 * Compare-and-set without conditional updates: each change reads the rows it depends on with
 * their `$row_id`s and writes them in the same transaction. A concurrent transaction that wrote
 * one of those rows conflicts with it (409), and withTransaction runs the loser again in a
 * snapshot holding the winner's write, where the comparison is made afresh. So a cursor move
 * writes the delivery row it compared; a status change writes the webhook row it read; and a
 * client's putWebhook writes the delivery row too (webhooks.ts), so an idle move decided on an
 * older registration (`revision`) never commits beside the change.
 */
import type { Webhook } from '../../../domain/entities';
import type { CursorMove, IdleCursorMove, WebhookBacklog, WebhookDelivery } from '../../../ports/webhook-delivery';
import { allOf, anyOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { compareText } from './list-order';
import { IDS_PER_SELECT, selectByIds } from './select-by-ids';
import { lastEventSeq } from './outbox';
import { readPrunedRow } from './outbox-retention';
import type { VastStoreTables } from './vast-tables';

const DELIVERY_COLUMNS = ['webhook_id', 'cursor', 'attempts', 'next_attempt_ms', 'last_error'] as const;
/** The columns a cursor move or a failure writes. */
const STATE_COLUMNS = ['cursor', 'attempts', 'next_attempt_ms', 'last_error'] as const;

/** A delivery row as read, with its `$row_id`. */
export interface DeliveryRow {
  readonly rowId: bigint;
  readonly webhookId: string;
  cursor: bigint;
  attempts: bigint;
  nextAttemptMs: bigint;
  lastError: string | null;
}

/** A webhook row as read: `doc` is the stored text (the delivery's revision). */
export interface WebhookRow {
  readonly rowId: bigint;
  readonly id: string;
  readonly doc: string;
}

function toDeliveryRow(record: VastRecord): DeliveryRow {
  return {
    rowId: record[ROW_ID_COLUMN_NAME] as bigint,
    webhookId: record.webhook_id as string,
    cursor: record.cursor as bigint,
    attempts: record.attempts as bigint,
    nextAttemptMs: record.next_attempt_ms as bigint,
    lastError: typeof record.last_error === 'string' ? record.last_error : null,
  };
}

function toWebhookRow(record: VastRecord): WebhookRow {
  return { rowId: record[ROW_ID_COLUMN_NAME] as bigint, id: record.id as string, doc: record.doc as string };
}

/** Rows keyed by their id column (a key held twice would be a broken invariant: the first is kept). */
function byKey<R>(rows: readonly R[], key: (row: R) => string): Map<string, R> {
  const map = new Map<string, R>();
  for (const row of rows) if (!map.has(key(row))) map.set(key(row), row);
  return map;
}

/** The delivery rows of `ids`, or every one (`ids` undefined). */
export async function readDeliveryRows(tx: VastTransaction, tables: VastStoreTables, ids?: Iterable<string>): Promise<Map<string, DeliveryRow>> {
  const records =
    ids === undefined
      ? await tx.table(tables.webhookDeliveries).select({ columns: DELIVERY_COLUMNS, withRowId: true })
      : await selectByIds(tx, tables.webhookDeliveries, 'webhook_id', ids, { columns: DELIVERY_COLUMNS, withRowId: true });
  return byKey(records.map(toDeliveryRow), (r) => r.webhookId);
}

/** The webhook rows of `ids`, or every one (`ids` undefined). */
export async function readWebhookRows(tx: VastTransaction, tables: VastStoreTables, ids?: Iterable<string>): Promise<Map<string, WebhookRow>> {
  const columns = ['id', 'doc'];
  const records =
    ids === undefined
      ? await tx.table(tables.webhooks).select({ columns, withRowId: true })
      : await selectByIds(tx, tables.webhooks, 'id', ids, { columns, withRowId: true });
  return byKey(records.map(toWebhookRow), (r) => r.id);
}

/** Writes the state columns of these delivery rows. */
export async function writeDeliveryRows(tx: VastTransaction, tables: VastStoreTables, rows: Iterable<DeliveryRow>): Promise<void> {
  const updates = [...rows].map((r) => ({
    [ROW_ID_COLUMN_NAME]: r.rowId,
    cursor: r.cursor,
    attempts: r.attempts,
    next_attempt_ms: r.nextAttemptMs,
    last_error: r.lastError,
  }));
  if (updates.length > 0) await tx.table(tables.webhookDeliveries).update(STATE_COLUMNS, updates);
}

/**
 * The new webhook's delivery row, its cursor past the newest event, retained or pruned (an outbox
 * emptied by retention is not the start of time): the counter's last seq, as this transaction
 * sees it.
 */
export async function insertDeliveryRow(tx: VastTransaction, tables: VastStoreTables, webhookId: string): Promise<void> {
  const cursor = await lastEventSeq(tx, tables);
  await tx.table(tables.webhookDeliveries).insert([{ webhook_id: webhookId, cursor, attempts: 0n, next_attempt_ms: 0n, last_error: null }]);
}

/**
 * The newest retained event's seq, 0 when none is (the SQL stores' `coalesce(max(seq), 0)`), and
 * how far retention pruned.
 */
export async function newestRetained(tx: VastTransaction, tables: VastStoreTables): Promise<{ newest: bigint; through: bigint }> {
  const last = await lastEventSeq(tx, tables);
  const { throughSeq } = await readPrunedRow(tx, tables);
  return { newest: last > throughSeq ? last : 0n, through: throughSeq };
}

function toDelivery(doc: string, row: DeliveryRow): WebhookDelivery {
  return {
    webhook: JSON.parse(doc) as Webhook,
    revision: doc,
    cursor: Number(row.cursor),
    attempts: Number(row.attempts),
    next_attempt_ms: Number(row.nextAttemptMs),
    ...(row.lastError === null ? {} : { last_error: row.lastError }),
  };
}

/** Each delivery row with its webhook's doc (the SQL stores' join), in webhook id order. */
function joined(deliveries: Map<string, DeliveryRow>, hooks: Map<string, WebhookRow>): { doc: string; row: DeliveryRow }[] {
  const pairs: { doc: string; row: DeliveryRow }[] = [];
  for (const row of deliveries.values()) {
    const hook = hooks.get(row.webhookId);
    if (hook !== undefined) pairs.push({ doc: hook.doc, row });
  }
  return pairs.sort((a, b) => compareText(a.row.webhookId, b.row.webhookId));
}

/** The `status` member of a webhook's stored text. */
export function statusOf(doc: string): unknown {
  return (JSON.parse(doc) as { status?: unknown }).status;
}

export async function listWebhookDeliveries(client: VastClient, tables: VastStoreTables, behind: boolean): Promise<WebhookDelivery[]> {
  return client.withTransaction(async (tx) => {
    if (!behind) return joined(await readDeliveryRows(tx, tables), await readWebhookRows(tx, tables)).map((p) => toDelivery(p.doc, p.row));
    const { newest } = await newestRetained(tx, tables);
    const records = await tx.table(tables.webhookDeliveries).select({ columns: DELIVERY_COLUMNS, filter: allOf(column('cursor').less(newest)), withRowId: true });
    const deliveries = byKey(records.map(toDeliveryRow), (r) => r.webhookId);
    if (deliveries.size === 0) return [];
    const pairs = joined(deliveries, await readWebhookRows(tx, tables, deliveries.keys()));
    return pairs.filter((p) => ['created', 'started'].includes(statusOf(p.doc) as string)).map((p) => toDelivery(p.doc, p.row));
  });
}

export async function getWebhookDelivery(client: VastClient, tables: VastStoreTables, id: string): Promise<WebhookDelivery | undefined> {
  return client.withTransaction(async (tx) => {
    const pairs = joined(await readDeliveryRows(tx, tables, [id]), await readWebhookRows(tx, tables, [id]));
    return pairs[0] === undefined ? undefined : toDelivery(pairs[0].doc, pairs[0].row);
  });
}

interface Move {
  readonly id: string;
  readonly from: number;
  readonly to: number;
  /** Idle moves: the registration the decision was made on. */
  readonly revision?: string;
  readonly skipped?: Webhook['error'];
}

/**
 * The moves in order, in the caller's transaction: each moves its webhook's cursor only if it is
 * still `from` (and, for an idle move, the registration still `revision`, as read before any of
 * these moves changed it), resets the attempts, turns `created` into `started` and records
 * `skipped`. Whether each moved.
 */
async function moveCursors(tx: VastTransaction, tables: VastStoreTables, moves: readonly Move[]): Promise<boolean[]> {
  const ids = moves.map((m) => m.id);
  const deliveries = await readDeliveryRows(tx, tables, ids);
  const hooks = await readWebhookRows(tx, tables, ids);
  const movedRows = new Map<string, DeliveryRow>();
  const docs = new Map<string, { row: WebhookRow; doc: Webhook; changed: boolean }>();
  const results = moves.map((move) => {
    const delivery = deliveries.get(move.id);
    const hook = hooks.get(move.id);
    if (delivery === undefined || hook === undefined || delivery.cursor !== BigInt(move.from)) return false;
    if (move.revision !== undefined && hook.doc !== move.revision) return false;
    Object.assign(delivery, { cursor: BigInt(move.to), attempts: 0n, nextAttemptMs: 0n, lastError: null });
    movedRows.set(move.id, delivery);
    const edit = docs.get(move.id) ?? { row: hook, doc: JSON.parse(hook.doc) as Webhook, changed: false };
    docs.set(move.id, edit);
    if (edit.doc.status === 'created') {
      edit.doc.status = 'started';
      edit.changed = true;
    }
    if (move.skipped !== undefined) {
      edit.doc.error = move.skipped;
      edit.changed = true;
    }
    return true;
  });
  await writeDeliveryRows(tx, tables, movedRows.values());
  const changed = [...docs.values()].filter((e) => e.changed).map((e) => ({ [ROW_ID_COLUMN_NAME]: e.row.rowId, doc: JSON.stringify(e.doc) }));
  if (changed.length > 0) await tx.table(tables.webhooks).update(['doc'], changed);
  return results;
}

export async function advanceWebhookCursor(client: VastClient, tables: VastStoreTables, id: string, from: number, to: number, skipped?: Webhook['error']): Promise<boolean> {
  const move: Move = skipped === undefined ? { id, from, to } : { id, from, to, skipped };
  const [moved] = await client.withTransaction((tx) => moveCursors(tx, tables, [move]));
  return moved === true;
}

export async function advanceWebhookCursors(client: VastClient, tables: VastStoreTables, moves: readonly CursorMove[]): Promise<boolean[]> {
  if (moves.length === 0) return [];
  return client.withTransaction((tx) => moveCursors(tx, tables, moves.map((m) => ({ id: m.id, from: m.from, to: m.to }))));
}

export async function advanceIdleWebhookCursors(client: VastClient, tables: VastStoreTables, moves: readonly IdleCursorMove[]): Promise<number> {
  if (moves.length === 0) return 0;
  const moved = await client.withTransaction((tx) => moveCursors(tx, tables, moves));
  return moved.filter(Boolean).length;
}

export async function recordWebhookFailure(client: VastClient, tables: VastStoreTables, id: string, attempts: number, nextAttemptMs: number, lastError: string): Promise<void> {
  await client.withTransaction(async (tx) => {
    const row = (await readDeliveryRows(tx, tables, [id])).get(id);
    if (row === undefined) return;
    Object.assign(row, { attempts: BigInt(attempts), nextAttemptMs: BigInt(nextAttemptMs), lastError });
    await writeDeliveryRows(tx, tables, [row]);
  });
}

/** Puts a `created` or `started` webhook into `error`; a client's change committed meanwhile conflicts at the webhook row, and the rerun reads it. */
export async function failWebhook(client: VastClient, tables: VastStoreTables, id: string, error: NonNullable<Webhook['error']>): Promise<boolean> {
  return client.withTransaction(async (tx) => {
    const row = (await readWebhookRows(tx, tables, [id])).get(id);
    if (row === undefined) return false;
    const doc = JSON.parse(row.doc) as Webhook;
    if (doc.status !== 'created' && doc.status !== 'started') return false;
    doc.status = 'error';
    doc.error = error;
    await tx.table(tables.webhooks).update(['doc'], [{ [ROW_ID_COLUMN_NAME]: row.rowId, doc: JSON.stringify(doc) }]);
    return true;
  });
}

/**
 * Every webhook's backlog: the events after its cursor (the newest retained seq less the cursor,
 * as the SQL stores count it) and the commit time of the first of them, which is the first
 * retained seq past the cursor (retained seqs have no gaps).
 */
export async function webhookBacklogs(client: VastClient, tables: VastStoreTables): Promise<WebhookBacklog[]> {
  return client.withTransaction(async (tx) => {
    const pairs = joined(await readDeliveryRows(tx, tables), await readWebhookRows(tx, tables));
    const { newest, through } = await newestRetained(tx, tables);
    const firstAfter = (cursor: bigint): bigint => (cursor > through ? cursor : through) + 1n;
    const wanted = [...new Set(pairs.map((p) => firstAfter(p.row.cursor)).filter((seq) => seq <= newest))];
    const stamps = new Map<bigint, string>();
    for (let i = 0; i < wanted.length; i += IDS_PER_SELECT) {
      const group = anyOf(...wanted.slice(i, i + IDS_PER_SELECT).map((seq) => column('seq').equal(seq)));
      for (const row of await tx.table(tables.outbox).select({ columns: ['seq', 'event_timestamp'], filter: allOf(group) })) stamps.set(row.seq as bigint, row.event_timestamp as string);
    }
    return pairs.map((p) => {
      const oldest = stamps.get(firstAfter(p.row.cursor));
      return { status: statusOf(p.doc) as Webhook['status'], depth: Number(newest - p.row.cursor), ...(oldest === undefined ? {} : { oldest_timestamp: oldest }) };
    });
  });
}
