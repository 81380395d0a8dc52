/**
 * Rows by key: VAST has no IN, so a select per IDS_PER_SELECT keys, each an OR-group of
 * equalities on the one column (filters allow an OR only within a column).
 */
import { allOf, anyOf, column } from '../client/filter';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import type { VastStoreTables } from './vast-tables';

/** Keys per select: an OR-group of equalities on one column, kept well under the request budget. */
export const IDS_PER_SELECT = 200;

/** Rows whose `name` column is one of `ids`, a select per IDS_PER_SELECT ids. */
export async function selectByIds(
  tx: VastTransaction,
  table: VastStoreTables[keyof VastStoreTables],
  name: string,
  ids: Iterable<string>,
  options: { columns?: readonly string[]; withRowId?: boolean } = {},
): Promise<VastRecord[]> {
  const all = [...new Set(ids)];
  const found: VastRecord[] = [];
  for (let i = 0; i < all.length; i += IDS_PER_SELECT) {
    const group = anyOf(...all.slice(i, i + IDS_PER_SELECT).map((id) => column(name).equal(id)));
    const select = options.columns === undefined ? { filter: allOf(group) } : { filter: allOf(group), columns: options.columns };
    found.push(...(await tx.table(table).select({ ...select, withRowId: options.withRowId === true })));
  }
  return found;
}
