/**
 * The service info document in VAST: the `settings` row `service_info` (the SQL stores' key).
 * A write updates the `settings` store guard row first, so two writers (one of which may
 * insert the row) conflict and the loser's rerun merges into the winner's document.
 */
import type { ServiceInfo } from '../../../domain/entities';
import { plain } from '../../sql-common/store-helpers';
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { updateStoreGuard } from './store-guards';
import type { VastStoreTables } from './vast-tables';

const SERVICE_INFO_KEY = 'service_info';

async function readServiceInfo(tx: VastTransaction, tables: VastStoreTables): Promise<{ info: ServiceInfo; rowId?: bigint }> {
  const rows = await tx.table(tables.settings).select({ columns: ['value'], filter: allOf(column('key').equal(SERVICE_INFO_KEY)), withRowId: true });
  const row = rows[0];
  if (row === undefined) return { info: {} };
  return { info: JSON.parse(row.value as string) as ServiceInfo, rowId: row[ROW_ID_COLUMN_NAME] as bigint };
}

export async function getServiceInfo(client: VastClient, tables: VastStoreTables): Promise<ServiceInfo> {
  return (await client.withTransaction((tx) => readServiceInfo(tx, tables))).info;
}

/** Merges `info` into the stored document (as the SQL stores do) and returns the result. */
export async function setServiceInfo(client: VastClient, tables: VastStoreTables, info: ServiceInfo): Promise<ServiceInfo> {
  return client.withTransaction(async (tx) => {
    await updateStoreGuard(tx, tables, 'settings');
    const current = await readServiceInfo(tx, tables);
    const next = plain({ ...current.info, ...plain(info) });
    const value = JSON.stringify(next);
    if (current.rowId === undefined) await tx.table(tables.settings).insert([{ key: SERVICE_INFO_KEY, value }]);
    else await tx.table(tables.settings).update(['value'], [{ [ROW_ID_COLUMN_NAME]: current.rowId, value }]);
    return next;
  });
}
