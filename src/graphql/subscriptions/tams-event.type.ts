import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { OutboxEvent, TAMS_EVENT_TYPES, TamsEventPayload, TamsEventType } from '../../domain/events';
import { Flow, toFlow } from '../types/flow.type';
import { FlowSegment, toFlowSegment } from '../types/segment.type';
import { Source, toSource } from '../types/source.type';
import { TimeRangeScalar } from '../types/time-range.scalar';

/**
 * The GraphQL enum of TAMS event types, built from the domain's list so the two cannot drift:
 * `flows/segments_added` is FLOWS_SEGMENTS_ADDED, and its internal value is the TAMS name.
 */
export const TamsEventTypeEnum: Record<string, TamsEventType> = Object.fromEntries(
  TAMS_EVENT_TYPES.map((type) => [type.replace('/', '_').toUpperCase(), type]),
);

registerEnumType(TamsEventTypeEnum, {
  name: 'TamsEventType',
  description: 'A TAMS event type (webhook `event_type`): FLOWS_SEGMENTS_ADDED is flows/segments_added.',
});

@ObjectType({ description: 'A TAMS event as a webhook would carry it (flows/*, sources/*).' })
export class TamsEvent {
  @Field({ description: 'When the change was made (RFC 3339), the webhook `event_timestamp`.' })
  eventTimestamp!: string;

  @Field(() => TamsEventTypeEnum)
  eventType!: TamsEventType;

  @Field(() => GraphQLJSONObject, { description: 'The webhook `event` object, in TAMS (snake_case) form.' })
  event!: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: 'The flow of a flows/* event.' })
  flowId?: string;

  @Field(() => ID, { nullable: true, description: 'The source of the event: its own, or that of the flow of a flows/* event.' })
  sourceId?: string;
}

@ObjectType({ description: 'A flow was deleted (flows/deleted).' })
export class FlowDeleted {
  @Field(() => ID)
  flowId!: string;

  @Field(() => ID, { nullable: true, description: 'The source the flow belonged to.' })
  sourceId?: string;

  @Field()
  eventTimestamp!: string;
}

@ObjectType({ description: 'Segments were registered on a flow (flows/segments_added).' })
export class FlowSegmentsAdded {
  @Field(() => ID)
  flowId!: string;

  @Field(() => ID, { nullable: true })
  sourceId?: string;

  @Field()
  eventTimestamp!: string;

  @Field(() => [FlowSegment], {
    description:
      'The segments as the event carries them. Events carry no get_urls, so getUrls is empty: read the segments ' +
      '(query `segments(flowId, timerange)`) for URLs to fetch the media from.',
  })
  segments!: FlowSegment[];
}

@ObjectType({ description: 'Segments were deleted from a flow (flows/segments_deleted).' })
export class FlowSegmentsDeleted {
  @Field(() => ID)
  flowId!: string;

  @Field(() => ID, { nullable: true })
  sourceId?: string;

  @Field()
  eventTimestamp!: string;

  @Field(() => TimeRangeScalar, { description: 'Covers the deleted segments; "_" when the whole flow was deleted.' })
  timerange!: string;
}

@ObjectType({ description: 'A source was deleted (sources/deleted), with its last flow.' })
export class SourceDeleted {
  @Field(() => ID)
  sourceId!: string;

  @Field()
  eventTimestamp!: string;
}

/** The `event` object the outbox writes for an event of type T. */
type PayloadOf<T extends TamsEventType> = TamsEventPayload extends infer P
  ? P extends { type: infer U; event: infer E }
    ? T extends U
      ? E
      : never
    : never
  : never;

function payload<T extends TamsEventType>(event: OutboxEvent, type: T): PayloadOf<T> {
  // The hub routes by type, so a mismatch is a wiring bug: it surfaces as an internal error.
  if (event.event_type !== type) throw new Error(`expected a ${type} event, got ${event.event_type}`);
  return event.event as PayloadOf<T>;
}

function sourceIdOf(event: OutboxEvent): { sourceId?: string } {
  return event.source_id === undefined ? {} : { sourceId: event.source_id };
}

export function toTamsEvent(event: OutboxEvent): TamsEvent {
  return {
    eventTimestamp: event.event_timestamp,
    eventType: event.event_type,
    event: event.event,
    ...(event.flow_id === undefined ? {} : { flowId: event.flow_id }),
    ...sourceIdOf(event),
  };
}

export function eventFlow(event: OutboxEvent, type: 'flows/created' | 'flows/updated'): Flow {
  return toFlow(payload(event, type).flow);
}

export function eventSource(event: OutboxEvent, type: 'sources/created' | 'sources/updated'): Source {
  return toSource(payload(event, type).source);
}

export function toFlowDeleted(event: OutboxEvent): FlowDeleted {
  return { flowId: payload(event, 'flows/deleted').flow_id, eventTimestamp: event.event_timestamp, ...sourceIdOf(event) };
}

export function toFlowSegmentsAdded(event: OutboxEvent): FlowSegmentsAdded {
  const { flow_id, segments } = payload(event, 'flows/segments_added');
  return {
    flowId: flow_id,
    eventTimestamp: event.event_timestamp,
    segments: segments.map(toFlowSegment),
    ...sourceIdOf(event),
  };
}

export function toFlowSegmentsDeleted(event: OutboxEvent): FlowSegmentsDeleted {
  const { flow_id, timerange } = payload(event, 'flows/segments_deleted');
  return { flowId: flow_id, timerange, eventTimestamp: event.event_timestamp, ...sourceIdOf(event) };
}

export function toSourceDeleted(event: OutboxEvent): SourceDeleted {
  return { sourceId: payload(event, 'sources/deleted').source_id, eventTimestamp: event.event_timestamp };
}
