/**
 * Asynchronous flow and segment deletions (DELETE answered 202 with a deletion request), worked
 * in chunks by a background worker that survives restarts: each request is claimed with a lease
 * in the metadata store (`deletion:<flow id>`), so one process at a time works it and another takes
 * it over when its holder dies; after a restart the worker finds unfinished requests in the
 * store and resumes them from `timerange_remaining`.
 *
 * Status goes `created` -> `started` -> `done` (or `error`, with an `error` object). Each chunk
 * deletes the segments from the first one wholly inside what remains to the end of the
 * `batch`-th, in its own transaction with one `flows/segments_deleted` event whose timerange
 * starts and ends on deleted segments, and the new `timerange_remaining` is stored in that same
 * transaction, so a chunk is never deleted twice nor skipped, and the request never says more
 * is left than is. A request that deletes the flow deletes it
 * last (one `flows/deleted`). Freed objects become garbage-collection candidates in the same
 * transactions (a trigger on the segments table). Finished requests past their `expiry` are
 * deleted. Stopping lets the chunk in progress finish and leaves the request `started`.
 */
import type { DeletionRequest } from '../domain/entities';
import { toTamsError } from '../domain/errors';
import { EMPTY, covers, formatTimeRange, intersection, parseTimeRange, range, type TimeRange } from '../domain/timerange';
import type { Clock } from '../ports/clock';
import type { DeletionProgress, MetadataStore } from '../ports/metadata-store';
import { DELETION_REQUEST_RETENTION_MS } from '../services/deletion-service';

export interface DeletionWorkerOptions {
  /** Who this process is, for the leases (unique per process). */
  holder: string;
  /** Segments deleted per chunk (one transaction each). */
  batch: number;
  /** Look for requests left by a stopped or dead process this often. Default 5000 ms. */
  intervalMs?: number;
  /**
   * After each chunk, wait this many times as long as the chunk took (0: only yield to the
   * event loop). Default 3: deletions use about a quarter of the process's time.
   */
  pauseFactor?: number;
  /** A flow's lease, renewed at every chunk: how long a dead holder's request waits to be taken over. Default 30,000 ms. */
  leaseMs?: number;
}

/** Told of what the worker did (metrics, logs, tests). */
export interface DeletionWorkerObserver {
  chunk?(requestId: string, deleted: TimeRange): void;
  finished?(request: DeletionRequest): void;
}

export class DeletionWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopping = false;
  private started = false;
  private readonly intervalMs: number;
  private readonly leaseMs: number;
  private readonly pauseFactor: number;

  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
    private readonly options: DeletionWorkerOptions,
    private readonly observer: DeletionWorkerObserver = {},
  ) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pauseFactor = options.pauseFactor ?? 3;
  }

  private now(): string {
    return new Date(this.clock.nowMs()).toISOString();
  }

  /** A new request was stored: work it soon (a pass already running goes round once more). */
  wake(): void {
    if (!this.started || this.stopping) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    setImmediate(() => void this.runOnce().catch(() => undefined));
  }

  /** One pass over the unfinished requests this process can claim; joins a pass already running. */
  async runOnce(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopping);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    await this.store.deleteExpiredDeletionRequests(this.now());
    for (const request of await this.store.listUnfinishedDeletionRequests(100)) {
      if (this.stopping) return;
      // One holder per flow (a flow has one unfinished request at a time; the store refuses a second).
      const lease = `deletion:${request.flow_id}`;
      if (!(await this.store.acquireLease(lease, this.options.holder, this.leaseMs, this.clock.nowMs()))) continue;
      try {
        // Read again under the lease: another process may have finished it meanwhile.
        const current = await this.store.getDeletionRequest(request.id);
        if (current !== undefined && (current.status === 'created' || current.status === 'started')) await this.work(current, lease);
      } finally {
        await this.store.releaseLease(lease, this.options.holder);
      }
    }
  }

  /** Works one request chunk by chunk to `done` (or `error`), unless the worker stops first. */
  private async work(initial: DeletionRequest, lease: string): Promise<void> {
    let request = initial;
    /** The request with `change` and a fresh updated/expiry: what the next write stores. */
    const next = (change: Partial<DeletionRequest>): DeletionRequest => {
      const nowMs = this.clock.nowMs();
      return { ...request, ...change, updated: new Date(nowMs).toISOString(), expiry: new Date(nowMs + DELETION_REQUEST_RETENTION_MS).toISOString() };
    };
    try {
      if (request.status !== 'started') {
        request = next({ status: 'started' });
        await this.store.putDeletionRequest(request);
      }
      let remaining = parseTimeRange(request.timerange_remaining ?? request.timerange_to_delete);
      while (!remaining.empty) {
        if (this.stopping) return;
        const chunkStarted = performance.now();
        const { deleted, rest } = await this.nextChunk(request, remaining);
        // Still ours (a stall may have outlasted the lease): renewed right before the write.
        if (!(await this.store.acquireLease(lease, this.options.holder, this.leaseMs, this.clock.nowMs()))) return;
        // The chunk and the progress it makes are one transaction, written only over the version
        // of the request this worker last wrote: a crash never leaves them apart, and a request
        // changed meanwhile (finished by another holder, extended to the whole flow) is left alone.
        if (!(await this.advance(request, { timerange_remaining: formatTimeRange(rest) }, (progress) => this.store.deleteSegments(request.flow_id, deleted, undefined, this.now(), progress)))) return;
        request = (await this.store.getDeletionRequest(request.id)) ?? request;
        if (!deleted.empty) this.observer.chunk?.(request.id, deleted);
        remaining = rest;
        // Paced: a pause of `pause` times what the chunk took, so a large deletion takes about
        // 1 / (1 + pause) of the process's time and the requests it serves keep the rest.
        await pause((performance.now() - chunkStarted) * this.pauseFactor);
      }
      const done = { status: 'done', timerange_remaining: formatTimeRange(EMPTY) } as const;
      const finished = request.delete_flow
        ? await this.advance(request, done, (progress) => this.store.deleteFlow(request.flow_id, this.now(), progress))
        : await this.advance(request, done, (progress) => this.store.deleteSegments(request.flow_id, EMPTY, undefined, this.now(), progress));
      if (!finished) return;
      request = (await this.store.getDeletionRequest(request.id)) ?? request;
      this.observer.finished?.(request);
    } catch (err) {
      const error = toTamsError(err);
      try {
        request = next({ status: 'error', error: { type: error.type, summary: error.message, time: this.now() } });
        await this.store.putDeletionRequest(request);
        this.observer.finished?.(request);
      } catch {
        // The store itself is failing (or closed): the request stays as last recorded and is resumed later.
      }
    }
  }

  /**
   * Writes `change` to the request with `write` (a store call taking the progress) and says
   * whether it went in: false when the stored request is no longer the version `request` is.
   */
  private async advance(request: DeletionRequest, change: Partial<DeletionRequest>, write: (progress: DeletionProgress) => Promise<unknown>): Promise<boolean> {
    const nowMs = this.clock.nowMs();
    const next: DeletionRequest = { ...request, ...change, updated: new Date(nowMs).toISOString(), expiry: new Date(nowMs + DELETION_REQUEST_RETENTION_MS).toISOString() };
    await write({ request: next, replaces: request.updated });
    const stored = await this.store.getDeletionRequest(request.id);
    return stored !== undefined && stored.updated === next.updated && stored.timerange_remaining === next.timerange_remaining && stored.status === next.status;
  }

  /**
   * The next chunk of `remaining` and what is left after it. The chunk runs from the first
   * segment wholly inside `remaining` to the end of the `batch`-th (segments of a flow never
   * overlap, so nothing later is cut); the rest of `remaining` starts there. EMPTY chunk and rest
   * when nothing wholly inside is left.
   */
  private async nextChunk(request: DeletionRequest, remaining: TimeRange): Promise<{ deleted: TimeRange; rest: TimeRange }> {
    // One more than the batch: a segment that only overlaps the start of `remaining` is listed but not deleted.
    const page = await this.store.listSegments(request.flow_id, { timerange: remaining, object_timerange: false }, { limit: this.options.batch + 1 });
    const inside = page.items.filter((s) => covers(remaining, s.timerange));
    const shown = inside.slice(0, this.options.batch);
    const first = shown[0];
    const last = shown[shown.length - 1];
    if (first === undefined || last === undefined || last.timerange.end === null) return { deleted: EMPTY, rest: EMPTY };
    const more = page.next !== undefined || inside.length > this.options.batch;
    return {
      deleted: range(first.timerange.start, last.timerange.end),
      rest: more ? intersection(remaining, range(last.timerange.end, remaining.end)) : EMPTY,
    };
  }

  /** Works requests now and every intervalMs (requests left by a dead process are found there). */
  start(onError: (error: unknown) => void): void {
    this.started = true;
    this.stopping = false;
    const tick = (): void => {
      if (this.stopping) return;
      this.runOnce().then(schedule, (error: unknown) => {
        onError(error);
        schedule();
      });
    };
    const schedule = (): void => {
      if (this.stopping) return;
      this.timer = setTimeout(tick, this.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stops: the chunk in progress finishes, its request stays `started` (resumed on the next start). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}

/** Waits `ms` (an event-loop turn at least). */
function pause(ms: number): Promise<void> {
  return new Promise<void>((resolve) => (ms >= 1 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}
