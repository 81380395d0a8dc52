import { ArgsType, Field, ID } from 'type-graphql';
import { TamsError } from '../../domain/errors';
import type { OutboxEvent, TamsEventType } from '../../domain/events';
import { uuidArg } from '../resolvers/arguments';
import { TamsEventTypeEnum } from './tams-event.type';

/** What every subscription field takes to resume where an earlier subscription left off. */
@ArgsType()
export class ResumeArgs {
  @Field(() => String, {
    nullable: true,
    description:
      'Resume after this cursor (`extensions.cursor` of an event received before, or `eventCursor`): the retained events ' +
      'after it are delivered first, in order, then live ones, none twice. Fails with EVENT_CURSOR_EXPIRED when outbox ' +
      'retention has removed events after it. Omitted: only events committed from now on.',
  })
  after?: string | null;
}

@ArgsType()
export class SourceEventArgs extends ResumeArgs {
  @Field(() => [ID], { nullable: true, description: 'Only events of these sources (all when omitted).' })
  sourceIds?: string[] | null;
}

@ArgsType()
export class FlowEventArgs extends ResumeArgs {
  @Field(() => [ID], { nullable: true, description: 'Only events of these flows (all when omitted).' })
  flowIds?: string[] | null;

  @Field(() => [ID], { nullable: true, description: 'Only events of flows of these sources (all when omitted).' })
  sourceIds?: string[] | null;
}

@ArgsType()
export class TamsEventArgs extends ResumeArgs {
  @Field(() => [TamsEventTypeEnum], { nullable: true, description: 'The event types wanted (all when omitted).' })
  types?: TamsEventType[] | null;

  @Field(() => [ID], {
    nullable: true,
    description: 'As webhook flow_ids: flows/* events only of these flows; sources/* events are not limited by it.',
  })
  flowIds?: string[] | null;

  @Field(() => [ID], {
    nullable: true,
    description: 'As webhook source_ids: flows/* events only of flows of these sources, sources/* events only of these sources.',
  })
  sourceIds?: string[] | null;
}

function idSet(name: string, ids: string[] | null | undefined): ReadonlySet<string> | undefined {
  if (ids === undefined || ids === null) return undefined;
  if (ids.length === 0) throw new TamsError('bad_request', `Invalid argument ${name}: an empty list matches nothing; leave it out for all`);
  return new Set(ids.map((id) => uuidArg(name, id)));
}

/** The event types of a `types` argument; an empty list would subscribe to nothing, so it is refused. */
export function typesArg(types: TamsEventType[] | null | undefined, all: readonly TamsEventType[]): readonly TamsEventType[] {
  if (types === undefined || types === null) return all;
  if (types.length === 0) throw new TamsError('bad_request', 'Invalid argument types: an empty list matches nothing; leave it out for all');
  return types;
}

/**
 * The id filters as one check, with the TAMS webhook semantics: `flowIds` limits flows/*
 * events, `sourceIds` limits every event by its source (a flow event by its flow's source).
 */
export function idFilter(args: { flowIds?: string[] | null; sourceIds?: string[] | null }): (event: OutboxEvent) => boolean {
  const flowIds = idSet('flowIds', args.flowIds);
  const sourceIds = idSet('sourceIds', args.sourceIds);
  if (flowIds === undefined && sourceIds === undefined) return () => true;
  return (event) => {
    if (flowIds !== undefined && event.event_type.startsWith('flows/') && (event.flow_id === undefined || !flowIds.has(event.flow_id))) {
      return false;
    }
    return sourceIds === undefined || (event.source_id !== undefined && sourceIds.has(event.source_id));
  };
}
