import { randomUUID } from 'node:crypto';
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
  UncontrolledUrl,
  Webhook,
} from '../../domain/entities';
import type { OutboxEvent, TamsEventPayload } from '../../domain/events';
import { TamsError } from '../../domain/errors';
import { usesInitSegments } from '../../domain/init-segments';
import { metadataVersionAfter } from '../../domain/metadata-version';
import { MAX_COLLECTORS, type SourceCollectionConflict } from '../../domain/source-collections';
import { EMPTY, formatTimeRange, isEternity, range, type TimeRange } from '../../domain/timerange';
import type {
  DeletionProgress,
  FlowFilter,
  InstanceSelector,
  MetadataStore,
  NewObjectAllocation,
  Page,
  PageRequest,
  ProfileFilter,
  PutFlowResult,
  SegmentOutcome,
  SegmentQuery,
  SegmentTextPage,
  SourceFilter,
  WebhookFilter,
} from '../../ports/metadata-store';
import type { ContextualEvent, CursorMove, IdleCursorMove, OutboxPruned, WebhookBacklog, WebhookDelivery } from '../../ports/webhook-delivery';
import { INT64_MAX, INT64_MIN, listCursor, parseListCursor, parseSegmentCursor, segmentCursor } from '../sql-common/cursors';
import { addKeysetOrder, WhereBuilder } from '../sql-common/keyset-query';
import {
  boundToNanos,
  editedUrlsTail,
  splitInstances,
  toFlow,
  toOutboxEvent,
  toSegments,
  segmentTextPage,
  toSource,
  type FlowRow,
  type InitStorageLookup,
  type ObjectRow,
  type SegmentRow,
  type SourceRow,
  objectRecord,
} from '../sql-common/rows';
import { objectIdsOf, orderedBatchSpan } from '../sql-common/segment-batch';
import { addCollectedByFilter, addTagFilters, numbered } from './list-query';
import { migrate } from './migrations';
import { CommitNotifications, notifyPayload } from './notifications';
import { PostgresObjectStorage } from './object-storage';
import { OutboxWriter } from './outbox';
import { flowLockKey } from './flow-lock';
import { createClient, createPool, Db, statement, type PostgresConnectionOptions, type Queryable, type Tx } from './pool';
import { OBJECT_COLUMNS, toObjectRow, toOutboxRow, type PgObjectRow, type PgOutboxRow } from './rows';
import { SegmentBatch } from './segment-registration';
import { readWindowRows, windowQuery } from './segment-window';
import { PostgresSourceCollections } from './source-collections';
import { PostgresWebhookDeliveries } from './webhook-deliveries';
import { FLOW_EQUAL_FILTERS, bounds, plain, segmentEventJson, collectionIds, flowReplacement, sourceForFlow, sourceUpdate, deletionRefusal, PROFILE_SORT, WEBHOOK_SORT, DELETION_SORT, SOURCE_SORTS, FLOW_SORTS, sortColumn, essenceNumber, type DocRow } from '../sql-common/store-helpers';

export type PostgresMetadataStoreOptions = PostgresConnectionOptions;

const FLOWS_REFERENCING = `ARRAY(WITH RECURSIVE m(f) AS (
      SELECT min(flow_id) FROM segments WHERE object_id = o.id
      UNION ALL SELECT (SELECT min(flow_id) FROM segments WHERE object_id = o.id AND flow_id > m.f) FROM m WHERE m.f IS NOT NULL),
    i(f) AS (
      SELECT min(flow_id) FROM segments WHERE init_object_id = o.id
      UNION ALL SELECT (SELECT min(flow_id) FROM segments WHERE init_object_id = o.id AND flow_id > i.f) FROM i WHERE i.f IS NOT NULL)
    SELECT f FROM m WHERE f IS NOT NULL UNION SELECT f FROM i WHERE f IS NOT NULL)`;

/**
 * The unfinished deletion request of flow $1, if any: 1 when it deletes the flow, 0 when only its
 * segments, null when there is none.
 */
const PENDING_DELETION = `SELECT max(CASE json_typeof(r.doc::json -> 'delete_flow')
      WHEN 'boolean' THEN (CASE WHEN (r.doc::json ->> 'delete_flow') = 'true' THEN 1 ELSE 0 END)
      WHEN 'number' THEN (r.doc::json ->> 'delete_flow')::numeric END)
    FROM deletion_requests r WHERE r.flow_id = $1 AND (r.doc::json ->> 'status') IN ('created', 'started')`;

const S = {
  getSetting: statement('SELECT value FROM settings WHERE key = $1'),
  getSettingForUpdate: statement('SELECT value FROM settings WHERE key = $1 FOR UPDATE'),
  putSetting: statement('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),

  getSource: statement('SELECT id, format, doc FROM sources WHERE id = $1'),
  getSourceForUpdate: statement('SELECT id, format, doc FROM sources WHERE id = $1 FOR UPDATE'),
  getSources: statement('SELECT id, format, doc FROM sources WHERE id = ANY($1::text[])'),
  insertSource: statement('INSERT INTO sources (id, format, label, created, updated, doc) VALUES ($1, $2, $3, $4, $5, $6)'),
  deleteSource: statement('DELETE FROM sources WHERE id = $1'),
  sourceHasFlows: statement('SELECT 1 AS one FROM flows WHERE source_id = $1 LIMIT 1'),
  updateSource: statement('UPDATE sources SET label = $1, updated = $2, doc = $3 WHERE id = $4'),

  getFlow: statement('SELECT id, source_id, segments_updated, created, doc FROM flows WHERE id = $1'),
  getFlowForUpdate: statement('SELECT id, source_id, segments_updated, created, doc FROM flows WHERE id = $1 FOR UPDATE'),
  getFlows: statement('SELECT id, source_id, segments_updated, created, doc FROM flows WHERE id = ANY($1::text[])'),
  segmentWithoutInit: statement(`SELECT 1 AS one FROM segments s LEFT JOIN objects o ON o.id = s.object_id
    WHERE s.flow_id = $1 AND s.init_object_id IS NULL AND o.init_object_id IS NULL LIMIT 1`),
  segmentWithInit: statement(`SELECT 1 AS one FROM segments s LEFT JOIN objects o ON o.id = s.object_id
    WHERE s.flow_id = $1 AND (s.init_object_id IS NOT NULL OR o.init_object_id IS NOT NULL) LIMIT 1`),
  upsertFlow: statement(`INSERT INTO flows (id, source_id, format, codec, label, profile_id, status, container,
      frame_width, frame_height, init_segments, read_only, created, metadata_updated, doc)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (id) DO UPDATE SET source_id = excluded.source_id, format = excluded.format,
      codec = excluded.codec, label = excluded.label, profile_id = excluded.profile_id,
      status = excluded.status, container = excluded.container, frame_width = excluded.frame_width,
      frame_height = excluded.frame_height, init_segments = excluded.init_segments,
      read_only = excluded.read_only, created = excluded.created,
      metadata_updated = excluded.metadata_updated, doc = excluded.doc`),
  deleteFlow: statement('DELETE FROM flows WHERE id = $1'),
  setFlowDoc: statement('UPDATE flows SET metadata_updated = $1, doc = $2 WHERE id = $3'),
  touchSegments: statement('UPDATE flows SET segments_updated = $1, segment_count = segment_count + $2 WHERE id = $3'),
  segmentCount: statement('SELECT segment_count AS n FROM flows WHERE id = $1'),

  firstEndingAfter: statement('SELECT start_ns, end_ns FROM segments WHERE flow_id = $1 AND end_ns > $2 ORDER BY end_ns LIMIT 1'),
  lastStartingBefore: statement(`SELECT start_ns, end_ns FROM segments
    WHERE flow_id = $1 AND end_ns <= coalesce((SELECT b.end_ns FROM segments b WHERE b.flow_id = $1 AND b.end_ns >= $2
      ORDER BY b.end_ns LIMIT 1), ${INT64_MAX}) AND start_ns < $2 ORDER BY end_ns DESC LIMIT 1`),
  /** For each [lo, hi) of a batch (by ordinal): does a stored segment overlap it (the first ending after lo starts before hi)? */
  overlapsStored: statement(`SELECT b.n FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS b(lo, hi, n)
    WHERE (SELECT s.start_ns FROM segments s WHERE s.flow_id = $1 AND s.end_ns > b.lo ORDER BY s.end_ns LIMIT 1) < b.hi`),
  deleteAllSegments: statement('DELETE FROM segments WHERE flow_id = $1'),
  coveredSpan: statement(`SELECT
      (SELECT start_ns FROM segments WHERE flow_id = $1 AND end_ns > $2 AND end_ns <= $3 AND start_ns >= $2
        AND ($4::text IS NULL OR object_id = $4) ORDER BY end_ns LIMIT 1) AS first_start,
      (SELECT end_ns FROM segments WHERE flow_id = $1 AND end_ns > $2 AND end_ns <= $3 AND start_ns >= $2
        AND ($4::text IS NULL OR object_id = $4) ORDER BY end_ns DESC LIMIT 1) AS last_end`),
  deleteCovered: statement(`DELETE FROM segments WHERE flow_id = $1 AND end_ns > $2 AND end_ns <= $3 AND start_ns >= $2
    AND ($4::text IS NULL OR object_id = $4)`),

  getObjectsWithFlows: statement(`SELECT ${OBJECT_COLUMNS.replace(/(\w+)/g, 'o.$1')}, ${FLOWS_REFERENCING} AS flows
    FROM objects o WHERE o.id = ANY($1::text[])`),
  /** The objects a batch of segments names, share-locked until commit (garbage collection cannot take them meanwhile). */
  lockObjects: statement(`SELECT ${OBJECT_COLUMNS} FROM objects WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE`),
  existingObjects: statement('SELECT id FROM objects WHERE id = ANY($1::text[])'),
  insertAllocations: statement(`INSERT INTO objects (id, storage_id, storage_key, allocated_for_flow, content_type, created)
    SELECT i, s, k, $4, c, $6 FROM unnest($1::text[], $2::text[], $3::text[], $5::text[]) AS u(i, s, k, c)`),
  getObjectForUpdate: statement(`SELECT ${OBJECT_COLUMNS} FROM objects WHERE id = $1 FOR UPDATE`),
  setObjectUrls: statement('UPDATE objects SET get_urls = $1 WHERE id = $2'),
  segmentHeadsOfObject: statement('SELECT flow_id, end_ns, json_head FROM segments WHERE object_id = $1 FOR UPDATE'),
  setSegmentHeads: statement(`UPDATE segments s SET json_head = '{"object_id":' || to_json(s.object_id)::text || u.t
    FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(f, e, t) WHERE s.flow_id = u.f AND s.end_ns = u.e`),

  getProfile: statement('SELECT id, doc FROM profiles WHERE id = $1'),
  insertProfile: statement('INSERT INTO profiles (id, label, created, doc) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING'),
  getWebhook: statement('SELECT id, doc FROM webhooks WHERE id = $1'),
  upsertWebhook: statement(`INSERT INTO webhooks (id, url, doc) VALUES ($1, $2, $3)
    ON CONFLICT (id) DO UPDATE SET url = excluded.url, doc = excluded.doc`),
  deleteWebhook: statement('DELETE FROM webhooks WHERE id = $1'),
  countWebhooksOwnedBy: statement("SELECT count(*) AS n FROM webhooks WHERE (doc::json ->> 'owner') = $1"),

  getDeletionRequest: statement('SELECT id, doc FROM deletion_requests WHERE id = $1'),
  getDeletionRequestForUpdate: statement('SELECT id, doc FROM deletion_requests WHERE id = $1 FOR UPDATE'),
  unfinishedDeletionRequests: statement(`SELECT id, doc FROM deletion_requests
    WHERE (doc::json ->> 'status') IN ('created', 'started') ORDER BY created NULLS FIRST, id LIMIT $1`),
  deleteExpiredDeletionRequests: statement(`DELETE FROM deletion_requests
    WHERE expiry < $1 AND (doc::json ->> 'status') IN ('done', 'error')`),
  /** SQLite's max(json_extract(doc, '$.delete_flow')): 1 when any unfinished request deletes the flow, 0 when none does, NULL without one saying. */
  pendingDeletionOf: statement(`SELECT (${PENDING_DELETION}) AS d`),
  /**
   * What a segment registration needs first, in one round trip: the flow (no flow: its columns
   * null), the pending deletion's kind, and the start of the first stored segment ending after
   * $2 (an ordered batch starting at $2 is clear of stored segments when that is at or after its end).
   */
  segmentsTarget: statement(`SELECT f.source_id, f.init_segments, (${PENDING_DELETION}) AS d,
      (SELECT s.start_ns FROM segments s WHERE s.flow_id = $1 AND s.end_ns > $2 ORDER BY s.end_ns LIMIT 1) AS next_start
    FROM (SELECT 1) AS one LEFT JOIN flows f ON f.id = $1`),
  upsertDeletionRequest: statement(`INSERT INTO deletion_requests (id, flow_id, created, expiry, doc) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (id) DO UPDATE SET flow_id = excluded.flow_id, created = excluded.created,
      expiry = excluded.expiry, doc = excluded.doc`),

  readEvents: statement(`SELECT seq, event_type, event_timestamp, payload, flow_id, source_id FROM outbox
    WHERE seq > $1 ORDER BY seq LIMIT $2`),
  lastEventSeq: statement('SELECT coalesce(max(seq), 0) AS seq FROM outbox'),
  ping: statement('SELECT 1 AS ok'),
};

/**
 * The metadata store on PostgreSQL, for many gateway replicas on one database. It behaves as
 * the SQLite store does (the store contract suite runs against both); docs/postgres.md says how
 * the rules that SQLite keeps by having one writer hold across processes here: segments never
 * overlap (an exclusion constraint, and a per-flow lock while registering), outbox events are
 * read in commit order (seqs from one counter row locked until commit), listeners hear other
 * replicas' commits (LISTEN/NOTIFY), and background work is claimed with leases and
 * `FOR UPDATE SKIP LOCKED`.
 */
export class PostgresMetadataStore implements MetadataStore {
  private readonly db: Db;
  private readonly listeners = new Set<() => void>();
  /** Names this instance in NOTIFY payloads (its own commits are told locally). */
  private readonly instance = randomUUID();
  private readonly notifications: CommitNotifications;
  private readonly outboxes = new WeakMap<Tx, OutboxWriter>();
  private readonly objectStorage = new PostgresObjectStorage();
  private readonly webhookDeliveries = new PostgresWebhookDeliveries();
  private readonly sourceCollections = new PostgresSourceCollections((tx, payload, timestamp, ids) => this.appendEvent(tx, payload, timestamp, ids));
  private readonly schemaName: string;

  constructor(private readonly options: PostgresMetadataStoreOptions) {
    this.db = new Db(createPool(options));
    this.schemaName = options.schema ?? '';
    this.notifications = new CommitNotifications({
      connect: () => createClient(options),
      schema: this.schemaName,
      instance: this.instance,
      wake: () => this.notify(),
    });
  }

  async init(): Promise<void> {
    await this.db.withClient((client) => migrate(client, this.options.schema));
    await this.notifications.start();
  }

  async close(): Promise<void> {
    await this.notifications.stop();
    await this.db.end();
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.db.row(S.ping)) !== undefined;
    } catch {
      return false;
    }
  }

  /** The backend pid of the LISTEN connection (tests cut it to check the reconnection). */
  get listenerPid(): number | undefined {
    return this.notifications.backendPid;
  }

  /**
   * Runs a change in one transaction: its events go into the outbox as its last statement, and
   * listeners are told after a commit that wrote events. `lockFlow`: the flow whose lock the
   * transaction takes first, with BEGIN (flow-lock.ts): every write of a flow's metadata,
   * segments or deletion requests passes it.
   */
  private async write<T>(change: (tx: Tx) => Promise<T>, lockFlow?: string): Promise<T> {
    let wroteEvents = false;
    const result = await this.db.transaction(async (tx) => {
      const outbox = new OutboxWriter(tx);
      this.outboxes.set(tx, outbox);
      const value = await change(tx);
      await outbox.flush(notifyPayload(this.schemaName, this.instance));
      wroteEvents = outbox.count > 0;
      return value;
    }, lockFlow === undefined ? {} : { advisoryLock: flowLockKey(lockFlow) });
    if (wroteEvents) this.notify();
    return result;
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // A listener's failure must not turn a committed change into an error.
      }
    }
  }

  private async appendEvent(tx: Tx, payload: TamsEventPayload, timestamp: string, ids: { flow_id?: string; source_id?: string } = {}): Promise<void> {
    await this.outboxOf(tx).append(payload, timestamp, ids);
  }

  /** An event of the transaction's last change (OutboxWriter.appendLast: no round trip now). */
  private appendLastEvent(tx: Tx, payload: TamsEventPayload, timestamp: string, ids: { flow_id?: string; source_id?: string }): void {
    this.outboxOf(tx).appendLast(payload, timestamp, ids);
  }

  private outboxOf(tx: Tx): OutboxWriter {
    const outbox = this.outboxes.get(tx);
    if (outbox === undefined) throw new Error('PostgresMetadataStore: event written outside a write transaction');
    return outbox;
  }

  // ---- service -------------------------------------------------------------------------

  async getServiceInfo(): Promise<ServiceInfo> {
    const row = await this.db.row<{ value: string }>(S.getSetting, ['service_info']);
    return row ? (JSON.parse(row.value) as ServiceInfo) : {};
  }

  async setServiceInfo(info: ServiceInfo): Promise<ServiceInfo> {
    return this.write(async (tx) => {
      const row = await tx.row<{ value: string }>(S.getSettingForUpdate, ['service_info']);
      const current = row ? (JSON.parse(row.value) as ServiceInfo) : {};
      const next = plain({ ...current, ...plain(info) });
      await tx.run(S.putSetting, ['service_info', JSON.stringify(next)]);
      return next;
    });
  }

  // ---- sources -------------------------------------------------------------------------

  async getSource(id: string): Promise<Source | undefined> {
    const row = await this.db.row<SourceRow>(S.getSource, [id]);
    return row ? toSource(row) : undefined;
  }

  async getSources(ids: readonly string[]): Promise<(Source | undefined)[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.rows<SourceRow>(S.getSources, [[...new Set(ids)]]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? toSource(row) : undefined;
    });
  }

  async listSources(filter: SourceFilter, page: PageRequest): Promise<Page<Source>> {
    const sort = sortColumn(filter.sort_by, SOURCE_SORTS);
    const cursor = page.after === undefined ? undefined : parseListCursor(page.after, sort);
    const where = new WhereBuilder();
    if (filter.label !== undefined) where.add('x.label = ?', filter.label);
    if (filter.format !== undefined) where.add('x.format = ?', filter.format);
    addTagFilters(where, 'x.doc', filter.tags);
    addCollectedByFilter(where, 'x.doc', filter.collected_by_ids);
    const orderBy = addKeysetOrder(where, `x.${sort}`, 'x.id', sort !== 'label', filter.reverse === true, cursor);
    const sql = `SELECT x.id, x.format, x.doc, x.${sort} AS sort_key FROM sources x ${where.sql} ${orderBy} LIMIT ?`;
    const rows = await this.db.rows<SourceRow & { sort_key: string | null }>(numbered(sql), [...where.params, page.limit + 1]);
    return pageOf(rows, page.limit, sort, toSource);
  }

  private async deleteSourceIfUnused(tx: Tx, sourceId: string, now: string): Promise<void> {
    if ((await tx.row(S.sourceHasFlows, [sourceId])) !== undefined) return;
    if ((await tx.run(S.deleteSource, [sourceId])) === 0) return;
    await this.appendEvent(tx, { type: 'sources/deleted', event: { source_id: sourceId } }, now, { source_id: sourceId });
  }

  // ---- flows ---------------------------------------------------------------------------

  async getFlow(id: string): Promise<Flow | undefined> {
    const row = await this.db.row<FlowRow>(S.getFlow, [id]);
    return row ? toFlow(row) : undefined;
  }

  async getFlows(ids: readonly string[]): Promise<(Flow | undefined)[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.rows<FlowRow>(S.getFlows, [[...new Set(ids)]]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? toFlow(row) : undefined;
    });
  }

  async listFlows(filter: FlowFilter, page: PageRequest): Promise<Page<Flow>> {
    const sort = sortColumn(filter.sort_by, FLOW_SORTS);
    const cursor = page.after === undefined ? undefined : parseListCursor(page.after, sort);
    const where = new WhereBuilder();
    for (const [key, column] of FLOW_EQUAL_FILTERS) {
      const value = filter[key];
      if (value !== undefined) where.add(`x.${column} = ?`, value);
    }
    if (filter.init_segments !== undefined) where.add('x.init_segments = ?', filter.init_segments);
    if (filter.timerange !== undefined && !isEternity(filter.timerange)) {
      if (filter.timerange.empty) {
        where.add('NOT EXISTS (SELECT 1 FROM segments s WHERE s.flow_id = x.id)');
      } else {
        // One probe per flow: the first segment ending after the start overlaps iff it starts before the end.
        const { lo, hi } = bounds(filter.timerange);
        where.add('(SELECT s.start_ns FROM segments s WHERE s.flow_id = x.id AND s.end_ns > ?::bigint ORDER BY s.end_ns LIMIT 1) < ?::bigint', lo, hi);
      }
    }
    addTagFilters(where, 'x.doc', filter.tags);
    addCollectedByFilter(where, 'x.doc', filter.collected_by_ids);
    const orderBy = addKeysetOrder(where, `x.${sort}`, 'x.id', sort !== 'label', filter.reverse === true, cursor);
    const sql = `SELECT x.id, x.source_id, x.segments_updated, x.created, x.doc, x.${sort} AS sort_key
      FROM flows x ${where.sql} ${orderBy} LIMIT ?`;
    const rows = await this.db.rows<FlowRow & { sort_key: string | null }>(numbered(sql), [...where.params, page.limit + 1]);
    return pageOf(rows, page.limit, sort, toFlow);
  }

  async listFlowsBatch(filters: readonly FlowFilter[], page: PageRequest): Promise<Page<Flow>[]> {
    return Promise.all(filters.map((filter) => this.listFlows(filter, page)));
  }

  async putFlow(flow: Flow, now: string): Promise<PutFlowResult> {
    return this.write(async (tx) => {
      const previous = await tx.row<FlowRow>(S.getFlowForUpdate, [flow.id]);
      if (previous) await this.refuseWhileDeleting(tx, flow.id, 'metadata');
      return { created: !previous, flow: await this.replaceFlow(tx, flow, previous, now) };
    }, flow.id);
  }

  /** See SqliteMetadataStore.storeFlow. */
  private async storeFlow(tx: Tx, flow: Flow, previous: FlowRow | undefined, now: string): Promise<Flow> {
    const source = await tx.row<SourceRow>(S.getSource, [flow.source_id]);
    if (!source) {
      await this.createSourceFor(tx, flow, now);
    } else if (source.format !== flow.format) {
      throw new TamsError('source_conflict', `Source ${flow.source_id} has format ${source.format}, not the flow's ${flow.format}`);
    }
    const stored0 = previous ? (JSON.parse(previous.doc) as Flow) : undefined;
    const doc: Flow = { ...plain(flow), created: previous?.created ?? now, metadata_updated: now };
    delete doc.segments_updated;
    doc.metadata_version = metadataVersionAfter(stored0?.metadata_version, flow.metadata_version, !previous, randomUUID);
    if (stored0 !== undefined && usesInitSegments(stored0) !== usesInitSegments(doc)) await this.checkInitSegmentsChange(tx, doc);
    await tx.run(S.upsertFlow, [
      doc.id,
      doc.source_id,
      doc.format,
      doc.codec ?? null,
      doc.label ?? null,
      doc.profile_id ?? null,
      doc.status ?? null,
      doc.container ?? null,
      essenceNumber(doc, 'frame_width'),
      essenceNumber(doc, 'frame_height'),
      doc.essence_parameters?.init_segments === true,
      doc.read_only === true,
      doc.created ?? null,
      doc.metadata_updated ?? null,
      JSON.stringify(doc),
    ]);
    const stored: Flow = previous?.segments_updated ? { ...doc, segments_updated: previous.segments_updated } : doc;
    const ids = { flow_id: flow.id, source_id: flow.source_id };
    await this.appendEvent(tx, { type: previous ? 'flows/updated' : 'flows/created', event: { flow: stored } }, now, ids);
    return stored;
  }

  private async checkInitSegmentsChange(tx: Tx, flow: Flow): Promise<void> {
    const on = usesInitSegments(flow);
    const contradicting = await tx.row(on ? S.segmentWithoutInit : S.segmentWithInit, [flow.id]);
    if (contradicting === undefined) return;
    throw new TamsError(
      'validation_failed',
      on
        ? `Flow ${flow.id} has segments without an init object, so essence_parameters.init_segments cannot be true`
        : `Flow ${flow.id} has segments with an init object, so essence_parameters.init_segments must stay true`,
    );
  }

  /** See SqliteMetadataStore.updateFlow. */
  async updateFlow(id: string, change: (flow: Flow) => Flow, now: string): Promise<Flow | undefined> {
    return this.write(async (tx) => {
      const previous = await tx.row<FlowRow>(S.getFlowForUpdate, [id]);
      if (!previous) return undefined;
      await this.refuseWhileDeleting(tx, id, 'metadata');
      const next = plain(change(plain(toFlow(previous))));
      if (next.id !== id) throw new TamsError('validation_failed', 'The id of a flow cannot be changed');
      return this.replaceFlow(tx, next, previous, now);
    }, id);
  }

  /** See SqliteMetadataStore.replaceFlow. */
  private async replaceFlow(tx: Tx, next: Flow, previous: FlowRow | undefined, now: string): Promise<Flow> {
    const id = next.id;
    const current = previous ? toFlow(previous) : undefined;
    const { doc, added, removed, collectionChanged } = flowReplacement(next, current);
    const movedSource = current !== undefined && current.source_id !== doc.source_id;
    if (movedSource || collectionChanged || current === undefined) {
      const stayed = current !== undefined && !movedSource;
      await this.sourceCollections.checkConflict(tx, doc, stayed ? await this.sourceCollections.derived(tx, current.source_id, current.flow_collection) : undefined);
    }
    const collectors = movedSource ? (current.collected_by ?? []).filter((c) => c !== id) : [];
    const collectorConflicts: Map<string, SourceCollectionConflict>[] = [];
    for (const c of collectors) collectorConflicts.push(await this.collectorConflicts(tx, c));
    const stored = await this.storeFlow(tx, doc, previous, now);
    for (const [i, collector] of collectors.entries()) {
      const conflict = this.sourceCollections.addedConflict(collectorConflicts[i]!, await this.collectorConflicts(tx, collector));
      if (conflict === undefined) continue;
      throw new TamsError(
        'validation_failed',
        `Moving flow ${id} to source ${doc.source_id} would make the collection of flow ${collector}, which collects it, contradict flow ${conflict.sibling} of the same source: ${conflict.why}`,
      );
    }
    for (const member of removed) if (member !== id) await this.editCollectedBy(tx, member, id, false, now);
    for (const member of added) if (member !== id) await this.editCollectedBy(tx, member, id, true, now);
    if (movedSource || collectionChanged) {
      const affected = [doc.source_id];
      if (movedSource) affected.push(current.source_id, ...(await this.sourcesOfFlows(tx, collectors)));
      await this.sourceCollections.refresh(tx, affected, now);
      if (movedSource) await this.deleteSourceIfUnused(tx, current.source_id, now);
    }
    return stored;
  }

  private async collectorConflicts(tx: Tx, flowId: string): Promise<Map<string, SourceCollectionConflict>> {
    const row = await tx.row<FlowRow>(S.getFlow, [flowId]);
    if (!row) return new Map();
    const flow = JSON.parse(row.doc) as Flow;
    return this.sourceCollections.conflictingSiblings(tx, flowId, row.source_id, await this.sourceCollections.derived(tx, row.source_id, flow.flow_collection));
  }

  private async sourcesOfFlows(tx: Tx, flowIds: readonly string[]): Promise<string[]> {
    const sources: string[] = [];
    for (const flowId of flowIds) {
      const row = await tx.row<FlowRow>(S.getFlow, [flowId]);
      if (row) sources.push(row.source_id);
    }
    return sources;
  }

  /** See SqliteMetadataStore.editCollectedBy (the member is read FOR UPDATE: no concurrent change is lost). */
  private async editCollectedBy(tx: Tx, memberId: string, collector: string, add: boolean, now: string): Promise<void> {
    const row = await tx.row<FlowRow>(S.getFlowForUpdate, [memberId]);
    if (!row) return;
    const doc = JSON.parse(row.doc) as Flow;
    const list = doc.collected_by ?? [];
    if (list.includes(collector) === add) return;
    if (add && list.length >= MAX_COLLECTORS) {
      throw new TamsError('validation_failed', `Flow ${memberId} is already a member of ${MAX_COLLECTORS} collections, the most one flow may be in`);
    }
    const updated = add ? [...list, collector] : list.filter((c) => c !== collector);
    if (updated.length > 0) doc.collected_by = updated;
    else delete doc.collected_by;
    await this.storeOwnChange(tx, row, doc, now);
  }

  /** See SqliteMetadataStore.storeOwnChange. */
  private async storeOwnChange(tx: Tx, row: FlowRow, doc: Flow, now: string): Promise<void> {
    doc.metadata_updated = now;
    doc.metadata_version = randomUUID();
    await tx.run(S.setFlowDoc, [now, JSON.stringify(doc), row.id]);
    const stored: Flow = row.segments_updated !== null ? { ...doc, segments_updated: row.segments_updated } : doc;
    await this.appendEvent(tx, { type: 'flows/updated', event: { flow: stored } }, now, { flow_id: row.id, source_id: row.source_id });
  }

  private async createSourceFor(tx: Tx, flow: Flow, now: string): Promise<void> {
    const source = sourceForFlow(flow, now);
    await tx.run(S.insertSource, [source.id, source.format, source.label ?? null, now, now, JSON.stringify(source)]);
    await this.appendEvent(tx, { type: 'sources/created', event: { source } }, now, { source_id: source.id });
  }

  async deleteFlow(id: string, now: string, progress?: DeletionProgress): Promise<boolean> {
    return this.write(async (tx) => {
      if (progress === undefined) await this.refuseWhileDeleting(tx, id, 'media');
      else if (!(await this.advanceDeletionRequest(tx, progress))) return false;
      const row = await tx.row<FlowRow>(S.getFlowForUpdate, [id]);
      if (!row) return false;
      const ids = { flow_id: id, source_id: row.source_id };
      const deleted = JSON.parse(row.doc) as Flow;
      const gone = await this.deletedSpan(tx, id, INT64_MIN, INT64_MAX, undefined);
      if ((await tx.run(S.deleteAllSegments, [id])) > 0) {
        await this.appendEvent(tx, { type: 'flows/segments_deleted', event: { flow_id: id, timerange: formatTimeRange(gone) } }, now, ids);
      }
      await tx.run(S.deleteFlow, [id]);
      await this.appendEvent(tx, { type: 'flows/deleted', event: { flow_id: id } }, now, ids);
      for (const member of collectionIds(deleted)) {
        if (member !== id) await this.editCollectedBy(tx, member, id, false, now);
      }
      const affectedSources = [row.source_id];
      for (const collector of deleted.collected_by ?? []) {
        if (collector === id) continue;
        const source = await this.dropCollectionMember(tx, collector, id, now);
        if (source !== undefined) affectedSources.push(source);
      }
      await this.sourceCollections.refresh(tx, affectedSources, now);
      await this.deleteSourceIfUnused(tx, row.source_id, now);
      return true;
    }, id);
  }

  private async dropCollectionMember(tx: Tx, collectorId: string, memberId: string, now: string): Promise<string | undefined> {
    const row = await tx.row<FlowRow>(S.getFlowForUpdate, [collectorId]);
    if (!row) return undefined;
    const doc = JSON.parse(row.doc) as Flow;
    const items = doc.flow_collection ?? [];
    const kept = items.filter((item) => item.id !== memberId);
    if (kept.length === items.length) return undefined;
    if (kept.length > 0) doc.flow_collection = kept;
    else delete doc.flow_collection;
    await this.storeOwnChange(tx, row, doc, now);
    return row.source_id;
  }

  async getFlowTimerange(flowId: string, within: TimeRange): Promise<TimeRange> {
    if (within.empty) return EMPTY;
    const { lo, hi } = bounds(within);
    const first = await this.db.row<{ start_ns: bigint; end_ns: bigint }>(S.firstEndingAfter, [flowId, lo]);
    if (!first || first.start_ns >= hi) return EMPTY;
    const last = await this.db.row<{ start_ns: bigint; end_ns: bigint }>(S.lastStartingBefore, [flowId, hi]);
    if (!last) return EMPTY;
    return range(boundToNanos(first.start_ns, INT64_MIN), boundToNanos(last.end_ns, INT64_MAX));
  }

  async countSegments(flowId: string): Promise<number> {
    const row = await this.db.row<{ n: bigint }>(S.segmentCount, [flowId]);
    return row === undefined ? 0 : Number(row.n);
  }

  // ---- segments ------------------------------------------------------------------------

  async listSegments(flowId: string, query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>> {
    const window = await this.readWindow(this.db, flowId, query, page);
    const result: Page<SegmentRecord> = { items: toSegments(flowId, window.rows, window.initStorage) };
    if (window.next !== undefined) result.next = window.next;
    return result;
  }

  async listSegmentsBatch(flowIds: readonly string[], query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>[]> {
    return Promise.all(flowIds.map((flowId) => this.listSegments(flowId, query, page)));
  }

  async listSegmentTexts(flowId: string, query: SegmentQuery, page: PageRequest): Promise<SegmentTextPage> {
    const window = await this.readWindow(this.db, flowId, query, page);
    return segmentTextPage(window.rows, window.initStorage, window.next);
  }

  /** One page of a segment window in one round trip, the next page's key, and the init objects' storage. */
  private async readWindow(
    q: Queryable,
    flowId: string,
    query: SegmentQuery,
    page: PageRequest,
  ): Promise<{ rows: SegmentRow[]; next?: unknown; initStorage: InitStorageLookup }> {
    const after = page.after === undefined ? undefined : parseSegmentCursor(page.after);
    if (query.timerange.empty || page.limit <= 0) return { rows: [], initStorage: () => undefined };
    const { lo, hi } = bounds(query.timerange);
    const { sql, params } = windowQuery(flowId, query, lo, hi, page.limit + 1, after);
    const { rows, initStorage } = readWindowRows(await q.arrays(sql, params));
    const more = rows.length > page.limit;
    const shown = more ? rows.slice(0, page.limit) : rows;
    const last = shown[shown.length - 1];
    return more && last ? { rows: shown, next: segmentCursor(BigInt(last.endNs)), initStorage } : { rows: shown, initStorage };
  }

  /**
   * See MetadataStore.addSegments. Under the flow's lock (registrations of one flow run one at a
   * time, across replicas), each segment is checked in order exactly as the SQLite store checks
   * it, against stored segments (one query for the batch) and the batch's earlier stored ones
   * (in memory), with the objects it names read once (share-locked); then everything stored is
   * written with one multi-row insert per table.
   */
  async addSegments(flowId: string, segments: NewSegment[], now: string): Promise<SegmentOutcome[]> {
    return this.write(async (tx) => {
      const span = orderedBatchSpan(segments);
      const target = await tx.row<{ source_id: string | null; init_segments: boolean | null; d: string | null; next_start: bigint | null }>(S.segmentsTarget, [flowId, span?.lo ?? INT64_MAX]);
      const refusal = deletionRefusal(flowId, target?.d ?? null, 'media');
      if (refusal) throw refusal;
      if (!target || target.source_id === null) throw new TamsError('not_found', `Flow ${flowId} does not exist`);
      const batch = new SegmentBatch(flowId, target.init_segments === true, now);
      // An ordered batch whose span ends before the first stored segment after its start is clear.
      const clear = span !== undefined && (target.next_start === null || target.next_start >= span.hi);
      if (!clear) batch.overlapsStored = await this.storedOverlaps(tx, flowId, segments);
      await this.readObjects(tx, batch, [...objectIdsOf(segments)]);
      // Re-used objects bring their init objects (SegmentBatch.register): those are read too.
      const inherited = [...batch.objects.values()].flatMap((o) => (o?.registered && o.init_object_id !== null && !batch.objects.has(o.init_object_id) ? [o.init_object_id] : []));
      await this.readObjects(tx, batch, [...new Set(inherited)]);
      const outcomes = segments.map((segment, i) => {
        const error = batch.register(segment, i);
        return error ? { segment, error } : { segment };
      });
      const stored = outcomes.filter((o) => o.error === undefined).map((o) => o.segment);
      if (stored.length > 0) {
        await batch.write(tx);
        this.appendLastEvent(tx, { type: 'flows/segments_added', event: { flow_id: flowId, segments: stored.map(segmentEventJson) } }, now, { flow_id: flowId, source_id: target.source_id });
      }
      return outcomes;
    }, flowId);
  }

  /** Reads (share-locked) the object rows of `ids` into a batch; an id without a row is recorded as unknown. */
  private async readObjects(tx: Tx, batch: SegmentBatch, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) batch.objects.set(id, undefined);
    for (const row of await tx.rows<PgObjectRow>(S.lockObjects, [ids])) batch.objects.set(row.id, toObjectRow(row));
  }

  /** Which segments of a batch (by index) overlap a stored one (one query). */
  private async storedOverlaps(tx: Tx, flowId: string, segments: readonly NewSegment[]): Promise<Set<number>> {
    const overlapping = new Set<number>();
    const candidates = segments.flatMap((s, i) => (s.timerange.empty ? [] : [{ i, ...bounds(s.timerange) }]));
    if (candidates.length === 0) return overlapping;
    const rows = await tx.rows<{ n: bigint }>(S.overlapsStored, [flowId, candidates.map((c) => c.lo), candidates.map((c) => c.hi)]);
    for (const row of rows) overlapping.add((candidates[Number(row.n) - 1] as { i: number }).i);
    return overlapping;
  }

  async deleteSegments(flowId: string, timerange: TimeRange, objectId: string | undefined, now: string, progress?: DeletionProgress): Promise<number> {
    if (timerange.empty && progress === undefined) return 0;
    return this.write(async (tx) => {
      if (progress === undefined) await this.refuseWhileDeleting(tx, flowId, 'media');
      else if (!(await this.advanceDeletionRequest(tx, progress))) return 0;
      const flow = await tx.row<FlowRow>(S.getFlow, [flowId]);
      if (!flow || timerange.empty) return 0;
      const { lo, hi } = bounds(timerange);
      const gone = await this.deletedSpan(tx, flowId, lo, hi, objectId);
      const deleted = await tx.run(S.deleteCovered, [flowId, lo, hi, objectId ?? null]);
      if (deleted > 0) {
        await tx.run(S.touchSegments, [now, -deleted, flowId]);
        this.appendLastEvent(tx, { type: 'flows/segments_deleted', event: { flow_id: flowId, timerange: formatTimeRange(gone) } }, now, { flow_id: flowId, source_id: flow.source_id });
      }
      return deleted;
    }, flowId);
  }

  /** See SqliteMetadataStore.deletedSpan (both ends in one query). */
  private async deletedSpan(tx: Tx, flowId: string, lo: bigint, hi: bigint, objectId: string | undefined): Promise<TimeRange> {
    const row = await tx.row<{ first_start: bigint | null; last_end: bigint | null }>(S.coveredSpan, [flowId, lo, hi, objectId ?? null]);
    if (!row || row.first_start === null || row.last_end === null) return EMPTY;
    return range(boundToNanos(row.first_start, INT64_MIN), boundToNanos(row.last_end, INT64_MAX));
  }

  // ---- objects -------------------------------------------------------------------------

  async allocateObjects(flowId: string, objects: NewObjectAllocation[], now: string): Promise<void> {
    await this.write(async (tx) => {
      await this.refuseWhileDeleting(tx, flowId, 'media');
      const existing = objects.length === 0 ? new Set<string>() : new Set((await tx.rows<{ id: string }>(S.existingObjects, [objects.map((o) => o.id)])).map((r) => r.id));
      const seen = new Set<string>();
      for (const o of objects) {
        if (seen.has(o.id) || existing.has(o.id)) throw new TamsError('object_exists', `Object ${o.id} already exists`);
        seen.add(o.id);
      }
      if (objects.length === 0) return;
      await this.objectStorage.allocated(tx, objects.map((o) => ({ id: o.id, instance: { storage_id: o.storage_id, key: o.key } })), now);
      await tx.run(S.insertAllocations, [objects.map((o) => o.id), objects.map((o) => o.storage_id), objects.map((o) => o.key), flowId, objects.map((o) => o.content_type ?? null), now]);
    });
  }

  async getObject(id: string): Promise<ObjectRecord | undefined> {
    return (await this.getObjects([id]))[0];
  }

  async getObjects(ids: readonly string[]): Promise<(ObjectRecord | undefined)[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.rows<PgObjectRow & { flows: string[] }>(S.getObjectsWithFlows, [[...new Set(ids)]]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? toObjectRecord(toObjectRow(row), row.flows) : undefined;
    });
  }

  // ---- sources: updates -----------------------------------------------------------------

  async updateSource(id: string, change: (source: Source) => Source, now: string): Promise<Source | undefined> {
    return this.write(async (tx) => {
      const row = await tx.row<SourceRow>(S.getSourceForUpdate, [id]);
      if (!row) return undefined;
      const current = toSource(row);
      const doc = sourceUpdate(current, change, now);
      await tx.run(S.updateSource, [doc.label ?? null, now, JSON.stringify(doc), id]);
      await this.appendEvent(tx, { type: 'sources/updated', event: { source: doc } }, now, { source_id: id });
      return doc;
    });
  }

  // ---- profiles ------------------------------------------------------------------------

  async getProfile(id: string): Promise<Profile | undefined> {
    const row = await this.db.row<DocRow>(S.getProfile, [id]);
    return row ? (JSON.parse(row.doc) as Profile) : undefined;
  }

  async listProfiles(filter: ProfileFilter, page: PageRequest): Promise<Page<Profile>> {
    const where = new WhereBuilder();
    if (page.after !== undefined) {
      const cursor = parseListCursor(page.after, PROFILE_SORT);
      if (cursor.k !== null) throw new TamsError('bad_cursor', 'Invalid paging key');
      where.add('x.id > ?', cursor.i);
    }
    if (filter.label !== undefined) where.add('x.label = ?', filter.label);
    addTagFilters(where, 'x.doc', filter.tags);
    const sql = `SELECT x.id, x.doc, NULL::text AS sort_key FROM profiles x ${where.sql} ORDER BY x.id LIMIT ?`;
    const rows = await this.db.rows<DocRow & { sort_key: null }>(numbered(sql), [...where.params, page.limit + 1]);
    return pageOf(rows, page.limit, PROFILE_SORT, (row) => JSON.parse(row.doc) as Profile);
  }

  async createProfile(profile: Profile): Promise<void> {
    await this.write(async (tx) => {
      const doc = plain(profile);
      const inserted = await tx.run(S.insertProfile, [doc.id, doc.label ?? null, doc.created ?? null, JSON.stringify(doc)]);
      if (inserted === 0) throw new TamsError('profile_exists', `Profile ${doc.id} already exists`);
    });
  }

  // ---- webhooks ------------------------------------------------------------------------

  async getWebhook(id: string): Promise<Webhook | undefined> {
    const row = await this.db.row<DocRow>(S.getWebhook, [id]);
    return row ? (JSON.parse(row.doc) as Webhook) : undefined;
  }

  async listWebhooks(filter: WebhookFilter, page: PageRequest): Promise<Page<Webhook>> {
    const cursor = page.after === undefined ? undefined : parseListCursor(page.after, WEBHOOK_SORT);
    if (cursor && cursor.k === null) throw new TamsError('bad_cursor', 'Invalid paging key');
    const where = new WhereBuilder();
    addTagFilters(where, 'x.doc', filter.tags);
    const orderBy = addKeysetOrder(where, 'x.url', 'x.id', false, false, cursor);
    const sql = `SELECT x.id, x.doc, x.url AS sort_key FROM webhooks x ${where.sql} ${orderBy} LIMIT ?`;
    const rows = await this.db.rows<DocRow & { sort_key: string }>(numbered(sql), [...where.params, page.limit + 1]);
    return pageOf(rows, page.limit, WEBHOOK_SORT, (row) => JSON.parse(row.doc) as Webhook);
  }

  async putWebhook(webhook: Webhook): Promise<void> {
    await this.write(async (tx) => {
      const doc = plain(webhook);
      await tx.run(S.upsertWebhook, [doc.id, doc.url, JSON.stringify(doc)]);
    });
  }

  async countWebhooksOwnedBy(owner: string): Promise<number> {
    const row = await this.db.row<{ n: bigint }>(S.countWebhooksOwnedBy, [owner]);
    return Number(row?.n ?? 0n);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.write(async (tx) => (await tx.run(S.deleteWebhook, [id])) > 0);
  }

  // ---- object instances ----------------------------------------------------------------

  /** See SqliteMetadataStore.addObjectInstance. */
  async addObjectInstance(objectId: string, instance: UncontrolledUrl | ObjectStorageRef): Promise<void> {
    await this.write(async (tx) => {
      const row = await this.registeredObject(tx, objectId);
      if ('storage_id' in instance) {
        await this.objectStorage.add(tx, objectId, { storage_id: instance.storage_id, key: instance.key }, new Date().toISOString());
        return;
      }
      const urls = JSON.parse(row.get_urls) as UncontrolledUrl[];
      if (urls.some((u) => u.label === instance.label)) {
        throw new TamsError('instance_conflict', `Object ${objectId} already has an instance labelled ${instance.label}`);
      }
      const added: UncontrolledUrl = { url: instance.url, label: instance.label };
      await tx.run(S.setObjectUrls, [JSON.stringify([...urls, added]), objectId]);
      await this.editSegmentUrls(tx, objectId, (list) => [...list.filter((u) => u.label !== added.label), added]);
    });
  }

  /** See SqliteMetadataStore.removeObjectInstance. */
  async removeObjectInstance(objectId: string, selector: InstanceSelector, bytesNotBefore?: string): Promise<ObjectStorageRef | undefined> {
    return this.write(async (tx) => {
      const row = await this.registeredObject(tx, objectId);
      const urls = JSON.parse(row.get_urls) as UncontrolledUrl[];
      const controlled = splitInstances(row.storage_id, row.storage_key)?.length ?? 0;
      if ('storage_id' in selector) {
        const now = new Date().toISOString();
        const removed = await this.objectStorage.remove(tx, objectId, selector.storage_id, now, bytesNotBefore ?? now);
        if (urls.length + controlled - 1 === 0) throw new TamsError('last_instance', `Object ${objectId} has no other instance`);
        return removed;
      }
      const label = selector.label;
      if (!urls.some((u) => u.label === label)) throw new TamsError('not_found', `Object ${objectId} has no instance labelled ${label}`);
      const remaining = urls.filter((u) => u.label !== label);
      if (remaining.length + controlled === 0) throw new TamsError('last_instance', `Object ${objectId} has no other instance`);
      await tx.run(S.setObjectUrls, [JSON.stringify(remaining), objectId]);
      await this.editSegmentUrls(tx, objectId, (list) => list.filter((u) => u.label !== label));
      return undefined;
    });
  }

  async storageIdsInUse(): Promise<string[]> {
    return this.objectStorage.storageIdsInUse(this.db);
  }

  private async registeredObject(tx: Tx, objectId: string): Promise<ObjectRow> {
    const row = await tx.row<PgObjectRow>(S.getObjectForUpdate, [objectId]);
    if (!row || !row.registered) throw new TamsError('not_found', `Object ${objectId} does not exist`);
    return toObjectRow(row);
  }

  /** Rewrites the get_urls copy in `json_head` of every segment row of a media object, in one statement. */
  private async editSegmentUrls(tx: Tx, objectId: string, edit: (urls: UncontrolledUrl[]) => UncontrolledUrl[]): Promise<void> {
    const rows = await tx.rows<{ flow_id: string; end_ns: bigint; json_head: string }>(S.segmentHeadsOfObject, [objectId]);
    const changed: { flow_id: string; end_ns: bigint; tail: string }[] = [];
    for (const row of rows) {
      const tail = editedUrlsTail(row.json_head, edit);
      if (tail !== undefined) changed.push({ flow_id: row.flow_id, end_ns: row.end_ns, tail });
    }
    if (changed.length === 0) return;
    await tx.run(S.setSegmentHeads, [changed.map((c) => c.flow_id), changed.map((c) => c.end_ns), changed.map((c) => c.tail)]);
  }

  // ---- garbage collection and leases ---------------------------------------------------

  async acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean> {
    return this.objectStorage.acquireLease(this.db, name, holder, ttlMs, nowMs);
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.objectStorage.releaseLease(this.db, name, holder);
  }

  async collectObjects(createdBefore: string, limit: number, now?: string): Promise<{ collected: number; more: boolean }> {
    return this.write((tx) => this.objectStorage.collect(tx, createdBefore, limit, now ?? new Date().toISOString()));
  }

  async pendingObjectDeletions(limit: number, storageIds?: readonly string[], dueBy?: string): Promise<ObjectStorageRef[]> {
    return this.objectStorage.pendingDeletions(this.db, limit, storageIds, dueBy);
  }

  async completeObjectDeletions(done: readonly ObjectStorageRef[]): Promise<void> {
    await this.write((tx) => this.objectStorage.completeDeletions(tx, done));
  }

  // ---- deletion requests ---------------------------------------------------------------

  async getDeletionRequest(id: string): Promise<DeletionRequest | undefined> {
    const row = await this.db.row<DocRow>(S.getDeletionRequest, [id]);
    return row ? (JSON.parse(row.doc) as DeletionRequest) : undefined;
  }

  async listDeletionRequests(page: PageRequest): Promise<Page<DeletionRequest>> {
    const cursor = page.after === undefined ? undefined : parseListCursor(page.after, DELETION_SORT);
    const where = new WhereBuilder();
    const orderBy = addKeysetOrder(where, 'x.created', 'x.id', true, false, cursor);
    const sql = `SELECT x.id, x.doc, x.created AS sort_key FROM deletion_requests x ${where.sql} ${orderBy} LIMIT ?`;
    const rows = await this.db.rows<DocRow & { sort_key: string | null }>(numbered(sql), [...where.params, page.limit + 1]);
    return pageOf(rows, page.limit, DELETION_SORT, (row) => JSON.parse(row.doc) as DeletionRequest);
  }

  async listUnfinishedDeletionRequests(limit: number): Promise<DeletionRequest[]> {
    return (await this.db.rows<DocRow>(S.unfinishedDeletionRequests, [limit])).map((row) => JSON.parse(row.doc) as DeletionRequest);
  }

  async deleteExpiredDeletionRequests(now: string): Promise<number> {
    return this.write((tx) => tx.run(S.deleteExpiredDeletionRequests, [now]));
  }

  /** See SqliteMetadataStore.refuseWhileDeleting. */
  private async refuseWhileDeleting(tx: Tx, flowId: string, write: 'media' | 'metadata'): Promise<void> {
    const row = await tx.row<{ d: string | null }>(S.pendingDeletionOf, [flowId]);
    const refusal = deletionRefusal(flowId, row?.d ?? null, write);
    if (refusal) throw refusal;
  }

  async putDeletionRequest(request: DeletionRequest): Promise<void> {
    await this.write(async (tx) => {
      if ((await tx.row(S.getDeletionRequestForUpdate, [request.id])) === undefined) await this.refuseWhileDeleting(tx, request.flow_id, 'media');
      await this.storeDeletionRequest(tx, request);
    }, request.flow_id);
  }

  private async advanceDeletionRequest(tx: Tx, progress: DeletionProgress): Promise<boolean> {
    const row = await tx.row<DocRow>(S.getDeletionRequestForUpdate, [progress.request.id]);
    if (row === undefined || (JSON.parse(row.doc) as DeletionRequest).updated !== progress.replaces) return false;
    await this.storeDeletionRequest(tx, progress.request);
    return true;
  }

  private async storeDeletionRequest(tx: Tx, request: DeletionRequest): Promise<void> {
    const doc = plain(request);
    await tx.run(S.upsertDeletionRequest, [doc.id, doc.flow_id, doc.created ?? null, doc.expiry ?? null, JSON.stringify(doc)]);
  }

  // ---- events --------------------------------------------------------------------------

  async readEvents(afterSeq: number, limit: number): Promise<OutboxEvent[]> {
    return (await this.db.rows<PgOutboxRow>(S.readEvents, [afterSeq, limit])).map((row) => toOutboxEvent(toOutboxRow(row)));
  }

  async lastEventSeq(): Promise<number> {
    return Number((await this.db.row<{ seq: bigint }>(S.lastEventSeq))?.seq ?? 0n);
  }

  onCommit(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  // ---- webhook delivery ----------------------------------------------------------------

  async listWebhookDeliveries(options: { behind?: boolean } = {}): Promise<WebhookDelivery[]> {
    return this.webhookDeliveries.list(this.db, options.behind === true);
  }

  async getWebhookDelivery(id: string): Promise<WebhookDelivery | undefined> {
    return this.webhookDeliveries.get(this.db, id);
  }

  async readEventsWithContext(afterSeq: number, limit: number): Promise<ContextualEvent[]> {
    return this.webhookDeliveries.events(this.db, afterSeq, limit);
  }

  async advanceWebhookCursor(id: string, from: number, to: number, skipped?: Webhook['error']): Promise<boolean> {
    return this.write((tx) => this.webhookDeliveries.advance(tx, id, from, to, skipped));
  }

  async advanceWebhookCursors(moves: readonly CursorMove[]): Promise<boolean[]> {
    return moves.length === 0 ? [] : this.write((tx) => this.webhookDeliveries.advanceMany(tx, moves));
  }

  async advanceIdleWebhookCursors(moves: readonly IdleCursorMove[]): Promise<number> {
    return moves.length === 0 ? 0 : this.write((tx) => this.webhookDeliveries.advanceIdle(tx, moves));
  }

  async recordWebhookFailure(id: string, attempts: number, nextAttemptMs: number, lastError: string): Promise<void> {
    await this.write((tx) => this.webhookDeliveries.recordFailure(tx, id, attempts, nextAttemptMs, lastError));
  }

  async failWebhook(id: string, error: NonNullable<Webhook['error']>): Promise<boolean> {
    return this.write((tx) => this.webhookDeliveries.fail(tx, id, error));
  }

  async outboxPruned(): Promise<OutboxPruned> {
    return this.webhookDeliveries.pruned(this.db);
  }

  async pruneEvents(before: string, limit: number): Promise<number> {
    return this.write((tx) => this.webhookDeliveries.prune(tx, before, limit));
  }

  async webhookBacklogs(): Promise<WebhookBacklog[]> {
    return this.webhookDeliveries.backlogs(this.db);
  }
}

function toObjectRecord(row: ObjectRow, flows: readonly string[]): ObjectRecord {
  return objectRecord(row, [...flows].sort());
}

/** One page of rows listed with a row past the limit (whether there is a next page), and its cursor. */
function pageOf<R extends { id: string; sort_key: string | null }, T>(rows: R[], limit: number, sort: string, convert: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  const result: Page<T> = { items: shown.map(convert) };
  const last = shown[shown.length - 1];
  if (more && last) result.next = listCursor(sort, last.sort_key, last.id);
  return result;
}
