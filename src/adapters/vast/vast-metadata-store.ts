/**
 * The metadata store on VAST Database (TAMS_STORE=vast): the port's methods over the VAST
 * tables of store/vast-tables.ts, each in its own VAST transaction (withTransaction, run again
 * from the start when VAST reports a conflict). The module of each part says how the SQL
 * stores' keys, constraints, triggers and ORDER BYs are kept without them (docs/vast.md).
 *
 * Commit notifications: listeners hear of this store's own writes at once, and of other
 * replicas' (VAST has no NOTIFY) from a poll of the outbox counter row while any listener is
 * subscribed (`commitPollMs`).
 *
 * Writes that write events (flows, sources, segments) run one at a time in this process: every
 * two of them open at once conflict at the outbox counter row anyway (store/outbox.ts), so
 * running them side by side only turns waiting into reruns. Across replicas they still meet at
 * the counter and the loser runs again (withTransaction).
 */
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
import type { OutboxEvent } from '../../domain/events';
import type { TimeRange } from '../../domain/timerange';
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
import type { VastClient } from './client/vast-client';
import * as deletions from './store/deletions';
import * as documents from './store/documents';
import * as gc from './store/object-gc';
import * as instances from './store/object-instances';
import * as objects from './store/objects';
import { lastEventSeq, readEvents } from './store/outbox';
import * as profiles from './store/profiles';
import * as leases from './store/leases';
import { getServiceInfo, setServiceInfo } from './store/service-info';
import { registerSegments } from './store/segment-registration';
import * as segments from './store/segment-reads';
import { ensureVastTables, VAST_SCHEMA_VERSION, vastStoreTables, type VastStoreTables } from './store/vast-tables';
import { newestRetained } from './store/webhook-deliveries';
import * as webhooks from './store/webhooks';

export interface VastMetadataStoreOptions {
  readonly client: VastClient;
  /** The schema (in the client's bucket) holding the store's tables (VAST_SCHEMA). */
  readonly schema: string;
  /** How often other replicas' commits are looked for while a listener is subscribed. Default 1000 ms. */
  readonly commitPollMs?: number;
  /** Called by close (the transport's sockets). */
  readonly onClose?: () => void;
}

export class VastMetadataStore implements MetadataStore {
  private readonly client: VastClient;
  private readonly tables: VastStoreTables;
  private readonly listeners = new Set<() => void>();
  private poll: NodeJS.Timeout | undefined;
  private polledSeq: number | undefined;
  private polling = false;
  private closed = false;
  /** The last event-writing write queued in this process (see the module comment). */
  private writeQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: VastMetadataStoreOptions) {
    this.client = options.client;
    this.tables = vastStoreTables(options.schema);
  }

  async init(): Promise<void> {
    const version = await ensureVastTables(this.client, this.options.schema);
    if (version > VAST_SCHEMA_VERSION) {
      throw new Error(`VAST schema ${this.options.schema} has layout version ${version}, newer than this gateway's ${VAST_SCHEMA_VERSION}: upgrade the gateway`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    this.listeners.clear();
    this.options.onClose?.();
    await Promise.resolve();
  }

  async ping(): Promise<boolean> {
    try {
      await this.client.withTransaction((tx) => tx.tableExists(this.options.schema, this.tables.schemaVersion.name), { maxRuns: 1 });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A write that may write events: queued behind this process's other ones, and listeners hear
   * of it once it has committed.
   */
  private async write<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(work, work);
    this.writeQueue = run.catch(() => undefined);
    const result = await run;
    this.notify();
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

  // ---- service -------------------------------------------------------------------------

  getServiceInfo(): Promise<ServiceInfo> {
    return getServiceInfo(this.client, this.tables);
  }

  setServiceInfo(info: ServiceInfo): Promise<ServiceInfo> {
    return setServiceInfo(this.client, this.tables, info);
  }

  // ---- sources and flows ---------------------------------------------------------------

  getSource(id: string): Promise<Source | undefined> {
    return documents.getSource(this.client, this.tables, id);
  }

  listSources(filter: SourceFilter, page: PageRequest): Promise<Page<Source>> {
    return documents.listSources(this.client, this.tables, filter, page);
  }

  getFlow(id: string): Promise<Flow | undefined> {
    return documents.getFlow(this.client, this.tables, id);
  }

  listFlows(filter: FlowFilter, page: PageRequest): Promise<Page<Flow>> {
    return documents.listFlows(this.client, this.tables, filter, page);
  }

  getSources(ids: readonly string[]): Promise<(Source | undefined)[]> {
    return documents.getSources(this.client, this.tables, ids);
  }

  getFlows(ids: readonly string[]): Promise<(Flow | undefined)[]> {
    return documents.getFlows(this.client, this.tables, ids);
  }

  getObjects(ids: readonly string[]): Promise<(ObjectRecord | undefined)[]> {
    return objects.getObjects(this.client, this.tables, ids);
  }

  listFlowsBatch(filters: readonly FlowFilter[], page: PageRequest): Promise<Page<Flow>[]> {
    return Promise.all(filters.map((filter) => this.listFlows(filter, page)));
  }

  listSegmentsBatch(flowIds: readonly string[], query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>[]> {
    return Promise.all(flowIds.map((flowId) => this.listSegments(flowId, query, page)));
  }

  putFlow(flow: Flow, now: string): Promise<PutFlowResult> {
    return this.write(() => documents.putFlow(this.client, this.tables, flow, now));
  }

  deleteFlow(id: string, now: string, progress?: DeletionProgress): Promise<boolean> {
    return this.write(() => deletions.deleteFlow(this.client, this.tables, id, now, progress));
  }

  updateFlow(id: string, change: (flow: Flow) => Flow, now: string): Promise<Flow | undefined> {
    return this.write(() => documents.updateFlow(this.client, this.tables, id, change, now));
  }

  updateSource(id: string, change: (source: Source) => Source, now: string): Promise<Source | undefined> {
    return this.write(() => documents.updateSource(this.client, this.tables, id, change, now));
  }

  // ---- segments ------------------------------------------------------------------------

  getFlowTimerange(flowId: string, within: TimeRange): Promise<TimeRange> {
    return segments.getFlowTimerange(this.client, this.tables, flowId, within);
  }

  countSegments(flowId: string): Promise<number> {
    return segments.countSegments(this.client, this.tables, flowId);
  }

  async listSegments(flowId: string, query: SegmentQuery, page: PageRequest): Promise<Page<SegmentRecord>> {
    const { items, next } = await segments.listSegments(this.client, this.tables, flowId, query, page);
    return next === undefined ? { items } : { items, next };
  }

  listSegmentTexts(flowId: string, query: SegmentQuery, page: PageRequest): Promise<SegmentTextPage> {
    return segments.listSegmentTexts(this.client, this.tables, flowId, query, page);
  }

  addSegments(flowId: string, batch: NewSegment[], now: string): Promise<SegmentOutcome[]> {
    return this.write(() => registerSegments(this.client, this.tables, flowId, batch, now));
  }

  deleteSegments(flowId: string, timerange: TimeRange, objectId: string | undefined, now: string, progress?: DeletionProgress): Promise<number> {
    return this.write(() => deletions.deleteSegments(this.client, this.tables, flowId, timerange, objectId, now, progress));
  }

  // ---- objects -------------------------------------------------------------------------

  allocateObjects(flowId: string, allocations: NewObjectAllocation[], now: string): Promise<void> {
    return objects.allocateObjects(this.client, this.tables, flowId, allocations, now);
  }

  async getObject(id: string): Promise<ObjectRecord | undefined> {
    return (await this.getObjects([id]))[0];
  }

  addObjectInstance(objectId: string, instance: UncontrolledUrl | ObjectStorageRef): Promise<void> {
    return instances.addObjectInstance(this.client, this.tables, objectId, instance);
  }

  removeObjectInstance(objectId: string, selector: InstanceSelector, bytesNotBefore?: string): Promise<ObjectStorageRef | undefined> {
    return instances.removeObjectInstance(this.client, this.tables, objectId, selector, bytesNotBefore);
  }

  storageIdsInUse(): Promise<string[]> {
    return instances.storageIdsInUse(this.client, this.tables);
  }

  collectObjects(createdBefore: string, limit: number, now?: string): Promise<{ collected: number; more: boolean }> {
    return gc.collectObjects(this.client, this.tables, createdBefore, limit, now);
  }

  pendingObjectDeletions(limit: number, storageIds?: readonly string[], dueBy?: string): Promise<ObjectStorageRef[]> {
    return gc.pendingObjectDeletions(this.client, this.tables, limit, storageIds, dueBy);
  }

  completeObjectDeletions(done: readonly ObjectStorageRef[]): Promise<void> {
    return gc.completeObjectDeletions(this.client, this.tables, done);
  }

  // ---- leases, profiles ----------------------------------------------------------------

  acquireLease(name: string, holder: string, ttlMs: number, nowMs: number): Promise<boolean> {
    return leases.acquireLease(this.client, this.tables, name, holder, ttlMs, nowMs);
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return leases.releaseLease(this.client, this.tables, name, holder);
  }

  getProfile(id: string): Promise<Profile | undefined> {
    return profiles.getProfile(this.client, this.tables, id);
  }

  listProfiles(filter: ProfileFilter, page: PageRequest): Promise<Page<Profile>> {
    return profiles.listProfiles(this.client, this.tables, filter, page);
  }

  createProfile(profile: Profile): Promise<void> {
    return profiles.createProfile(this.client, this.tables, profile);
  }

  // ---- deletion requests ---------------------------------------------------------------

  getDeletionRequest(id: string): Promise<DeletionRequest | undefined> {
    return deletions.getDeletionRequest(this.client, this.tables, id);
  }

  listDeletionRequests(page: PageRequest): Promise<Page<DeletionRequest>> {
    return deletions.listDeletionRequests(this.client, this.tables, page);
  }

  putDeletionRequest(request: DeletionRequest): Promise<void> {
    return deletions.putDeletionRequest(this.client, this.tables, request);
  }

  listUnfinishedDeletionRequests(limit: number): Promise<DeletionRequest[]> {
    return deletions.listUnfinishedDeletionRequests(this.client, this.tables, limit);
  }

  deleteExpiredDeletionRequests(now: string): Promise<number> {
    return deletions.deleteExpiredDeletionRequests(this.client, this.tables, now);
  }

  // ---- webhooks ------------------------------------------------------------------------

  getWebhook(id: string): Promise<Webhook | undefined> {
    return webhooks.getWebhook(this.client, this.tables, id);
  }

  listWebhooks(filter: WebhookFilter, page: PageRequest): Promise<Page<Webhook>> {
    return webhooks.listWebhooks(this.client, this.tables, filter, page);
  }

  putWebhook(webhook: Webhook): Promise<void> {
    return webhooks.putWebhook(this.client, this.tables, webhook);
  }

  deleteWebhook(id: string): Promise<boolean> {
    return webhooks.deleteWebhook(this.client, this.tables, id);
  }

  countWebhooksOwnedBy(owner: string): Promise<number> {
    return webhooks.countWebhooksOwnedBy(this.client, this.tables, owner);
  }

  // ---- outbox --------------------------------------------------------------------------

  async readEvents(afterSeq: number, limit: number): Promise<OutboxEvent[]> {
    const events = await this.readEventsWithContext(afterSeq, limit);
    return events.map(({ context: _context, ...event }) => event);
  }

  readEventsWithContext(afterSeq: number, limit: number): Promise<ContextualEvent[]> {
    return this.client.withTransaction((tx) => readEvents(tx, this.tables, BigInt(afterSeq), limit));
  }

  /** The newest retained event's seq: 0 when the outbox is empty, also once retention has pruned every event (as the SQL stores' max(seq)). */
  async lastEventSeq(): Promise<number> {
    return Number((await this.client.withTransaction((tx) => newestRetained(tx, this.tables))).newest);
  }

  onCommit(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.listeners.add(wrapped);
    this.startPolling();
    return () => {
      this.listeners.delete(wrapped);
      if (this.listeners.size === 0) this.stopPolling();
    };
  }

  private startPolling(): void {
    if (this.poll !== undefined || this.closed) return;
    this.poll = setInterval(() => void this.pollOnce(), this.options.commitPollMs ?? 1000);
    this.poll.unref();
  }

  private stopPolling(): void {
    if (this.poll !== undefined) clearInterval(this.poll);
    this.poll = undefined;
    this.polledSeq = undefined;
  }

  /** One look at the counter row: listeners are woken when it moved (another replica committed events). */
  private async pollOnce(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      // The counter alone (one select): it moves with every commit that writes events.
      const seq = Number(await this.client.withTransaction((tx) => lastEventSeq(tx, this.tables)));
      if (this.polledSeq !== undefined && seq !== this.polledSeq) this.notify();
      this.polledSeq = seq;
    } catch {
      // The store is unreachable: the next poll tries again (readers see the outage themselves).
    } finally {
      this.polling = false;
    }
  }

  // ---- webhook delivery ----------------------------------------------------------------

  listWebhookDeliveries(options: { behind?: boolean } = {}): Promise<WebhookDelivery[]> {
    return webhooks.listWebhookDeliveries(this.client, this.tables, options.behind === true);
  }

  getWebhookDelivery(id: string): Promise<WebhookDelivery | undefined> {
    return webhooks.getWebhookDelivery(this.client, this.tables, id);
  }

  advanceWebhookCursor(id: string, from: number, to: number, skipped?: Webhook['error']): Promise<boolean> {
    return webhooks.advanceWebhookCursor(this.client, this.tables, id, from, to, skipped);
  }

  advanceWebhookCursors(moves: readonly CursorMove[]): Promise<boolean[]> {
    return webhooks.advanceWebhookCursors(this.client, this.tables, moves);
  }

  advanceIdleWebhookCursors(moves: readonly IdleCursorMove[]): Promise<number> {
    return webhooks.advanceIdleWebhookCursors(this.client, this.tables, moves);
  }

  recordWebhookFailure(id: string, attempts: number, nextAttemptMs: number, lastError: string): Promise<void> {
    return webhooks.recordWebhookFailure(this.client, this.tables, id, attempts, nextAttemptMs, lastError);
  }

  failWebhook(id: string, error: NonNullable<Webhook['error']>): Promise<boolean> {
    return webhooks.failWebhook(this.client, this.tables, id, error);
  }

  outboxPruned(): Promise<OutboxPruned> {
    return webhooks.outboxPruned(this.client, this.tables);
  }

  pruneEvents(before: string, limit: number): Promise<number> {
    return webhooks.pruneEvents(this.client, this.tables, before, limit);
  }

  webhookBacklogs(): Promise<WebhookBacklog[]> {
    return webhooks.webhookBacklogs(this.client, this.tables);
  }
}
