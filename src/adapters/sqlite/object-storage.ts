/**
 * Where objects' bytes are, in the SQLite store (migration 6): the controlled instances of each
 * object, the queue of bytes to delete, object garbage collection and worker leases. Runs
 * inside the store's write transactions.
 *
 * `object_instances` is the list; the storage columns of `objects` and of the segment rows
 * naming an object (as media or init object) hold copies of it, joined by U+001F
 * (joinInstances), which every change here rewrites in the same transaction.
 */
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { ObjectStorageRef } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { fitsSegmentRow, joinInstances } from '../sql-common/rows';

interface Statements {
  instancesOf: Statement;
  insertInstance: Statement;
  deleteInstance: Statement;
  setObjectStorage: Statement;
  setSegmentObjectStorage: Statement;
  setSegmentInitStorage: Statement;
  queueDeletion: Statement;
  pendingDeletions: Statement;
  completeDeletion: Statement;
  storageIds: Statement;
  candidates: Statement;
  dropCandidate: Statement;
  unregistered: Statement;
  referenced: Statement;
  deleteObject: Statement;
  getObject: Statement;
  deleteInstances: Statement;
  acquireLease: Statement;
  releaseLease: Statement;
}

/** Is an object still needed: a segment names it as media or init object, or an object as its init object. */
const REFERENCED = `SELECT EXISTS (SELECT 1 FROM segments WHERE object_id = @id)
  OR EXISTS (SELECT 1 FROM segments WHERE init_object_id = @id)
  OR EXISTS (SELECT 1 FROM objects WHERE init_object_id = @id AND id <> @id)`;

/** The distinct storage ids of instances, by a skip scan over their index (one seek per distinct id, however many objects): start-up reads it. */
const STORAGE_IDS = `
  WITH RECURSIVE i(id) AS (
    SELECT min(storage_id) FROM object_instances
    UNION ALL SELECT (SELECT min(storage_id) FROM object_instances WHERE storage_id > i.id) FROM i WHERE i.id IS NOT NULL)
  SELECT id FROM i WHERE id IS NOT NULL`;

export class SqliteObjectStorage {
  private statements: Statements | undefined;

  constructor(private readonly db: Database.Database) {}

  private get s(): Statements {
    const p = (sql: string): Statement => this.db.prepare(sql);
    this.statements ??= {
      instancesOf: p('SELECT storage_id, storage_key AS key FROM object_instances WHERE object_id = ? ORDER BY created, storage_id'),
      insertInstance: p('INSERT INTO object_instances (object_id, storage_id, storage_key, created) VALUES (?, ?, ?, ?)'),
      deleteInstance: p('DELETE FROM object_instances WHERE object_id = ? AND storage_id = ?'),
      setObjectStorage: p('UPDATE objects SET storage_id = ?, storage_key = ? WHERE id = ?'),
      setSegmentObjectStorage: p('UPDATE segments SET object_storage_id = ?, object_storage_key = ? WHERE object_id = ?'),
      setSegmentInitStorage: p('UPDATE segments SET init_storage_id = ?, init_storage_key = ? WHERE init_object_id = ?'),
      queueDeletion: p('INSERT INTO object_deletions (storage_id, storage_key, queued, not_before) VALUES (?, ?, ?, ?)'),
      // Read in queue order (the `+` keeps SQLite from sorting a whole backend's entries by seq).
      pendingDeletions: p(`SELECT storage_id, storage_key AS key FROM object_deletions
        WHERE (@ids IS NULL OR +storage_id IN (SELECT value FROM json_each(@ids))) AND (@due IS NULL OR not_before <= @due)
        ORDER BY seq LIMIT @limit`),
      completeDeletion: p('DELETE FROM object_deletions WHERE storage_id = ? AND storage_key = ?'),
      storageIds: p(STORAGE_IDS).pluck(true),
      // Candidates whose object is old enough that no PUT URL for it works (or already gone).
      candidates: p(`SELECT c.object_id FROM object_gc_candidates c LEFT JOIN objects o ON o.id = c.object_id
        WHERE o.id IS NULL OR o.created < ? LIMIT ?`).pluck(true),
      dropCandidate: p('DELETE FROM object_gc_candidates WHERE object_id = ?'),
      unregistered: p('SELECT id FROM objects WHERE registered = 0 AND created < ? ORDER BY created LIMIT ?').pluck(true),
      referenced: p(REFERENCED).pluck(true),
      deleteObject: p('DELETE FROM objects WHERE id = ?'),
      getObject: p('SELECT init_object_id FROM objects WHERE id = ?'),
      deleteInstances: p('DELETE FROM object_instances WHERE object_id = ?'),
      acquireLease: p(`INSERT INTO leases (name, holder, expires_ms) VALUES (@name, @holder, @expires)
        ON CONFLICT(name) DO UPDATE SET holder = @holder, expires_ms = @expires
        WHERE leases.holder = @holder OR leases.expires_ms <= @now`),
      releaseLease: p('DELETE FROM leases WHERE name = ? AND holder = ?'),
    };
    return this.statements;
  }

  /** The first instance of a newly allocated object (allocateObjects). */
  allocated(objectId: string, instance: ObjectStorageRef, now: string): void {
    // Minted by the object store, never client text: a window row could not carry them (SegmentRow).
    if (!fitsSegmentRow(instance.storage_id) || !fitsSegmentRow(instance.key)) {
      throw new Error(`Storage id or key of object ${objectId} is empty or holds U+001E or U+001F`);
    }
    this.s.insertInstance.run(objectId, instance.storage_id, instance.key, now);
  }

  instancesOf(objectId: string): ObjectStorageRef[] {
    return this.s.instancesOf.all(objectId) as ObjectStorageRef[];
  }

  /** Adds a controlled instance (`instance_conflict` when that backend already holds one). */
  add(objectId: string, instance: ObjectStorageRef, now: string): void {
    if (this.instancesOf(objectId).some((i) => i.storage_id === instance.storage_id)) {
      throw new TamsError('instance_conflict', `Object ${objectId} already has an instance on storage backend ${instance.storage_id}`);
    }
    this.allocated(objectId, instance, now);
    this.copyToRows(objectId);
  }

  /**
   * Removes the controlled instance on `storageId` and queues its bytes for deletion; the
   * caller has checked that another instance remains. `not_found` when there is none there.
   */
  remove(objectId: string, storageId: string, now: string, notBefore: string): ObjectStorageRef {
    const instance = this.instancesOf(objectId).find((i) => i.storage_id === storageId);
    if (instance === undefined) throw new TamsError('not_found', `Object ${objectId} has no instance on storage backend ${storageId}`);
    this.s.deleteInstance.run(objectId, storageId);
    this.s.queueDeletion.run(instance.storage_id, instance.key, now, notBefore);
    this.copyToRows(objectId);
    return instance;
  }

  /** Rewrites the copies of an object's instances in its row and in the segment rows naming it. */
  private copyToRows(objectId: string): void {
    const { ids, keys } = joinInstances(this.instancesOf(objectId));
    this.s.setObjectStorage.run(ids, keys, objectId);
    this.s.setSegmentObjectStorage.run(ids, keys, objectId);
    this.s.setSegmentInitStorage.run(ids, keys, objectId);
  }

  storageIdsInUse(): string[] {
    return this.s.storageIds.all() as string[];
  }

  /**
   * See MetadataStore.collectObjects. An object collected here may have been the last to name
   * its init object: that one is checked again in the same pass.
   */
  collect(createdBefore: string, limit: number, now: string): { collected: number; more: boolean } {
    let collected = 0;
    let examined = 0;
    const work = [...(this.s.candidates.all(createdBefore, limit) as string[])];
    for (let id = work.shift(); id !== undefined; id = work.shift()) {
      examined++;
      this.s.dropCandidate.run(id);
      const gone = this.collectOne(id, now);
      if (gone === undefined) continue;
      collected++;
      if (gone.init_object_id !== null) work.push(gone.init_object_id);
    }
    if (examined < limit) {
      for (const id of this.s.unregistered.all(createdBefore, limit - examined) as string[]) {
        examined++;
        if (this.collectOne(id, now) !== undefined) collected++;
      }
    }
    return { collected, more: examined >= limit };
  }

  /** Deletes the object when nothing needs it, queueing its bytes; what it was, or undefined when kept. */
  private collectOne(id: string, now: string): { init_object_id: string | null } | undefined {
    if (this.s.referenced.get({ id }) === 1) return undefined;
    const row = this.s.getObject.get(id) as { init_object_id: string | null } | undefined;
    if (row === undefined) return undefined;
    for (const instance of this.instancesOf(id)) this.s.queueDeletion.run(instance.storage_id, instance.key, now, now);
    this.s.deleteInstances.run(id);
    this.s.deleteObject.run(id);
    return row;
  }

  pendingDeletions(limit: number, storageIds?: readonly string[], dueBy?: string): ObjectStorageRef[] {
    return this.s.pendingDeletions.all({ ids: storageIds === undefined ? null : JSON.stringify(storageIds), due: dueBy ?? null, limit }) as ObjectStorageRef[];
  }

  completeDeletions(done: readonly ObjectStorageRef[]): void {
    for (const d of done) this.s.completeDeletion.run(d.storage_id, d.key);
  }

  acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): boolean {
    return this.s.acquireLease.run({ name, holder, expires: nowMs + ttlMs, now: nowMs }).changes > 0;
  }

  releaseLease(name: string, holder: string): void {
    this.s.releaseLease.run(name, holder);
  }
}
