/**
 * Leases in VAST (the workers' "only one replica does this" rows): one row per name. Renewing
 * or taking over an existing lease updates its row, so two replicas doing it at once conflict
 * and the rerun of the loser sees the winner holding it. Taking a free name inserts a row, and
 * inserts never conflict: that path updates the `leases` store guard row first.
 */
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { updateStoreGuard } from './store-guards';
import type { VastStoreTables } from './vast-tables';

export async function acquireLease(client: VastClient, tables: VastStoreTables, name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean> {
  const expires = BigInt(Math.trunc(nowMs + ttlMs));
  return client.withTransaction(async (tx) => {
    const leases = tx.table(tables.leases);
    const rows = await leases.select({ columns: ['holder', 'expires_ms'], filter: allOf(column('name').equal(name)), withRowId: true });
    const row = rows[0];
    if (row === undefined) {
      await updateStoreGuard(tx, tables, 'leases');
      await leases.insert([{ name, holder, expires_ms: expires }]);
      return true;
    }
    if (row.holder !== holder && (row.expires_ms as bigint) > BigInt(Math.trunc(nowMs))) return false;
    await leases.update(['holder', 'expires_ms'], [{ [ROW_ID_COLUMN_NAME]: row[ROW_ID_COLUMN_NAME] as bigint, holder, expires_ms: expires }]);
    return true;
  });
}

/** Gives the lease up (only `holder`'s own). */
export async function releaseLease(client: VastClient, tables: VastStoreTables, name: string, holder: string): Promise<void> {
  await client.withTransaction(async (tx) => {
    const rows = await tx.table(tables.leases).select({ columns: ['holder'], filter: allOf(column('name').equal(name), column('holder').equal(holder)), withRowId: true });
    if (rows.length > 0) await tx.table(tables.leases).delete(rows.map((r) => r[ROW_ID_COLUMN_NAME] as bigint));
  });
}
