import type { Flow, Profile, Source } from '../domain/entities';
import { TamsError } from '../domain/errors';
import { ETERNITY, TimeRange, formatTimeRange } from '../domain/timerange';
import type { FlowFilter, MetadataStore, Page, SourceFilter } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { Principal } from '../domain/principal';
import type { PageCursorCodec } from './page-cursor';
import type { RequestContext } from './request-context';
import { FlowPropertyService } from './flow-property-service';
import { AccessPolicy, Decision, authClassesOf, requireAuthClassChange } from './access-policy';
import { ResourceAccess } from './resource-access';
import { attributeWrite, mayAttribute } from './attribution';

/** Fields the service owns: a client's values for them are ignored on PUT. */
const SERVER_MANAGED_FLOW_FIELDS = [
  'created',
  'metadata_updated',
  'segments_updated',
  'timerange',
  'collected_by',
] as const;

/** The metadata a profile supplies (flow-technical.json plus format and essence_parameters). */
const TECHNICAL_FLOW_FIELDS = [
  'format',
  'codec',
  'container',
  'avg_bit_rate',
  'segment_duration',
  'container_mapping',
  'essence_parameters',
] as const;

/** flow-common.json: a flow's own fields, which a profile's flow_metadata never overrides. */
const COMMON_FLOW_FIELDS = new Set([
  'id', 'source_id', 'label', 'description', 'created_by', 'updated_by', 'tags', 'metadata_version',
  'generation', 'created', 'metadata_updated', 'segments_updated', 'status', 'read_only',
  'max_bit_rate', 'timerange', 'flow_collection', 'collected_by', 'profile_id',
]);

export interface ListOptions {
  limit: number;
  page?: string;
}

/**
 * Store pages a filtered listing (a request that may not read everything) reads at most to
 * fill one page. Such a page can come back short, even empty, with a cursor to go on from:
 * the cursor is the store's own key of the last item read, so paging stays exact.
 */
const SCAN_PAGES_PER_LIST = 10;

/** One entry of a batch read: the item, undefined (unknown or hidden), or the 403 of an item the request may not read. */
export type BatchRead<T> = T | undefined | TamsError;

export interface CursorPage<T> {
  items: T[];
  /** Opaque cursor for the next page, absent on the last page. */
  next?: string;
  limit: number;
}

export class FlowService {
  /** The flow and source property endpoints (tags, label, read_only, collection, ...). */
  readonly properties: FlowPropertyService;

  /** The access policy over stored flows and sources, shared with the other services. */
  readonly access: ResourceAccess;

  constructor(
    private readonly store: MetadataStore,
    /** Shared with listings served by services main.ts builds without a codec (profiles). */
    private readonly cursors: PageCursorCodec,
    private readonly clock: Clock,
    policy: AccessPolicy = new AccessPolicy(),
  ) {
    this.access = new ResourceAccess(store, policy);
    this.properties = new FlowPropertyService(store, clock, this.access);
  }

  private now(): string {
    return new Date(this.clock.nowMs()).toISOString();
  }

  private toCursorPage<T>(listing: string, page: Page<T>, limit: number): CursorPage<T> {
    return {
      items: page.items,
      limit,
      ...(page.next === undefined ? {} : { next: this.cursors.encode(listing, page.next) }),
    };
  }

  private after(listing: string, cursor: string | undefined): unknown {
    return cursor === undefined ? undefined : this.cursors.decode(listing, cursor);
  }

  async getSource(ctx: RequestContext, id: string): Promise<Source> {
    return this.access.source(ctx.principal, id, 'read');
  }

  /**
   * One page of a listing, hiding what the request may not read. Unrestricted requests read
   * one store page; others read whole store pages until the page is full (see
   * SCAN_PAGES_PER_LIST), so a page may be short.
   */
  private async visiblePage<T>(
    principal: Principal,
    listing: string,
    options: ListOptions,
    read: (limit: number, after: unknown) => Promise<Page<T>>,
    visible: (items: T[]) => Promise<T[]>,
  ): Promise<CursorPage<T>> {
    let after = this.after(listing, options.page);
    if (this.access.unrestricted(principal)) return this.toCursorPage(listing, await read(options.limit, after), options.limit);
    const items: T[] = [];
    let page: Page<T> = { items: [] };
    for (let scanned = 0; scanned < SCAN_PAGES_PER_LIST && items.length < options.limit; scanned++) {
      page = await read(options.limit - items.length, after);
      items.push(...(await visible(page.items)));
      if (page.next === undefined) break;
      after = page.next;
    }
    return this.toCursorPage(listing, { items, ...(page.next === undefined ? {} : { next: page.next }) }, options.limit);
  }

  /** Sources the request may read (filtered after the store's page: pages may be short). */
  async listSources(ctx: RequestContext, filter: SourceFilter, options: ListOptions): Promise<CursorPage<Source>> {
    const listing = `sources:${filter.sort_by ?? 'created'}:${filter.reverse ? 1 : 0}`;
    return this.visiblePage(
      ctx.principal,
      listing,
      options,
      (limit, after) => this.store.listSources(filter, { limit, after }),
      async (items) => this.access.readableSources(ctx.principal, items),
    );
  }

  /** Flows the request may read (filtered after the store's page: pages may be short). */
  async listFlows(ctx: RequestContext, filter: FlowFilter, options: ListOptions): Promise<CursorPage<Flow>> {
    const listing = `flows:${filter.sort_by ?? 'created'}:${filter.reverse ? 1 : 0}`;
    return this.visiblePage(
      ctx.principal,
      listing,
      options,
      (limit, after) => this.store.listFlows(filter, { limit, after }),
      (items) => this.access.readableFlows(ctx.principal, items),
    );
  }

  /** Many sources at once (GraphQL loaders): undefined for unknown or hidden ids, a 403 for those it may not read. */
  async getSources(ctx: RequestContext, ids: readonly string[]): Promise<BatchRead<Source>[]> {
    const sources = await this.store.getSources(ids);
    if (this.access.unrestricted(ctx.principal)) return sources;
    return sources.map((s) => (s === undefined ? undefined : batchResult(s, this.access.decideOnSource(ctx.principal, 'read', s), `Source ${s.id}`)));
  }

  /** Many flows at once (GraphQL loaders): undefined for unknown or hidden ids, a 403 for those it may not read. */
  async getFlows(ctx: RequestContext, ids: readonly string[]): Promise<BatchRead<Flow>[]> {
    const flows = await this.store.getFlows(ids);
    if (this.access.unrestricted(ctx.principal)) return flows;
    const found = flows.filter((f): f is Flow => f !== undefined);
    const decisions = await this.access.decideOnFlows(ctx.principal, 'read', found);
    const byId = new Map(found.map((f, i) => [f.id, batchResult(f, decisions[i]!, `Flow ${f.id}`)]));
    return flows.map((f) => (f === undefined ? undefined : byId.get(f.id)));
  }

  /** The first page of listFlows for each filter, in one store call (readable flows only: pages may be short). */
  async listFirstFlowPages(ctx: RequestContext, filters: readonly FlowFilter[], limit: number): Promise<CursorPage<Flow>[]> {
    const pages = await this.store.listFlowsBatch(filters, { limit });
    if (!this.access.unrestricted(ctx.principal)) {
      const all = pages.flatMap((p) => p.items);
      const readable = new Set((await this.access.readableFlows(ctx.principal, all)).map((f) => f.id));
      for (const page of pages) page.items = page.items.filter((f) => readable.has(f.id));
    }
    return pages.map((page, i) => {
      const filter = filters[i]!;
      return this.toCursorPage(`flows:${filter.sort_by ?? 'created'}:${filter.reverse ? 1 : 0}`, page, limit);
    });
  }

  /**
   * The flow, with `timerange` (the span of its segments, optionally limited to those
   * overlapping `within`) when asked for.
   */
  async getFlow(ctx: RequestContext, id: string, options: { includeTimerange?: boolean; within?: TimeRange } = {}): Promise<Flow> {
    const flow = await this.access.flow(ctx.principal, id, 'read');
    if (!options.includeTimerange) return flow;
    const timerange = await this.store.getFlowTimerange(id, options.within ?? ETERNITY);
    return { ...flow, timerange: formatTimeRange(timerange) };
  }

  /**
   * Creates (created=true) or replaces the flow. The body has passed schema validation.
   *
   * A body with a `profile_id` takes its technical metadata from that profile (which must
   * exist) and may carry none of its own. `profile_id: ""` unlinks. A body without
   * `profile_id` for a profile-linked flow keeps the link when its technical metadata is
   * the flow's current one, and is refused otherwise: changing it means unlinking first.
   *
   * Access (AppNote 0016): replacing a flow needs write on it; a flow joining a source that
   * already exists (new, or moved to it) needs write on that source, so nobody adds crafted
   * flows to someone else's source; a new source is created with the flow's auth_classes.
   * Changing the flow's own auth_classes needs a grant on every class added or removed.
   */
  async putFlow(ctx: RequestContext, id: string, body: Flow): Promise<{ created: boolean; flow: Flow }> {
    if (body.id !== id) throw new TamsError('validation_failed', `Flow id in the body (${body.id}) does not match the path (${id})`);
    const existing = await this.store.getFlow(id);
    await this.checkPutAccess(ctx.principal, id, existing, body);
    if (existing?.read_only === true && body.read_only !== false) {
      throw new TamsError('read_only', `Flow ${id} is read-only`);
    }
    // The members' collected_by changes with it: the same checks as PUT .../flow_collection.
    if (body.flow_collection !== undefined) await this.properties.checkCollectionMembers(ctx, id, body.flow_collection);
    let flow: Flow = { ...body };
    if (body.profile_id !== undefined && body.profile_id !== '') {
      flow = applyProfile(flow, await this.profileForFlow(body));
    } else if (body.profile_id === undefined && existing?.profile_id !== undefined) {
      if (!sameTechnicalMetadata(existing, body)) {
        throw new TamsError(
          'validation_failed',
          `Flow ${id} is linked to profile ${existing.profile_id}, which supplies its technical metadata; send profile_id "" to unlink it before changing that metadata`,
        );
      }
      flow.profile_id = existing.profile_id;
    }
    for (const field of SERVER_MANAGED_FLOW_FIELDS) delete flow[field];
    if (flow.profile_id === '') delete flow.profile_id;
    // A client's metadata_version is always taken on creation (media moved between stores keeps
    // its version); on an update only from a caller who may set attribution (flow-common.json:
    // "subject to suitable permissions-based limitations"), so nobody else can give changed
    // metadata a version that already named other metadata.
    if (existing !== undefined && !mayAttribute(ctx.principal)) delete flow.metadata_version;
    return this.store.putFlow(attributeWrite(ctx.principal, flow, existing), this.now());
  }

  private async checkPutAccess(principal: Principal, id: string, existing: Flow | undefined, body: Flow): Promise<void> {
    if (this.access.unrestricted(principal)) return;
    if (existing !== undefined) await this.access.checkFlow(principal, 'write', existing);
    if (existing === undefined || existing.source_id !== body.source_id) {
      const source = await this.store.getSource(body.source_id);
      if (source !== undefined) {
        // The flow is the resource here: a source the request cannot see is refused, not hidden.
        const decision = this.access.decideOnSource(principal, 'write', source);
        if (decision !== 'allow') throw new TamsError('forbidden', `Adding a flow to source ${body.source_id} needs write permission on it`);
      }
    }
    requireAuthClassChange(principal, authClassesOf(existing?.tags), authClassesOf(body.tags), `flow ${id}`);
  }

  private async profileForFlow(body: Flow): Promise<Profile> {
    const mixed = TECHNICAL_FLOW_FIELDS.filter((field) => body[field] !== undefined);
    if (mixed.length > 0) {
      throw new TamsError(
        'validation_failed',
        `A flow with a profile_id takes its technical metadata from the profile: remove ${mixed.join(', ')}, or set profile_id to "" to unlink the profile`,
      );
    }
    const profileId = body.profile_id as string;
    const profile = await this.store.getProfile(profileId);
    if (!profile) throw new TamsError('validation_failed', `Profile ${profileId} does not exist`);
    return profile;
  }

  /** Deletes the flow (DeletionService has checked delete permission and read_only). */
  async deleteFlow(id: string): Promise<void> {
    const flow = await this.store.getFlow(id);
    if (!flow) throw new TamsError('not_found', `Flow ${id} does not exist`);
    if (flow.read_only === true) throw new TamsError('read_only', `Flow ${id} is read-only`);
    await this.store.deleteFlow(id, this.now());
  }

  /** The flow for a change of `permission` (write, delete): exists, permitted, not read-only. */
  async writableFlow(ctx: RequestContext, id: string, permission: 'write' | 'delete' = 'write'): Promise<Flow> {
    const flow = await this.access.flow(ctx.principal, id, permission);
    if (flow.read_only === true) throw new TamsError('read_only', `Flow ${id} is read-only`);
    return flow;
  }
}

/** A batch entry for an item the request may or may not read: hidden items are undefined. */
function batchResult<T>(item: T, decision: Decision, what: string): BatchRead<T> {
  if (decision === 'allow') return item;
  if (decision === 'not_found') return undefined;
  return new TamsError('forbidden', `This request has no read permission on ${what}`);
}

/** The flow document with the profile's technical metadata laid over it. */
function applyProfile(body: Flow, profile: Profile): Flow {
  const flow: Flow = { ...body, profile_id: profile.id };
  for (const [key, value] of Object.entries(profile.flow_metadata)) {
    if (!COMMON_FLOW_FIELDS.has(key)) flow[key] = value;
  }
  return flow;
}

function sameTechnicalMetadata(a: Flow, b: Flow): boolean {
  return TECHNICAL_FLOW_FIELDS.every((field) => canonicalJson(a[field]) === canonicalJson(b[field]));
}

/** JSON with object keys sorted, so equal documents compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}
