import type { OutboxEvent } from '../domain/events';
import type { MetadataStore } from '../ports/metadata-store';

export type EventListener = (event: OutboxEvent) => void;

/**
 * Publishes committed outbox events, in order, to in-process subscribers (GraphQL
 * subscriptions, webhook delivery). It reads the outbox after every commit notification
 * and on a timer, so events committed by another process sharing the store are seen too.
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
