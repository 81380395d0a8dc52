import type { Webhook } from '../domain/entities';
import type { OutboxEvent } from '../domain/events';

/**
 * What an event's flow or source was when the event committed: webhook filters and the
 * permissions of a deleted resource are evaluated against it, not against what is stored when
 * the event is sent. A list that is absent was absent on the resource (collected by nothing,
 * no `auth_classes` tag).
 */
export interface EventContext {
  source_id?: string;
  flow_collected_by?: string[];
  source_collected_by?: string[];
  /** The flow's own `auth_classes` tag, as stored (a string or a list). */
  flow_classes?: string | string[];
  source_classes?: string | string[];
}

/** An outbox event with its context (absent when the store could not see its resource at all). */
export interface ContextualEvent extends OutboxEvent {
  context?: EventContext;
}

/** A webhook as stored (owner fields included) and its delivery position. */
export interface WebhookDelivery {
  webhook: Webhook;
  /** The last outbox seq this webhook is done with (delivered, or not for it). */
  cursor: number;
  /** Failed attempts at the event after the cursor, since the last success or re-enable. */
  attempts: number;
  /** Epoch milliseconds before which the next attempt must not start. */
  next_attempt_ms: number;
  last_error?: string;
  /** Opaque: changes whenever the webhook's registration does (compare-and-set of idle advances). */
  revision: string;
}

/** A delivering webhook's cursor move over events it was sent or skipped (compare-and-set on the cursor). */
export interface CursorMove {
  id: string;
  from: number;
  to: number;
}

/** An idle webhook's cursor move over events it does not want (none of them is sent). */
export interface IdleCursorMove {
  id: string;
  from: number;
  to: number;
  /** The `revision` the decision was made on: no move when the webhook changed since. */
  revision: string;
}

/** How far outbox retention has pruned: every event up to `through_seq` is gone. */
export interface OutboxPruned {
  through_seq: number;
  /** The cutoff of the last prune (events committed before it were removed). */
  before?: string;
}

/** One webhook's backlog, for metrics. */
export interface WebhookBacklog {
  status: Webhook['status'];
  /** Outbox events after its cursor (matching or not). */
  depth: number;
  /** Commit time of the first of them, when there is one. */
  oldest_timestamp?: string;
}
