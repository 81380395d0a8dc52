/**
 * The named `store_guards` rows (vast-tables.ts STORE_GUARD_NAMES). VAST has no unique keys, and
 * under snapshot isolation two transactions that each find a key free and insert it both commit.
 * A transaction that creates or changes rows of a kind whose keys must stay unique (object ids,
 * lease names, profile ids, ...) updates the kind's guard row before it reads: two such
 * transactions then write one row, one of them is refused with 409, and withTransaction runs it
 * again in a snapshot holding the winner's rows.
 */
import { allOf, column } from '../client/filter';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import type { StoreGuardName, VastStoreTables } from './vast-tables';

/** Increments the guard row `name` (see the module comment). */
export async function updateStoreGuard(tx: VastTransaction, tables: VastStoreTables, name: StoreGuardName): Promise<void> {
  const guards = tx.table(tables.storeGuards);
  const rows = await guards.select({ columns: ['version'], filter: allOf(column('name').equal(name)), withRowId: true });
  const row = rows[0];
  if (rows.length !== 1 || typeof row?.version !== 'bigint') throw new Error(`${tables.storeGuards.schema}/store_guards holds ${rows.length} rows named ${name}, not one`);
  await guards.update(['version'], [{ [ROW_ID_COLUMN_NAME]: row[ROW_ID_COLUMN_NAME] as bigint, version: row.version + 1n }]);
}
