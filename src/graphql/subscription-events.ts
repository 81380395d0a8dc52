import { TamsError } from '../domain/errors';
import type { OutboxEvent, TamsEventType } from '../domain/events';
import type { GraphqlContext } from './context';

/**
 * Where committed events come from: the outbox dispatcher in one process. A scaled-out
 * gateway puts Redis pub/sub here; nothing else changes.
 */
export interface EventSource {
  subscribe(listener: (event: OutboxEvent) => void): () => void;
}

export interface EventSelector {
  /** The event types wanted: only events of these types are offered to `accepts`. */
  types: readonly TamsEventType[];
  /** Called once per event of a wanted type, synchronously, in outbox order. */
  accepts: (event: OutboxEvent) => boolean;
}

export interface SubscriptionEventsOptions {
  /**
   * Events held for one subscriber that reads slower than they come (default 1000). Beyond
   * that its subscription fails rather than let one stalled client grow the heap.
   */
  maxQueue?: number;
}

/** What a subscription operation's resolvers get: the usual context and the event hub. */
export interface SubscriptionContext extends GraphqlContext {
  events: SubscriptionEvents;
}

const DEFAULT_MAX_QUEUE = 1000;

/**
 * One subscriber's events, in order, as an async iterator. `return()` (the client completed
 * or went away) takes it out of the hub at once, even while a `next()` is waiting.
 */
class EventStream implements AsyncIterableIterator<OutboxEvent> {
  private readonly queue: OutboxEvent[] = [];
  private waiting: { resolve: (r: IteratorResult<OutboxEvent>) => void; reject: (err: unknown) => void } | undefined;
  private failure: Error | undefined;
  private ended = false;

  constructor(
    private readonly accepts: (event: OutboxEvent) => boolean,
    private readonly maxQueue: number,
    private readonly release: () => void,
  ) {}

  offer(event: OutboxEvent): void {
    if (this.ended) return;
    try {
      if (!this.accepts(event)) return;
    } catch (err) {
      // One subscriber's failing check ends its subscription, not the others' deliveries.
      this.fail(err);
      return;
    }
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: event, done: false });
    } else if (this.queue.length < this.maxQueue) {
      this.queue.push(event);
    } else {
      this.fail(new TamsError('unavailable', `Subscription ended: the client fell more than ${this.maxQueue} events behind`));
    }
  }

  next(): Promise<IteratorResult<OutboxEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<OutboxEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private fail(cause: unknown): void {
    const err = cause instanceof Error ? cause : new Error(String(cause));
    this.queue.length = 0;
    if (this.waiting) this.waiting.reject(err);
    else this.failure = err;
    this.waiting = undefined;
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.waiting?.resolve({ value: undefined, done: true });
    this.waiting = undefined;
    this.release();
  }
}

/**
 * Routes committed events to GraphQL subscribers. It holds one listener on the event source
 * (only while anyone subscribes) and indexes subscribers by event type, so an event costs
 * one map lookup plus one `accepts` call per subscriber to its type.
 */
export class SubscriptionEvents {
  private readonly byType = new Map<TamsEventType, Set<EventStream>>();
  private subscribers = 0;
  private detach: (() => void) | undefined;

  constructor(
    private readonly source: EventSource,
    private readonly options: SubscriptionEventsOptions = {},
  ) {}

  /** Subscriptions open now. */
  get size(): number {
    return this.subscribers;
  }

  /** Events committed from now on that `selector` wants, until the iterator is returned. */
  subscribe(selector: EventSelector): AsyncIterableIterator<OutboxEvent> {
    const types = [...new Set(selector.types)];
    const stream: EventStream = new EventStream(selector.accepts, this.options.maxQueue ?? DEFAULT_MAX_QUEUE, () => {
      for (const type of types) {
        const streams = this.byType.get(type);
        streams?.delete(stream);
        if (streams?.size === 0) this.byType.delete(type);
      }
      this.subscribers -= 1;
      if (this.subscribers === 0) {
        this.detach?.();
        this.detach = undefined;
      }
    });
    for (const type of types) {
      let streams = this.byType.get(type);
      if (!streams) this.byType.set(type, (streams = new Set()));
      streams.add(stream);
    }
    this.subscribers += 1;
    this.detach ??= this.source.subscribe((event) => this.publish(event));
    return stream;
  }

  private publish(event: OutboxEvent): void {
    const streams = this.byType.get(event.event_type);
    if (streams) for (const stream of streams) stream.offer(event);
  }
}
