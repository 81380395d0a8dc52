/**
 * An event's context (src/ports/webhook-delivery.ts EventContext: what its flow or source is
 * when the event is written; webhook filters and the permissions of a deleted resource are
 * evaluated against it). The SQL stores compute it when the event is appended, from the rows
 * as the transaction sees them then, and keep the context of a deleted flow or source for the
 * events written after it is gone. Here a writer reads it when it records the event
 * (VastWrite.event: the rows as they are at that point of the transaction), and a writer about
 * to delete a resource computes it from the documents first (contextFromDocs); an event given
 * no context gets the one the rows give when the events are appended.
 */
import type { TamsEventPayload } from '../../../domain/events';
import type { EventContext } from '../../../ports/webhook-delivery';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import { selectByIds } from './select-by-ids';
import type { VastStoreTables } from './vast-tables';

export interface PendingEvent {
  readonly payload: TamsEventPayload;
  readonly timestamp: string;
  readonly flowId?: string;
  readonly sourceId?: string;
  /** The event's context, already known (null: it has none); undefined: read when appended. */
  readonly context?: EventContext | null;
}

interface ContextDoc {
  collected_by?: unknown;
  tags?: { auth_classes?: unknown } | null;
}

/** The context of an event about a flow (with `flow`) or a source, from their documents as they are. */
export function contextFromDocs(sourceId: string, flow: ContextDoc | undefined, source: ContextDoc | undefined): EventContext {
  const context: Record<string, unknown> = { source_id: sourceId };
  if (flow?.collected_by != null) context.flow_collected_by = flow.collected_by;
  if (flow?.tags?.auth_classes != null) context.flow_classes = flow.tags.auth_classes;
  if (source?.collected_by != null) context.source_collected_by = source.collected_by;
  if (source?.tags?.auth_classes != null) context.source_classes = source.tags.auth_classes;
  return context;
}

/** The flow (flows/* events) or source (sources/*) an event is about. */
function subjectOf(event: PendingEvent): { kind: 'flow' | 'source'; id: string | undefined } {
  const body = event.payload.event as { flow_id?: string; flow?: { id?: string }; source_id?: string; source?: { id?: string } };
  if (event.payload.type.startsWith('flows/')) return { kind: 'flow', id: event.flowId ?? body.flow_id ?? body.flow?.id };
  return { kind: 'source', id: event.sourceId ?? body.source_id ?? body.source?.id };
}

function docOf(record: VastRecord | undefined): ContextDoc | undefined {
  return record === undefined ? undefined : (JSON.parse(record.doc as string) as ContextDoc);
}

/**
 * Each event's context: the one it carries, or else the one its flow or source rows give now
 * (null when its resource cannot be found). Two selects for all the events at most.
 */
export async function readContexts(tx: VastTransaction, tables: VastStoreTables, events: readonly PendingEvent[]): Promise<(EventContext | null)[]> {
  const subjects = events.map((event) => (event.context === undefined ? subjectOf(event) : undefined));
  const flowIds = subjects.flatMap((s) => (s?.kind === 'flow' && s.id !== undefined ? [s.id] : []));
  const flows = new Map<string, VastRecord>();
  if (flowIds.length > 0) for (const row of await selectByIds(tx, tables.flows, 'id', flowIds, { columns: ['id', 'source_id', 'doc'] })) flows.set(row.id as string, row);
  const sourceIds = new Set<string>();
  for (const s of subjects) {
    if (s?.id === undefined) continue;
    if (s.kind === 'source') sourceIds.add(s.id);
    else if (flows.has(s.id)) sourceIds.add(flows.get(s.id)?.source_id as string);
  }
  const sources = new Map<string, VastRecord>();
  if (sourceIds.size > 0) for (const row of await selectByIds(tx, tables.sources, 'id', sourceIds, { columns: ['id', 'doc'] })) sources.set(row.id as string, row);
  return events.map((event, i) => {
    if (event.context !== undefined) return event.context;
    const subject = subjects[i];
    if (subject?.id === undefined) return null;
    if (subject.kind === 'source') {
      const source = docOf(sources.get(subject.id));
      return source === undefined ? null : contextFromDocs(subject.id, undefined, source);
    }
    const flowRow = flows.get(subject.id);
    if (flowRow === undefined) return null;
    return contextFromDocs(flowRow.source_id as string, docOf(flowRow), docOf(sources.get(flowRow.source_id as string)));
  });
}
