import type {
  Flow,
  ObjectStorageRef,
  SegmentRecord,
  Source,
  UncontrolledUrl,
} from '../../domain/entities';
import type { OutboxEvent, TamsEventType } from '../../domain/events';
import { range } from '../../domain/timerange';
import { INT64_MAX, INT64_MIN } from './cursors';

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

/** Read with safe integers: every INTEGER column is a bigint. */
export interface SegmentRow {
  end_ns: bigint;
  start_ns: bigint;
  timerange_text: string;
  object_id: string;
  init_object_id: string | null;
  ts_offset: string | null;
  last_duration: string | null;
  object_timerange: string | null;
  sample_offset: bigint | null;
  sample_count: bigint | null;
  key_frame_count: bigint | null;
  get_urls: string | null;
  o_storage_id: string | null;
  o_storage_key: string | null;
  o_timerange: string | null;
  io_storage_id: string | null;
  io_storage_key: string | null;
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

export const SEGMENT_COLUMNS = `s.end_ns, s.start_ns, s.timerange_text, s.object_id, s.init_object_id,
  s.ts_offset, s.last_duration, s.object_timerange, s.sample_offset, s.sample_count,
  s.key_frame_count, s.get_urls,
  o.storage_id AS o_storage_id, o.storage_key AS o_storage_key, o.timerange AS o_timerange,
  io.storage_id AS io_storage_id, io.storage_key AS io_storage_key
  FROM segments s
  LEFT JOIN objects o ON o.id = s.object_id
  LEFT JOIN objects io ON io.id = s.init_object_id`;

export function toFlow(row: FlowRow): Flow {
  const flow = JSON.parse(row.doc) as Flow;
  if (row.segments_updated !== null) flow.segments_updated = row.segments_updated;
  return flow;
}

export function toSource(row: SourceRow): Source {
  return JSON.parse(row.doc) as Source;
}

function storageRef(id: string | null, key: string | null): ObjectStorageRef | undefined {
  return id !== null && key !== null ? { storage_id: id, key } : undefined;
}

export function boundToNanos(ns: bigint, unbounded: bigint): bigint | null {
  return ns === unbounded ? null : ns;
}

export function toSegment(flowId: string, row: SegmentRow): SegmentRecord {
  const seg: SegmentRecord = {
    flow_id: flowId,
    object_id: row.object_id,
    timerange: range(boundToNanos(row.start_ns, INT64_MIN), boundToNanos(row.end_ns, INT64_MAX)),
    timerange_text: row.timerange_text,
  };
  if (row.init_object_id !== null) seg.init_object_id = row.init_object_id;
  if (row.ts_offset !== null) seg.ts_offset = row.ts_offset;
  if (row.object_timerange !== null) seg.object_timerange = row.object_timerange;
  if (row.last_duration !== null) seg.last_duration = row.last_duration;
  if (row.sample_offset !== null) seg.sample_offset = Number(row.sample_offset);
  if (row.sample_count !== null) seg.sample_count = Number(row.sample_count);
  if (row.key_frame_count !== null) seg.key_frame_count = Number(row.key_frame_count);
  if (row.get_urls !== null) seg.get_urls = JSON.parse(row.get_urls) as UncontrolledUrl[];
  const objectStorage = storageRef(row.o_storage_id, row.o_storage_key);
  if (objectStorage) seg.object_storage = objectStorage;
  const initStorage = storageRef(row.io_storage_id, row.io_storage_key);
  if (initStorage) seg.init_object_storage = initStorage;
  if (row.o_timerange !== null) seg.object_timerange_of_object = row.o_timerange;
  return seg;
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
