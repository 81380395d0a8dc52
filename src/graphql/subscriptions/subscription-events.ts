import { TamsError } from '../../domain/errors';
import type { OutboxEvent, TamsEventType } from '../../domain/events';
import type { Principal } from '../../domain/principal';
import type { ResourceClasses } from '../../services/access-policy';
import type { GraphqlContext } from '../context';

/**
 * Where committed events come from: the outbox dispatcher in one process. A scaled-out
 * gateway puts Redis pub/sub here; nothing else changes.
 */
export interface EventSource {
  subscribe(listener: (event: OutboxEvent) => void): () => void;
}

/**
 * The retained events, read back for subscriptions that resume after a cursor (the outbox
 * dispatcher). `position` and `subscribe` agree: a listener added now gets exactly the events
 * after `position`.
 */
export interface EventHistory {
  readonly position: number;
  /**
   * Events after `after` up to `until`, at most `limit`, in outbox order; fails (a TamsError)
   * when `after` is invalid or events after it are no longer retained.
   */
  replay(after: number, until: number, limit: number): Promise<OutboxEvent[]>;
}

export interface EventSelector {
  /** The event types wanted: only events of these types are offered to `accepts`. */
  types: readonly TamsEventType[];
  /** Called once per event of a wanted type, synchronously, in outbox order. */
  accepts: (event: OutboxEvent) => boolean;
  /** The subscriber: it gets only the events `SubscriptionEventsOptions.visibility` lets it see. */
  viewer?: Principal;
}

/** A subscription resumed after an event it (or an earlier subscription) received: its outbox position. */
export interface ResumedSelector extends EventSelector {
  after: number;
}

/**
 * Which subscriber may see which event (AppNote 0016: each event is checked on delivery). What
 * the check needs about the event's resource is looked up once per event, whatever the number
 * of subscribers.
 */
export interface EventVisibility {
  /** A viewer that sees every event (admin): nothing is looked up for it. */
  seesAll(viewer: Principal): boolean;
  /** The auth classes of the event's flow or source, as they are when it is delivered. */
  classesOf(event: OutboxEvent): Promise<ResourceClasses>;
  canSee(viewer: Principal, event: OutboxEvent, classes: ResourceClasses): boolean;
}

/** Events for one subscriber: what subscription resolvers get in their context. */
export interface EventFeed {
  subscribe(selector: EventSelector): AsyncIterableIterator<OutboxEvent>;
  /**
   * The retained events after `selector.after` that the selector wants, then the live ones,
   * each once and in outbox order. Rejects (nothing subscribed) when the cursor cannot be
   * resumed from.
   */
  resume(selector: ResumedSelector): Promise<AsyncIterableIterator<OutboxEvent>>;
}

export interface SubscriptionEventsOptions {
  /**
   * Events held for one subscriber that reads slower than they come (default 1000). Beyond
   * that its subscription fails rather than let one stalled client grow the heap.
   */
  maxQueue?: number;
  /** Filters each event per viewer; without it every subscriber gets every event it selects. */
  visibility?: EventVisibility;
  /** Where resumed subscriptions read the events they missed; without it `resume` is refused. */
  history?: EventHistory;
  /**
   * How far behind the newest event a resumed subscription may start, in outbox positions
   * (default 100,000): a replay reads every event after its cursor (those the subscriber does
   * not want or may not see included), so this bounds the work one subscription can ask for
   * before any of it is done. A cursor further back is refused as expired.
   */
  maxReplayEvents?: number;
}

/** What a subscription operation's resolvers get: the usual context and the caller's event feed. */
export interface SubscriptionContext extends GraphqlContext {
  events: EventFeed;
  /**
   * Whether the connection's credentials still hold (token not expired, Basic user not
   * removed); asked before each delivery. False also closes the connection (4401).
   */
  stillAuthenticated?: () => boolean;
}

const DEFAULT_MAX_QUEUE = 1000;
const DEFAULT_MAX_REPLAY_EVENTS = 100_000;
/** Events read from the outbox at a time while a resumed subscription catches up (at most maxQueue). */
const REPLAY_PAGE = 200;

/** A resumed subscription's catching up: replayed events are delivered first, live ones queue meanwhile. */
interface Replay {
  /** The next wanted retained events; empty once caught up. */
  read: () => Promise<OutboxEvent[]>;
  buffer: OutboxEvent[];
}

/**
 * One subscriber's events, in order, as an async iterator. `return()` (the client completed
 * or went away) takes it out of the hub at once, even while a `next()` is waiting.
 */
class EventStream implements AsyncIterableIterator<OutboxEvent> {
  private readonly queue: OutboxEvent[] = [];
  private waiting: { resolve: (r: IteratorResult<OutboxEvent>) => void; reject: (err: unknown) => void } | undefined;
  private failure: Error | undefined;
  private ended = false;
  private replay: Replay | undefined;

  constructor(
    private readonly accepts: (event: OutboxEvent) => boolean,
    private readonly maxQueue: number,
    private readonly release: () => void,
    /** Set when each event must be checked for this subscriber (it does not see everything). */
    readonly viewer: Principal | undefined,
    /** Live events up to this position were delivered before the subscription resumed, or are replayed. */
    private readonly after = 0,
  ) {}

  /** Delivers the events `read` returns before any live one, until it returns none. */
  replayFirst(read: () => Promise<OutboxEvent[]>): void {
    this.replay = { read, buffer: [] };
  }

  /** Reads the first replayed events now, so that a cursor that cannot be resumed from fails here. */
  async startReplay(): Promise<void> {
    if (this.replay !== undefined) await this.fill(this.replay);
  }

  offer(event: OutboxEvent): void {
    if (this.ended || event.seq <= this.after) return;
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
    if (this.replay !== undefined) return this.nextReplayed(this.replay);
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

  private async nextReplayed(replay: Replay): Promise<IteratorResult<OutboxEvent>> {
    if (replay.buffer.length === 0 && !this.ended) {
      try {
        await this.fill(replay);
      } catch (err) {
        this.fail(err);
      }
    }
    const event = this.ended ? undefined : replay.buffer.shift();
    if (event !== undefined) return { value: event, done: false };
    this.replay = undefined;
    return this.next();
  }

  private async fill(replay: Replay): Promise<void> {
    const page = await replay.read();
    if (page.length === 0) this.replay = undefined;
    else replay.buffer.push(...page);
  }

  /** Ends the subscription with an error (events still queued are dropped). */
  fail(cause: unknown): void {
    if (this.ended) return;
    const err = cause instanceof Error ? cause : new Error(String(cause));
    this.queue.length = 0;
    this.replay = undefined;
    if (this.waiting) this.waiting.reject(err);
    else this.failure = err;
    this.waiting = undefined;
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    // A next() still reading replayed events when the subscriber left must not serve queued ones.
    this.queue.length = 0;
    this.replay = undefined;
    this.waiting?.resolve({ value: undefined, done: true });
    this.waiting = undefined;
    this.release();
  }
}

/**
 * Routes committed events to GraphQL subscribers. It holds one listener on the event source
 * (only while anyone subscribes) and indexes subscribers by event type, so an event costs
 * one map lookup plus one `accepts` call per subscriber to its type. When a subscriber that
 * does not see everything wants an event, its resource's classes are looked up first (once),
 * and deliveries wait for that in outbox order.
 */
export class SubscriptionEvents {
  private readonly byType = new Map<TamsEventType, Set<EventStream>>();
  /** Per type, the subscribers whose events must be checked. */
  private readonly checkedByType = new Map<TamsEventType, number>();
  private subscribers = 0;
  private detach: (() => void) | undefined;
  /** Deliveries waiting for a lookup: later events queue behind them to keep outbox order. */
  private pending: Promise<void> | undefined;

  constructor(
    private readonly source: EventSource,
    private readonly options: SubscriptionEventsOptions = {},
  ) {}

  /** Subscriptions open now. */
  get size(): number {
    return this.subscribers;
  }

  /** The feed of one subscriber: what it subscribes to is filtered by what it may see. */
  forViewer(viewer: Principal): EventFeed {
    return {
      subscribe: (selector) => this.subscribe({ ...selector, viewer }),
      resume: (selector) => this.resume({ ...selector, viewer }),
    };
  }

  /** `subscribe`, after the retained events since `selector.after` that it wants (EventFeed.resume). */
  async resume(selector: ResumedSelector): Promise<AsyncIterableIterator<OutboxEvent>> {
    const { history } = this.options;
    if (history === undefined) throw new TamsError('bad_request', 'This gateway cannot resume subscriptions (no event history)');
    // Attached before the history is read: live events after `until` queue while it is replayed.
    const until = history.position;
    const maxReplay = this.options.maxReplayEvents ?? DEFAULT_MAX_REPLAY_EVENTS;
    if (until - selector.after > maxReplay) {
      throw new TamsError(
        'event_cursor_expired',
        `This cursor is ${until - selector.after} events behind the newest, more than a subscription may replay (${maxReplay}): resubscribe without after and reload what you show`,
      );
    }
    const stream = this.attach(selector, selector.after);
    stream.replayFirst(this.replayReader(history, selector, stream.viewer, until));
    try {
      await stream.startReplay();
    } catch (err) {
      await stream.return();
      throw err;
    }
    return stream;
  }

  /** Events committed from now on that `selector` wants, until the iterator is returned. */
  subscribe(selector: EventSelector): AsyncIterableIterator<OutboxEvent> {
    return this.attach(selector, 0);
  }

  private attach(selector: EventSelector, after: number): EventStream {
    const types = [...new Set(selector.types)];
    const { visibility } = this.options;
    const viewer = selector.viewer !== undefined && visibility !== undefined && !visibility.seesAll(selector.viewer) ? selector.viewer : undefined;
    const stream: EventStream = new EventStream(selector.accepts, this.options.maxQueue ?? DEFAULT_MAX_QUEUE, () => {
      for (const type of types) {
        const streams = this.byType.get(type);
        streams?.delete(stream);
        if (streams?.size === 0) this.byType.delete(type);
        if (viewer !== undefined) this.count(type, -1);
      }
      this.subscribers -= 1;
      if (this.subscribers === 0) {
        this.detach?.();
        this.detach = undefined;
      }
    }, viewer, after);
    for (const type of types) {
      let streams = this.byType.get(type);
      if (!streams) this.byType.set(type, (streams = new Set()));
      streams.add(stream);
      if (viewer !== undefined) this.count(type, 1);
    }
    this.subscribers += 1;
    this.detach ??= this.source.subscribe((event) => this.publish(event));
    return stream;
  }

  /**
   * Reads the retained events in (after, until] a page at a time, keeping those the selector
   * wants and the viewer may see (checked as live events are, with the classes their resource
   * has now). Returns the next non-empty batch, or none once caught up.
   */
  private replayReader(history: EventHistory, selector: ResumedSelector, viewer: Principal | undefined, until: number): () => Promise<OutboxEvent[]> {
    const types = new Set(selector.types);
    const { visibility } = this.options;
    const page = Math.max(1, Math.min(REPLAY_PAGE, this.options.maxQueue ?? DEFAULT_MAX_QUEUE));
    let last = selector.after;
    let first = true;
    return async () => {
      while (first || last < until) {
        first = false;
        const events = await history.replay(last, until, page);
        if (events.length === 0) break;
        last = events[events.length - 1]!.seq;
        const wanted: OutboxEvent[] = [];
        for (const event of events) {
          if (!types.has(event.event_type) || !selector.accepts(event)) continue;
          if (viewer !== undefined && visibility !== undefined && !visibility.canSee(viewer, event, await visibility.classesOf(event))) continue;
          wanted.push(event);
        }
        if (wanted.length > 0) return wanted;
      }
      last = until;
      return [];
    };
  }

  private count(type: TamsEventType, delta: number): void {
    const checked = (this.checkedByType.get(type) ?? 0) + delta;
    if (checked === 0) this.checkedByType.delete(type);
    else this.checkedByType.set(type, checked);
  }

  private publish(event: OutboxEvent): void {
    const streams = this.byType.get(event.event_type);
    if (!streams) return;
    const { visibility } = this.options;
    if (visibility === undefined || (this.pending === undefined && !this.checkedByType.has(event.event_type))) {
      for (const stream of streams) stream.offer(event);
      return;
    }
    // The subscribers as of now: one that subscribes during the lookup did not want this event yet.
    const targets = [...streams];
    const delivered = (this.pending ?? Promise.resolve()).then(() => this.deliverChecked(event, targets, visibility));
    this.pending = delivered;
    void delivered.finally(() => {
      if (this.pending === delivered) this.pending = undefined;
    });
  }

  private async deliverChecked(event: OutboxEvent, targets: readonly EventStream[], visibility: EventVisibility): Promise<void> {
    let classes: ResourceClasses;
    let lookupFailed = false;
    if (targets.some((stream) => stream.viewer !== undefined)) {
      try {
        classes = await visibility.classesOf(event);
      } catch {
        lookupFailed = true;
      }
    }
    for (const stream of targets) {
      const { viewer } = stream;
      if (viewer === undefined) {
        stream.offer(event);
      } else if (lookupFailed) {
        // Nothing is delivered unchecked: the subscriber learns its feed broke and may resubscribe.
        stream.fail(new TamsError('unavailable', 'Subscription ended: could not check access to an event'));
      } else {
        try {
          if (visibility.canSee(viewer, event, classes)) stream.offer(event);
        } catch (err) {
          stream.fail(err);
        }
      }
    }
  }
}
