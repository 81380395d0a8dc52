import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type {
  DeletionRequest,
  Flow,
  NewSegment,
  ObjectRecord,
  Profile,
  Webhook,
  SegmentRecord,
  ServiceInfo,
  Source,
  UncontrolledUrl,
  ObjectStorageRef,
} from '../../domain/entities';
import type { OutboxEvent, TamsEventPayload } from '../../domain/events';
import { TamsError } from '../../domain/errors';
import { initSegmentsViolation, usesInitSegments } from '../../domain/init-segments';
import { metadataVersionAfter } from '../../domain/metadata-version';
import { MAX_COLLECTORS, type SourceCollectionConflict } from '../../domain/source-collections';
import {
  EMPTY,
  formatTimeRange,
  isEternity,
  range,
  type TimeRange,
} from '../../domain/timerange';
import type {
  FlowFilter,
  InstanceSelector,
  DeletionProgress,
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
import {
  INT64_MAX,
  INT64_MIN,
  listCursor,
  parseListCursor,
  parseSegmentCursor,
  segmentCursor,
} from '../sql-common/cursors';
import { addCollectedByFilter, addTagFilters } from './list-query';
import { addKeysetOrder, WhereBuilder } from '../sql-common/keyset-query';
import { MIGRATIONS, SOURCE_COLLECTIONS_VERSION } from './migrations';
import { SqliteSourceCollections } from './source-collections';
import { WINDOW_BOUND, windowKind, windowSql } from './segment-window-sql';
import { StatementCache, limitClause } from './statement-cache';
import { ObjectRowCache, objectIdsOf, orderedBatchSpan } from '../sql-common/segment-batch';
import { SqliteObjectStorage } from './object-storage';
import { SqliteWebhookDeliveries } from './webhook-deliveries';
import type { ContextualEvent, CursorMove, IdleCursorMove, OutboxPruned, WebhookBacklog, WebhookDelivery } from '../../ports/webhook-delivery';
import {
  boundToNanos,
  splitInstances,
  optionalFieldsJson,
  toFlow,
  toOutboxEvent,
  toSegments,
  segmentTextPage,
  toSource,
  type InitStorageLookup,
  type FlowRow,
  type ObjectRow,
  type OutboxRow,
  type SegmentRow,
  segmentJsonTail,
  editedUrlsTail,
  type SourceRow,
  objectRecord,
} from '../sql-common/rows';
import { readSegmentRow, segmentJsonHeadSql } from './rows';
import { FLOW_EQUAL_FILTERS, bounds, reuseConflict, sameTimerangeText, plain, segmentEventJson, collectionIds, flowReplacement, sourceForFlow, sourceUpdate, deletionRefusal, PROFILE_SORT, WEBHOOK_SORT, DELETION_SORT, SOURCE_SORTS, FLOW_SORTS, sortColumn, essenceNumber, type DocRow } from '../sql-common/store-helpers';

export interface SqliteMetadataStoreOptions {
  /** A database file, or ':memory:'. */
  filename: string;
  /**
   * Page cache per connection, MiB (default 16). Reads of a database within the mmap window
   * do not go through it, so it mostly holds pages written. Kept small on purpose: at every
   * commit SQLite trims the cache and that can walk its whole hash table, which with 256 MiB
   * cost 7-9% of the CPU of a segment ingest (pcache1TruncateUnsafe under perf).
   */
  cacheSizeMb?: number;
  /** Memory-mapped I/O window, MiB (default 4096; 0 disables): reads skip a syscall per page. */
  mmapSizeMb?: number;
}

type Statement = Database.Statement<unknown[], unknown>;

/**
 * The embedded metadata store: one SQLite file in WAL mode. Every change runs in one
 * transaction together with the outbox events that describe it; listeners hear about it
 * only after the commit.
 */
export class SqliteMetadataStore implements MetadataStore {
  private readonly db: Database.Database;
  private prepared: ReturnType<SqliteMetadataStore['prepareAll']> | undefined;
  /** Statements built from request filters (list queries). */
  private readonly dynamic: StatementCache;
  /** Segment window statements, one per (kind, limit): see limitClause. */
  private readonly windows: StatementCache;
  private readonly listeners = new Set<() => void>();
  private eventsInTransaction = 0;
  private pingStatement: Statement | undefined;
  private readonly sourceCollections: SqliteSourceCollections;
  private readonly objectStorage: SqliteObjectStorage;
  private readonly webhookDeliveries: SqliteWebhookDeliveries;

  constructor(options: SqliteMetadataStoreOptions) {
    this.db = new Database(options.filename);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma(`cache_size = -${Math.round((options.cacheSizeMb ?? 16) * 1024)}`);
    this.db.pragma(`mmap_size = ${Math.round((options.mmapSizeMb ?? 4096) * 1024 * 1024)}`);
    this.db.pragma('temp_store = MEMORY');
    this.dynamic = new StatementCache(this.db, 256);
    this.windows = new StatementCache(this.db, 256, (stmt) => stmt.pluck(true));
    this.objectStorage = new SqliteObjectStorage(this.db);
    this.webhookDeliveries = new SqliteWebhookDeliveries(this.db);
    this.sourceCollections = new SqliteSourceCollections(this.db, (payload, timestamp, ids) => this.appendEvent(payload, timestamp, ids));
  }

  /** The connection, for tooling inside this adapter (seeding, query plans). */
  get database(): Database.Database {
    return this.db;
  }

  async init(): Promise<void> {
    const from = this.migrate();
    this.prepared ??= this.prepareAll();
    // A store made before source collections were inferred gets them now (its flow collections are already there).
    if (from > 0 && from < SOURCE_COLLECTIONS_VERSION) this.write(() => this.sourceCollections.refreshAll(new Date().toISOString()));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async ping(): Promise<boolean> {
    this.pingStatement ??= this.db.prepare('SELECT 1 AS ok');
    return this.pingStatement.get() !== undefined;
  }

  /** Applies the migrations not yet applied; returns the version the store had before (0: new). */
  private migrate(): number {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)');
    const current = (this.db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
    const record = this.db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (?, ?)');
    MIGRATIONS.forEach((sql, index) => {
      const version = index + 1;
      if (version <= current) return;
      this.db.transaction(() => {
        this.db.exec(sql);
        record.run(version, new Date().toISOString());
      }).immediate();
    });
    return current;
  }

  private get s(): ReturnType<SqliteMetadataStore['prepareAll']> {
    if (!this.prepared) throw new Error('SqliteMetadataStore used before init()');
    return this.prepared;
  }

  private prepareAll() {
    const db = this.db;
    const p = (sql: string): Statement => db.prepare(sql);
    const p64 = (sql: string): Statement => db.prepare(sql).safeIntegers(true);
    return {
      getSetting: p('SELECT value FROM settings WHERE key = ?'),
      putSetting: p('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),

      getSource: p('SELECT id, format, doc FROM sources WHERE id = ?'),
      insertSource: p('INSERT INTO sources (id, format, label, created, updated, doc) VALUES (?, ?, ?, ?, ?, ?)'),
      deleteSource: p('DELETE FROM sources WHERE id = ?'),
      sourceHasFlows: p('SELECT 1 FROM flows WHERE source_id = ? LIMIT 1'),

      getFlow: p('SELECT id, source_id, segments_updated, created, doc FROM flows WHERE id = ?'),
      flowForSegments: p('SELECT source_id, init_segments FROM flows WHERE id = ?'),
      // Segments that break init_segments: true (no init object of their own or of their re-used object) / false (one of either).
      segmentWithoutInit: p(`SELECT 1 FROM segments s LEFT JOIN objects o ON o.id = s.object_id
        WHERE s.flow_id = ? AND s.init_object_id IS NULL AND o.init_object_id IS NULL LIMIT 1`),
      segmentWithInit: p(`SELECT 1 FROM segments s LEFT JOIN objects o ON o.id = s.object_id
        WHERE s.flow_id = ? AND (s.init_object_id IS NOT NULL OR o.init_object_id IS NOT NULL) LIMIT 1`),
      upsertFlow: p(`INSERT INTO flows (id, source_id, format, codec, label, profile_id, status, container,
          frame_width, frame_height, init_segments, read_only, created, metadata_updated, doc)
        VALUES (@id, @source_id, @format, @codec, @label, @profile_id, @status, @container,
          @frame_width, @frame_height, @init_segments, @read_only, @created, @metadata_updated, @doc)
        ON CONFLICT(id) DO UPDATE SET source_id = excluded.source_id, format = excluded.format,
          codec = excluded.codec, label = excluded.label, profile_id = excluded.profile_id,
          status = excluded.status, container = excluded.container, frame_width = excluded.frame_width,
          frame_height = excluded.frame_height, init_segments = excluded.init_segments,
          read_only = excluded.read_only, created = excluded.created,
          metadata_updated = excluded.metadata_updated, doc = excluded.doc`),
      deleteFlow: p('DELETE FROM flows WHERE id = ?'),
      setFlowDoc: p('UPDATE flows SET metadata_updated = ?, doc = ? WHERE id = ?'),
      updateSource: p('UPDATE sources SET label = ?, updated = ?, doc = ? WHERE id = ?'),
      touchSegments: p('UPDATE flows SET segments_updated = ?, segment_count = segment_count + ? WHERE id = ?'),
      segmentCount: p('SELECT segment_count AS n FROM flows WHERE id = ?'),

      firstEndingAfter: p64('SELECT start_ns, end_ns FROM segments WHERE flow_id = ? AND end_ns > ? ORDER BY end_ns LIMIT 1'),
      lastStartingBefore: p64(`SELECT start_ns, end_ns FROM segments
        WHERE flow_id = @flow AND end_ns <= ${WINDOW_BOUND} AND start_ns < @qe ORDER BY end_ns DESC LIMIT 1`),
      insertSegment: p(`INSERT INTO segments (flow_id, end_ns, start_ns, object_id, init_object_id, json_head,
          object_storage_id, object_storage_key, object_own_timerange, init_storage_id, init_storage_key)
        VALUES (?, ?, ?, ?, ?, ${segmentJsonHeadSql('?', '?')}, ?, ?, ?, ?, ?)`),
      segmentInitStorage: p64('SELECT init_storage_id, init_storage_key FROM segments WHERE flow_id = ? AND end_ns = ?'),
      deleteAllSegments: p('DELETE FROM segments WHERE flow_id = ?'),
      firstCovered: p64(`SELECT start_ns FROM segments WHERE flow_id = @flow AND end_ns > @lo AND end_ns <= @hi
        AND start_ns >= @lo AND (@object IS NULL OR object_id = @object) ORDER BY end_ns LIMIT 1`),
      lastCovered: p64(`SELECT end_ns FROM segments WHERE flow_id = @flow AND end_ns > @lo AND end_ns <= @hi
        AND start_ns >= @lo AND (@object IS NULL OR object_id = @object) ORDER BY end_ns DESC LIMIT 1`),
      deleteCovered: p(`DELETE FROM segments WHERE flow_id = @flow AND end_ns > @lo AND end_ns <= @hi
        AND start_ns >= @lo`),
      deleteCoveredObject: p(`DELETE FROM segments WHERE flow_id = @flow AND end_ns > @lo AND end_ns <= @hi
        AND start_ns >= @lo AND object_id = @object`),

      getObject: p('SELECT * FROM objects WHERE id = ?'),
      // The object rows of a batch of segments (a JSON array of ids): one statement, not one per segment.
      getObjectsIn: p('SELECT * FROM objects WHERE id IN (SELECT value FROM json_each(?))'),
      insertAllocation: p(`INSERT INTO objects (id, storage_id, storage_key, allocated_for_flow, content_type, created)
        VALUES (?, ?, ?, ?, ?, ?)`),
      // Positional parameters: binding a named-parameter object costs about a third of an
      // ingest of 1,000 segments here.
      insertRegisteredObject: p(`INSERT INTO objects (id, role, registered, key_frame_count, timerange, init_object_id,
          first_referenced_by_flow, get_urls, created)
        VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)`),
      registerObject: p(`UPDATE objects SET role = ?, registered = 1, key_frame_count = ?,
          timerange = ?, init_object_id = ?, first_referenced_by_flow = ?
        WHERE id = ?`),
      setObjectUrls: p('UPDATE objects SET get_urls = ? WHERE id = ?'),
      segmentHeadsOfObject: p64('SELECT flow_id, end_ns, json_head FROM segments WHERE object_id = ?'),
      setSegmentHead: p64(`UPDATE segments SET json_head = ${segmentJsonHeadSql('object_id', '?')} WHERE flow_id = ? AND end_ns = ?`),

      getProfile: p('SELECT id, doc FROM profiles WHERE id = ?'),
      insertProfile: p(`INSERT INTO profiles (id, label, created, doc) VALUES (?, ?, ?, ?)
        ON CONFLICT(id) DO NOTHING`),
      getWebhook: p('SELECT id, doc FROM webhooks WHERE id = ?'),
      upsertWebhook: p(`INSERT INTO webhooks (id, url, doc) VALUES (?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET url = excluded.url, doc = excluded.doc`),
      deleteWebhook: p('DELETE FROM webhooks WHERE id = ?'),
      countWebhooksOwnedBy: p("SELECT count(*) FROM webhooks WHERE json_extract(doc, '$.owner') = ?").pluck(true),
      getDeletionRequest: p('SELECT id, doc FROM deletion_requests WHERE id = ?'),
      // Deletion requests are few and short-lived: their status is read from the document.
      unfinishedDeletionRequests: p(`SELECT id, doc FROM deletion_requests
        WHERE json_extract(doc, '$.status') IN ('created', 'started') ORDER BY created, id LIMIT ?`),
      deleteExpiredDeletionRequests: p(`DELETE FROM deletion_requests
        WHERE expiry < ? AND json_extract(doc, '$.status') IN ('done', 'error')`),
      pendingDeletionOf: p(`SELECT max(json_extract(doc, '$.delete_flow')) FROM deletion_requests
        WHERE flow_id = ? AND json_extract(doc, '$.status') IN ('created', 'started')`).pluck(true),
      upsertDeletionRequest: p(`INSERT INTO deletion_requests (id, flow_id, created, expiry, doc) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET flow_id = excluded.flow_id, created = excluded.created,
          expiry = excluded.expiry, doc = excluded.doc`),

      nextFlowUsingObject: p('SELECT flow_id FROM segments WHERE object_id = ? AND flow_id > ? ORDER BY flow_id LIMIT 1'),
      nextFlowUsingInit: p('SELECT flow_id FROM segments WHERE init_object_id = ? AND flow_id > ? ORDER BY flow_id LIMIT 1'),

      appendEvent: p(`INSERT INTO outbox (event_type, event_timestamp, payload, flow_id, source_id)
        VALUES (?, ?, ?, ?, ?)`),
      lastEventSeq: p('SELECT coalesce(max(seq), 0) AS seq FROM outbox'),
    };
  }

  /** Runs a change in one transaction; listeners are told after a commit that wrote events. */
  private write<T>(change: () => T): T {
    this.eventsInTransaction = 0;
    let result: T;
    let wroteEvents: boolean;
    try {
      result = this.db.transaction(change).immediate();
      wroteEvents = this.eventsInTransaction > 0;
    } finally {
      this.eventsInTransaction = 0;
    }
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

  private appendEvent(
    payload: TamsEventPayload,
    timestamp: string,
    ids: { flow_id?: string; source_id?: string } = {},
  ): void {
    this.s.appendEvent.run(payload.type, timestamp, JSON.stringify(payload.event), ids.flow_id ?? null, ids.source_id ?? null);
    this.eventsInTransaction += 1;
  }

  private cached(sql: string): Statement {
    return this.dynamic.get(sql);
  }

  // ---- service -------------------------------------------------------------------------

  async getServiceInfo(): Promise<ServiceInfo> {
    const row = this.s.getSetting.get('service_info') as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as ServiceInfo) : {};
  }

  /** Sets the given fields; fields left undefined keep their value. */
  async setServiceInfo(info: ServiceInfo): Promise<ServiceInfo> {
    return this.write(() => {
      const row = this.s.getSetting.get('service_info') as { value: string } | undefined;
      const current = row ? (JSON.parse(row.value) as ServiceInfo) : {};
      const next = plain({ ...current, ...plain(info) });
      this.s.putSetting.run('service_info', JSON.stringify(next));
      return next;
    });
  }

  // ---- sources -------------------------------------------------------------------------

  async getSource(id: string): Promise<Source | undefined> {
    const row = this.s.getSource.get(id) as SourceRow | undefined;
    return row ? toSource(row) : undefined;
  }

  async getSources(ids: readonly string[]): Promise<(Source | undefined)[]> {
    return ids.map((id) => {
      const row = this.s.getSource.get(id) as SourceRow | undefined;
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
    const sql = `SELECT x.id, x.format, x.doc, x.${sort} AS sort_key FROM sources x ${where.sql} ${orderBy} ${limitClause(page.limit + 1)}`;
    const rows = this.cached(sql).all(...where.params) as (SourceRow & { sort_key: string | null })[];
    return this.pageOf(rows, page.limit, sort, toSource);
  }

  private pageOf<R extends { id: string; sort_key: string | null }, T>(
    rows: R[],
    limit: number,
    sort: string,
    convert: (row: R) => T,
  ): Page<T> {
    const more = rows.length > limit;
    const shown = more ? rows.slice(0, limit) : rows;
    const result: Page<T> = { items: shown.map(convert) };
    const last = shown[shown.length - 1];
    if (more && last) result.next = listCursor(sort, last.sort_key, last.id);
    return result;
  }

  private deleteSourceIfUnused(sourceId: string, now: string): void {
    if (this.s.sourceHasFlows.get(sourceId) !== undefined) return;
    if (this.s.deleteSource.run(sourceId).changes === 0) return;
    this.appendEvent({ type: 'sources/deleted', event: { source_id: sourceId } }, now, { source_id: sourceId });
  }

  // ---- flows ---------------------------------------------------------------------------

  async getFlow(id: string): Promise<Flow | undefined> {
    const row = this.s.getFlow.get(id) as FlowRow | undefined;
    return row ? toFlow(row) : undefined;
  }

  async listFlows(filter: FlowFilter, page: PageRequest): Promise<Page<Flow>> {
    return this.listFlowsNow(filter, page);
  }

  async listFlowsBatch(filters: readonly FlowFilter[], page: PageRequest): Promise<Page<Flow>[]> {
    return filters.map((filter) => this.listFlowsNow(filter, page));
  }

  async getFlows(ids: readonly string[]): Promise<(Flow | undefined)[]> {
    return ids.map((id) => {
      const row = this.s.getFlow.get(id) as FlowRow | undefined;
      return row ? toFlow(row) : undefined;
    });
  }

  private listFlowsNow(filter: FlowFilter, page: PageRequest): Page<Flow> {
    const sort = sortColumn(filter.sort_by, FLOW_SORTS);
    const cursor = page.after === undefined ? undefined : parseListCursor(page.after, sort);
    const where = new WhereBuilder();
    for (const [key, column] of FLOW_EQUAL_FILTERS) {
      const value = filter[key];
      if (value !== undefined) where.add(`x.${column} = ?`, value);
    }
    if (filter.init_segments !== undefined) where.add('x.init_segments = ?', filter.init_segments ? 1 : 0);
    if (filter.timerange !== undefined && !isEternity(filter.timerange)) {
      if (filter.timerange.empty) {
        where.add('NOT EXISTS (SELECT 1 FROM segments s WHERE s.flow_id = x.id)');
      } else {
        // One seek per flow: the first segment ending after the start overlaps iff it starts before the end.
        const { lo, hi } = bounds(filter.timerange);
        where.add(
          '(SELECT s.start_ns FROM segments s WHERE s.flow_id = x.id AND s.end_ns > ? ORDER BY s.end_ns LIMIT 1) < ?',
          lo,
          hi,
        );
      }
    }
    addTagFilters(where, 'x.doc', filter.tags);
    addCollectedByFilter(where, 'x.doc', filter.collected_by_ids);
    const orderBy = addKeysetOrder(where, `x.${sort}`, 'x.id', sort !== 'label', filter.reverse === true, cursor);
    const sql = `SELECT x.id, x.source_id, x.segments_updated, x.created, x.doc, x.${sort} AS sort_key
      FROM flows x ${where.sql} ${orderBy} ${limitClause(page.limit + 1)}`;
    const rows = this.cached(sql).all(...where.params) as (FlowRow & { sort_key: string | null })[];
    return this.pageOf(rows, page.limit, sort, toFlow);
  }

  async putFlow(flow: Flow, now: string): Promise<PutFlowResult> {
    return this.write(() => {
      const previous = this.s.getFlow.get(flow.id) as FlowRow | undefined;
      if (previous) this.refuseWhileDeleting(flow.id, 'metadata');
      return { created: !previous, flow: this.replaceFlow(flow, previous, now) };
    });
  }

  /**
   * Stores a flow document (inside a transaction): makes or checks its source, fills the
   * indexed columns, keeps created and segments_updated, writes `flows/created` or
   * `flows/updated`, and drops the old source when the flow left it. Returns the flow as stored.
   */
  private storeFlow(flow: Flow, previous: FlowRow | undefined, now: string): Flow {
    const source = this.s.getSource.get(flow.source_id) as SourceRow | undefined;
    if (!source) {
      this.createSourceFor(flow, now);
    } else if (source.format !== flow.format) {
      throw new TamsError(
        'source_conflict',
        `Source ${flow.source_id} has format ${source.format}, not the flow's ${flow.format}`,
      );
    }
    const stored0 = previous ? (JSON.parse(previous.doc) as Flow) : undefined;
    const doc: Flow = { ...plain(flow), created: previous?.created ?? now, metadata_updated: now };
    delete doc.segments_updated;
    doc.metadata_version = metadataVersionAfter(stored0?.metadata_version, flow.metadata_version, !previous, randomUUID);
    if (stored0 !== undefined && usesInitSegments(stored0) !== usesInitSegments(doc)) this.checkInitSegmentsChange(doc);
    this.s.upsertFlow.run({
      id: doc.id,
      source_id: doc.source_id,
      format: doc.format,
      codec: doc.codec ?? null,
      label: doc.label ?? null,
      profile_id: doc.profile_id ?? null,
      status: doc.status ?? null,
      container: doc.container ?? null,
      frame_width: essenceNumber(doc, 'frame_width'),
      frame_height: essenceNumber(doc, 'frame_height'),
      init_segments: doc.essence_parameters?.init_segments === true ? 1 : 0,
      read_only: doc.read_only === true ? 1 : 0,
      created: doc.created ?? null,
      metadata_updated: doc.metadata_updated ?? null,
      doc: JSON.stringify(doc),
    });
    const stored: Flow = previous?.segments_updated ? { ...doc, segments_updated: previous.segments_updated } : doc;
    const ids = { flow_id: flow.id, source_id: flow.source_id };
    this.appendEvent({ type: previous ? 'flows/updated' : 'flows/created', event: { flow: stored } }, now, ids);
    return stored;
  }

  /**
   * Refuses (400) a new `init_segments` its stored segments contradict: true while a segment has
   * no init object, false (or unset) while one has.
   */
  private checkInitSegmentsChange(flow: Flow): void {
    const on = usesInitSegments(flow);
    const contradicting = (on ? this.s.segmentWithoutInit : this.s.segmentWithInit).get(flow.id);
    if (contradicting === undefined) return;
    throw new TamsError(
      'validation_failed',
      on
        ? `Flow ${flow.id} has segments without an init object, so essence_parameters.init_segments cannot be true`
        : `Flow ${flow.id} has segments with an init object, so essence_parameters.init_segments must stay true`,
    );
  }

  /**
   * Read-modify-write of a flow. `change` sees a copy of the stored flow. The id cannot
   * change; a new source_id (or format) is handled exactly as putFlow handles it (source made
   * when missing, `source_conflict` on another format, old source dropped when unused).
   * `collected_by` is the store's to maintain: whatever `change` does to it is ignored.
   * Members added to or removed from `flow_collection` get this flow added to or removed
   * from their `collected_by` (own `flows/updated` each, after this flow's); members that do
   * not exist are skipped.
   */
  async updateFlow(id: string, change: (flow: Flow) => Flow, now: string): Promise<Flow | undefined> {
    return this.write(() => {
      const previous = this.s.getFlow.get(id) as FlowRow | undefined;
      if (!previous) return undefined;
      this.refuseWhileDeleting(id, 'metadata');
      const next = plain(change(plain(toFlow(previous))));
      if (next.id !== id) throw new TamsError('validation_failed', 'The id of a flow cannot be changed');
      return this.replaceFlow(next, previous, now);
    });
  }

  /**
   * Stores a new version of a flow (created when `previous` is undefined) and keeps flow
   * collections consistent, for putFlow and updateFlow alike.
   */
  private replaceFlow(next: Flow, previous: FlowRow | undefined, now: string): Flow {
    const id = next.id;
    const current = previous ? toFlow(previous) : undefined;
    const { doc, added, removed, collectionChanged } = flowReplacement(next, current);
    const movedSource = current !== undefined && current.source_id !== doc.source_id;
    if (movedSource || collectionChanged || current === undefined) {
      const stayed = current !== undefined && !movedSource;
      this.sourceCollections.checkConflict(doc, stayed ? this.sourceCollections.derived(current.source_id, current.flow_collection) : undefined);
    }
    // A flow moving to another source changes what its collectors give their sources: none may come to contradict a sibling.
    const collectors = movedSource ? (current.collected_by ?? []).filter((c) => c !== id) : [];
    const collectorConflicts = collectors.map((c) => this.collectorConflicts(c));
    const stored = this.storeFlow(doc, previous, now);
    collectors.forEach((collector, i) => {
      const added = this.sourceCollections.addedConflict(collectorConflicts[i]!, this.collectorConflicts(collector));
      if (added === undefined) return;
      throw new TamsError(
        'validation_failed',
        `Moving flow ${id} to source ${doc.source_id} would make the collection of flow ${collector}, which collects it, contradict flow ${added.sibling} of the same source: ${added.why}`,
      );
    });
    for (const member of removed) if (member !== id) this.editCollectedBy(member, id, false, now);
    for (const member of added) if (member !== id) this.editCollectedBy(member, id, true, now);
    if (movedSource || collectionChanged) {
      // This source's collection; on a move, the old source's and those of the flows collecting this one (they now name another source).
      const affected = [doc.source_id];
      if (movedSource) affected.push(current.source_id, ...this.sourcesOfFlows(collectors));
      this.sourceCollections.refresh(affected, now);
      if (movedSource) this.deleteSourceIfUnused(current.source_id, now);
    }
    return stored;
  }

  /** The siblings (same source) a stored flow's collection contradicts, with why. */
  private collectorConflicts(flowId: string): Map<string, SourceCollectionConflict> {
    const row = this.s.getFlow.get(flowId) as FlowRow | undefined;
    if (!row) return new Map();
    const flow = JSON.parse(row.doc) as Flow;
    return this.sourceCollections.conflictingSiblings(flowId, row.source_id, this.sourceCollections.derived(row.source_id, flow.flow_collection));
  }

  private sourcesOfFlows(flowIds: readonly string[]): string[] {
    return flowIds.flatMap((flowId) => {
      const row = this.s.getFlow.get(flowId) as FlowRow | undefined;
      return row ? [row.source_id] : [];
    });
  }

  /**
   * Adds `collector` to, or removes it from, a member flow's collected_by; a changed member
   * gets metadata_updated and a `flows/updated`. Unknown members and no-ops are skipped.
   */
  private editCollectedBy(memberId: string, collector: string, add: boolean, now: string): void {
    const row = this.s.getFlow.get(memberId) as FlowRow | undefined;
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
    this.storeOwnChange(row, doc, now);
  }

  /**
   * Writes a change the gateway makes to a flow's metadata itself (collected_by, a deleted
   * member): metadata_updated, a new metadata_version, and the flow's `flows/updated`.
   * updated_by stays: it names who last wrote the flow's own metadata, and the caller behind
   * this change may have no write permission on it.
   */
  private storeOwnChange(row: FlowRow, doc: Flow, now: string): void {
    doc.metadata_updated = now;
    doc.metadata_version = randomUUID();
    this.s.setFlowDoc.run(now, JSON.stringify(doc), row.id);
    const stored: Flow = row.segments_updated !== null ? { ...doc, segments_updated: row.segments_updated } : doc;
    this.appendEvent({ type: 'flows/updated', event: { flow: stored } }, now, { flow_id: row.id, source_id: row.source_id });
  }

  private createSourceFor(flow: Flow, now: string): void {
    const source = sourceForFlow(flow, now);
    this.s.insertSource.run(source.id, source.format, source.label ?? null, now, now, JSON.stringify(source));
    this.appendEvent({ type: 'sources/created', event: { source } }, now, { source_id: source.id });
  }

  async deleteFlow(id: string, now: string, progress?: DeletionProgress): Promise<boolean> {
    return this.write(() => {
      if (progress === undefined) this.refuseWhileDeleting(id, 'media');
      else if (!this.advanceDeletionRequest(progress)) return false;
      const row = this.s.getFlow.get(id) as FlowRow | undefined;
      if (!row) return false;
      const ids = { flow_id: id, source_id: row.source_id };
      const deleted = JSON.parse(row.doc) as Flow;
      const gone = this.deletedSpan(id, INT64_MIN, INT64_MAX, undefined);
      if (this.s.deleteAllSegments.run(id).changes > 0) {
        this.appendEvent({ type: 'flows/segments_deleted', event: { flow_id: id, timerange: formatTimeRange(gone) } }, now, ids);
      }
      this.s.deleteFlow.run(id);
      this.appendEvent({ type: 'flows/deleted', event: { flow_id: id } }, now, ids);
      // The flow no longer collects its members, nor is it a member of the collections that listed it.
      for (const member of collectionIds(deleted)) {
        if (member !== id) this.editCollectedBy(member, id, false, now);
      }
      const affectedSources = [row.source_id];
      for (const collector of deleted.collected_by ?? []) {
        if (collector === id) continue;
        const source = this.dropCollectionMember(collector, id, now);
        if (source !== undefined) affectedSources.push(source);
      }
      this.sourceCollections.refresh(affectedSources, now);
      this.deleteSourceIfUnused(row.source_id, now);
      return true;
    });
  }

  /** Removes a deleted flow from a collector's flow_collection (a metadata change: new version, `flows/updated`); returns the collector's source. */
  private dropCollectionMember(collectorId: string, memberId: string, now: string): string | undefined {
    const row = this.s.getFlow.get(collectorId) as FlowRow | undefined;
    if (!row) return undefined;
    const doc = JSON.parse(row.doc) as Flow;
    const items = doc.flow_collection ?? [];
    const kept = items.filter((item) => item.id !== memberId);
    if (kept.length === items.length) return undefined;
    if (kept.length > 0) doc.flow_collection = kept;
    else delete doc.flow_collection;
    this.storeOwnChange(row, doc, now);
    return row.source_id;
  }

  async getFlowTimerange(flowId: string, within: TimeRange): Promise<TimeRange> {
    if (within.empty) return EMPTY;
    const { lo, hi } = bounds(within);
    const first = this.s.firstEndingAfter.get(flowId, lo) as { start_ns: bigint; end_ns: bigint } | undefined;
    if (!first || first.start_ns >= hi) return EMPTY;
    const last = this.s.lastStartingBefore.get({ flow: flowId, qe: hi }) as { start_ns: bigint; end_ns: bigint } | undefined;
    if (!last) return EMPTY;
    return range(boundToNanos(first.start_ns, INT64_MIN), boundToNanos(last.end_ns, INT64_MAX));
  }

  async countSegments(flowId: string): Promise<number> {
    const row = this.s.segmentCount.get(flowId) as { n: number } | undefined;
    return row?.n ?? 0;
  }

  // ---- segments ------------------------------------------------------------------------

  async listSegments(flowId: string, query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>> {
    return this.listSegmentsNow(flowId, query, page);
  }

  async listSegmentsBatch(flowIds: readonly string[], query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>[]> {
    return flowIds.map((flowId) => this.listSegmentsNow(flowId, query, page));
  }

  async listSegmentTexts(flowId: string, query: SegmentQuery, page: PageRequest): Promise<SegmentTextPage> {
    const window = this.readWindow(flowId, query, page);
    return segmentTextPage(window.rows, window.initStorage, window.next);
  }

  private listSegmentsNow(flowId: string, query: SegmentQuery, page: PageRequest): Page<SegmentRecord> {
    const window = this.readWindow(flowId, query, page);
    const result: Page<SegmentRecord> = { items: toSegments(flowId, window.rows, window.initStorage) };
    if (window.next !== undefined) result.next = window.next;
    return result;
  }

  /** The rows of one page of a segment window, the next page's key, and the init-storage lookup. */
  private readWindow(flowId: string, query: SegmentQuery, page: PageRequest): { rows: SegmentRow[]; next?: unknown; initStorage: InitStorageLookup } {
    const after = page.after === undefined ? undefined : parseSegmentCursor(page.after);
    const initStorage = (endNs: bigint): ObjectStorageRef[] | undefined => {
      const row = this.s.segmentInitStorage.get(flowId, endNs) as { init_storage_id: string | null; init_storage_key: string | null } | undefined;
      return row === undefined ? undefined : splitInstances(row.init_storage_id, row.init_storage_key);
    };
    if (query.timerange.empty || page.limit <= 0) return { rows: [], initStorage };
    const stmt = this.windowStatement(query, page.limit + 1);
    const rows = (stmt.all(this.windowParams(flowId, query, after)) as string[]).map(readSegmentRow);
    const more = rows.length > page.limit;
    const shown = more ? rows.slice(0, page.limit) : rows;
    const last = shown[shown.length - 1];
    return more && last ? { rows: shown, next: segmentCursor(BigInt(last.endNs)), initStorage } : { rows: shown, initStorage };
  }

  /** The query plan of the window query listSegments would run (for tests and diagnosis). */
  explainListSegments(flowId: string, query: SegmentQuery, after?: unknown): string[] {
    const cursor = after === undefined ? undefined : parseSegmentCursor(after);
    const sql = this.windowStatement(query, 1).source;
    const plan = this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(this.windowParams(flowId, query, cursor)) as {
      detail: string;
    }[];
    return plan.map((row) => row.detail);
  }

  private windowStatement(query: SegmentQuery, limit: number): Statement {
    const kind = windowKind(query);
    return this.windows.keyed(`${kind}${limit}`, () => windowSql(kind, limit));
  }

  private windowParams(
    flowId: string,
    query: SegmentQuery,
    after: bigint | undefined,
  ): Record<string, unknown> {
    const { lo, hi } = bounds(query.timerange);
    const params: Record<string, unknown> = { flow: flowId, qe: hi };
    if (query.reverse) {
      params.lo = lo;
      params.hi = after === undefined ? INT64_MAX : after - 1n;
    } else {
      params.lo = after !== undefined && after > lo ? after : lo;
    }
    if (query.object_id !== undefined) params.object = query.object_id;
    return params;
  }

  async addSegments(flowId: string, segments: NewSegment[], now: string): Promise<SegmentOutcome[]> {
    return this.write(() => {
      this.refuseWhileDeleting(flowId, 'media');
      const flow = this.s.flowForSegments.get(flowId) as { source_id: string; init_segments: number } | undefined;
      if (!flow) throw new TamsError('not_found', `Flow ${flowId} does not exist`);
      const flowUsesInit = flow.init_segments === 1;
      const outcomes: SegmentOutcome[] = [];
      const stored: NewSegment[] = [];
      const span = orderedBatchSpan(segments);
      const next = span === undefined ? undefined : (this.s.firstEndingAfter.get(flowId, span.lo) as { start_ns: bigint } | undefined);
      const overlapsChecked = span !== undefined && (next === undefined || next.start_ns >= span.hi);
      const ids = objectIdsOf(segments);
      const objects = new ObjectRowCache(
        this.s.getObjectsIn.all(JSON.stringify([...ids])) as ObjectRow[],
        ids,
        (id) => this.s.getObject.get(id) as ObjectRow | undefined,
      );
      for (const segment of segments) {
        const error = this.registerSegment(flowId, flowUsesInit, segment, now, objects, overlapsChecked);
        if (error) {
          outcomes.push({ segment, error });
        } else {
          outcomes.push({ segment });
          stored.push(segment);
        }
      }
      if (stored.length > 0) {
        this.s.touchSegments.run(now, stored.length, flowId);
        this.appendEvent(
          { type: 'flows/segments_added', event: { flow_id: flowId, segments: stored.map(segmentEventJson) } },
          now,
          { flow_id: flowId, source_id: flow.source_id },
        );
      }
      return outcomes;
    });
  }

  /** First registration of an object: updates its allocation row, or records an external object. */
  private registerObjectRow(
    existing: ObjectRow | undefined,
    id: string,
    role: 'media' | 'init',
    keyFrameCount: number | null,
    timerange: string | null,
    initObjectId: string | null,
    flowId: string,
    getUrls: string,
    now: string,
  ): void {
    if (existing) this.s.registerObject.run(role, keyFrameCount, timerange, initObjectId, flowId, id);
    else this.s.insertRegisteredObject.run(id, role, keyFrameCount, timerange, initObjectId, flowId, getUrls, now);
  }

  /**
   * Checks and stores one segment of a batch; returns why it was refused, if it was.
   * `overlapsChecked`: the whole batch is known to overlap nothing (see orderedBatchSpan).
   */
  private registerSegment(
    flowId: string,
    flowUsesInit: boolean,
    seg: NewSegment,
    now: string,
    objects: ObjectRowCache,
    overlapsChecked: boolean,
  ): TamsError | undefined {
    if (seg.timerange.empty) return new TamsError('bad_timerange', `Segment timerange ${seg.timerange_text} is empty`);
    const { lo, hi } = bounds(seg.timerange);
    if (!overlapsChecked) {
      const next = this.s.firstEndingAfter.get(flowId, lo) as { start_ns: bigint } | undefined;
      if (next && next.start_ns < hi) {
        return new TamsError('segment_overlap', `Segment ${seg.timerange_text} overlaps an existing segment`);
      }
    }
    const object = objects.get(seg.object_id);
    const objectError = this.checkMediaObject(flowId, seg, object);
    if (objectError) return objectError;
    // A re-used object registered with an init object brings it (the client need not repeat it).
    if (seg.init_object_id === undefined && object?.registered && object.init_object_id !== null) seg.init_object_id = object.init_object_id;
    const initRule = initSegmentsViolation(flowId, flowUsesInit, seg.object_id, seg.init_object_id);
    if (initRule !== undefined) return new TamsError('validation_failed', initRule);
    const init = seg.init_object_id === undefined ? undefined : objects.get(seg.init_object_id);
    if (seg.init_object_id !== undefined) {
      const initError = this.checkInitObject(flowId, seg.object_id, seg.init_object_id, init);
      if (initError) return initError;
    }

    // The object's timerange as it stands once this segment has registered it (first
    // registration wins); storage comes from the allocation. Both are copied into the row
    // for the window query (see migration 2 for why the copy cannot go stale).
    const objectTimerange = object?.registered ? object.timerange : (seg.object_timerange ?? seg.timerange_text);
    this.s.insertSegment.run(
      flowId,
      hi,
      lo,
      seg.object_id,
      seg.init_object_id ?? null,
      seg.object_id, // quoted into json_head by SQLite, as the column holds it
      segmentJsonTail(seg.timerange_text, optionalFieldsJson(seg)),
      object?.storage_id ?? null,
      object?.storage_key ?? null,
      objectTimerange,
      init?.storage_id ?? null,
      init?.storage_key ?? null,
    );

    if (!object || !object.registered) {
      this.registerObjectRow(object, seg.object_id, 'media', seg.key_frame_count ?? null, objectTimerange, seg.init_object_id ?? null, flowId, JSON.stringify(seg.get_urls ?? []), now);
      objects.forget(seg.object_id);
    }
    if (seg.init_object_id !== undefined && (!init || !init.registered)) {
      this.registerObjectRow(init, seg.init_object_id, 'init', null, null, null, flowId, '[]', now);
      objects.forget(seg.init_object_id);
    }
    return undefined;
  }

  private checkMediaObject(flowId: string, seg: NewSegment, object: ObjectRow | undefined): TamsError | undefined {
    if (!object) {
      // Neither allocated here nor registered before, and no URL to read it from: no client could ever get its media.
      if (seg.get_urls !== undefined && seg.get_urls.length > 0) return undefined;
      return new TamsError(
        'validation_failed',
        `Object ${seg.object_id} is unknown to this store and the segment gives no get_urls: allocate it with POST /flows/${flowId}/storage and upload it first, or give get_urls`,
      );
    }
    const id = seg.object_id;
    if (object.role === 'init') return reuseConflict(`Object ${id} is an initialisation object, not a media object`);
    if (!object.registered) {
      if (object.allocated_for_flow !== null && object.allocated_for_flow !== flowId) {
        return reuseConflict(`Object ${id} was not intended for this flow`);
      }
      return undefined;
    }
    if (seg.key_frame_count !== undefined && seg.key_frame_count !== object.key_frame_count) {
      return reuseConflict(`Object ${id} has a different key_frame_count`);
    }
    if (seg.object_timerange !== undefined && !sameTimerangeText(seg.object_timerange, object.timerange)) {
      return reuseConflict(`Object ${id} has a different object_timerange`);
    }
    if (seg.init_object_id !== undefined && seg.init_object_id !== object.init_object_id) {
      return reuseConflict(`Object ${id} has a different init_object_id`);
    }
    return undefined;
  }

  private checkInitObject(
    flowId: string,
    mediaId: string,
    initId: string,
    init: ObjectRow | undefined,
  ): TamsError | undefined {
    if (initId === mediaId) return reuseConflict(`Object ${initId} cannot be its own initialisation object`);
    if (!init) {
      // An init object has no get_urls of its own: one this store does not know could never be read.
      return new TamsError(
        'validation_failed',
        `Initialisation object ${initId} is unknown to this store: allocate it with POST /flows/${flowId}/storage and upload it first`,
      );
    }
    if (init.role === 'media') return reuseConflict(`Object ${initId} is a media object, not an initialisation object`);
    if (!init.registered && init.allocated_for_flow !== null && init.allocated_for_flow !== flowId) {
      return reuseConflict(`Object ${initId} was not intended for this flow`);
    }
    return undefined;
  }

  async deleteSegments(flowId: string, timerange: TimeRange, objectId: string | undefined, now: string, progress?: DeletionProgress): Promise<number> {
    if (timerange.empty && progress === undefined) return 0;
    return this.write(() => {
      if (progress === undefined) this.refuseWhileDeleting(flowId, 'media');
      else if (!this.advanceDeletionRequest(progress)) return 0;
      const flow = this.s.getFlow.get(flowId) as FlowRow | undefined;
      if (!flow || timerange.empty) return 0;
      const { lo, hi } = bounds(timerange);
      const params: Record<string, unknown> = { flow: flowId, lo, hi };
      const gone = this.deletedSpan(flowId, lo, hi, objectId);
      const deleted =
        objectId === undefined
          ? this.s.deleteCovered.run(params).changes
          : this.s.deleteCoveredObject.run({ ...params, object: objectId }).changes;
      if (deleted > 0) {
        this.s.touchSegments.run(now, -deleted, flowId);
        this.appendEvent(
          { type: 'flows/segments_deleted', event: { flow_id: flowId, timerange: formatTimeRange(gone) } },
          now,
          { flow_id: flowId, source_id: flow.source_id },
        );
      }
      return deleted;
    });
  }

  // ---- objects -------------------------------------------------------------------------

  async allocateObjects(flowId: string, objects: NewObjectAllocation[], now: string): Promise<void> {
    this.write(() => {
      this.refuseWhileDeleting(flowId, 'media');
      const seen = new Set<string>();
      for (const o of objects) {
        if (seen.has(o.id) || this.s.getObject.get(o.id) !== undefined) {
          throw new TamsError('object_exists', `Object ${o.id} already exists`);
        }
        seen.add(o.id);
        this.objectStorage.allocated(o.id, { storage_id: o.storage_id, key: o.key }, now);
        this.s.insertAllocation.run(o.id, o.storage_id, o.key, flowId, o.content_type ?? null, now);
      }
    });
  }

  async getObject(id: string): Promise<ObjectRecord | undefined> {
    return this.getObjectNow(id);
  }

  async getObjects(ids: readonly string[]): Promise<(ObjectRecord | undefined)[]> {
    return ids.map((id) => this.getObjectNow(id));
  }

  private getObjectNow(id: string): ObjectRecord | undefined {
    const row = this.s.getObject.get(id) as ObjectRow | undefined;
    if (!row) return undefined;
    return objectRecord(row, this.flowsReferencing(id));
  }

  /**
   * Distinct flows using an object, by skipping from one flow to the next in the
   * (object_id, flow_id, end_ns) indexes: an init object shared by a million segments of
   * one flow costs one seek, not a million rows.
   */
  private flowsReferencing(objectId: string): string[] {
    const flows = new Set<string>();
    for (const stmt of [this.s.nextFlowUsingObject, this.s.nextFlowUsingInit]) {
      let last = '';
      for (;;) {
        const row = stmt.get(objectId, last) as { flow_id: string } | undefined;
        if (!row) break;
        flows.add(row.flow_id);
        last = row.flow_id;
      }
    }
    return [...flows].sort();
  }

  // ---- sources: updates -----------------------------------------------------------------

  /**
   * Read-modify-write of a source. The id and format cannot change (`validation_failed`);
   * created is kept, updated set to `now`, and `collected_by` (the store's) is kept whatever
   * `change` does to it. Writes `sources/updated`.
   */
  async updateSource(id: string, change: (source: Source) => Source, now: string): Promise<Source | undefined> {
    return this.write(() => {
      const row = this.s.getSource.get(id) as SourceRow | undefined;
      if (!row) return undefined;
      const current = toSource(row);
      const doc = sourceUpdate(current, change, now);
      this.s.updateSource.run(doc.label ?? null, now, JSON.stringify(doc), id);
      this.appendEvent({ type: 'sources/updated', event: { source: doc } }, now, { source_id: id });
      return doc;
    });
  }

  // ---- profiles ------------------------------------------------------------------------

  async getProfile(id: string): Promise<Profile | undefined> {
    const row = this.s.getProfile.get(id) as DocRow | undefined;
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
    const sql = `SELECT x.id, x.doc, NULL AS sort_key FROM profiles x ${where.sql} ORDER BY x.id ${limitClause(page.limit + 1)}`;
    const rows = this.cached(sql).all(...where.params) as (DocRow & { sort_key: null })[];
    return this.pageOf(rows, page.limit, PROFILE_SORT, (row) => JSON.parse(row.doc) as Profile);
  }

  async createProfile(profile: Profile): Promise<void> {
    this.write(() => {
      const doc = plain(profile);
      const inserted = this.s.insertProfile.run(doc.id, doc.label ?? null, doc.created ?? null, JSON.stringify(doc));
      if (inserted.changes === 0) throw new TamsError('profile_exists', `Profile ${doc.id} already exists`);
    });
  }

  // ---- webhooks ------------------------------------------------------------------------

  async getWebhook(id: string): Promise<Webhook | undefined> {
    const row = this.s.getWebhook.get(id) as DocRow | undefined;
    return row ? (JSON.parse(row.doc) as Webhook) : undefined;
  }

  async listWebhooks(filter: WebhookFilter, page: PageRequest): Promise<Page<Webhook>> {
    const cursor = page.after === undefined ? undefined : parseListCursor(page.after, WEBHOOK_SORT);
    // url is NOT NULL: a key-less cursor was never made here.
    if (cursor && cursor.k === null) throw new TamsError('bad_cursor', 'Invalid paging key');
    const where = new WhereBuilder();
    addTagFilters(where, 'x.doc', filter.tags);
    const orderBy = addKeysetOrder(where, 'x.url', 'x.id', false, false, cursor);
    const sql = `SELECT x.id, x.doc, x.url AS sort_key FROM webhooks x ${where.sql} ${orderBy} ${limitClause(page.limit + 1)}`;
    const rows = this.cached(sql).all(...where.params) as (DocRow & { sort_key: string })[];
    return this.pageOf(rows, page.limit, WEBHOOK_SORT, (row) => JSON.parse(row.doc) as Webhook);
  }

  async putWebhook(webhook: Webhook): Promise<void> {
    this.write(() => {
      const doc = plain(webhook);
      this.s.upsertWebhook.run(doc.id, doc.url, JSON.stringify(doc));
    });
  }

  async countWebhooksOwnedBy(owner: string): Promise<number> {
    return this.s.countWebhooksOwnedBy.get(owner) as number;
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.write(() => this.s.deleteWebhook.run(id).changes > 0);
  }

  // ---- object instances ----------------------------------------------------------------

  /**
   * Appends an instance. Uncontrolled: only the object's uncontrolled labels are checked
   * (`instance_conflict`); the store does not know storage backend labels, so the caller must
   * refuse a label equal to a backend's. Every segment row of the object gets the URL in its
   * get_urls copy (replacing an entry of the same label there). Controlled: see
   * SqliteObjectStorage.add.
   */
  async addObjectInstance(objectId: string, instance: UncontrolledUrl | ObjectStorageRef): Promise<void> {
    this.write(() => {
      const row = this.registeredObject(objectId);
      if ('storage_id' in instance) {
        this.objectStorage.add(objectId, { storage_id: instance.storage_id, key: instance.key }, new Date().toISOString());
        return;
      }
      const urls = JSON.parse(row.get_urls) as UncontrolledUrl[];
      if (urls.some((u) => u.label === instance.label)) {
        throw new TamsError('instance_conflict', `Object ${objectId} already has an instance labelled ${instance.label}`);
      }
      const added: UncontrolledUrl = { url: instance.url, label: instance.label };
      this.s.setObjectUrls.run(JSON.stringify([...urls, added]), objectId);
      this.editSegmentUrls(objectId, (list) => [...list.filter((u) => u.label !== added.label), added]);
    });
  }

  /**
   * Removes an instance: `{label}` an uncontrolled one (also from the segments' get_urls
   * copies), `{storage_id}` a controlled one (its bytes queued for deletion, the storage copies
   * rewritten). Leaving none fails with `last_instance`.
   */
  async removeObjectInstance(objectId: string, selector: InstanceSelector, bytesNotBefore?: string): Promise<ObjectStorageRef | undefined> {
    return this.write(() => {
      const row = this.registeredObject(objectId);
      const urls = JSON.parse(row.get_urls) as UncontrolledUrl[];
      const controlled = splitInstances(row.storage_id, row.storage_key)?.length ?? 0;
      if ('storage_id' in selector) {
        const now = new Date().toISOString();
        const removed = this.objectStorage.remove(objectId, selector.storage_id, now, bytesNotBefore ?? now);
        if (urls.length + controlled - 1 === 0) throw new TamsError('last_instance', `Object ${objectId} has no other instance`);
        return removed;
      }
      const label = selector.label;
      if (!urls.some((u) => u.label === label)) {
        throw new TamsError('not_found', `Object ${objectId} has no instance labelled ${label}`);
      }
      const remaining = urls.filter((u) => u.label !== label);
      if (remaining.length + controlled === 0) {
        throw new TamsError('last_instance', `Object ${objectId} has no other instance`);
      }
      this.s.setObjectUrls.run(JSON.stringify(remaining), objectId);
      this.editSegmentUrls(objectId, (list) => list.filter((u) => u.label !== label));
      return undefined;
    });
  }

  async storageIdsInUse(): Promise<string[]> {
    return this.objectStorage.storageIdsInUse();
  }

  // ---- garbage collection and leases ---------------------------------------------------

  async acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean> {
    return this.write(() => this.objectStorage.acquireLease(name, holder, ttlMs, nowMs));
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.write(() => this.objectStorage.releaseLease(name, holder));
  }

  async collectObjects(createdBefore: string, limit: number, now?: string): Promise<{ collected: number; more: boolean }> {
    return this.write(() => this.objectStorage.collect(createdBefore, limit, now ?? new Date().toISOString()));
  }

  async pendingObjectDeletions(limit: number, storageIds?: readonly string[], dueBy?: string): Promise<ObjectStorageRef[]> {
    return this.objectStorage.pendingDeletions(limit, storageIds, dueBy);
  }

  async completeObjectDeletions(done: readonly ObjectStorageRef[]): Promise<void> {
    this.write(() => this.objectStorage.completeDeletions(done));
  }

  private registeredObject(objectId: string): ObjectRow {
    const row = this.s.getObject.get(objectId) as ObjectRow | undefined;
    if (!row || row.registered !== 1) throw new TamsError('not_found', `Object ${objectId} does not exist`);
    return row;
  }

  /** Rewrites the get_urls copy in `json_head` of every segment row of a media object. */
  private editSegmentUrls(objectId: string, edit: (urls: UncontrolledUrl[]) => UncontrolledUrl[]): void {
    const rows = this.s.segmentHeadsOfObject.all(objectId) as { flow_id: string; end_ns: bigint; json_head: string }[];
    for (const row of rows) {
      const tail = editedUrlsTail(row.json_head, edit);
      if (tail !== undefined) this.s.setSegmentHead.run(tail, row.flow_id, row.end_ns);
    }
  }

  // ---- deletion requests ---------------------------------------------------------------

  async getDeletionRequest(id: string): Promise<DeletionRequest | undefined> {
    const row = this.s.getDeletionRequest.get(id) as DocRow | undefined;
    return row ? (JSON.parse(row.doc) as DeletionRequest) : undefined;
  }

  async listDeletionRequests(page: PageRequest): Promise<Page<DeletionRequest>> {
    const cursor = page.after === undefined ? undefined : parseListCursor(page.after, DELETION_SORT);
    const where = new WhereBuilder();
    const orderBy = addKeysetOrder(where, 'x.created', 'x.id', true, false, cursor);
    const sql = `SELECT x.id, x.doc, x.created AS sort_key FROM deletion_requests x ${where.sql} ${orderBy} ${limitClause(page.limit + 1)}`;
    const rows = this.cached(sql).all(...where.params) as (DocRow & { sort_key: string | null })[];
    return this.pageOf(rows, page.limit, DELETION_SORT, (row) => JSON.parse(row.doc) as DeletionRequest);
  }

  async listUnfinishedDeletionRequests(limit: number): Promise<DeletionRequest[]> {
    return (this.s.unfinishedDeletionRequests.all(limit) as DocRow[]).map((row) => JSON.parse(row.doc) as DeletionRequest);
  }

  async deleteExpiredDeletionRequests(now: string): Promise<number> {
    return this.write(() => this.s.deleteExpiredDeletionRequests.run(now).changes);
  }

  /**
   * A flow with an unfinished deletion request takes no new segments or storage ('media'), and,
   * when the request deletes the flow, no metadata change either ('metadata'): what is written
   * would be deleted, or would race the deletion's chunks.
   */
  private refuseWhileDeleting(flowId: string, write: 'media' | 'metadata'): void {
    const deleteFlow = this.s.pendingDeletionOf.get(flowId) as number | null;
    const refusal = deletionRefusal(flowId, deleteFlow, write);
    if (refusal) throw refusal;
  }

  async putDeletionRequest(request: DeletionRequest): Promise<void> {
    this.write(() => {
      if (this.s.getDeletionRequest.get(request.id) === undefined) this.refuseWhileDeleting(request.flow_id, 'media');
      this.storeDeletionRequest(request);
    });
  }

  /** Stores a worker's progress if the stored request is the version it follows (see DeletionProgress). */
  private advanceDeletionRequest(progress: DeletionProgress): boolean {
    const row = this.s.getDeletionRequest.get(progress.request.id) as DocRow | undefined;
    if (row === undefined || (JSON.parse(row.doc) as DeletionRequest).updated !== progress.replaces) return false;
    this.storeDeletionRequest(progress.request);
    return true;
  }

  private storeDeletionRequest(request: DeletionRequest): void {
    const doc = plain(request);
    this.s.upsertDeletionRequest.run(doc.id, doc.flow_id, doc.created ?? null, doc.expiry ?? null, JSON.stringify(doc));
  }

  /**
   * From the start of the first to the end of the last segment a delete of the range (lo, hi]
   * of end_ns (bounds()) would take: the timerange its event reports (segments never overlap,
   * so the first by end has the earliest start). EMPTY when it takes none.
   */
  private deletedSpan(flowId: string, lo: bigint, hi: bigint, objectId: string | undefined): TimeRange {
    const params = { flow: flowId, lo, hi, object: objectId ?? null };
    const first = this.s.firstCovered.get(params) as { start_ns: bigint } | undefined;
    const last = this.s.lastCovered.get(params) as { end_ns: bigint } | undefined;
    if (first === undefined || last === undefined) return EMPTY;
    return range(boundToNanos(first.start_ns, INT64_MIN), boundToNanos(last.end_ns, INT64_MAX));
  }

  // ---- events --------------------------------------------------------------------------

  async readEvents(afterSeq: number, limit: number): Promise<OutboxEvent[]> {
    const sql = `SELECT seq, event_type, event_timestamp, payload, flow_id, source_id FROM outbox
      WHERE seq > ? ORDER BY seq ${limitClause(limit)}`;
    const rows = this.cached(sql).all(afterSeq) as OutboxRow[];
    return rows.map(toOutboxEvent);
  }

  async lastEventSeq(): Promise<number> {
    return Number((this.s.lastEventSeq.get() as { seq: number | bigint }).seq);
  }

  onCommit(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  // ---- webhook delivery (issue 18: SqliteWebhookDeliveries, migration 7) ----------------

  async listWebhookDeliveries(options: { behind?: boolean } = {}): Promise<WebhookDelivery[]> {
    return this.webhookDeliveries.list(options.behind === true);
  }

  async getWebhookDelivery(id: string): Promise<WebhookDelivery | undefined> {
    return this.webhookDeliveries.get(id);
  }

  async readEventsWithContext(afterSeq: number, limit: number): Promise<ContextualEvent[]> {
    return this.webhookDeliveries.events(afterSeq, limit);
  }

  async advanceWebhookCursor(id: string, from: number, to: number, skipped?: Webhook['error']): Promise<boolean> {
    return this.write(() => this.webhookDeliveries.advance(id, from, to, skipped));
  }

  async advanceWebhookCursors(moves: readonly CursorMove[]): Promise<boolean[]> {
    return moves.length === 0 ? [] : this.write(() => moves.map((m) => this.webhookDeliveries.advance(m.id, m.from, m.to, undefined)));
  }

  async advanceIdleWebhookCursors(moves: readonly IdleCursorMove[]): Promise<number> {
    return moves.length === 0 ? 0 : this.write(() => this.webhookDeliveries.advanceIdle(moves));
  }

  async recordWebhookFailure(id: string, attempts: number, nextAttemptMs: number, lastError: string): Promise<void> {
    this.write(() => this.webhookDeliveries.recordFailure(id, attempts, nextAttemptMs, lastError));
  }

  async failWebhook(id: string, error: NonNullable<Webhook['error']>): Promise<boolean> {
    return this.write(() => this.webhookDeliveries.fail(id, error));
  }

  async outboxPruned(): Promise<OutboxPruned> {
    return this.webhookDeliveries.pruned();
  }

  async pruneEvents(before: string, limit: number): Promise<number> {
    return this.write(() => this.webhookDeliveries.prune(before, limit));
  }

  async webhookBacklogs(): Promise<WebhookBacklog[]> {
    return this.webhookDeliveries.backlogs();
  }
}
