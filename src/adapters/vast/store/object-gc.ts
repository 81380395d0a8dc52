/**
 * Garbage collection of objects in VAST and the queue of byte deletions: the SQL stores'
 * object-storage.ts collect / pendingDeletions / completeDeletions, the same rules.
 *
 * Race safety without locks: a pass deletes each object row it collects, in the transaction that
 * found nothing referencing it. Any transaction that updates that row (an instance added or
 * removed, an allocated object registered, a segment registration re-using it: see
 * segment-registration.ts) therefore conflicts with the pass, and the loser runs again in a
 * snapshot holding the winner's rows: the pass then sees the new reference, or the writer finds
 * the object gone. Two passes deleting one row conflict the same way.
 *
 * The queue has no sequence (VAST has no auto-increment): entries are ordered by `queued`, then
 * by `id`, a UUID whose leading bits are the time and a per-process counter (version 7 layout),
 * so entries queued by one process in one millisecond, a pass's several, keep their order.
 */
import { randomBytes } from 'node:crypto';
import type { ObjectStorageRef } from '../../../domain/entities';
import { splitInstances } from '../../sql-common/rows';
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { compareText } from './list-order';
import { readObjectRows, type StoredObject } from './objects';
import { IDS_PER_SELECT, selectByIds } from './select-by-ids';
import type { VastStoreTables } from './vast-tables';

/**
 * Names objects whose segments (as object_id or init_object_id) a transaction deleted, as
 * candidates for collectObjects (the SQL stores' object_gc_candidates trigger). Duplicates are
 * allowed (inserts never conflict, and a unique check would serialise deleters): a pass drops
 * every row of an id it examines.
 */
export async function markGcCandidates(tx: VastTransaction, tables: VastStoreTables, objectIds: Iterable<string>): Promise<void> {
  const ids = [...new Set(objectIds)];
  if (ids.length > 0) await tx.table(tables.objectGcCandidates).insert(ids.map((object_id) => ({ object_id })));
}

let lastIdMs = 0;
let idCounter = 0;

/** A UUID (version 7 layout) greater than every earlier one of this process: see the module comment. */
export function queueId(): string {
  let ms = Date.now();
  if (ms > lastIdMs) {
    lastIdMs = ms;
    idCounter = 0;
  } else {
    idCounter += 1;
    if (idCounter > 0xfff) {
      lastIdMs += 1;
      idCounter = 0;
    }
    ms = lastIdMs;
  }
  const tail = randomBytes(8);
  tail[0] = ((tail[0] as number) & 0x3f) | 0x80;
  const hex = `${ms.toString(16).padStart(12, '0')}7${idCounter.toString(16).padStart(3, '0')}${tail.toString('hex')}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Queues the bytes of `refs` for deletion, in this order, due at `notBefore`. */
export async function queueByteDeletions(tx: VastTransaction, tables: VastStoreTables, refs: readonly ObjectStorageRef[], queued: string, notBefore: string): Promise<void> {
  if (refs.length === 0) return;
  await tx.table(tables.objectDeletions).insert(refs.map((r) => ({ id: queueId(), storage_id: r.storage_id, storage_key: r.key, queued, not_before: notBefore })));
}

/** See MetadataStore.collectObjects, and SqliteObjectStorage.collect for the order of the work. */
export async function collectObjects(client: VastClient, tables: VastStoreTables, createdBefore: string, limit: number, now?: string): Promise<{ collected: number; more: boolean }> {
  const at = now ?? new Date().toISOString();
  return client.withTransaction((tx) => new CollectionPass(tx, tables, createdBefore, at).run(limit));
}

/** One collection pass in one transaction (one run of it: a rerun makes a new one). */
class CollectionPass {
  /** Object rows read by this pass and not deleted by it. */
  private readonly rows = new Map<string, StoredObject>();
  /** The candidate rows of each candidate object id, in the order read. */
  private readonly candidates = new Map<string, bigint[]>();

  constructor(
    private readonly tx: VastTransaction,
    private readonly tables: VastStoreTables,
    private readonly createdBefore: string,
    private readonly now: string,
  ) {}

  async run(limit: number): Promise<{ collected: number; more: boolean }> {
    let collected = 0;
    let examined = 0;
    const work = await this.dueCandidates(limit);
    for (let id = work.shift(); id !== undefined; id = work.shift()) {
      examined++;
      await this.dropCandidate(id);
      const gone = await this.collectOne(id);
      if (gone === undefined) continue;
      collected++;
      // It may have been the last to name its init object: that one is checked in this pass too.
      if (gone.initObjectId !== null) work.push(gone.initObjectId);
    }
    if (examined < limit) {
      for (const id of await this.oldUnregistered(limit - examined)) {
        examined++;
        if ((await this.collectOne(id)) !== undefined) collected++;
      }
    }
    return { collected, more: examined >= limit };
  }

  /** Up to `limit` candidate ids whose object is gone or was created before the cut-off (no PUT URL for it works). */
  private async dueCandidates(limit: number): Promise<string[]> {
    for (const r of await this.tx.table(this.tables.objectGcCandidates).select({ columns: ['object_id'], withRowId: true })) {
      const id = r.object_id as string;
      const rowIds = this.candidates.get(id) ?? [];
      rowIds.push(r[ROW_ID_COLUMN_NAME] as bigint);
      this.candidates.set(id, rowIds);
    }
    const ids = [...this.candidates.keys()];
    const due: string[] = [];
    for (let i = 0; i < ids.length && due.length < limit; i += IDS_PER_SELECT) {
      const chunk = ids.slice(i, i + IDS_PER_SELECT);
      const rows = await readObjectRows(this.tx, this.tables, chunk);
      for (const id of chunk) {
        const stored = rows.get(id);
        if (stored !== undefined) this.rows.set(id, stored);
        if (due.length < limit && (stored === undefined || compareText(stored.row.created, this.createdBefore) < 0)) due.push(id);
      }
    }
    return due;
  }

  private async dropCandidate(id: string): Promise<void> {
    const rowIds = this.candidates.get(id);
    if (rowIds === undefined) return;
    this.candidates.delete(id);
    await this.tx.table(this.tables.objectGcCandidates).delete(rowIds);
  }

  /** Up to `limit` objects allocated and never registered, created before the cut-off, oldest first. */
  private async oldUnregistered(limit: number): Promise<string[]> {
    const rows = await this.tx.table(this.tables.objects).select({ columns: ['id', 'created'], filter: allOf(column('registered').equal(false)) });
    return rows
      .filter((r) => compareText(r.created as string, this.createdBefore) < 0)
      .sort((a, b) => compareText(a.created as string, b.created as string) || compareText(a.id as string, b.id as string))
      .slice(0, limit)
      .map((r) => r.id as string);
  }

  /** Deletes the object when nothing needs it, queueing its bytes; its init object, or undefined when kept (or already gone). */
  private async collectOne(id: string): Promise<{ initObjectId: string | null } | undefined> {
    if (await this.referenced(id)) return undefined;
    const stored = this.rows.get(id) ?? (await readObjectRows(this.tx, this.tables, [id])).get(id);
    if (stored === undefined) return undefined;
    await queueByteDeletions(this.tx, this.tables, splitInstances(stored.row.storage_id, stored.row.storage_key) ?? [], this.now, this.now);
    const instances = await this.tx.table(this.tables.objectInstances).select({ columns: ['storage_id'], filter: allOf(column('object_id').equal(id)), withRowId: true });
    if (instances.length > 0) await this.tx.table(this.tables.objectInstances).delete(instances.map((r) => r[ROW_ID_COLUMN_NAME] as bigint));
    await this.tx.table(this.tables.objects).delete([stored.rowId]);
    this.rows.delete(id);
    return { initObjectId: stored.row.init_object_id };
  }

  /** A segment names the object as media or init object, or another object names it as its init object (one row probed for each). */
  private async referenced(id: string): Promise<boolean> {
    const segments = this.tx.table(this.tables.segments);
    for (const name of ['object_id', 'init_object_id']) {
      if ((await segments.select({ columns: ['end_ns'], filter: allOf(column(name).equal(id)), limit: 1 })).length > 0) return true;
    }
    const naming = await this.tx.table(this.tables.objects).select({ columns: ['id'], filter: allOf(column('init_object_id').equal(id), column('id').notEqual(id)), limit: 1 });
    return naming.length > 0;
  }
}

/** See MetadataStore.pendingObjectDeletions. VAST cannot sort, nor compare text for order: the backends' entries are read whole, then filtered and sorted here. */
export async function pendingObjectDeletions(client: VastClient, tables: VastStoreTables, limit: number, storageIds?: readonly string[], dueBy?: string): Promise<ObjectStorageRef[]> {
  if (storageIds !== undefined && storageIds.length === 0) return [];
  const columns = ['id', 'storage_id', 'storage_key', 'queued', 'not_before'];
  const rows = await client.withTransaction((tx) =>
    storageIds === undefined ? tx.table(tables.objectDeletions).select({ columns }) : selectByIds(tx, tables.objectDeletions, 'storage_id', storageIds, { columns }),
  );
  const text = (r: VastRecord, name: string): string => r[name] as string;
  return rows
    .filter((r) => dueBy === undefined || compareText(text(r, 'not_before'), dueBy) <= 0)
    .sort((a, b) => compareText(text(a, 'queued'), text(b, 'queued')) || compareText(text(a, 'id'), text(b, 'id')))
    .slice(0, limit)
    .map((r) => ({ storage_id: text(r, 'storage_id'), key: text(r, 'storage_key') }));
}

/** See MetadataStore.completeObjectDeletions: every queued entry of each (storage_id, key) goes. */
export async function completeObjectDeletions(client: VastClient, tables: VastStoreTables, done: readonly ObjectStorageRef[]): Promise<void> {
  if (done.length === 0) return;
  const wanted = new Set(done.map((d) => JSON.stringify([d.storage_id, d.key])));
  await client.withTransaction(async (tx) => {
    const rows = await selectByIds(
      tx,
      tables.objectDeletions,
      'storage_key',
      done.map((d) => d.key),
      { columns: ['storage_id', 'storage_key'], withRowId: true },
    );
    const gone = rows.filter((r) => wanted.has(JSON.stringify([r.storage_id, r.storage_key]))).map((r) => r[ROW_ID_COLUMN_NAME] as bigint);
    if (gone.length > 0) await tx.table(tables.objectDeletions).delete(gone);
  });
}
