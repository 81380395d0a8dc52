/**
 * Webhook delivery: every committed outbox event a webhook wants (events, filters, its owner's
 * permissions) is POSTed to it, at least once and in outbox order.
 *
 * Each webhook has a cursor in the metadata store (the last outbox seq it is done with). A
 * webhook is worked on under the lease `webhook:<id>`, so two processes never deliver to it at
 * once and a process that died has its webhook taken over when the lease runs out; the lease
 * is renewed before every POST and outlives the POST's timeout. The cursor moves only after the
 * receiver answered 2xx (compare-and-set), so a crash repeats at most the event in flight.
 *
 * A failed POST (timeout, network error, non-2xx, a redirect, which is never followed, or an
 * address the SSRF guard refuses) is retried with exponential backoff and jitter; after
 * `maxAttempts` the webhook goes to `error` with an `error` object. `disabled` and `error`
 * webhooks are left alone; a PUT back to `created` resets the attempts (a store trigger) and
 * delivery resumes from the cursor, or, when retention has pruned events past the cursor, from
 * the oldest retained event, with the skipped span in the webhook's `error`.
 *
 * Outbox retention runs here too, under its own lease: events older than `retentionMs` are
 * deleted whatever any cursor says.
 */
import type { Webhook } from '../domain/entities';
import type { Clock } from '../ports/clock';
import type { MetadataStore } from '../ports/metadata-store';
import type { ContextualEvent, IdleCursorMove, WebhookDelivery } from '../ports/webhook-delivery';
import type { WebhookResponse, WebhookSender } from '../ports/webhook-sender';
import { webhookOwner } from '../services/webhook-service';
import type { WebhookPayloads } from '../services/webhook-payloads';
import { webhookWants } from '../services/webhook-matching';
import { DeliveryPipeline, type PipelineOutcome } from './webhook-pipeline';
import { CursorWrites } from './webhook-cursor-writes';

export interface WebhookDeliveryOptions {
  /** Who this process is, for the leases (unique per process). */
  holder: string;
  /** TAMS_WEBHOOK_MAX_ATTEMPTS: failed attempts at one event before the webhook goes to `error`. */
  maxAttempts: number;
  /** TAMS_WEBHOOK_LEASE_MS: how long a webhook stays claimed by a process that stopped renewing. */
  leaseMs: number;
  /** First retry delay; doubled per attempt up to `retryMaxMs`, half of it random. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often webhooks are looked at without a commit notification (events of other processes, due retries). */
  pollMs: number;
  /** Outbox events read per step. */
  batch: number;
  /** Webhooks delivered to at once by this process. */
  concurrency: number;
  /**
   * Events in flight to one webhook at once (TAMS_WEBHOOK_PIPELINE; default 1), pipelined in
   * order on its connection by the sender (requests of one `lane`).
   */
  pipeline?: number;
  /**
   * How long a run that caught up keeps its webhook (lease and slot) waiting for the next commit
   * while slots are free (default 1,000 ms; 0: give it back at once). A webhook that receives
   * a steady stream of events is then claimed once, not once per event.
   */
  lingerMs?: number;
  /** TAMS_OUTBOX_RETENTION in milliseconds. */
  retentionMs: number;
  retentionIntervalMs: number;
  /** For tests: [0, 1) like Math.random. */
  random?: () => number;
}

export type DeliveryFailure = Extract<WebhookResponse, { ok: false }>;

/** A claimed webhook's delivery in progress. */
interface DeliveryRun {
  delivery: WebhookDelivery;
  pipeline: DeliveryPipeline;
  /** The last outbox seq read (sent, in flight or skipped). */
  readFrom: number;
  owner: ReturnType<typeof webhookOwner>;
  visibility: ReturnType<WebhookPayloads['batch']>;
}

/** Told what delivery does (metrics, log, audit). */
export interface WebhookDeliveryObserver {
  sent(webhook: Webhook, event: ContextualEvent): void;
  /** A failed attempt; `retry`: another will be made, else the webhook went to `error`. */
  failed(webhook: Webhook, event: ContextualEvent, failure: DeliveryFailure, retry: boolean): void;
  /** Retention pruned events before this webhook got them: `from`..`to` (outbox seqs) skipped. */
  skipped(webhook: Webhook, from: number, to: number): void;
  pruned(count: number): void;
}

const RETENTION_LEASE = 'outbox-retention';
const PRUNE_BATCH = 5000;
/** Prune steps per pass at most, so one pass yields in time. */
const PRUNE_STEPS = 100;
/**
 * While every delivery slot is taken, a run (one webhook holding a slot) ends after this long or
 * this many events, so a few slow receivers cannot keep every slot: the slot goes back to the
 * scan, which starts the webhooks that ran longest ago first.
 */
const RUN_MS = 500;
const RUN_EVENTS = 100;
const LINGER_MS = 1_000;
const UNANSWERED_LIMIT = 3;

/** How the webhook's `error` describes a failure. */
function failureSummary(failure: DeliveryFailure, attempts: number): string {
  const what = failure.kind === 'refused' ? 'the URL resolves to an address webhooks may not reach' : failure.message;
  return `Delivery failed ${attempts} times in a row: ${what}`;
}

export class WebhookDeliveryWorker {
  private readonly active = new Set<string>();
  /** When each webhook's last run started (a counter): the scan starts the least recent first. */
  private readonly lastRun = new Map<string, number>();
  private runCounter = 0;
  private scanning: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private pollTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** Webhooks whose lease another process held when last tried, until their timer looks again. */
  private readonly heldElsewhere = new Map<string, NodeJS.Timeout>();
  private readonly runs = new Set<Promise<void>>();
  private retentionPass: Promise<number> | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly random: () => number;
  /** Runs that caught up and wait for a commit, each woken by calling it. */
  private readonly lingerers = new Set<() => void>();
  /** idle() callers waiting: runs end when caught up instead of lingering. */
  private draining = 0;
  /** Counts pokes (commits, polls, runs ending): reads made before a poke may be out of date. */
  private generation = 0;
  private readsGeneration = 0;
  private readonly reads = new Map<number, Promise<ContextualEvent[]>>();
  private readonly cursorWrites: CursorWrites;
  /** Per webhook, the event last left `unanswered` and how many times in a row. */
  private readonly unanswered = new Map<string, { seq: number; count: number }>();

  constructor(
    private readonly store: MetadataStore,
    private readonly payloads: WebhookPayloads,
    private readonly send: WebhookSender,
    private readonly clock: Clock,
    private readonly options: WebhookDeliveryOptions,
    private readonly observer: WebhookDeliveryObserver,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.random = options.random ?? Math.random;
    this.cursorWrites = new CursorWrites(store);
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.store.onCommit(() => this.poke());
    this.pollTimer = setInterval(() => this.poke(), this.options.pollMs);
    this.pollTimer.unref();
    this.retentionTimer = setInterval(() => {
      this.pruneOnce().catch(this.onError);
    }, this.options.retentionIntervalMs);
    this.retentionTimer.unref();
    this.poke();
  }

  /** Stops taking work, lets each POST in flight finish (within its timeout) and gives the leases up. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.pollTimer);
    clearInterval(this.retentionTimer);
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    for (const timer of this.heldElsewhere.values()) clearTimeout(timer);
    this.heldElsewhere.clear();
    this.wakeLingerers();
    await this.scanning;
    await Promise.all([...this.runs]);
    await this.retentionPass?.catch(() => undefined);
    await this.send.close?.().catch(this.onError);
  }

  /** Resolves once nothing is in flight and no webhook has work it could do now (tests). */
  async idle(): Promise<void> {
    this.draining += 1;
    try {
      for (;;) {
        this.wakeLingerers();
        await this.scanning;
        if (this.runs.size === 0 && !this.again) return;
        await Promise.all([...this.runs]);
      }
    } finally {
      this.draining -= 1;
    }
  }

  /** Looks at every webhook now (and wakes the runs waiting for a commit). */
  poke(): void {
    if (this.stopped) return;
    this.generation += 1;
    this.wakeLingerers();
    if (this.scanning !== undefined) {
      this.again = true;
      return;
    }
    this.scanning = this.scan()
      .catch(this.onError)
      .finally(() => {
        this.scanning = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async scan(): Promise<void> {
    const [deliveries, last, pruned] = await Promise.all([this.store.listWebhookDeliveries({ behind: true }), this.store.lastEventSeq(), this.store.outboxPruned()]);
    const now = this.clock.nowMs();
    const due: WebhookDelivery[] = [];
    for (const delivery of deliveries) {
      const { webhook } = delivery;
      if (webhook.status !== 'created' && webhook.status !== 'started') continue;
      if (this.active.has(webhook.id) || delivery.cursor >= last || this.heldElsewhere.has(webhook.id)) continue;
      if (delivery.next_attempt_ms > now) {
        this.retryAt(webhook.id, delivery.next_attempt_ms - now);
        continue;
      }
      due.push(delivery);
    }
    if (due.length === 0 || this.stopped) return;
    const work = await this.withWork(due, pruned.through_seq);
    work.sort((a, b) => (this.lastRun.get(a.webhook.id) ?? 0) - (this.lastRun.get(b.webhook.id) ?? 0));
    for (const delivery of work) {
      if (this.stopped) return;
      if (this.active.size >= this.options.concurrency) {
        // Runs waiting for a commit give their slots back to webhooks with work.
        this.wakeLingerers();
        return;
      }
      this.startRun(delivery.webhook.id);
    }
  }

  private wakeLingerers(): void {
    const woken = [...this.lingerers];
    this.lingerers.clear();
    for (const wake of woken) wake();
  }

  /**
   * A run that caught up waits here for the next commit, keeping its lease and slot, while no
   * other webhook needs the slot and for at most lingerMs since `caughtUpAt`; true: read again
   * (at once when a commit came after `generation`, the one seen before the last read), false:
   * give the webhook back.
   */
  private linger(generation: number, caughtUpAt: number): Promise<boolean> {
    const remaining = (this.options.lingerMs ?? LINGER_MS) - (performance.now() - caughtUpAt);
    if (this.stopped || this.draining > 0 || remaining <= 0 || this.active.size >= this.options.concurrency) return Promise.resolve(false);
    if (this.generation !== generation) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(!this.stopped && this.draining === 0);
      };
      const timer = setTimeout(() => {
        this.lingerers.delete(wake);
        resolve(false);
      }, remaining);
      this.lingerers.add(wake);
    });
  }

  /**
   * The events after `cursor` (a batch), read once per commit seen for every run at that
   * cursor: webhooks woken by the same commit share one read (and, through the payloads, one
   * lookup of each event's objects).
   */
  private eventsAfter(cursor: number): Promise<ContextualEvent[]> {
    if (this.readsGeneration !== this.generation || this.reads.size >= 256) {
      this.reads.clear();
      this.readsGeneration = this.generation;
    }
    let read = this.reads.get(cursor);
    if (read === undefined) {
      read = this.store.readEventsWithContext(cursor, this.options.batch);
      this.reads.set(cursor, read);
      // A failed read is not kept for the others.
      read.catch(() => this.reads.delete(cursor));
    }
    return read;
  }

  /**
   * The due webhooks with something to send, decided in memory from one read of the events
   * after the earliest of their cursors (types, ids and context against `events` and filters).
   * The others' cursors move past what they do not want in one write, without a lease: the move
   * is a compare-and-set on cursor and registration, and sends nothing. Webhooks behind what
   * retention pruned are worked on under their lease (the skipped span is reported there).
   */
  private async withWork(due: readonly WebhookDelivery[], prunedThrough: number): Promise<WebhookDelivery[]> {
    const work = due.filter((d) => d.cursor < prunedThrough);
    const rest = due.filter((d) => d.cursor >= prunedThrough);
    if (rest.length === 0) return work;
    const from = Math.min(...rest.map((d) => d.cursor));
    const events = await this.store.readEventsWithContext(from, this.options.batch);
    if (events.length === 0) return work;
    const end = events[events.length - 1]!.seq;
    const idle: IdleCursorMove[] = [];
    for (const delivery of rest) {
      // Past this read: looked at by a later scan (a commit, a run ending or the poll).
      if (delivery.cursor >= end) continue;
      const { webhook } = delivery;
      if (events.some((event) => event.seq > delivery.cursor && webhookWants(webhook, event))) work.push(delivery);
      else idle.push({ id: webhook.id, from: delivery.cursor, to: end, revision: delivery.revision });
    }
    const moved = await this.store.advanceIdleWebhookCursors(idle);
    // A full read may have more after it for the webhooks just moved.
    if (moved > 0 && events.length === this.options.batch) this.again = true;
    return work;
  }

  private startRun(id: string): void {
    this.active.add(id);
    // Bounded: only the order among webhooks with work matters, and a forgotten one just goes first.
    if (this.lastRun.size >= 100_000) this.lastRun.clear();
    this.lastRun.set(id, ++this.runCounter);
    const run = this.deliver(id)
      .catch(this.onError)
      .finally(() => {
        this.active.delete(id);
        this.runs.delete(run);
        this.poke();
      });
    this.runs.add(run);
  }

  private retryAt(id: string, delayMs: number): void {
    if (this.retryTimers.has(id)) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(id);
      this.poke();
    }, delayMs);
    timer.unref();
    this.retryTimers.set(id, timer);
  }

  private async claim(id: string): Promise<boolean> {
    return this.store.acquireLease(`webhook:${id}`, this.options.holder, this.options.leaseMs, this.clock.nowMs());
  }

  /**
   * Another process holds the webhook's lease (it is delivering, or died and the lease has not
   * run out): look again after a poll interval, not at every commit, so a held lease costs a
   * few claims, not a claim per turn of the scan.
   */
  private heldByAnother(id: string): void {
    if (this.heldElsewhere.has(id)) return;
    const timer = setTimeout(() => {
      this.heldElsewhere.delete(id);
      this.poke();
    }, Math.min(this.options.pollMs, this.options.leaseMs));
    timer.unref();
    this.heldElsewhere.set(id, timer);
  }

  /** Delivers to one webhook until it is caught up (and stays so for a while), fails, changes status or the lease is lost. */
  private async deliver(id: string): Promise<void> {
    if (!(await this.claim(id))) {
      this.heldByAnother(id);
      return;
    }
    try {
      await this.deliverClaimed(id);
    } finally {
      await this.store.releaseLease(`webhook:${id}`, this.options.holder).catch(() => undefined);
    }
  }

  /**
   * The run of a claimed webhook. Events are read from where the last read ended and sent as
   * they come, up to the pipeline's depth in flight, without waiting for the answers to earlier
   * ones; answers move the cursor as they arrive. Events committed while answers are awaited are
   * read and sent at once (a commit and an answer are waited for together).
   */
  private async deliverClaimed(id: string): Promise<void> {
    let claimedAt = this.clock.nowMs();
    const renewed = async (): Promise<boolean> => {
      if (this.clock.nowMs() - claimedAt <= this.options.leaseMs / 3) return true;
      if (!(await this.claim(id))) return false;
      claimedAt = this.clock.nowMs();
      return true;
    };
    // Measured on the real clock: it bounds how long this run holds a slot, not event time.
    const runStarted = performance.now();
    let sentInRun = 0;
    let caughtUpAt: number | undefined;
    let run: DeliveryRun | undefined;
    /** The last read found everything committed then: wait for a commit (or an answer) before reading again. */
    let waitBeforeRead = false;
    let generation = this.generation;
    for (;;) {
      if (run === undefined) {
        // Read under the lease: another process may have moved the cursor, a PUT the webhook.
        const delivery = await this.store.getWebhookDelivery(id);
        if (delivery === undefined || this.stopped) return;
        const status = delivery.webhook.status;
        if (status !== 'created' && status !== 'started') return;
        if (delivery.next_attempt_ms > this.clock.nowMs()) return;
        const cursor = await this.skipPruned(delivery);
        const { webhook } = delivery;
        const depth = this.options.pipeline ?? 1;
        // A retry goes alone: nothing is sent behind the failed event until it is acknowledged.
        const pipeline: DeliveryPipeline = new DeliveryPipeline(cursor, delivery.attempts > 0 ? 1 : depth, (from, to) => this.cursorWrites.advance(id, from, to), (event) => {
          this.observer.sent(webhook, event);
          delivery.attempts = 0;
          pipeline.depth = depth;
        });
        run = { delivery, pipeline, readFrom: cursor, owner: webhookOwner(webhook), visibility: this.payloads.batch() };
      }
      if (this.stopped || !(await renewed())) return this.finish(run);
      if (waitBeforeRead && this.generation === generation) {
        if (run.pipeline.inFlight > 0) {
          // Whichever comes first: an answer (the cursor moves) or a commit (more to send).
          await Promise.race([run.pipeline.nextAnswer(), this.commitAfter(generation)]);
          const outcome = await run.pipeline.settleAnswered();
          if (outcome.kind !== 'ok') return this.pipelineStopped(run.delivery, outcome);
          continue;
        }
        // Caught up, nothing in flight: wait for the next commit with the webhook still claimed
        // (for at most lingerMs in all since the last event), or give it back.
        caughtUpAt ??= performance.now();
        if (!(await this.linger(generation, caughtUpAt))) return;
      }
      waitBeforeRead = false;
      generation = this.generation;
      const events = await this.eventsAfter(run.readFrom);
      if (events.length === 0) {
        waitBeforeRead = true;
        continue;
      }
      // A gap after what was read may be events retention pruned: start again from the stored
      // delivery (skipPruned reports them) once nothing is in flight.
      if (events[0]!.seq > run.readFrom + 1) {
        const outcome = await run.pipeline.settleAll();
        if (outcome.kind !== 'ok') return this.pipelineStopped(run.delivery, outcome);
        run = undefined;
        continue;
      }
      caughtUpAt = undefined;
      const { delivery, pipeline, owner, visibility } = run;
      const { webhook } = delivery;
      for (const event of events) {
        if (this.stopped) return this.finish(run);
        if (!webhookWants(webhook, event) || !(await visibility.visibleTo(owner, event))) {
          pipeline.skip(event.seq);
          run.readFrom = event.seq;
          continue;
        }
        if (pipeline.full) {
          const outcome = await pipeline.settleOldest();
          if (outcome.kind !== 'ok') return this.pipelineStopped(delivery, outcome);
        }
        if (!(await renewed())) return this.finish(run);
        // A PUT or DELETE answered since the batch was read (disabled, new url, other events or
        // filters) takes effect now: only the POSTs already in flight go out under the old one.
        if (!(await this.unchanged(delivery))) return this.finish(run);
        const body = await this.payloads.body(webhook, owner, event);
        pipeline.sent(event, this.send({ url: webhook.url, body, headers: keyHeader(webhook), lane: id }));
        run.readFrom = event.seq;
        // Long enough while every slot is taken: give this one back (the scan that follows this
        // run starts the others first). With slots free nobody waits, and the run goes on.
        if ((++sentInRun >= RUN_EVENTS || performance.now() - runStarted >= RUN_MS) && this.active.size >= this.options.concurrency) return this.finish(run);
      }
      // Keep the cursor moving with what was answered meanwhile (no waiting).
      const outcome = await pipeline.settleAnswered();
      if (outcome.kind !== 'ok') return this.pipelineStopped(delivery, outcome);
      // A short read was everything committed when it was made.
      waitBeforeRead = events.length < this.options.batch;
    }
  }

  /** Ends a run: every answer in flight is waited for (within the timeout), so the cursor passes what was acknowledged. */
  private async finish(run: DeliveryRun): Promise<void> {
    const outcome = await run.pipeline.settleAll();
    if (outcome.kind !== 'ok') await this.pipelineStopped(run.delivery, outcome);
  }

  /** Resolves at the first poke after `generation` (at once if there was one). */
  private commitAfter(generation: number): Promise<void> {
    if (this.generation !== generation || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.lingerers.add(() => resolve());
    });
  }

  /**
   * A failed event (recorded, retried later) or a cursor moved by someone else ends the run. An
   * event the receiver never answered because it closed the connection after the answers before
   * it (`unanswered`) is sent again at once by the next run, without counting an attempt, up to
   * UNANSWERED_LIMIT times in a row for the same event (a receiver that dies on that event
   * then gets the backoff).
   */
  private async pipelineStopped(delivery: WebhookDelivery, outcome: Exclude<PipelineOutcome, { kind: 'ok' }>): Promise<void> {
    if (outcome.kind !== 'failed') return;
    const id = delivery.webhook.id;
    if (outcome.failure.kind === 'unanswered') {
      const streak = this.unanswered.get(id);
      const count = streak?.seq === outcome.event.seq ? streak.count + 1 : 1;
      if (this.unanswered.size >= 10_000) this.unanswered.clear();
      this.unanswered.set(id, { seq: outcome.event.seq, count });
      if (count <= UNANSWERED_LIMIT) return;
    }
    this.unanswered.delete(id);
    await this.failed(delivery, outcome.event, outcome.failure);
  }

  /** Is the webhook still registered as it was read (the delivery worker's own status and error changes aside) and deliverable? */
  private async unchanged(read: WebhookDelivery): Promise<boolean> {
    const now = await this.store.getWebhookDelivery(read.webhook.id);
    if (now === undefined || (now.webhook.status !== 'created' && now.webhook.status !== 'started')) return false;
    return now.revision === read.revision || registration(now.webhook) === registration(read.webhook);
  }

  /** The cursor to read from: the webhook's, or past what retention pruned, reported. */
  private async skipPruned(delivery: WebhookDelivery): Promise<number> {
    const { through_seq: through, before } = await this.store.outboxPruned();
    if (delivery.cursor >= through) return delivery.cursor;
    const from = delivery.cursor + 1;
    const error = {
      type: 'events_skipped',
      summary: `Events ${from} to ${through} of the outbox were removed by retention (TAMS_OUTBOX_RETENTION${before === undefined ? '' : `, everything committed before ${before}`}) before this webhook got them; delivery resumed after them`,
      time: new Date(this.clock.nowMs()).toISOString(),
    };
    if (!(await this.store.advanceWebhookCursor(delivery.webhook.id, delivery.cursor, through, error))) return delivery.cursor;
    this.observer.skipped(delivery.webhook, from, through);
    return through;
  }

  private async failed(delivery: WebhookDelivery, event: ContextualEvent, failure: DeliveryFailure): Promise<void> {
    const attempts = delivery.attempts + 1;
    const { webhook } = delivery;
    if (attempts >= this.options.maxAttempts) {
      const time = new Date(this.clock.nowMs()).toISOString();
      await this.store.recordWebhookFailure(webhook.id, attempts, 0, failure.message);
      await this.store.failWebhook(webhook.id, { type: 'delivery_failed', summary: failureSummary(failure, attempts), time });
      this.observer.failed(webhook, event, failure, false);
      return;
    }
    const delay = this.backoffMs(attempts);
    await this.store.recordWebhookFailure(webhook.id, attempts, this.clock.nowMs() + delay, failure.message);
    this.observer.failed(webhook, event, failure, true);
    this.retryAt(webhook.id, delay);
  }

  /** Exponential, half of it random ("equal jitter"), so webhooks failing together spread out. */
  backoffMs(attempts: number): number {
    const full = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (attempts - 1));
    return Math.round(full / 2 + (this.random() * full) / 2);
  }

  /** One retention pass now (under its lease); how many events went. */
  async pruneOnce(): Promise<number> {
    if (this.retentionPass !== undefined) return this.retentionPass;
    this.retentionPass = this.prune().finally(() => {
      this.retentionPass = undefined;
    });
    return this.retentionPass;
  }

  private async prune(): Promise<number> {
    const leaseMs = Math.max(this.options.retentionIntervalMs * 2, 60_000);
    if (!(await this.store.acquireLease(RETENTION_LEASE, this.options.holder, leaseMs, this.clock.nowMs()))) return 0;
    const before = new Date(this.clock.nowMs() - this.options.retentionMs).toISOString();
    let total = 0;
    for (let step = 0; step < PRUNE_STEPS; step++) {
      const removed = await this.store.pruneEvents(before, PRUNE_BATCH);
      total += removed;
      if (removed < PRUNE_BATCH) break;
    }
    if (total > 0) this.observer.pruned(total);
    return total;
  }
}

/** What a client set on the webhook: everything but the status and error the worker changes. */
function registration(webhook: Webhook): string {
  const { status: _status, error: _error, ...rest } = webhook;
  return JSON.stringify(rest);
}

function keyHeader(webhook: Webhook): Record<string, string> {
  if (webhook.api_key_name === undefined || webhook.api_key_value === undefined) return {};
  return { [webhook.api_key_name]: webhook.api_key_value };
}
