/**
 * Outbox retention in VAST: the one `outbox_pruned` row (how far pruning went, and the cutoff of
 * the last prune) and pruneEvents, with the SQL stores' rules (their webhook-deliveries.ts).
 *
 * Events are written with seqs from the counter row without gaps, and only pruning deletes
 * outbox rows, oldest first, recording the last seq it removed: the retained events are exactly
 * the seqs `(through_seq, last_seq]`. Readers rely on that (outbox.ts readEvents,
 * webhook-deliveries.ts) where the SQL stores would ask for min or max(seq).
 */
import type { OutboxPruned } from '../../../ports/webhook-delivery';
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { compareText } from './list-order';
import type { VastStoreTables } from './vast-tables';

interface PrunedRow {
  readonly rowId: bigint;
  readonly throughSeq: bigint;
  readonly before: string | null;
}

/** The `outbox_pruned` row as this transaction sees it (made with its table, never deleted). */
export async function readPrunedRow(tx: VastTransaction, tables: VastStoreTables): Promise<PrunedRow> {
  const rows = await tx.table(tables.outboxPruned).select({ withRowId: true });
  const row = rows[0];
  if (rows.length !== 1 || typeof row?.through_seq !== 'bigint') throw new Error(`${tables.outboxPruned.schema}/outbox_pruned holds ${rows.length} rows, not one`);
  return { rowId: row[ROW_ID_COLUMN_NAME] as bigint, throughSeq: row.through_seq, before: typeof row.before === 'string' ? row.before : null };
}

export async function outboxPruned(client: VastClient, tables: VastStoreTables): Promise<OutboxPruned> {
  const row = await client.withTransaction((tx) => readPrunedRow(tx, tables));
  // The row is there from the start; before any prune the SQL stores have none, and say 0.
  return row.before === null ? { through_seq: Number(row.throughSeq) } : { through_seq: Number(row.throughSeq), before: row.before };
}

/**
 * Deletes up to `limit` of the oldest events committed before `before`. Events are stamped as
 * they commit, so they grow old in seq order: the prune stops at the first young one among the
 * oldest `limit` (a clock stepping back never makes a later event go before an earlier), as the
 * SQL stores' prune does. Two prunes at once both write the pruned row: one is run again.
 */
export async function pruneEvents(client: VastClient, tables: VastStoreTables, before: string, limit: number): Promise<number> {
  if (limit <= 0) return 0;
  return client.withTransaction(async (tx) => {
    const pruned = await readPrunedRow(tx, tables);
    const outbox = tx.table(tables.outbox);
    const head = await outbox.select({
      columns: ['seq', 'event_timestamp'],
      filter: allOf(column('seq').greater(pruned.throughSeq), column('seq').lessEqual(pruned.throughSeq + BigInt(limit))),
      withRowId: true,
    });
    head.sort((a, b) => ((a.seq as bigint) < (b.seq as bigint) ? -1 : 1));
    const young = head.findIndex((row) => compareText(row.event_timestamp as string, before) >= 0);
    const gone = young === -1 ? head : head.slice(0, young);
    const last = gone[gone.length - 1];
    if (last === undefined) return 0;
    await outbox.delete(gone.map((row) => row[ROW_ID_COLUMN_NAME] as bigint));
    const through = last.seq as bigint;
    await tx.table(tables.outboxPruned).update(['through_seq', 'before'], [{ [ROW_ID_COLUMN_NAME]: pruned.rowId, through_seq: through > pruned.throughSeq ? through : pruned.throughSeq, before }]);
    return gone.length;
  });
}
