import type { Flow, NewSegment, ObjectStorageRef, SegmentRecord, Source, UncontrolledUrl } from '../../domain/entities';
import type { SegmentText } from '../../ports/metadata-store';
import type { OutboxEvent, TamsEventType } from '../../domain/events';
import { range, type TimeRange } from '../../domain/timerange';
import { INT64_MAX, INT64_MIN } from './cursors';
import { jsonString } from '../../domain/json-text';

/** Row shapes as SQLite returns them, and their conversion to plain domain objects. */

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
 * A window row, read raw (an array: much cheaper than an object per row) with safe integers
 * (only end_ns and start_ns are integers; BigInts are needed for them anyway):
 * [end_ns, start_ns, timerange_text, object_id, init_object_id, extra, object storage_id,
 * object storage_key], then the object's own timerange when it was asked for. Every value
 * costs (about 0.1 µs per row and column, a third of a segments request in all), so the
 * init object's storage, the same for every segment naming that object, is looked up once per
 * page ({@link InitStorageLookup}) rather than carried by every row.
 */
export type SegmentRow = [bigint, bigint, string, string, string | null, string | null, string | null, string | null, (string | null)?];

/** The window columns: all in the segment row (migration 2), so no join. */
export const SEGMENT_COLUMNS = `s.end_ns, s.start_ns, s.timerange_text, s.object_id, s.init_object_id, s.extra,
  s.object_storage_id, s.object_storage_key`;

/**
 * A window row for listSegmentTexts: [end_ns, start_ns, json_head, init_object_id, object
 * storage_id, object storage_key], then the object's own timerange when it was asked for.
 * json_head (migration 4) stands for timerange_text, object_id and extra: two values fewer
 * per row, and the strings in it are quoted already.
 */
export type SegmentTextRow = [bigint, bigint, string, string | null, string | null, string | null, (string | null)?];

/** The columns of a {@link SegmentTextRow}. */
export const SEGMENT_TEXT_COLUMNS = 's.end_ns, s.start_ns, s.json_head, s.init_object_id, s.object_storage_id, s.object_storage_key';

/** The get_urls member of a json_head: always its last (see segmentJsonHead). */
const URLS_MEMBER = ',"get_urls":';

/**
 * The `json_head` of a segment row (migration 4): the segment as a JSON object without its
 * closing brace, `{"object_id":…,"timerange":…` and then the members of its `extra` text
 * (written by {@link segmentExtra} or editSegmentUrls, so get_urls, when there, comes last).
 */
export function segmentJsonHead(objectId: string, timerangeText: string, extra: string | null): string {
  const head = `{"object_id":${jsonString(objectId)},"timerange":${jsonString(timerangeText)}`;
  return extra === null || extra.length <= 2 ? head : `${head},${extra.slice(1, -1)}`;
}

/** The storage of an init object, from the row of a segment naming it (end_ns of that row). */
export type InitStorageLookup = (endNs: bigint) => ObjectStorageRef | undefined;

/** The optional flow-segment fields kept together in `segments.extra`. */
export type SegmentExtra = Pick<
  NewSegment,
  'ts_offset' | 'last_duration' | 'object_timerange' | 'sample_offset' | 'sample_count' | 'key_frame_count' | 'get_urls'
>;

export function segmentExtra(seg: NewSegment): string | null {
  const extra: SegmentExtra = {};
  if (seg.ts_offset !== undefined) extra.ts_offset = seg.ts_offset;
  if (seg.last_duration !== undefined) extra.last_duration = seg.last_duration;
  if (seg.object_timerange !== undefined) extra.object_timerange = seg.object_timerange;
  if (seg.sample_offset !== undefined) extra.sample_offset = seg.sample_offset;
  if (seg.sample_count !== undefined) extra.sample_count = seg.sample_count;
  if (seg.key_frame_count !== undefined) extra.key_frame_count = seg.key_frame_count;
  if (seg.get_urls !== undefined) extra.get_urls = seg.get_urls;
  return Object.keys(extra).length === 0 ? null : JSON.stringify(extra);
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

export function storageRef(id: string | null, key: string | null): ObjectStorageRef | undefined {
  return id !== null && key !== null ? { storage_id: id, key } : undefined;
}

export function boundToNanos(ns: bigint, unbounded: bigint): bigint | null {
  return ns === unbounded ? null : ns;
}

/**
 * Parses `extra` texts, remembering the last one. Neighbouring segments mostly carry the same
 * text (a fixed key_frame_count or ts_offset), and JSON.parse was the largest cost of turning
 * a window row into a record. A remembered value is only ever copied field by field into a
 * record, so it is kept only when every field is a primitive: a text holding get_urls
 * (objects) is parsed afresh each time and no two records share a mutable value.
 */
class ExtraParser {
  private lastText: string | undefined;
  private lastValue: SegmentExtra | undefined;

  parse(text: string): SegmentExtra {
    if (text === this.lastText && this.lastValue) return this.lastValue;
    const value = JSON.parse(text) as SegmentExtra;
    const primitive = Object.values(value).every((v) => typeof v !== 'object' || v === null);
    this.lastText = primitive ? text : undefined;
    this.lastValue = primitive ? value : undefined;
    return value;
  }
}

/** An init object's storage, looked up once per page (`known` remembers it, absent or not). */
function initStorageOf(
  initObjectId: string,
  endNs: bigint,
  known: Map<string, ObjectStorageRef | undefined>,
  lookup: InitStorageLookup,
): ObjectStorageRef | undefined {
  if (known.has(initObjectId)) return known.get(initObjectId);
  const storage = lookup(endNs);
  known.set(initObjectId, storage);
  return storage;
}

/** The timerange of a window row, from its bounds. */
export function rowTimerange(row: readonly [bigint, bigint, ...unknown[]]): TimeRange {
  return range(boundToNanos(row[1], INT64_MIN), boundToNanos(row[0], INT64_MAX));
}

function rowToSegment(
  flowId: string,
  row: SegmentRow,
  extras: ExtraParser,
  initStorages: Map<string, ObjectStorageRef | undefined>,
  lookup: InitStorageLookup,
): SegmentRecord {
  const [endNs, , text, objectId, initObjectId, extra, storageId, storageKey, objectTimerange] = row;
  const seg: SegmentRecord = {
    flow_id: flowId,
    object_id: objectId,
    timerange: rowTimerange(row),
    timerange_text: text,
  };
  if (initObjectId !== null) seg.init_object_id = initObjectId;
  if (extra !== null) Object.assign(seg, extras.parse(extra));
  const objectStorage = storageRef(storageId, storageKey);
  if (objectStorage) seg.object_storage = objectStorage;
  if (initObjectId !== null) {
    const initStorage = initStorageOf(initObjectId, endNs, initStorages, lookup);
    if (initStorage) seg.init_object_storage = { ...initStorage };
  }
  if (objectTimerange !== undefined && objectTimerange !== null) seg.object_timerange_of_object = objectTimerange;
  return seg;
}

/**
 * The records of a page of window rows (each distinct run of `extra` parsed once, each init
 * object's storage looked up once).
 */
export function toSegments(flowId: string, rows: readonly SegmentRow[], initStorage: InitStorageLookup): SegmentRecord[] {
  const extras = new ExtraParser();
  const initStorages = new Map<string, ObjectStorageRef | undefined>();
  return rows.map((row) => rowToSegment(flowId, row, extras, initStorages, initStorage));
}

/**
 * The texts of a page of text window rows (listSegmentTexts): the same segments as
 * {@link toSegments}, each written out as far as its stored JSON goes. A `,"` never occurs
 * inside a JSON string (a quote in one is escaped), and no member before get_urls holds an
 * object, so the first `,"get_urls":` and `,"object_timerange":` found are the members.
 * Stored get_urls are parsed for each segment, so no two share those objects.
 */
export function toSegmentTexts(rows: readonly SegmentTextRow[], lookup: InitStorageLookup): SegmentText[] {
  const initStorages = new Map<string, ObjectStorageRef | undefined>();
  return rows.map((row) => {
    const [endNs, , head, initObjectId, storageId, storageKey, objectTimerange] = row;
    const urlsAt = head.indexOf(URLS_MEMBER);
    const jsonHead = urlsAt < 0 ? head : head.slice(0, urlsAt);
    const seg: SegmentText = { json_head: jsonHead, has_object_timerange: jsonHead.includes(',"object_timerange":') };
    if (objectTimerange !== undefined && objectTimerange !== null) seg.object_timerange_of_object = objectTimerange;
    const objectStorage = storageRef(storageId, storageKey);
    if (objectStorage) seg.object_storage = objectStorage;
    if (initObjectId !== null) {
      seg.init_object_id = initObjectId;
      const initStorage = initStorageOf(initObjectId, endNs, initStorages, lookup);
      if (initStorage) seg.init_object_storage = { ...initStorage };
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
