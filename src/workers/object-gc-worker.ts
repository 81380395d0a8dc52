/**
 * Garbage collection of media objects, the first background worker. Each pass, under a lease
 * in the metadata store (so one process at a time works, and another takes over when the
 * holder dies and its lease runs out):
 *
 * 1. the store drops objects nothing needs any more (no segment names them, as media or init
 *    object) and objects allocated but never registered for longer than min_object_timeout
 *    plus a grace period (no PUT URL outlives min_object_timeout, see config.ts), queueing the
 *    bytes of their controlled instances in the same transaction;
 * 2. the queued bytes are deleted from their backends (local directory and S3 alike) and taken
 *    off the queue. A backend that fails keeps its entries queued for the next pass; the others
 *    go on. Uncontrolled instances (URLs) are never in the queue.
 *
 * Every step is idempotent (deleting absent bytes succeeds), so a pass cut short by a crash
 * is simply done again. Time comes from the injected clock.
 */
import type { MetadataStore } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { ObjectStorageRef } from '../domain/entities';
import type { ObjectStores } from '../services/object-stores';
import { mapBounded } from '../services/bounded-concurrency';

export interface ObjectGcOptions {
  /** Who this process is, for the lease (unique per process). */
  holder: string;
  /** Objects dropped and byte deletions done per step. */
  batch: number;
  /** Pause between passes. */
  intervalMs: number;
  /** min_object_timeout plus the grace period, in milliseconds: after it no PUT URL for an object works. */
  unregisteredAfterMs: number;
  /** Steps per pass at most, so one pass over a large backlog yields the lease in time. Default 20. */
  maxStepsPerPass?: number;
}

/** Told what each pass did (metrics, logs). */
export interface ObjectGcObserver {
  pass(result: ObjectGcPass): void;
  failed(storageId: string, error: unknown): void;
}

export interface ObjectGcPass {
  /** False when another process held the lease: nothing was done. */
  ran: boolean;
  /** Objects dropped from the metadata store. */
  collected: number;
  /** Byte deletions done. */
  deleted: number;
  /** Byte deletions that failed (left queued). */
  failed: number;
}

/** Byte deletions in flight at once. */
const DELETES_IN_FLIGHT = 16;
const LEASE = 'object-gc';

export class ObjectGcWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ObjectGcPass> | undefined;
  private stopped = true;
  private readonly maxSteps: number;

  constructor(
    private readonly store: MetadataStore,
    private readonly stores: ObjectStores,
    private readonly clock: Clock,
    private readonly options: ObjectGcOptions,
    private readonly observer?: ObjectGcObserver,
  ) {
    this.maxSteps = options.maxStepsPerPass ?? 20;
  }

  /** One pass now (tests, operators); waits for a pass already running instead of starting another. */
  async runOnce(): Promise<ObjectGcPass> {
    if (this.running !== undefined) return this.running;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<ObjectGcPass> {
    const result: ObjectGcPass = { ran: false, collected: 0, deleted: 0, failed: 0 };
    // Long enough for a whole pass; renewed at every step.
    const leaseMs = Math.max(this.options.intervalMs * 2, 60_000);
    if (!(await this.store.acquireLease(LEASE, this.options.holder, leaseMs, this.clock.nowMs()))) return result;
    result.ran = true;
    const failing = new Set<string>();
    for (let step = 0; step < this.maxSteps; step++) {
      const nowMs = this.clock.nowMs();
      const cutoff = new Date(nowMs - this.options.unregisteredAfterMs).toISOString();
      const { collected, more } = await this.store.collectObjects(cutoff, this.options.batch, new Date(nowMs).toISOString());
      result.collected += collected;
      const { deleted, failed, progress } = await this.deleteQueued(failing);
      result.deleted += deleted;
      result.failed += failed;
      // A step whose deletions all failed has marked their backend failing: the next reads past it.
      if (!more && !progress && failed === 0) break;
      if (!(await this.store.acquireLease(LEASE, this.options.holder, leaseMs, this.clock.nowMs()))) break;
    }
    this.observer?.pass(result);
    return result;
  }

  /**
   * Deletes a batch of queued bytes, read only from the backends that are configured and have
   * not failed in this pass, so entries stuck on one never hold up the others'; `progress`
   * says whether anything left the queue.
   */
  private async deleteQueued(failing: Set<string>): Promise<{ deleted: number; failed: number; progress: boolean }> {
    const usable = this.stores.backends.map((b) => b.id).filter((id) => !failing.has(id));
    if (usable.length === 0) return { deleted: 0, failed: 0, progress: false };
    const work = await this.store.pendingObjectDeletions(this.options.batch, usable, new Date(this.clock.nowMs()).toISOString());
    const outcomes = await mapBounded(work, DELETES_IN_FLIGHT, async (d): Promise<boolean> => {
      if (failing.has(d.storage_id)) return false;
      try {
        await this.stores.get(d.storage_id)?.delete(d.key);
        return true;
      } catch (error) {
        if (!failing.has(d.storage_id)) this.observer?.failed(d.storage_id, error);
        failing.add(d.storage_id);
        return false;
      }
    });
    const done: ObjectStorageRef[] = work.filter((_, i) => outcomes[i]);
    if (done.length > 0) await this.store.completeObjectDeletions(done);
    return { deleted: done.length, failed: work.length - done.length, progress: done.length > 0 };
  }

  /** Runs a pass every intervalMs (the first one interval after start). */
  start(onError: (error: unknown) => void): void {
    this.stopped = false;
    const schedule = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.runOnce().then(schedule, (error: unknown) => {
          onError(error);
          schedule();
        });
      }, this.options.intervalMs);
      this.timer.unref();
    };
    schedule();
  }

  /** Stops scheduling, waits for a running pass and gives the lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.store.releaseLease(LEASE, this.options.holder).catch(() => undefined);
  }
}
