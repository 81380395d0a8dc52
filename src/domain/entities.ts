/**
 * TAMS entities as the store holds them. JSON-facing fields keep their TAMS (snake_case)
 * names so the REST edge can emit them without renaming; times below the edge are bigint
 * nanoseconds inside TimeRange values.
 */
import type { TimeRange } from './timerange';

export type TagValue = string | string[];
export type Tags = Record<string, TagValue>;

export const CONTENT_FORMATS = [
  'urn:x-nmos:format:video',
  'urn:x-tam:format:image',
  'urn:x-nmos:format:audio',
  'urn:x-nmos:format:data',
  'urn:x-nmos:format:multi',
] as const;
export type ContentFormat = (typeof CONTENT_FORMATS)[number];

export interface CollectionItem {
  id: string;
  role: string;
  [extra: string]: unknown;
}

export interface Source {
  id: string;
  format: ContentFormat;
  label?: string;
  description?: string;
  created_by?: string;
  updated_by?: string;
  created?: string;
  updated?: string;
  tags?: Tags;
  source_collection?: CollectionItem[];
  collected_by?: string[];
}

/**
 * A Flow document exactly as TAMS describes it (flow-get.json). Technical metadata
 * (essence_parameters, codec, container, ...) is kept verbatim.
 */
export interface Flow {
  id: string;
  source_id: string;
  format: ContentFormat;
  label?: string;
  description?: string;
  codec?: string;
  container?: string;
  tags?: Tags;
  created?: string;
  created_by?: string;
  updated_by?: string;
  metadata_updated?: string;
  segments_updated?: string;
  metadata_version?: string;
  generation?: number;
  read_only?: boolean;
  status?: string;
  profile_id?: string;
  max_bit_rate?: number;
  avg_bit_rate?: number;
  flow_collection?: CollectionItem[];
  collected_by?: string[];
  essence_parameters?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** An external (uncontrolled) URL stored with a segment or object instance. */
export interface UncontrolledUrl {
  url: string;
  label: string;
}

/** What a client registers: flow-segment-post.json, parsed. */
export interface NewSegment {
  object_id: string;
  timerange: TimeRange;
  /** The timerange as the client wrote it; returned unchanged. */
  timerange_text: string;
  init_object_id?: string;
  ts_offset?: string;
  object_timerange?: string;
  last_duration?: string;
  sample_offset?: number;
  sample_count?: number;
  key_frame_count?: number;
  get_urls?: UncontrolledUrl[];
}

/** A segment's optional scalar fields (those besides ids, timerange and get_urls). */
export type OptionalSegmentScalars = Pick<NewSegment, 'ts_offset' | 'last_duration' | 'object_timerange' | 'sample_offset' | 'sample_count' | 'key_frame_count'>;

/**
 * Copies the optional scalar fields `from` has onto `to`, in the one order the stored text and
 * the events write them (ts_offset, last_duration, object_timerange, sample_offset,
 * sample_count, key_frame_count). Written out, not looped: it runs for every ingested segment.
 */
export function copyOptionalScalars(from: OptionalSegmentScalars, to: OptionalSegmentScalars): void {
  if (from.ts_offset !== undefined) to.ts_offset = from.ts_offset;
  if (from.last_duration !== undefined) to.last_duration = from.last_duration;
  if (from.object_timerange !== undefined) to.object_timerange = from.object_timerange;
  if (from.sample_offset !== undefined) to.sample_offset = from.sample_offset;
  if (from.sample_count !== undefined) to.sample_count = from.sample_count;
  if (from.key_frame_count !== undefined) to.key_frame_count = from.key_frame_count;
}

/** A registered segment together with what the store knows of its objects. */
export interface SegmentRecord extends NewSegment {
  flow_id: string;
  /** The media object's controlled instances (where the store keeps its bytes), oldest first; absent when none. */
  object_instances?: readonly ObjectStorageRef[];
  init_object_instances?: readonly ObjectStorageRef[];
  /** The object's own timerange (first registration), for include_object_timerange. */
  object_timerange_of_object?: string;
}

/** A controlled instance of an object: its bytes under `key` on storage backend `storage_id`. */
export interface ObjectStorageRef {
  storage_id: string;
  key: string;
}

export interface ObjectRecord {
  id: string;
  /** Controlled instances, oldest first (at most one per storage backend); empty when none. */
  instances: ObjectStorageRef[];
  /** The flow storage was allocated for; a newly written object belongs to it. */
  allocated_for_flow: string | null;
  content_type?: string;
  /** True once registered by a segment (as media) or as an init object. */
  registered: boolean;
  role: 'media' | 'init' | null;
  key_frame_count?: number;
  timerange?: string;
  init_object_id?: string;
  first_referenced_by_flow?: string;
  referenced_by_flows: string[];
  uncontrolled_urls: UncontrolledUrl[];
  created: string;
}

export interface ServiceInfo {
  name?: string;
  description?: string;
}

export interface StorageBackend {
  id: string;
  label: string;
  store_type: 'http_object_store';
  provider: string;
  store_product: string;
  region?: string;
  availability_zone?: string;
  default_storage: boolean;
  tags?: Tags;
}

/** A Flow Profile (profile.json): immutable once created. */
export interface Profile {
  id: string;
  label?: string;
  description?: string;
  created_by?: string;
  created?: string;
  tags?: Tags;
  /** The technical part of a flow (format, codec, container, essence_parameters, ...). */
  flow_metadata: Record<string, unknown>;
}

export const WEBHOOK_STATUSES = ['created', 'started', 'disabled', 'error'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/** A webhook registration (webhook-get.json plus the write-only key value). */
export interface Webhook {
  id: string;
  url: string;
  events: string[];
  status: WebhookStatus;
  api_key_name?: string;
  /** Write-only: stored for delivery, never returned by the API. */
  api_key_value?: string;
  flow_ids?: string[];
  source_ids?: string[];
  flow_collected_by_ids?: string[];
  source_collected_by_ids?: string[];
  accept_get_urls?: string[];
  accept_storage_ids?: string[];
  presigned?: boolean;
  verbose_storage?: boolean;
  include_object_timerange?: boolean;
  tags?: Tags;
  error?: { type: string; summary: string; time: string };
  /** Who registered it (the principal's subject, once authentication exists). */
  owner?: string;
  created?: string;
}

export const DELETION_STATUSES = ['created', 'started', 'done', 'error'] as const;
export type DeletionStatus = (typeof DELETION_STATUSES)[number];

/** A flow delete request (deletion-request.json). */
export interface DeletionRequest {
  id: string;
  flow_id: string;
  timerange_to_delete: string;
  timerange_remaining?: string;
  delete_flow: boolean;
  status: DeletionStatus;
  created?: string;
  created_by?: string;
  updated?: string;
  expiry?: string;
  error?: { type: string; summary: string; time: string };
}
