import { copyOptionalScalars, type OptionalSegmentScalars, type Flow, type NewSegment, type ObjectRecord, type ObjectStorageRef, type SegmentRecord, type Source, type UncontrolledUrl } from '../../domain/entities';
import type { SegmentText, SegmentTextPage } from '../../ports/metadata-store';
import type { OutboxEvent, TamsEventType } from '../../domain/events';
import { EMPTY, range, span, type TimeRange } from '../../domain/timerange';
import { INT64_MAX, INT64_MIN } from './cursors';
import { jsonString } from '../../domain/json-text';

/**
 * Row shapes of the SQL metadata stores (SQLite, PostgreSQL), and their conversion to plain
 * domain objects. Pure: no SQL dialect here (the SQLite text row is in ../sqlite/rows.ts).
 */

export interface FlowRow {
  id: string;
  source_id: string;
  segments_updated: string | null;
  created: string | null;
  doc: string;
}

export interface SourceRow {
  id: string;
  format: string;
  doc: string;
}

/**
 * A window row: a segment as the window query reads it, from the segment row alone (the
 * object's storage and own timerange are copied into it, migration 2), json_head as stored (see
 * segmentJsonTail). The SQLite store reads it from one text per row (../sqlite/rows.ts), the
 * PostgreSQL store from columns. The init object's storage, the same for every segment naming
 * that object, is looked up once per page ({@link InitStorageLookup}) rather than taken from
 * every row. Storage ids and keys hold no U+001E or U+001F ({@link fitsSegmentRow}).
 */
export interface SegmentRow {
  /** end_ns and start_ns as decimal text: most rows never need them as numbers. */
  endNs: string;
  startNs: string;
  storageId: string | null;
  storageKey: string | null;
  /** The object's own timerange, when the statement was asked for it (object_own_timerange). */
  objectTimerange: string | null;
  head: string;
  initObjectId: string | null;
}

/** Between the fields of a SQLite window row's text. */
export const FIELD_SEPARATOR = '\x1e';

/** Between the instances' ids (and keys) in the storage copies of object and segment rows (migration 6). */
const INSTANCE_SEPARATOR = '\x1f';

/** True when a storage id or key can go into a window row (SQLite's text: ../sqlite/rows.ts) and the instance copies: not empty (read as absent), no U+001E or U+001F. */
export function fitsSegmentRow(storageText: string): boolean {
  return storageText !== '' && !storageText.includes(FIELD_SEPARATOR) && !storageText.includes(INSTANCE_SEPARATOR);
}

/** Instances as the storage copies of object and segment rows hold them (migration 6): ids and keys, each joined by U+001F; nulls for none. */
export function joinInstances(instances: readonly ObjectStorageRef[]): { ids: string | null; keys: string | null } {
  if (instances.length === 0) return { ids: null, keys: null };
  if (instances.length === 1) return { ids: (instances[0] as ObjectStorageRef).storage_id, keys: (instances[0] as ObjectStorageRef).key };
  return { ids: instances.map((i) => i.storage_id).join(INSTANCE_SEPARATOR), keys: instances.map((i) => i.key).join(INSTANCE_SEPARATOR) };
}

/** The instances of a storage copy (see {@link joinInstances}); undefined for none. */
export function splitInstances(ids: string | null, keys: string | null): ObjectStorageRef[] | undefined {
  if (ids === null || keys === null) return undefined;
  if (!ids.includes(INSTANCE_SEPARATOR)) return [{ storage_id: ids, key: keys }];
  const idList = ids.split(INSTANCE_SEPARATOR);
  const keyList = keys.split(INSTANCE_SEPARATOR);
  return idList.map((storage_id, i) => ({ storage_id, key: keyList[i] ?? '' }));
}

/** The get_urls member of a json_head: always its last (see segmentJsonTail). */
const URLS_MEMBER = ',"get_urls":';
const OBJECT_ID_MEMBER = '{"object_id":';
const OBJECT_ID_AT = OBJECT_ID_MEMBER.length;
const TIMERANGE_MEMBER = ',"timerange":"';

/**
 * The rest of a `json_head` after its object_id: `,"timerange":…` and the members of the
 * optional fields' JSON (`optional`, from {@link optionalFieldsJson}: get_urls, when there,
 * comes last).
 */
export function segmentJsonTail(timerangeText: string, optional: string | null): string {
  const tail = `,"timerange":${jsonString(timerangeText)}`;
  return optional === null || optional.length <= 2 ? tail : `${tail},${optional.slice(1, -1)}`;
}

/**
 * What a `json_head` was written from, read back: the object id's JSON string runs to the
 * first `,"timerange":"` (a `,"` never occurs inside a JSON string: its quotes are escaped),
 * the timerange (a TAMS timerange has no quotes) to the next quote, and the members after it
 * are the optional fields.
 */
export function jsonHeadParts(head: string): { objectId: string; timerangeText: string; optional: string | null } {
  const at = head.indexOf(TIMERANGE_MEMBER, OBJECT_ID_AT);
  const from = at + TIMERANGE_MEMBER.length;
  const to = at < 0 ? -1 : head.indexOf('"', from);
  if (to < 0 || !head.startsWith(OBJECT_ID_MEMBER)) throw new Error(`Not a segment json_head: ${JSON.stringify(head.slice(0, 80))}`);
  const idJson = head.slice(OBJECT_ID_AT, at);
  const objectId = idJson.includes('\\') ? (JSON.parse(idJson) as string) : idJson.slice(1, -1);
  return { objectId, timerangeText: head.slice(from, to), optional: head.length > to + 1 ? `{${head.slice(to + 2)}}` : null };
}

/** The instances of an init object, from the row of a segment naming it (end_ns of that row). */
export type InitStorageLookup = (endNs: bigint) => readonly ObjectStorageRef[] | undefined;

/** The optional flow-segment fields, kept as JSON members in `segments.json_head`. */
export type OptionalSegmentFields = OptionalSegmentScalars & Pick<NewSegment, 'get_urls'>;

/**
 * The tail of a segment's `json_head` (segmentJsonTail) after `edit` changed its copy of the
 * object's uncontrolled URLs (get_urls, kept last), or undefined when the edit changes nothing.
 */
export function editedUrlsTail(jsonHead: string, edit: (urls: UncontrolledUrl[]) => UncontrolledUrl[]): string | undefined {
  const { timerangeText, optional } = jsonHeadParts(jsonHead);
  const fields = optional === null ? {} : (JSON.parse(optional) as OptionalSegmentFields);
  const before = fields.get_urls ?? [];
  const after = edit(before);
  if (JSON.stringify(after) === JSON.stringify(before)) return undefined;
  // Kept last (segmentJsonTail): deleted and set again rather than replaced in place.
  delete fields.get_urls;
  if (after.length > 0) fields.get_urls = after;
  return segmentJsonTail(timerangeText, Object.keys(fields).length === 0 ? null : JSON.stringify(fields));
}

export function optionalFieldsJson(seg: NewSegment): string | null {
  const fields: OptionalSegmentFields = {};
  copyOptionalScalars(seg, fields);
  if (seg.get_urls !== undefined) fields.get_urls = seg.get_urls;
  return Object.keys(fields).length === 0 ? null : JSON.stringify(fields);
}

export interface ObjectRow {
  id: string;
  storage_id: string | null;
  storage_key: string | null;
  allocated_for_flow: string | null;
  content_type: string | null;
  role: 'media' | 'init' | null;
  registered: number;
  key_frame_count: number | null;
  timerange: string | null;
  init_object_id: string | null;
  first_referenced_by_flow: string | null;
  get_urls: string;
  created: string;
}

export interface OutboxRow {
  seq: number;
  event_type: string;
  event_timestamp: string;
  payload: string;
  flow_id: string | null;
  source_id: string | null;
}

export function toFlow(row: FlowRow): Flow {
  const flow = JSON.parse(row.doc) as Flow;
  if (row.segments_updated !== null) flow.segments_updated = row.segments_updated;
  return flow;
}

export function toSource(row: SourceRow): Source {
  return JSON.parse(row.doc) as Source;
}


export function boundToNanos(ns: bigint, unbounded: bigint): bigint | null {
  return ns === unbounded ? null : ns;
}

/**
 * Parses optional-field texts (see jsonHeadParts), remembering the last one. Neighbouring segments mostly carry the same
 * text (a fixed key_frame_count or ts_offset), and JSON.parse was the largest cost of turning
 * a window row into a record. A remembered value is only ever copied field by field into a
 * record, so it is kept only when every field is a primitive: a text holding get_urls
 * (objects) is parsed afresh each time and no two records share a mutable value.
 */
class OptionalFieldsParser {
  private lastText: string | undefined;
  private lastValue: OptionalSegmentFields | undefined;

  parse(text: string): OptionalSegmentFields {
    if (text === this.lastText && this.lastValue) return this.lastValue;
    const value = JSON.parse(text) as OptionalSegmentFields;
    const primitive = Object.values(value).every((v) => typeof v !== 'object' || v === null);
    this.lastText = primitive ? text : undefined;
    this.lastValue = primitive ? value : undefined;
    return value;
  }
}

/** An init object's storage, looked up once per page (`known` remembers it, absent or not). */
function initStorageOf(
  initObjectId: string,
  row: SegmentRow,
  known: Map<string, readonly ObjectStorageRef[] | undefined>,
  lookup: InitStorageLookup,
): readonly ObjectStorageRef[] | undefined {
  if (known.has(initObjectId)) return known.get(initObjectId);
  const storage = lookup(BigInt(row.endNs));
  known.set(initObjectId, storage);
  return storage;
}

/** The timerange of a window row, from its bounds. */
export function rowTimerange(row: SegmentRow): TimeRange {
  return range(boundToNanos(BigInt(row.startNs), INT64_MIN), boundToNanos(BigInt(row.endNs), INT64_MAX));
}

function rowToSegment(
  flowId: string,
  row: SegmentRow,
  optionals: OptionalFieldsParser,
  initStorages: Map<string, readonly ObjectStorageRef[] | undefined>,
  lookup: InitStorageLookup,
): SegmentRecord {
  const { head, initObjectId, storageId, storageKey, objectTimerange } = row;
  const { objectId, timerangeText, optional } = jsonHeadParts(head);
  const seg: SegmentRecord = {
    flow_id: flowId,
    object_id: objectId,
    timerange: rowTimerange(row),
    timerange_text: timerangeText,
  };
  if (initObjectId !== null) seg.init_object_id = initObjectId;
  if (optional !== null) Object.assign(seg, optionals.parse(optional));
  const objectInstances = splitInstances(storageId, storageKey);
  if (objectInstances) seg.object_instances = objectInstances;
  if (initObjectId !== null) {
    const initInstances = initStorageOf(initObjectId, row, initStorages, lookup);
    // Each record its own copy: records are handed out as they are.
    if (initInstances) seg.init_object_instances = initInstances.map((i) => ({ ...i }));
  }
  if (objectTimerange !== null) seg.object_timerange_of_object = objectTimerange;
  return seg;
}

/**
 * The records of a page of window rows (each distinct run of optional fields parsed once, each
 * init object's storage looked up once).
 */
export function toSegments(flowId: string, rows: readonly SegmentRow[], initStorage: InitStorageLookup): SegmentRecord[] {
  const optionals = new OptionalFieldsParser();
  const initStorages = new Map<string, readonly ObjectStorageRef[] | undefined>();
  return rows.map((row) => rowToSegment(flowId, row, optionals, initStorages, initStorage));
}

/**
 * The texts of a page of window rows (listSegmentTexts): the same segments as
 * {@link toSegments}, each written out as far as its stored JSON goes. A `,"` never occurs
 * inside a JSON string (a quote in one is escaped), and no member before get_urls holds an
 * object, so the first `,"get_urls":` and `,"object_timerange":` found are the members.
 * Stored get_urls are parsed for each segment, so no two share those objects.
 */
export function toSegmentTexts(rows: readonly SegmentRow[], lookup: InitStorageLookup): SegmentText[] {
  const initStorages = new Map<string, readonly ObjectStorageRef[] | undefined>();
  return rows.map((row) => {
    const { head, initObjectId, storageId, storageKey, objectTimerange } = row;
    const urlsAt = head.indexOf(URLS_MEMBER);
    const jsonHead = urlsAt < 0 ? head : head.slice(0, urlsAt);
    const seg: SegmentText = { json_head: jsonHead, has_object_timerange: jsonHead.includes(',"object_timerange":') };
    if (objectTimerange !== null) seg.object_timerange_of_object = objectTimerange;
    const objectInstances = splitInstances(storageId, storageKey);
    if (objectInstances) seg.object_instances = objectInstances;
    if (initObjectId !== null) {
      seg.init_object_id = initObjectId;
      const initInstances = initStorageOf(initObjectId, row, initStorages, lookup);
      if (initInstances) seg.init_object_instances = initInstances;
    }
    if (urlsAt >= 0) seg.get_urls = JSON.parse(head.slice(urlsAt + URLS_MEMBER.length)) as UncontrolledUrl[];
    return seg;
  });
}

export function toOutboxEvent(row: OutboxRow): OutboxEvent {
  const event: OutboxEvent = {
    seq: row.seq,
    event_type: row.event_type as TamsEventType,
    event_timestamp: row.event_timestamp,
    event: JSON.parse(row.payload) as OutboxEvent['event'],
  };
  if (row.flow_id !== null) event.flow_id = row.flow_id;
  if (row.source_id !== null) event.source_id = row.source_id;
  return event;
}

/** The object record of an objects row; `referencedByFlows` in the order the store gives them (each sorts as SQLite does). */
export function objectRecord(row: ObjectRow, referencedByFlows: string[]): ObjectRecord {
  const record: ObjectRecord = {
    id: row.id,
    instances: splitInstances(row.storage_id, row.storage_key) ?? [],
    allocated_for_flow: row.allocated_for_flow,
    registered: row.registered === 1,
    role: row.role,
    referenced_by_flows: referencedByFlows,
    uncontrolled_urls: JSON.parse(row.get_urls) as UncontrolledUrl[],
    created: row.created,
  };
  if (row.content_type !== null) record.content_type = row.content_type;
  if (row.key_frame_count !== null) record.key_frame_count = row.key_frame_count;
  if (row.timerange !== null) record.timerange = row.timerange;
  if (row.init_object_id !== null) record.init_object_id = row.init_object_id;
  if (row.first_referenced_by_flow !== null) record.first_referenced_by_flow = row.first_referenced_by_flow;
  return record;
}

/** A listSegmentTexts page of a window's rows: their texts, the span of their timeranges, the next page's key. */
export function segmentTextPage(rows: readonly SegmentRow[], lookup: InitStorageLookup, next: unknown): SegmentTextPage {
  const first = rows[0];
  const last = rows[rows.length - 1];
  const page: SegmentTextPage = { items: toSegmentTexts(rows, lookup), span: first && last ? span(rowTimerange(first), rowTimerange(last)) : EMPTY };
  if (next !== undefined) page.next = next;
  return page;
}
