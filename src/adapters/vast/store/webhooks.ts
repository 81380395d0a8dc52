/**
 * Webhook registrations in VAST: one `webhooks` row each (`doc` the SQL stores' JSON text, `url`
 * the sort key), listed by url then id as the SQL stores list them. The SQL stores' triggers are
 * done here, in the registration's transaction: a new webhook gets its delivery row
 * (webhook-deliveries.ts), a deleted one loses it, and going from `error` or `disabled` back to
 * `created` starts the retries afresh.
 *
 * Ids are unique without keys: putWebhook and deleteWebhook update the `webhooks` store guard
 * row first, so two of them conflict and the rerun of the loser finds the winner's row (a
 * replacement, not a second row). A replacement also writes the delivery row, so that a worker's
 * idle cursor move decided on the previous registration conflicts with it (webhook-deliveries.ts).
 *
 * This module also re-exports the delivery and retention functions the store class imports from
 * here.
 */
import type { Webhook } from '../../../domain/entities';
import { TamsError } from '../../../domain/errors';
import type { Page, PageRequest, WebhookFilter } from '../../../ports/metadata-store';
import { parseListCursor } from '../../sql-common/cursors';
import { plain, WEBHOOK_SORT } from '../../sql-common/store-helpers';
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { keysetPage, matchesTags } from './list-order';
import { selectByIds } from './select-by-ids';
import { updateStoreGuard } from './store-guards';
import type { VastStoreTables } from './vast-tables';
import { insertDeliveryRow, readDeliveryRows, readWebhookRows, statusOf, writeDeliveryRows } from './webhook-deliveries';

export {
  advanceIdleWebhookCursors,
  advanceWebhookCursor,
  advanceWebhookCursors,
  failWebhook,
  getWebhookDelivery,
  listWebhookDeliveries,
  recordWebhookFailure,
  webhookBacklogs,
} from './webhook-deliveries';
export { outboxPruned, pruneEvents } from './outbox-retention';

export async function getWebhook(client: VastClient, tables: VastStoreTables, id: string): Promise<Webhook | undefined> {
  const rows = await client.withTransaction((tx) => tx.table(tables.webhooks).select({ columns: ['doc'], filter: allOf(column('id').equal(id)) }));
  const doc = rows[0]?.doc;
  return typeof doc === 'string' ? (JSON.parse(doc) as Webhook) : undefined;
}

export async function listWebhooks(client: VastClient, tables: VastStoreTables, filter: WebhookFilter, page: PageRequest): Promise<Page<Webhook>> {
  const cursor = page.after === undefined ? undefined : parseListCursor(page.after, WEBHOOK_SORT);
  // url is never unset: a key-less cursor was never made here.
  if (cursor !== undefined && cursor.k === null) throw new TamsError('bad_cursor', 'Invalid paging key');
  return client.withTransaction(async (tx) => {
    const rows = await tx.table(tables.webhooks).select({ columns: ['id', 'url'] });
    const candidates = rows.map((r) => ({ id: r.id as string, key: r.url as string }));
    return keysetPage(candidates, { sort: WEBHOOK_SORT, newestFirst: false, reverse: false }, cursor, page.limit, async (chunk) => {
      const docs = new Map(
        (
          await selectByIds(
            tx,
            tables.webhooks,
            'id',
            chunk.map((c) => c.id),
            { columns: ['id', 'doc'] },
          )
        ).map((r) => [r.id as string, r.doc as string]),
      );
      return chunk.map((c) => {
        const webhook = JSON.parse(docs.get(c.id) as string) as Webhook;
        return matchesTags(webhook, filter.tags) ? webhook : undefined;
      });
    });
  });
}

/** Creates or replaces a registration (see the module comment for its delivery row). */
export async function putWebhook(client: VastClient, tables: VastStoreTables, webhook: Webhook): Promise<void> {
  const doc = plain(webhook);
  const text = JSON.stringify(doc);
  await client.withTransaction(async (tx) => {
    await updateStoreGuard(tx, tables, 'webhooks');
    const previous = (await readWebhookRows(tx, tables, [doc.id])).get(doc.id);
    if (previous === undefined) {
      await tx.table(tables.webhooks).insert([{ id: doc.id, url: doc.url, doc: text }]);
      await insertDeliveryRow(tx, tables, doc.id);
      return;
    }
    await tx.table(tables.webhooks).update(['url', 'doc'], [{ [ROW_ID_COLUMN_NAME]: previous.rowId, url: doc.url, doc: text }]);
    const delivery = (await readDeliveryRows(tx, tables, [doc.id])).get(doc.id);
    if (delivery === undefined) return;
    const was = statusOf(previous.doc);
    if ((was === 'error' || was === 'disabled') && doc.status === 'created') Object.assign(delivery, { attempts: 0n, nextAttemptMs: 0n, lastError: null });
    await writeDeliveryRows(tx, tables, [delivery]);
  });
}

export async function deleteWebhook(client: VastClient, tables: VastStoreTables, id: string): Promise<boolean> {
  return client.withTransaction(async (tx) => {
    await updateStoreGuard(tx, tables, 'webhooks');
    const hooks = await tx.table(tables.webhooks).select({ columns: ['id'], filter: allOf(column('id').equal(id)), withRowId: true });
    if (hooks.length === 0) return false;
    await tx.table(tables.webhooks).delete(hooks.map((r) => r[ROW_ID_COLUMN_NAME] as bigint));
    const deliveries = await tx.table(tables.webhookDeliveries).select({ columns: ['webhook_id'], filter: allOf(column('webhook_id').equal(id)), withRowId: true });
    if (deliveries.length > 0) await tx.table(tables.webhookDeliveries).delete(deliveries.map((r) => r[ROW_ID_COLUMN_NAME] as bigint));
    return true;
  });
}

/** How many registrations `owner` holds (the owner is inside the document: every one is read). */
export async function countWebhooksOwnedBy(client: VastClient, tables: VastStoreTables, owner: string): Promise<number> {
  const rows = await client.withTransaction((tx) => tx.table(tables.webhooks).select({ columns: ['doc'] }));
  return rows.filter((r) => (JSON.parse(r.doc as string) as { owner?: unknown }).owner === owner).length;
}
