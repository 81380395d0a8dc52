/**
 * Does a webhook want an event (webhook.json)? Its `events` list, then each filter it sets,
 * evaluated against the flow or source as it was when the event committed (the event's
 * context): `flow_ids` and `flow_collected_by_ids` limit flow and segment events only;
 * `source_ids` and `source_collected_by_ids` limit flow, segment and source events, through
 * the flow's source for the first two. A collected-by filter that is an empty array keeps only
 * resources collected by nothing.
 */
import type { Webhook } from '../domain/entities';
import type { ContextualEvent } from '../ports/webhook-delivery';

function collectedMatches(filter: string[] | undefined, collectedBy: string[] | undefined): boolean {
  if (filter === undefined) return true;
  const by = collectedBy ?? [];
  if (filter.length === 0) return by.length === 0;
  return by.some((id) => filter.includes(id));
}

/** The flow id of a flow or segment event. */
export function eventFlowId(event: ContextualEvent): string | undefined {
  const payload = event.event as { flow_id?: string; flow?: { id?: string } };
  return event.flow_id ?? payload.flow_id ?? payload.flow?.id;
}

/** The source id of an event: the source's own, or the flow's source for flow and segment events. */
export function eventSourceId(event: ContextualEvent): string | undefined {
  const payload = event.event as { source_id?: string; source?: { id?: string }; flow?: { source_id?: string } };
  return event.context?.source_id ?? event.source_id ?? payload.source_id ?? payload.source?.id ?? payload.flow?.source_id;
}

export function webhookWants(webhook: Webhook, event: ContextualEvent): boolean {
  if (!webhook.events.includes(event.event_type)) return false;
  const isFlowEvent = event.event_type.startsWith('flows/');
  if (isFlowEvent) {
    if (webhook.flow_ids !== undefined) {
      const flowId = eventFlowId(event);
      if (flowId === undefined || !webhook.flow_ids.includes(flowId)) return false;
    }
    if (!collectedMatches(webhook.flow_collected_by_ids, event.context?.flow_collected_by)) return false;
  }
  if (webhook.source_ids !== undefined) {
    const sourceId = eventSourceId(event);
    if (sourceId === undefined || !webhook.source_ids.includes(sourceId)) return false;
  }
  return collectedMatches(webhook.source_collected_by_ids, event.context?.source_collected_by);
}
