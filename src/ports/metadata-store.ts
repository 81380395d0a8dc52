import type {
  DeletionRequest,
  Flow,
  NewSegment,
  ObjectRecord,
  ObjectStorageRef,
  Profile,
  SegmentRecord,
  ServiceInfo,
  Source,
  Tags,
  UncontrolledUrl,
  Webhook,
} from '../domain/entities';
import type { OutboxEvent } from '../domain/events';
import type { ContextualEvent, CursorMove, IdleCursorMove, OutboxPruned, WebhookBacklog, WebhookDelivery } from './webhook-delivery';
import type { TimeRange } from '../domain/timerange';
import type { TamsError } from '../domain/errors';

/**
 * Keyset paging. `after` is the store's own key for the last item of the previous page
 * (a JSON value the store produced as `next`); it reaches the store only after the edge has
 * verified the opaque cursor's signature, yet a store must still reject a key of the wrong
 * shape with `bad_cursor`.
 */
export interface PageRequest {
  limit: number;
  after?: unknown;
}

export interface Page<T> {
  items: T[];
  /** Key to pass as `after` for the next page; absent on the last page. */
  next?: unknown;
}

/**
 * A listed segment with its optional scalar fields still in their stored JSON text
 * (listSegmentTexts): the same segment as listSegments returns, for a listing that writes JSON
 * without building the segment as an object first.
 */
export interface SegmentText {
  /**
   * The segment as JSON up to its closing brace, get_urls left out: object_id, timerange (as
   * registered), then whichever of ts_offset, last_duration, object_timerange, sample_offset,
   * sample_count and key_frame_count it has, each once:
   * `{"object_id":"o1","timerange":"[0:0_2:0)","key_frame_count":1`.
   */
  json_head: string;
  /** json_head holds the segment's own object_timerange. */
  has_object_timerange: boolean;
  /** As on SegmentRecord: the object's own timerange, when the query asked for it. */
  object_timerange_of_object?: string;
  object_instances?: readonly ObjectStorageRef[];
  init_object_id?: string;
  init_object_instances?: readonly ObjectStorageRef[];
  /** Uncontrolled URLs registered with the segment. */
  get_urls?: UncontrolledUrl[];
}

export interface SegmentTextPage extends Page<SegmentText> {
  /** Span of the items' timeranges (EMPTY when there are none). */
  span: TimeRange;
}

export interface TagFilter {
  /** `tag.{name}=a,b`: the tag's value (or one of its array values) is one of these. */
  values: Record<string, string[]>;
  /** `tag_exists.{name}=true|false`. */
  exists: Record<string, boolean>;
}

export type SourceSort = 'created' | 'updated' | 'label';
export type FlowSort = 'created' | 'metadata_updated' | 'label';

export interface SourceFilter {
  label?: string;
  format?: string;
  tags?: TagFilter;
  /** Empty array: only sources collected by nobody. */
  collected_by_ids?: string[];
  sort_by?: SourceSort;
  reverse?: boolean;
}

export interface FlowFilter {
  source_id?: string;
  /** Flows whose segments overlap this range; EMPTY selects flows with no segments. */
  timerange?: TimeRange;
  format?: string;
  codec?: string;
  profile_id?: string;
  label?: string;
  status?: string;
  frame_width?: number;
  frame_height?: number;
  init_segments?: boolean;
  tags?: TagFilter;
  collected_by_ids?: string[];
  sort_by?: FlowSort;
  reverse?: boolean;
}

export interface SegmentQuery {
  /** Segments overlapping this range (ETERNITY for all). */
  timerange: TimeRange;
  object_id?: string;
  reverse?: boolean;
  /**
   * Also return each segment's `object_timerange_of_object` (default true). Listings that do
   * not show it (include_object_timerange off, GraphQL) pass false: the store may read less.
   */
  object_timerange?: boolean;
}

/** Per-segment outcome of a registration: undefined error means it was stored. */
export interface SegmentOutcome {
  segment: NewSegment;
  error?: TamsError;
}

export interface PutFlowResult {
  created: boolean;
  flow: Flow;
}

export interface NewObjectAllocation {
  id: string;
  storage_id: string;
  key: string;
  content_type?: string;
}

export interface ProfileFilter {
  label?: string;
  tags?: TagFilter;
}

export interface WebhookFilter {
  tags?: TagFilter;
}

/**
 * A deletion request's new state, written with the chunk it records only when the stored
 * request is still the one its worker last wrote (`replaces`: that version's `updated`).
 * Otherwise (another holder took it over, it was finished, or it was extended to the whole
 * flow) nothing is deleted or written: the worker sees the difference on its next read.
 */
export interface DeletionProgress {
  request: DeletionRequest;
  replaces: string | undefined;
}

/** Which instance of an object to remove: a controlled one by storage id, an uncontrolled one by label. */
export type InstanceSelector = { storage_id: string } | { label: string };

/**
 * While a flow has an unfinished deletion request, putFlow (of that existing flow), updateFlow,
 * addSegments and allocateObjects on it fail with `flow_being_deleted`: segments and storage
 * for any request, metadata changes when the request deletes the flow itself.
 */
export interface MetadataStore {
  /** Creates or migrates the schema. Idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** Cheap liveness probe of the backing database. */
  ping(): Promise<boolean>;

  getServiceInfo(): Promise<ServiceInfo>;
  setServiceInfo(info: ServiceInfo): Promise<ServiceInfo>;

  getSource(id: string): Promise<Source | undefined>;
  listSources(filter: SourceFilter, page: PageRequest): Promise<Page<Source>>;

  getFlow(id: string): Promise<Flow | undefined>;
  listFlows(filter: FlowFilter, page: PageRequest): Promise<Page<Flow>>;

  /*
   * Batch reads, one call for many keys (GraphQL DataLoaders): each answers one entry per
   * key, in the keys' order, exactly as the single-key method would.
   */
  getSources(ids: readonly string[]): Promise<(Source | undefined)[]>;
  getFlows(ids: readonly string[]): Promise<(Flow | undefined)[]>;
  getObjects(ids: readonly string[]): Promise<(ObjectRecord | undefined)[]>;
  /** listFlows with each filter and the same page request. */
  listFlowsBatch(filters: readonly FlowFilter[], page: PageRequest): Promise<Page<Flow>[]>;
  /** listSegments of each flow with the same query and page request. */
  listSegmentsBatch(flowIds: readonly string[], query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>[]>;
  /**
   * Creates or replaces a flow. Creates its source (same format, label, description and
   * `auth_classes` tag) when the flow names a source that does not exist; a source whose
   * format differs answers `source_conflict`.
   * Writes `flows/created` or `flows/updated`, and `sources/created` when a source is made
   * (its created_by is the flow's updated_by).
   * `now` is an ISO date-time used for created / metadata_updated.
   *
   * Rules every store keeps (each write of flow metadata here and in updateFlow):
   * - `metadata_version` follows domain/metadata-version.ts (a new value unless the document
   *   brings a new one, or any one on creation); the store's own collected_by edits give one too;
   * - a change of `essence_parameters.init_segments` that the stored segments contradict fails
   *   with `validation_failed` (domain/init-segments.ts);
   * - source collections are inferred from flow collections (domain/source-collections.ts): a
   *   write that makes a flow's collection contradict another flow of the same source (where it
   *   did not before), or a move that makes a collector's do so, fails with `validation_failed`;
   *   sources whose collection changes get `sources/updated`;
   * - a flow is a member of at most MAX_COLLECTORS collections: adding it to one more fails
   *   with `validation_failed`.
   */
  putFlow(flow: Flow, now: string): Promise<PutFlowResult>;
  /**
   * Deletes a flow, its segments, and its source when no other flow uses it. Writes
   * `flows/segments_deleted` (if it had segments), `flows/deleted`, and `sources/deleted`.
   * Removes it from the `flow_collection` of every flow that collected it (each such flow gets
   * a new metadata_version and its own `flows/updated`; updated_by stays), and keeps source
   * collections in step (`sources/updated`). Returns false when the flow did not exist.
   * `progress`: the deletion request this finishes, stored in the same transaction (only then
   * may it run while the flow has an unfinished request; otherwise `flow_being_deleted`).
   */
  deleteFlow(id: string, now: string, progress?: DeletionProgress): Promise<boolean>;
  /** Span of the flow's segments that overlap `within` (EMPTY when none). */
  getFlowTimerange(flowId: string, within: TimeRange): Promise<TimeRange>;
  countSegments(flowId: string): Promise<number>;

  /** Segments of a flow overlapping the query window, ordered by time (reverse if asked). */
  listSegments(flowId: string, query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>>;
  /**
   * The same page as listSegments, each segment's optional scalar fields left as JSON text (what
   * a REST listing writes out without building every segment as an object first).
   */
  listSegmentTexts(flowId: string, query: SegmentQuery, page: PageRequest): Promise<SegmentTextPage>;
  /**
   * Registers segments one by one in one transaction: each either stores or fails alone
   * (overlap with existing or earlier ones, object re-use rules, the init_segments rule of
   * domain/init-segments.ts, and `validation_failed` for an object the store does not know
   * when the segment brings no get_urls, or for an init object it does not know). A re-used object registered with an init object
   * gives the segment that init object. Writes one
   * `flows/segments_added` event with the stored segments, and touches segments_updated.
   */
  addSegments(flowId: string, segments: NewSegment[], now: string): Promise<SegmentOutcome[]>;
  /**
   * Deletes the segments completely covered by `timerange` (and of `object_id` when given).
   * Writes `flows/segments_deleted` when any was deleted, its timerange from the start of the
   * first deleted segment to the end of the last. Returns how many. `progress`: the deletion
   * request this chunk belongs to, stored in the same transaction (only then may it run while
   * the flow has an unfinished request; otherwise `flow_being_deleted`).
   */
  deleteSegments(flowId: string, timerange: TimeRange, objectId: string | undefined, now: string, progress?: DeletionProgress): Promise<number>;

  /** Records allocated object ids; fails with `object_exists` (and stores none) if any exists. */
  allocateObjects(flowId: string, objects: NewObjectAllocation[], now: string): Promise<void>;
  /** The object, or undefined if unknown. Allocated-but-unregistered objects are returned with registered=false. */
  getObject(id: string): Promise<ObjectRecord | undefined>;

  /**
   * Read-modify-write of a flow in one transaction: `change` gets the stored flow and returns
   * the new document (it may throw a TamsError, which rolls everything back). Sets
   * metadata_updated, writes `flows/updated`. When `flow_collection` changes, the
   * `collected_by` of every added or removed member flow is updated too (each member that
   * changes gets its own `flows/updated`). Returns undefined when the flow does not exist.
   */
  updateFlow(id: string, change: (flow: Flow) => Flow, now: string): Promise<Flow | undefined>;
  /** As updateFlow, for a source (label, description, tags); writes `sources/updated`. */
  updateSource(id: string, change: (source: Source) => Source, now: string): Promise<Source | undefined>;

  getProfile(id: string): Promise<Profile | undefined>;
  /** Profiles sorted by id. */
  listProfiles(filter: ProfileFilter, page: PageRequest): Promise<Page<Profile>>;
  /** Profiles are immutable: an existing id fails with `profile_exists`. */
  createProfile(profile: Profile): Promise<void>;

  getWebhook(id: string): Promise<Webhook | undefined>;
  /** Webhooks sorted by url, then id (ADR 0052). */
  listWebhooks(filter: WebhookFilter, page: PageRequest): Promise<Page<Webhook>>;
  /** Creates or replaces a registration. */
  putWebhook(webhook: Webhook): Promise<void>;
  deleteWebhook(id: string): Promise<boolean>;
  /** How many registrations `owner` (a principal's subject) holds. */
  countWebhooksOwnedBy(owner: string): Promise<number>;

  /**
   * Adds an instance to a registered object: an uncontrolled one (url + label; a label already
   * used by one of its instances fails with `instance_conflict`) or a controlled one (bytes under
   * `key` on backend `storage_id`; a backend already holding one fails with `instance_conflict`).
   * An unknown or unregistered object fails with `not_found`. Segments of the object list the
   * new instance in their get_urls.
   */
  addObjectInstance(objectId: string, instance: UncontrolledUrl | ObjectStorageRef): Promise<void>;
  /**
   * Removes one instance. Removing the last instance fails with `last_instance`; an unknown
   * instance with `not_found`. A removed controlled instance is returned, its bytes queued for
   * deletion in the same transaction, not before `bytesNotBefore` (ISO time, by the caller's
   * clock; default at once by the store's: see pendingObjectDeletions).
   */
  removeObjectInstance(objectId: string, selector: InstanceSelector, bytesNotBefore?: string): Promise<ObjectStorageRef | undefined>;
  /** Every storage_id some object's controlled instance names (queued byte deletions do not count). */
  storageIdsInUse(): Promise<string[]>;

  /**
   * Takes or renews the lease `name` for `holder` until `nowMs + ttlMs`: true when it was free,
   * expired, or already held by `holder`; false while another holder's lease runs.
   */
  acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean>;
  /** Gives the lease up early (only `holder`'s own lease). */
  releaseLease(name: string, holder: string): Promise<void>;

  /**
   * Garbage collection of objects, in one transaction: deletes up to `limit` objects created
   * before `createdBefore` (ISO time: no PUT URL for them works any more) that no segment
   * references (as object_id or init_object_id) and no other object names as its init object:
   * objects whose segments were deleted, and objects allocated and never registered. Their
   * controlled instances are queued for byte deletion in the same transaction. A segment
   * registered afterwards finds the object unknown. `more`: the pass stopped at `limit` objects
   * examined, so another may find more. `now` (ISO, default the store's clock) dates the queue
   * entries: they are due at once.
   */
  collectObjects(createdBefore: string, limit: number, now?: string): Promise<{ collected: number; more: boolean }>;
  /**
   * Up to `limit` queued byte deletions, oldest first: only those on the backends `storageIds`
   * names, and only those due by `dueBy` (ISO time), when given.
   */
  pendingObjectDeletions(limit: number, storageIds?: readonly string[], dueBy?: string): Promise<ObjectStorageRef[]>;
  /** Removes byte deletions from the queue once their bytes are gone. */
  completeObjectDeletions(done: readonly ObjectStorageRef[]): Promise<void>;

  getDeletionRequest(id: string): Promise<DeletionRequest | undefined>;
  /** Sorted by created (newest first) then id. */
  listDeletionRequests(page: PageRequest): Promise<Page<DeletionRequest>>;
  /**
   * Creates or replaces a deletion request. A new request for a flow that has an unfinished one
   * fails with `flow_being_deleted` (one request per flow at a time).
   */
  putDeletionRequest(request: DeletionRequest): Promise<void>;
  /** Requests still `created` or `started`, oldest first (the deletion worker's queue). */
  listUnfinishedDeletionRequests(limit: number): Promise<DeletionRequest[]>;
  /** Deletes finished (`done`, `error`) requests whose `expiry` is before `now`; returns how many. */
  deleteExpiredDeletionRequests(now: string): Promise<number>;

  /** Committed events after `afterSeq`, in order. */
  readEvents(afterSeq: number, limit: number): Promise<OutboxEvent[]>;
  /** Position of the newest committed event (0 when the outbox is empty). */
  lastEventSeq(): Promise<number>;
  /** Subscribes to "something was committed" notifications (in-process). */
  onCommit(listener: () => void): () => void;

  // ---- webhook delivery (issue 18; state kept by migration 7, see src/ports/webhook-delivery.ts) ----

  /**
   * Every webhook with its delivery position, in id order; with `behind`, only the `created` and
   * `started` ones with outbox events after their cursor (what delivery may have work for).
   */
  listWebhookDeliveries(options?: { behind?: boolean }): Promise<WebhookDelivery[]>;
  /** One webhook's delivery position (undefined when the webhook is gone). */
  getWebhookDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /** readEvents, each event with the context it committed with. */
  readEventsWithContext(afterSeq: number, limit: number): Promise<ContextualEvent[]>;
  /**
   * Moves a webhook's cursor from `from` to `to` (false, and nothing changed, when the cursor is
   * no longer `from` or the webhook is gone), resets its attempts, and turns `created` into
   * `started`. With `skipped`, the webhook's `error` says so (its status stays).
   */
  advanceWebhookCursor(id: string, from: number, to: number, skipped?: Webhook['error']): Promise<boolean>;
  /**
   * advanceWebhookCursor (without `skipped`) for many webhooks in one write: for each move,
   * whether it moved (its cursor was still `from`), in the order given.
   */
  advanceWebhookCursors(moves: readonly CursorMove[]): Promise<boolean[]>;
  /**
   * advanceWebhookCursor for many webhooks at once, in one write: each moves only if its cursor
   * is still `from` and its registration still `revision`. Returns how many moved.
   */
  advanceIdleWebhookCursors(moves: readonly IdleCursorMove[]): Promise<number>;
  /** Records a failed attempt: how many so far, when the next may start, why. */
  recordWebhookFailure(id: string, attempts: number, nextAttemptMs: number, lastError: string): Promise<void>;
  /** Puts a `created` or `started` webhook into `error` with this error object (false otherwise). */
  failWebhook(id: string, error: NonNullable<Webhook['error']>): Promise<boolean>;
  /** How far retention has pruned the outbox. */
  outboxPruned(): Promise<OutboxPruned>;
  /**
   * Outbox retention: deletes up to `limit` of the oldest events committed before `before` (ISO
   * time), whatever any webhook's cursor, and the remembered context of resources gone before
   * it. Returns how many events went.
   */
  pruneEvents(before: string, limit: number): Promise<number>;
  /** Every webhook's backlog (metrics). */
  webhookBacklogs(): Promise<WebhookBacklog[]>;
}

/** Tags helper type re-exported for adapters. */
export type { Tags };
