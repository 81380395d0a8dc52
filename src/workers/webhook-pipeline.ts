/**
 * One webhook's events from its cursor on, in outbox order, while they are being delivered:
 * those sent and not answered yet (at most `depth` at once, pipelined in order on the webhook's
 * connection) and, between them, those it does not want. The cursor moves only over the front
 * of that list, once every event there was answered 2xx or skipped, so it never passes an event
 * the receiver did not acknowledge; a crash or a failure repeats at most the events in flight.
 *
 * A failure (timeout, network error, non-2xx) is reported for the first event not
 * acknowledged: events sent after it are abandoned (their answers ignored) and sent again, in
 * order, when delivery resumes from the cursor.
 */
import type { ContextualEvent } from '../ports/webhook-delivery';
import type { WebhookResponse } from '../ports/webhook-sender';

type Failure = Extract<WebhookResponse, { ok: false }>;

/** How settling ended: `lost`: the cursor moved under us (another process, a re-enable): stop. */
export type PipelineOutcome = { kind: 'ok' } | { kind: 'failed'; event: ContextualEvent; failure: Failure } | { kind: 'lost' };

interface Entry {
  seq: number;
  /** Sent events only. */
  event?: ContextualEvent;
  response?: Promise<WebhookResponse>;
  answer?: WebhookResponse;
}

export class DeliveryPipeline {
  private readonly entries: Entry[] = [];
  private inFlightCount = 0;

  constructor(
    private cursor: number,
    /** Requests in flight at most (may change: 1 while a failed event is retried). */
    public depth: number,
    /** Compare-and-set of the stored cursor: false when it was not `from` any more. */
    private readonly advance: (from: number, to: number) => Promise<boolean>,
    private readonly onSent: (event: ContextualEvent) => void,
  ) {}

  /** The cursor as stored: the last event acknowledged or skipped with nothing unanswered before it. */
  get position(): number {
    return this.cursor;
  }

  /** Requests sent and not settled. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** As many requests in flight as may be. */
  get full(): boolean {
    return this.inFlightCount >= this.depth;
  }

  /** An event this webhook does not want (moved over with the acknowledged ones). */
  skip(seq: number): void {
    this.entries.push({ seq });
  }

  sent(event: ContextualEvent, response: Promise<WebhookResponse>): void {
    const entry: Entry = { seq: event.seq, event, response };
    void response.then((answer) => {
      entry.answer = answer;
    });
    this.entries.push(entry);
    this.inFlightCount += 1;
  }

  /** Waits for the oldest request in flight, then moves the cursor over every settled event at the front. */
  async settleOldest(): Promise<PipelineOutcome> {
    const oldest = this.entries.find((entry) => entry.response !== undefined);
    if (oldest !== undefined) oldest.answer = await oldest.response;
    return this.moveOverFront();
  }

  /** Resolves when the oldest request in flight has its answer (at once when none is in flight). */
  async nextAnswer(): Promise<void> {
    const oldest = this.entries.find((entry) => entry.response !== undefined);
    if (oldest !== undefined) oldest.answer = await oldest.response;
  }

  /** Moves the cursor over the events at the front already answered or skipped, without waiting. */
  settleAnswered(): Promise<PipelineOutcome> {
    return this.moveOverFront();
  }

  /** Waits for every request in flight, then moves the cursor over everything settled. */
  async settleAll(): Promise<PipelineOutcome> {
    for (;;) {
      const outcome = await this.settleOldest();
      if (outcome.kind !== 'ok' || this.inFlightCount === 0) return outcome;
    }
  }

  private async moveOverFront(): Promise<PipelineOutcome> {
    let to = this.cursor;
    let failed: { event: ContextualEvent; failure: Failure } | undefined;
    while (this.entries.length > 0) {
      const head = this.entries[0]!;
      if (head.response !== undefined) {
        if (head.answer === undefined) break;
        if (!head.answer.ok) {
          failed = { event: head.event!, failure: head.answer };
          break;
        }
        this.inFlightCount -= 1;
        this.onSent(head.event!);
      }
      to = head.seq;
      this.entries.shift();
    }
    if (to > this.cursor) {
      if (!(await this.advance(this.cursor, to))) return { kind: 'lost' };
      this.cursor = to;
    }
    if (failed === undefined) return { kind: 'ok' };
    // Whatever was sent after the failed event is abandoned: it goes again after it.
    this.entries.length = 0;
    this.inFlightCount = 0;
    return { kind: 'failed', ...failed };
  }
}
