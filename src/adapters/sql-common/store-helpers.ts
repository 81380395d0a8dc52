/**
 * What the SQL metadata stores (SQLite, PostgreSQL) share outside their SQL: query windows,
 * object re-use checks, event JSON, list sort names and keys.
 */
import { copyOptionalScalars, type Flow, type NewSegment, type Source } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { equalTimeRanges, tryParseTimeRange, type TimeRange } from '../../domain/timerange';
import type { FlowFilter, FlowSort, SourceSort } from '../../ports/metadata-store';
import type { EventContext } from '../../ports/webhook-delivery';
import { INT64_MAX, INT64_MIN } from './cursors';

/** The bounded window [lo, hi) of a query, with sentinels for unbounded ends. */
export function bounds(tr: TimeRange): { lo: bigint; hi: bigint } {
  return { lo: tr.start ?? INT64_MIN, hi: tr.end ?? INT64_MAX };
}

export function reuseConflict(message: string): TamsError {
  return new TamsError('object_reuse_conflict', message);
}

export function sameTimerangeText(a: string, b: string | null): boolean {
  if (b === null) return false;
  const ra = tryParseTimeRange(a);
  const rb = tryParseTimeRange(b);
  return ra !== undefined && rb !== undefined ? equalTimeRanges(ra, rb) : a === b;
}

/** A copy without undefined members, as JSON would carry it. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The flow-segment JSON carried by `flows/segments_added` (no get_urls). */
export function segmentEventJson(seg: NewSegment): Record<string, unknown> {
  const json: Record<string, unknown> = { object_id: seg.object_id, timerange: seg.timerange_text };
  copyOptionalScalars(seg, json);
  if (seg.init_object_id !== undefined) json.init_object = { object_id: seg.init_object_id };
  return json;
}

/** Ids of a flow's collection members (each once). */
export function collectionIds(flow: Flow): Set<string> {
  const ids = new Set<string>();
  if (!Array.isArray(flow.flow_collection)) return ids;
  for (const item of flow.flow_collection) if (typeof item?.id === 'string') ids.add(item.id);
  return ids;
}

/** The source a flow naming an unknown source creates (every store's createSourceFor). */
export function sourceForFlow(flow: Flow, now: string): Source {
  const source: Source = { id: flow.source_id, format: flow.format, created: now, updated: now };
  // Made by whoever made (or moved) the flow: its updated_by is that caller, as the service set it.
  const by = flow.updated_by ?? flow.created_by;
  if (by !== undefined) {
    source.created_by = by;
    source.updated_by = by;
  }
  if (flow.label !== undefined) source.label = flow.label;
  if (flow.description !== undefined) source.description = flow.description;
  // AppNote 0016: a new source takes its permissions from the flow that creates it.
  const authClasses = flow.tags?.auth_classes;
  if (authClasses !== undefined) source.tags = { auth_classes: authClasses };
  return source;
}

/**
 * The document updateSource stores: `change` applied to the stored source (id and format may not
 * change: `validation_failed`), `updated` set to `now`, and what only the store writes (created,
 * collected_by, source_collection) kept as stored.
 */
export function sourceUpdate(current: Source, change: (source: Source) => Source, now: string): Source {
  const next = plain(change(plain(current)));
  if (next.id !== current.id) throw new TamsError('validation_failed', 'The id of a source cannot be changed');
  if (next.format !== current.format) throw new TamsError('validation_failed', 'The format of a source cannot be changed');
  const doc: Source = { ...next, updated: now };
  if (current.created !== undefined) doc.created = current.created;
  else delete doc.created;
  if (current.collected_by !== undefined) doc.collected_by = current.collected_by;
  else delete doc.collected_by;
  if (current.source_collection !== undefined) doc.source_collection = current.source_collection;
  else delete doc.source_collection;
  return doc;
}

/**
 * A flow with an unfinished deletion request takes no new segments or storage ('media') and, when
 * the request deletes the flow, no metadata change either ('metadata'): what is written would be
 * deleted, or would race the deletion's chunks. `deleteFlow`: the flow's unfinished requests'
 * max(delete_flow) (1 deletes the flow), null when it has none. The refusal, or undefined.
 */
export function deletionRefusal(flowId: string, deleteFlow: string | number | null, write: 'media' | 'metadata'): TamsError | undefined {
  if (deleteFlow === null || (write === 'metadata' && Number(deleteFlow) !== 1)) return undefined;
  return new TamsError(
    'flow_being_deleted',
    Number(deleteFlow) === 1 ? `Flow ${flowId} is being deleted (see /flow-delete-requests)` : `Segments of flow ${flowId} are being deleted (see /flow-delete-requests); register segments once that request is done`,
  );
}

/** What replacing a flow's document changes, before any store looks at other rows. */
export interface FlowReplacement {
  /** The document to store: `next` as JSON carries it, its collected_by as it stands after the change. */
  doc: Flow;
  /** Members that join or leave the flow's collection. */
  added: string[];
  removed: string[];
  collectionChanged: boolean;
}

/**
 * The store-neutral first step of every store's replaceFlow (`current`: the stored flow, if any).
 * Whether the flow moves source is left to the caller (`current !== undefined && current.source_id
 * !== doc.source_id`), so that TypeScript narrows `current` where it is used.
 */
export function flowReplacement(next: Flow, current: Flow | undefined): FlowReplacement {
  const id = next.id;
  const before = current ? collectionIds(current) : new Set<string>();
  const after = collectionIds(next);
  const added = [...after].filter((m) => !before.has(m));
  const removed = [...before].filter((m) => !after.has(m));
  // A flow collecting itself is its own member: its collected_by changes in this document.
  let collectedBy = current?.collected_by ?? [];
  if (added.includes(id)) collectedBy = [...collectedBy, id];
  if (removed.includes(id)) collectedBy = collectedBy.filter((c) => c !== id);
  const doc = plain(next);
  if (collectedBy.length > 0) doc.collected_by = collectedBy;
  else delete doc.collected_by;
  const collectionChanged = JSON.stringify(current?.flow_collection ?? []) !== JSON.stringify(doc.flow_collection ?? []);
  return { doc, added, removed, collectionChanged };
}

/** A row that is a JSON document under its id. */
export interface DocRow {
  id: string;
  doc: string;
}

/** Sort names in the list cursors of these listings (distinct from the flow / source ones). */
export const PROFILE_SORT = 'profiles:id';
export const WEBHOOK_SORT = 'webhooks:url';
export const DELETION_SORT = 'deletion_requests:created';

export const SOURCE_SORTS: readonly SourceSort[] = ['created', 'updated', 'label'];
export const FLOW_SORTS: readonly FlowSort[] = ['created', 'metadata_updated', 'label'];

/** The sort key doubles as a column name, so only known keys get near the SQL text. */
export function sortColumn<T extends string>(sortBy: T | undefined, allowed: readonly T[]): T {
  const sort = sortBy ?? ('created' as T);
  if (!allowed.includes(sort)) throw new TamsError('bad_request', `Cannot sort by ${String(sort)}`);
  return sort;
}

export function essenceNumber(flow: Flow, name: string): number | null {
  const v = flow.essence_parameters?.[name];
  return typeof v === 'number' ? v : null;
}

/** Flow list filters that are one column each, compared for equality: filter key and column. */
export const FLOW_EQUAL_FILTERS: readonly (readonly [keyof FlowFilter, string])[] = [
  ['source_id', 'source_id'],
  ['format', 'format'],
  ['codec', 'codec'],
  ['profile_id', 'profile_id'],
  ['label', 'label'],
  ['status', 'status'],
  ['frame_width', 'frame_width'],
  ['frame_height', 'frame_height'],
];

/** JSON null means "absent on the resource": dropped, so the port's optional fields stay absent. */
export function parseContext(text: string): EventContext {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const context: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) if (value !== null) context[key] = value;
  return context;
}
