/**
 * Garbage collection of objects in VAST and the queue of byte deletions (not written yet: see issue 20).
 */
import type { ObjectStorageRef } from '../../../domain/entities';
import type { VastClient } from '../client/vast-client';
import type { VastTransaction } from '../client/vast-transaction';
import type { VastStoreTables } from './vast-tables';

function notYet(name: string): Error {
  return new Error(`VAST store: ${name} is not written yet`);
}

/**
 * Names objects whose segments (as object_id or init_object_id) a transaction deleted, as
 * candidates for collectObjects (the SQL stores' object_gc_candidates trigger).
 */
export async function markGcCandidates(tx: VastTransaction, tables: VastStoreTables, objectIds: Iterable<string>): Promise<void> {
  const ids = [...new Set(objectIds)];
  if (ids.length > 0) await tx.table(tables.objectGcCandidates).insert(ids.map((object_id) => ({ object_id })));
}

export async function collectObjects(_client: VastClient, _tables: VastStoreTables, _createdBefore: string, _limit: number, _now?: string): Promise<{ collected: number; more: boolean }> {
  return Promise.reject(notYet('collectObjects'));
}

export async function pendingObjectDeletions(_client: VastClient, _tables: VastStoreTables, _limit: number, _storageIds?: readonly string[], _dueBy?: string): Promise<ObjectStorageRef[]> {
  return Promise.reject(notYet('pendingObjectDeletions'));
}

export async function completeObjectDeletions(_client: VastClient, _tables: VastStoreTables, _done: readonly ObjectStorageRef[]): Promise<void> {
  return Promise.reject(notYet('completeObjectDeletions'));
}
