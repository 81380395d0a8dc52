/**
 * Where objects' bytes are, in the PostgreSQL store: controlled instances, the queue of bytes to
 * delete, object garbage collection and worker leases (the SQLite store's object-storage.ts, the
 * same rules). Runs inside the store's transactions.
 *
 * Concurrency: a collection pass claims its candidates with FOR UPDATE SKIP LOCKED, so passes
 * on several replicas take different objects; an object is deleted only under its row lock and
 * after checking no segment references it, and segment registration holds a share lock on the
 * objects it names (postgres-metadata-store.ts), so an object is either seen referenced or gone.
 * Leases are one upsert, whose conflict check makes two replicas' acquisitions exclusive
 * (ACQUIRE_LEASE says why not SKIP LOCKED).
 */
import type { ObjectStorageRef } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { fitsSegmentRow, joinInstances } from '../sql-common/rows';
import { statement, type Queryable, type Tx } from './pool';

const INSTANCES_OF = statement('SELECT storage_id, storage_key AS key FROM object_instances WHERE object_id = $1 ORDER BY created, storage_id');
const INSERT_INSTANCES = statement(`INSERT INTO object_instances (object_id, storage_id, storage_key, created)
  SELECT i, s, k, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(i, s, k)`);
const DELETE_INSTANCE = statement('DELETE FROM object_instances WHERE object_id = $1 AND storage_id = $2');
const SET_OBJECT_STORAGE = statement('UPDATE objects SET storage_id = $1, storage_key = $2 WHERE id = $3');
const SET_SEGMENT_OBJECT_STORAGE = statement('UPDATE segments SET object_storage_id = $1, object_storage_key = $2 WHERE object_id = $3');
const SET_SEGMENT_INIT_STORAGE = statement('UPDATE segments SET init_storage_id = $1, init_storage_key = $2 WHERE init_object_id = $3');
const QUEUE_DELETIONS = statement(`INSERT INTO object_deletions (storage_id, storage_key, queued, not_before)
  SELECT s, k, $3, $4 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(s, k, n) ORDER BY n`);
const PENDING_DELETIONS = statement(`SELECT storage_id, storage_key AS key FROM object_deletions
  WHERE ($1::text[] IS NULL OR storage_id = ANY($1::text[])) AND ($2::text IS NULL OR not_before <= $2)
  ORDER BY seq LIMIT $3`);
const COMPLETE_DELETIONS = statement(`DELETE FROM object_deletions d USING unnest($1::text[], $2::text[]) AS u(s, k)
  WHERE d.storage_id = u.s AND d.storage_key = u.k`);
/** The distinct storage ids of instances, by a skip scan over their index (one probe per distinct id). */
const STORAGE_IDS = statement(`WITH RECURSIVE i(id) AS (
    SELECT min(storage_id) FROM object_instances
    UNION ALL SELECT (SELECT min(storage_id) FROM object_instances WHERE storage_id > i.id) FROM i WHERE i.id IS NOT NULL)
  SELECT id FROM i WHERE id IS NOT NULL`);
/** Candidates whose object is old enough that no PUT URL for it works (or already gone), claimed by this pass. */
const CANDIDATES = statement(`SELECT c.object_id FROM object_gc_candidates c LEFT JOIN objects o ON o.id = c.object_id
  WHERE o.id IS NULL OR o.created < $1 LIMIT $2 FOR UPDATE OF c SKIP LOCKED`);
const DROP_CANDIDATE = statement('DELETE FROM object_gc_candidates WHERE object_id = $1');
const UNREGISTERED = statement('SELECT id FROM objects WHERE NOT registered AND created < $1 ORDER BY created LIMIT $2 FOR UPDATE SKIP LOCKED');
/** The object, locked for deletion, and whether anything still needs it (as media or init object of a segment, or an object's init object). */
const LOCK_FOR_COLLECTION = statement(`SELECT o.init_object_id,
    EXISTS (SELECT 1 FROM segments WHERE object_id = o.id)
    OR EXISTS (SELECT 1 FROM segments WHERE init_object_id = o.id)
    OR EXISTS (SELECT 1 FROM objects p WHERE p.init_object_id = o.id AND p.id <> o.id) AS referenced
  FROM objects o WHERE o.id = $1 FOR UPDATE OF o SKIP LOCKED`);
const DELETE_OBJECT = statement('DELETE FROM objects WHERE id = $1');
const DELETE_INSTANCES = statement('DELETE FROM object_instances WHERE object_id = $1');
/**
 * Takes or renews lease $1 for holder $2 until $3 when it is free, expired or already the
 * holder's: one upsert whose conflict check makes two replicas' acquisitions exclusive. A lease
 * names one row, so a concurrent statement on that row is waited for (it is one short statement)
 * and the answer re-checked: FOR UPDATE SKIP LOCKED, tried in b9b7cd3, answered false for a
 * holder taking its own lease on two replicas at once and for a claim racing a release
 * (test/integration/postgres-review-leases.test.ts). SKIP LOCKED is for picking any free row of
 * a queue: the collection pass's candidates (CANDIDATES, UNREGISTERED).
 */
const ACQUIRE_LEASE = statement(`INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, $3)
  ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
  WHERE leases.holder = excluded.holder OR leases.expires_ms <= $4`);
const RELEASE_LEASE = statement('DELETE FROM leases WHERE name = $1 AND holder = $2');

/** Storage ids and keys are minted by the object store, never client text: a window row could not carry them otherwise. */
function checkInstance(objectId: string, instance: ObjectStorageRef): void {
  if (!fitsSegmentRow(instance.storage_id) || !fitsSegmentRow(instance.key)) {
    throw new Error(`Storage id or key of object ${objectId} is empty or holds U+001E or U+001F`);
  }
}

export class PostgresObjectStorage {
  /** The first instances of newly allocated objects (allocateObjects), in one statement. */
  async allocated(tx: Tx, objects: readonly { id: string; instance: ObjectStorageRef }[], now: string): Promise<void> {
    for (const o of objects) checkInstance(o.id, o.instance);
    await tx.run(INSERT_INSTANCES, [objects.map((o) => o.id), objects.map((o) => o.instance.storage_id), objects.map((o) => o.instance.key), now]);
  }

  async instancesOf(q: Queryable, objectId: string): Promise<ObjectStorageRef[]> {
    return q.rows<ObjectStorageRef>(INSTANCES_OF, [objectId]);
  }

  /** Adds a controlled instance (`instance_conflict` when that backend already holds one). */
  async add(tx: Tx, objectId: string, instance: ObjectStorageRef, now: string): Promise<void> {
    if ((await this.instancesOf(tx, objectId)).some((i) => i.storage_id === instance.storage_id)) {
      throw new TamsError('instance_conflict', `Object ${objectId} already has an instance on storage backend ${instance.storage_id}`);
    }
    await this.allocated(tx, [{ id: objectId, instance }], now);
    await this.copyToRows(tx, objectId);
  }

  /**
   * Removes the controlled instance on `storageId` and queues its bytes for deletion; the caller
   * has checked that another instance remains. `not_found` when there is none there.
   */
  async remove(tx: Tx, objectId: string, storageId: string, now: string, notBefore: string): Promise<ObjectStorageRef> {
    const instance = (await this.instancesOf(tx, objectId)).find((i) => i.storage_id === storageId);
    if (instance === undefined) throw new TamsError('not_found', `Object ${objectId} has no instance on storage backend ${storageId}`);
    await tx.run(DELETE_INSTANCE, [objectId, storageId]);
    await tx.run(QUEUE_DELETIONS, [[instance.storage_id], [instance.key], now, notBefore]);
    await this.copyToRows(tx, objectId);
    return instance;
  }

  /** Rewrites the copies of an object's instances in its row and in the segment rows naming it. */
  private async copyToRows(tx: Tx, objectId: string): Promise<void> {
    const { ids, keys } = joinInstances(await this.instancesOf(tx, objectId));
    await tx.run(SET_OBJECT_STORAGE, [ids, keys, objectId]);
    await tx.run(SET_SEGMENT_OBJECT_STORAGE, [ids, keys, objectId]);
    await tx.run(SET_SEGMENT_INIT_STORAGE, [ids, keys, objectId]);
  }

  async storageIdsInUse(q: Queryable): Promise<string[]> {
    return (await q.rows<{ id: string }>(STORAGE_IDS)).map((r) => r.id);
  }

  /**
   * See MetadataStore.collectObjects. An object collected here may have been the last to name
   * its init object: that one is checked again in the same pass.
   */
  async collect(tx: Tx, createdBefore: string, limit: number, now: string): Promise<{ collected: number; more: boolean }> {
    let collected = 0;
    let examined = 0;
    const work = (await tx.rows<{ object_id: string }>(CANDIDATES, [createdBefore, limit])).map((r) => r.object_id);
    for (let id = work.shift(); id !== undefined; id = work.shift()) {
      examined++;
      await tx.run(DROP_CANDIDATE, [id]);
      const gone = await this.collectOne(tx, id, now);
      if (gone === undefined) continue;
      collected++;
      if (gone.init_object_id !== null) work.push(gone.init_object_id);
    }
    if (examined < limit) {
      for (const { id } of await tx.rows<{ id: string }>(UNREGISTERED, [createdBefore, limit - examined])) {
        examined++;
        if ((await this.collectOne(tx, id, now)) !== undefined) collected++;
      }
    }
    return { collected, more: examined >= limit };
  }

  /** Deletes the object when nothing needs it, queueing its bytes; what it was, or undefined when kept (or being used right now). */
  private async collectOne(tx: Tx, id: string, now: string): Promise<{ init_object_id: string | null } | undefined> {
    const row = await tx.row<{ init_object_id: string | null; referenced: boolean }>(LOCK_FOR_COLLECTION, [id]);
    if (row === undefined || row.referenced) return undefined;
    const instances = await this.instancesOf(tx, id);
    if (instances.length > 0) await tx.run(QUEUE_DELETIONS, [instances.map((i) => i.storage_id), instances.map((i) => i.key), now, now]);
    await tx.run(DELETE_INSTANCES, [id]);
    await tx.run(DELETE_OBJECT, [id]);
    return { init_object_id: row.init_object_id };
  }

  async pendingDeletions(q: Queryable, limit: number, storageIds?: readonly string[], dueBy?: string): Promise<ObjectStorageRef[]> {
    return q.rows<ObjectStorageRef>(PENDING_DELETIONS, [storageIds === undefined ? null : [...storageIds], dueBy ?? null, limit]);
  }

  async completeDeletions(tx: Tx, done: readonly ObjectStorageRef[]): Promise<void> {
    if (done.length === 0) return;
    await tx.run(COMPLETE_DELETIONS, [done.map((d) => d.storage_id), done.map((d) => d.key)]);
  }

  async acquireLease(q: Queryable, name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean> {
    return (await q.run(ACQUIRE_LEASE, [name, holder, nowMs + ttlMs, nowMs])) > 0;
  }

  async releaseLease(q: Queryable, name: string, holder: string): Promise<void> {
    await q.run(RELEASE_LEASE, [name, holder]);
  }
}
