import type { Flow, Source } from './entities';

export const TAMS_EVENT_TYPES = [
  'flows/created',
  'flows/updated',
  'flows/deleted',
  'flows/segments_added',
  'flows/segments_deleted',
  'sources/created',
  'sources/updated',
  'sources/deleted',
] as const;
export type TamsEventType = (typeof TAMS_EVENT_TYPES)[number];

/** The `event` object of each webhook payload in the TAMS YAML. */
export type TamsEventPayload =
  | { type: 'flows/created' | 'flows/updated'; event: { flow: Flow } }
  | { type: 'flows/deleted'; event: { flow_id: string } }
  | { type: 'flows/segments_added'; event: { flow_id: string; segments: Record<string, unknown>[] } }
  | { type: 'flows/segments_deleted'; event: { flow_id: string; timerange: string } }
  | { type: 'sources/created' | 'sources/updated'; event: { source: Source } }
  | { type: 'sources/deleted'; event: { source_id: string } };

/** An event as written to the outbox in the same transaction as the change. */
export interface OutboxEvent {
  /** Strictly increasing position in the outbox. */
  seq: number;
  event_type: TamsEventType;
  event_timestamp: string;
  event: TamsEventPayload['event'];
  flow_id?: string;
  source_id?: string;
}

/** The TAMS webhook envelope. */
export interface TamsEventEnvelope {
  event_timestamp: string;
  event_type: TamsEventType;
  event: TamsEventPayload['event'];
}

export function toEnvelope(e: OutboxEvent): TamsEventEnvelope {
  return { event_timestamp: e.event_timestamp, event_type: e.event_type, event: e.event };
}
