import { TamsError } from '../domain/errors';
import type { OutboxEvent } from '../domain/events';
import type { MetadataStore } from '../ports/metadata-store';

export type EventListener = (event: OutboxEvent) => void;

/**
 * Publishes committed outbox events, in order, to in-process subscribers (GraphQL
 * subscriptions, webhook delivery). It reads the outbox after every commit notification
 * and on a timer, so events committed by another process sharing the store are seen too.
 * Subscribers that resume after an earlier event read the retained ones back (`replay`) up to
 * `position`, from where they are published to them.
 */
export class EventDispatcher {
  private readonly listeners = new Set<EventListener>();
  private lastSeq = 0;
  private draining: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: MetadataStore,
    private readonly options: { pollMs?: number; batch?: number; onError?: (err: unknown) => void } = {},
  ) {}

  /** Starts from the end of the outbox: only events committed from now on are published. */
  async start(): Promise<void> {
    this.lastSeq = await this.store.lastEventSeq();
    this.unsubscribe = this.store.onCommit(() => this.poke());
    const pollMs = this.options.pollMs ?? 1000;
    if (pollMs > 0) {
      this.timer = setInterval(() => this.poke(), pollMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.draining;
  }

  /**
   * The last event published: a listener subscribed now gets every event after it, and none
   * up to it.
   */
  get position(): number {
    return this.lastSeq;
  }

  /**
   * Retained events after `after` up to `until` (at most `limit`, in outbox order). Fails with
   * `event_cursor_expired` when retention has removed events after `after` (they can never be
   * replayed), and with `bad_event_cursor` when `after` is past every event of this store.
   */
  async replay(after: number, until: number, limit: number): Promise<OutboxEvent[]> {
    const events = after < until ? await this.store.readEvents(after, Math.max(1, limit)) : [];
    const pruned = (await this.store.outboxPruned()).through_seq;
    // Read before the prune when it holds a pruned event: the read saw all of them.
    if (pruned > after && !(events[0] !== undefined && events[0].seq <= pruned)) {
      throw new TamsError(
        'event_cursor_expired',
        `Events after this cursor were removed by outbox retention (everything up to position ${pruned} is gone): resubscribe without after and reload what you show`,
      );
    }
    if (after > until && after > Math.max(pruned, await this.store.lastEventSeq())) {
      throw new TamsError('bad_event_cursor', 'Invalid event cursor: it is past the newest event of this store (a cursor from another installation?)');
    }
    return events.filter((event) => event.seq <= until);
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every event committed before the call has been published. */
  async flush(): Promise<void> {
    this.poke();
    while (this.draining) await this.draining;
  }

  private poke(): void {
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.poke();
      }
    });
  }

  private async drain(): Promise<void> {
    const batch = this.options.batch ?? 500;
    try {
      for (;;) {
        const events = await this.store.readEvents(this.lastSeq, batch);
        for (const event of events) {
          this.lastSeq = event.seq;
          for (const listener of this.listeners) {
            try {
              listener(event);
            } catch (err) {
              this.options.onError?.(err);
            }
          }
        }
        if (events.length < batch) return;
      }
    } catch (err) {
      this.options.onError?.(err);
    }
  }
}
