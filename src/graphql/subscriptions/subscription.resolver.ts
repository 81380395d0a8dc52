import { Args, Ctx, type PubSub, Query, Resolver, Root, type SubscribeResolverData, Subscription } from 'type-graphql';
import { TamsError } from '../../domain/errors';
import { type OutboxEvent, TAMS_EVENT_TYPES, type TamsEventType } from '../../domain/events';
import { Flow } from '../types/flow.type';
import { Source } from '../types/source.type';
import { decodeEventCursor, encodeEventCursor } from '../../services/event-cursor';
import type { GraphqlContext } from '../context';
import type { EventSelector, SubscriptionContext } from './subscription-events';
import { FlowEventArgs, type ResumeArgs, SourceEventArgs, TamsEventArgs, idFilter, typesArg } from './subscription-filter.args';
import {
  FlowDeleted,
  FlowSegmentsAdded,
  FlowSegmentsDeleted,
  SourceDeleted,
  TamsEvent,
  eventFlow,
  eventSource,
  toFlowDeleted,
  toFlowSegmentsAdded,
  toFlowSegmentsDeleted,
  toSourceDeleted,
  toTamsEvent,
} from './tams-event.type';

/**
 * type-graphql refuses to build a schema with subscriptions unless it is given a PubSub, even
 * when every subscription brings its own `subscribe`, as ours do (through the gateway's
 * SubscriptionEvents, which a schema shared by all gateways cannot hold). So this one only
 * says so if anything ever asks it for a topic.
 */
export const NO_TOPIC_PUB_SUB: PubSub = {
  publish() {
    throw new Error('Subscriptions read SubscriptionEvents from their context; there are no pub/sub topics');
  },
  subscribe() {
    throw new Error('Subscriptions read SubscriptionEvents from their context; there are no pub/sub topics');
  },
};

/** Apollo runs a subscription sent over HTTP as a one-off execution: there is no event then. */
function delivered(event: OutboxEvent | undefined): OutboxEvent {
  if (event === undefined) {
    throw new TamsError('method_not_allowed', 'Subscriptions are served over WebSocket (graphql-ws protocol) at /graphql, not over HTTP');
  }
  return event;
}

type Subscribe<A> = (data: SubscribeResolverData<unknown, A, SubscriptionContext>) => AsyncIterable<OutboxEvent> | Promise<AsyncIterable<OutboxEvent>>;

/** Live events, or with `after` the retained ones since that cursor first. */
function feed(context: SubscriptionContext, args: ResumeArgs, selector: EventSelector): AsyncIterable<OutboxEvent> | Promise<AsyncIterable<OutboxEvent>> {
  if (args.after === undefined || args.after === null) return context.events.subscribe(selector);
  return context.events.resume({ ...selector, after: decodeEventCursor(args.after) });
}

/** Events of one type, narrowed by the flowIds / sourceIds arguments. */
function eventsOf(type: TamsEventType): Subscribe<FlowEventArgs> {
  return ({ args, context }) => feed(context, args, { types: [type], accepts: idFilter(args) });
}

const tamsEvents: Subscribe<TamsEventArgs> = ({ args, context }) =>
  feed(context, args, { types: typesArg(args.types, TAMS_EVENT_TYPES), accepts: idFilter(args) });

/**
 * Subscriptions to committed changes (the outbox), whichever API made them. Each event is
 * delivered once per subscription, in commit order, from the moment the subscription starts
 * (or, with `after`, from that cursor), its cursor in the result's `extensions.cursor`.
 */
@Resolver()
export class SubscriptionResolver {
  @Query(() => String, {
    description:
      'The cursor of the newest committed event. Subscribing with `after:` it misses nothing committed since this query, ' +
      'even across reconnects: what a client does before its first subscription, when it has no event cursor yet.',
  })
  async eventCursor(@Ctx() ctx: GraphqlContext): Promise<string> {
    return encodeEventCursor(await ctx.services.serviceInfo.newestEventSeq());
  }

  @Subscription(() => Flow, { description: 'Flows created (flows/created).', subscribe: eventsOf('flows/created') })
  flowCreated(@Root() event: OutboxEvent | undefined, @Args() _filter: FlowEventArgs): Flow {
    return eventFlow(delivered(event), 'flows/created');
  }

  @Subscription(() => Flow, { description: 'Flows whose metadata changed (flows/updated).', subscribe: eventsOf('flows/updated') })
  flowUpdated(@Root() event: OutboxEvent | undefined, @Args() _filter: FlowEventArgs): Flow {
    return eventFlow(delivered(event), 'flows/updated');
  }

  @Subscription(() => FlowDeleted, { description: 'Flows deleted (flows/deleted).', subscribe: eventsOf('flows/deleted') })
  flowDeleted(@Root() event: OutboxEvent | undefined, @Args() _filter: FlowEventArgs): FlowDeleted {
    return toFlowDeleted(delivered(event));
  }

  @Subscription(() => FlowSegmentsAdded, {
    description: 'Segments registered, one event per registration request (flows/segments_added).',
    subscribe: eventsOf('flows/segments_added'),
  })
  flowSegmentsAdded(@Root() event: OutboxEvent | undefined, @Args() _filter: FlowEventArgs): FlowSegmentsAdded {
    return toFlowSegmentsAdded(delivered(event));
  }

  @Subscription(() => FlowSegmentsDeleted, {
    description: 'Segments deleted, by timerange or with their flow (flows/segments_deleted).',
    subscribe: eventsOf('flows/segments_deleted'),
  })
  flowSegmentsDeleted(@Root() event: OutboxEvent | undefined, @Args() _filter: FlowEventArgs): FlowSegmentsDeleted {
    return toFlowSegmentsDeleted(delivered(event));
  }

  @Subscription(() => Source, { description: 'Sources created, by their first flow (sources/created).', subscribe: eventsOf('sources/created') })
  sourceCreated(@Root() event: OutboxEvent | undefined, @Args() _filter: SourceEventArgs): Source {
    return eventSource(delivered(event), 'sources/created');
  }

  @Subscription(() => Source, { description: 'Sources whose metadata changed (sources/updated).', subscribe: eventsOf('sources/updated') })
  sourceUpdated(@Root() event: OutboxEvent | undefined, @Args() _filter: SourceEventArgs): Source {
    return eventSource(delivered(event), 'sources/updated');
  }

  @Subscription(() => SourceDeleted, {
    description: 'Sources deleted with their last flow (sources/deleted).',
    subscribe: eventsOf('sources/deleted'),
  })
  sourceDeleted(@Root() event: OutboxEvent | undefined, @Args() _filter: SourceEventArgs): SourceDeleted {
    return toSourceDeleted(delivered(event));
  }

  @Subscription(() => TamsEvent, {
    description: 'Every kind of event in the TAMS webhook form, filtered as a webhook registration filters them.',
    subscribe: tamsEvents,
  })
  tamsEvents(@Root() event: OutboxEvent | undefined, @Args() _filter: TamsEventArgs): TamsEvent {
    return toTamsEvent(delivered(event));
  }
}
