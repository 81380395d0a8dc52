import { copyOptionalScalars, type Flow, type NewSegment, type ObjectRecord, type SegmentRecord, type StorageBackend } from '../domain/entities';
import { TamsError } from '../domain/errors';
import { isHttpUrl } from '../domain/http-url';
import { TimeRange, span, EMPTY, tryParseTimeRange } from '../domain/timerange';
import type { MetadataStore, Page, PageRequest, SegmentQuery } from '../ports/metadata-store';
import type { ObjectStores } from './object-stores';
import { mapBounded } from './bounded-concurrency';
import type { Clock } from '../ports/clock';
import type { FlowService, CursorPage } from './flow-service';
import type { PageCursorCodec } from './page-cursor';
import type { RequestContext } from './request-context';
import { GetUrlBuilder, GetUrlOptions } from './get-urls';
import { jsonString } from '../domain/json-text';
import { isWellFormedText } from '../domain/text';

/** What the URL builder reads of a listed segment. */
type SegmentStorages = Pick<SegmentRecord, 'object_instances' | 'init_object_instances'>;

/** Upload checks (TAMS_VERIFY_UPLOADS) run at once per registration. */
const UPLOAD_CHECKS_IN_FLIGHT = 16;

export interface SegmentServiceOptions {
  presignedUrlTimeoutSec: number;
  /** Refuse a segment whose allocated object was never uploaded (one existence check per new object). */
  verifyUploads: boolean;
}

/** A segment as a client sent it, before parsing (flow-segment-post.json, schema-valid). */
export type SegmentPostBody = Omit<NewSegment, 'timerange' | 'timerange_text'> & { timerange: string };

export interface FailedSegment {
  object_id: string;
  timerange?: string;
  error: TamsError;
}

export interface SegmentListOptions {
  limit: number;
  page?: string;
  getUrls: GetUrlOptions;
  includeObjectTimerange: boolean;
}

export interface SegmentPage<T = Record<string, unknown>> extends CursorPage<T> {
  /** Span of the returned segments (`()` when none). */
  timerange: TimeRange;
}

export class SegmentService {
  constructor(
    private readonly store: MetadataStore,
    private readonly stores: ObjectStores,
    private readonly flows: FlowService,
    private readonly cursors: PageCursorCodec,
    private readonly clock: Clock,
    private readonly options: SegmentServiceOptions,
  ) {}

  private now(): string {
    return new Date(this.clock.nowMs()).toISOString();
  }

  /**
   * Segments overlapping the query window; an unknown flow simply has none. A flow the
   * request may not read is a 404 (no permission) or 403; get_urls only name storage
   * backends it may read.
   */
  async listSegments(ctx: RequestContext, flowId: string, query: SegmentQuery, options: SegmentListOptions): Promise<SegmentPage> {
    const { listing, storeQuery, page } = await this.segmentRead(ctx, flowId, query, options);
    const records = await this.store.listSegments(flowId, storeQuery, page);
    const urls = this.urlBuilder(ctx, options.getUrls, [records]);
    return this.toSegmentPage(listing, records, urls, options);
  }

  /**
   * listSegments with each segment as JSON text (a flow-segment object: the same JSON value as
   * the listSegments item, its members perhaps in another order): what REST writes out. Built
   * from the store's texts, so no segment is made an object and serialised again.
   */
  async listSegmentsJson(ctx: RequestContext, flowId: string, query: SegmentQuery, options: SegmentListOptions): Promise<SegmentPage<string>> {
    const { listing, storeQuery, page } = await this.segmentRead(ctx, flowId, query, options);
    const texts = await this.store.listSegmentTexts(flowId, storeQuery, page);
    const urls = this.urlBuilder(ctx, options.getUrls, [texts]);
    const items = texts.items.map((s) => {
      let json = s.json_head;
      const objectTimerange = s.has_object_timerange ? undefined : shownObjectTimerange(undefined, s.object_timerange_of_object, options.includeObjectTimerange);
      if (objectTimerange !== undefined) json += `,"object_timerange":${jsonString(objectTimerange)}`;
      if (s.init_object_id !== undefined) {
        json += `,"init_object":{"object_id":${jsonString(s.init_object_id)},"get_urls":${urls.json(s.init_object_instances, undefined)}}`;
      }
      return `${json},"get_urls":${urls.json(s.object_instances, s.get_urls)}}`;
    });
    return {
      items,
      limit: options.limit,
      timerange: texts.span,
      ...(texts.next === undefined ? {} : { next: this.cursors.encode(listing, texts.next) }),
    };
  }

  /**
   * What listSegments and listSegmentsJson share: the access check (a flow the request may not
   * read is a 404 or 403; an unknown flow simply has no segments), the cursor namespace and the
   * store's query and page request.
   */
  private async segmentRead(
    ctx: RequestContext,
    flowId: string,
    query: SegmentQuery,
    options: SegmentListOptions,
  ): Promise<{ listing: string; storeQuery: SegmentQuery; page: PageRequest }> {
    if (!this.flows.access.unrestricted(ctx.principal)) {
      const flow = await this.store.getFlow(flowId);
      if (flow !== undefined) await this.flows.access.checkFlow(ctx.principal, 'read', flow);
    }
    const listing = segmentListing(flowId, query);
    const after = options.page === undefined ? undefined : this.cursors.decode(listing, options.page);
    return { listing, storeQuery: { ...query, object_timerange: options.includeObjectTimerange }, page: { limit: options.limit, after } };
  }

  /**
   * The first page of listSegments for each flow, in one store call (GraphQL loaders). Flows
   * the request may not read have no segments here (GraphQL reaches them through a flow it
   * could read).
   */
  async listFirstSegmentPages(
    ctx: RequestContext,
    flowIds: readonly string[],
    query: SegmentQuery,
    options: Omit<SegmentListOptions, 'page'>,
  ): Promise<SegmentPage[]> {
    const readable = await this.flows.access.readableFlowIds(ctx.principal, flowIds);
    const pages = await this.store.listSegmentsBatch(flowIds, { ...query, object_timerange: options.includeObjectTimerange }, { limit: options.limit });
    const shown = pages.map((page, i) => (readable.has(flowIds[i]!) ? page : { items: [] }));
    const urls = this.urlBuilder(ctx, options.getUrls, shown);
    return shown.map((page, i) => this.toSegmentPage(segmentListing(flowIds[i]!, query), page, urls, options));
  }

  /** A URL builder with every object of these pages signed in one go. */
  private urlBuilder(ctx: RequestContext, getUrls: GetUrlOptions, pages: readonly Page<SegmentStorages>[]): GetUrlBuilder {
    const urls = new GetUrlBuilder(this.stores, getUrls, ctx.baseUrl, this.expiresAt(), (backend) => this.flows.access.canUseBackend(ctx.principal, 'read', backend));
    const storages = [];
    for (const page of pages) for (const s of page.items) storages.push(s.object_instances, s.init_object_instances);
    urls.prepare(storages);
    return urls;
  }

  private toSegmentPage(
    listing: string,
    page: Page<SegmentRecord>,
    urls: GetUrlBuilder,
    options: Omit<SegmentListOptions, 'page'>,
  ): SegmentPage {
    let covered: TimeRange = EMPTY;
    const items = page.items.map((s) => {
      covered = span(covered, s.timerange);
      return this.present(s, urls, options.includeObjectTimerange);
    });
    return {
      items,
      limit: options.limit,
      timerange: covered,
      ...(page.next === undefined ? {} : { next: this.cursors.encode(listing, page.next) }),
    };
  }

  private expiresAt(): number {
    return Math.floor(this.clock.nowMs() / 1000) + this.options.presignedUrlTimeoutSec;
  }

  private present(s: SegmentRecord, urls: GetUrlBuilder, includeObjectTimerange: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = { object_id: s.object_id, timerange: s.timerange_text };
    if (s.ts_offset !== undefined) out.ts_offset = s.ts_offset;
    if (s.last_duration !== undefined) out.last_duration = s.last_duration;
    const objectTimerange = shownObjectTimerange(s.object_timerange, s.object_timerange_of_object, includeObjectTimerange);
    if (objectTimerange !== undefined) out.object_timerange = objectTimerange;
    if (s.sample_offset !== undefined) out.sample_offset = s.sample_offset;
    if (s.sample_count !== undefined) out.sample_count = s.sample_count;
    if (s.key_frame_count !== undefined) out.key_frame_count = s.key_frame_count;
    if (s.init_object_id !== undefined) {
      out.init_object = { object_id: s.init_object_id, get_urls: urls.build(s.init_object_instances, undefined) };
    }
    out.get_urls = urls.build(s.object_instances, s.get_urls);
    return out;
  }

  /**
   * Registers segments. Each bad segment fails alone; the rest are stored. Returns the
   * failures (empty when all were stored).
   *
   * Access (AppNote 0016): write permission on the flow; a segment whose object (or init
   * object) is already registered needs read permission on that object, else it fails alone
   * with a 403, so nobody can pull someone else's media into a flow they control.
   */
  async registerSegments(ctx: RequestContext, flowId: string, bodies: SegmentPostBody[]): Promise<FailedSegment[]> {
    const flow = await this.flows.writableFlow(ctx, flowId);
    requireContainer(flow);
    const failed: FailedSegment[] = [];
    const accepted: NewSegment[] = [];
    const unreadable = await this.unreadableObjects(ctx, bodies);
    for (const body of bodies) {
      const denied = [body.object_id, body.init_object_id].find((id) => id !== undefined && unreadable.has(id));
      if (denied !== undefined) {
        const error = new TamsError('forbidden', `Object ${denied} is already registered and this request may not read it`);
        failed.push({ object_id: body.object_id, timerange: body.timerange, error });
        continue;
      }
      const parsed = parseSegment(body, this.stores.backends);
      if (parsed instanceof TamsError) failed.push({ object_id: body.object_id, timerange: body.timerange, error: parsed });
      else accepted.push(parsed);
    }
    const missing = this.options.verifyUploads ? await this.notUploaded(flowId, accepted) : undefined;
    const stored = missing === undefined || missing.size === 0 ? accepted : accepted.filter((segment) => {
      const absent = [segment.object_id, segment.init_object_id].find((id) => id !== undefined && missing.has(id));
      if (absent === undefined) return true;
      const error = new TamsError('validation_failed', `Object ${absent} was allocated but its bytes were never uploaded: PUT them to its put_url first`);
      failed.push({ object_id: segment.object_id, timerange: segment.timerange_text, error });
      return false;
    });
    if (stored.length > 0) {
      const outcomes = await this.store.addSegments(flowId, stored, this.now());
      for (const o of outcomes) {
        if (o.error) failed.push({ object_id: o.segment.object_id, timerange: o.segment.timerange_text, error: o.error });
      }
    }
    return failed;
  }

  /**
   * TAMS_VERIFY_UPLOADS: of the objects these segments name that were allocated but not yet
   * registered, those whose bytes no controlled instance holds. Registered objects were checked
   * at their first registration. A backend that cannot answer fails the whole request (503)
   * before anything is stored.
   */
  private async notUploaded(flowId: string, segments: readonly NewSegment[]): Promise<Set<string>> {
    const ids = [...new Set(segments.flatMap((s) => (s.init_object_id === undefined ? [s.object_id] : [s.object_id, s.init_object_id])))];
    // Objects allocated for another flow are refused by the store anyway; asking their backend
    // first would tell this request whether another flow's bytes were uploaded.
    const fresh = (await this.store.getObjects(ids)).filter(
      (o): o is ObjectRecord => o !== undefined && !o.registered && o.allocated_for_flow === flowId && o.instances.length > 0,
    );
    const present = await mapBounded(fresh, UPLOAD_CHECKS_IN_FLIGHT, async (object) => {
      for (const instance of object.instances) {
        const store = this.stores.get(instance.storage_id);
        if (store !== undefined && (await store.exists(instance.key))) return true;
      }
      return false;
    });
    return new Set(fresh.filter((_, i) => !present[i]).map((o) => o.id));
  }

  /**
   * Of the objects these segments name, those already registered (GET /objects/{id} would
   * find them) that the request may not read. A first registration is always allowed.
   */
  private async unreadableObjects(ctx: RequestContext, bodies: readonly SegmentPostBody[]): Promise<Set<string>> {
    const denied = new Set<string>();
    if (this.flows.access.unrestricted(ctx.principal)) return denied;
    const ids = [...new Set(bodies.flatMap((b) => (b.init_object_id === undefined ? [b.object_id] : [b.object_id, b.init_object_id])))];
    const objects = await this.store.getObjects(ids);
    await Promise.all(
      objects.map(async (object) => {
        if (object === undefined || !object.registered) return;
        const decision = await this.flows.access.decideOnObject(ctx.principal, 'read', object);
        if (decision === 'allow') return;
        denied.add(object.id);
        // Object ids are global: that a re-used id is taken cannot be hidden, but the attempt is recorded.
        if (decision === 'not_found') ctx.concealed?.(`object:${object.id}`);
      }),
    );
    return denied;
  }
}

/** A segment's object_timerange as listed: its own, else (include_object_timerange) its object's. */
function shownObjectTimerange(own: string | undefined, ofObject: string | undefined, includeObjectTimerange: boolean): string | undefined {
  return own ?? (includeObjectTimerange ? ofObject : undefined);
}

/** The cursor namespace of one flow's segment listing (a cursor is valid only where it was made). */
function segmentListing(flowId: string, query: SegmentQuery): string {
  return `segments:${flowId}:${query.reverse ? 1 : 0}`;
}

/** Segment and storage writes need the flow's container (the media mime type); returns it. */
export function requireContainer(flow: Flow): string {
  if (flow.container === undefined || flow.container === '') {
    throw new TamsError('flow_container_missing', `Flow ${flow.id} has no container set`);
  }
  return flow.container;
}

function parseSegment(body: SegmentPostBody, backends: readonly StorageBackend[]): NewSegment | TamsError {
  if (!isWellFormedText(body.object_id) || (body.init_object_id !== undefined && !isWellFormedText(body.init_object_id))) {
    return new TamsError('validation_failed', 'An object id holds a lone UTF-16 surrogate, which cannot be stored as sent');
  }
  const timerange = tryParseTimeRange(body.timerange);
  if (timerange === undefined) return new TamsError('bad_timerange', `Invalid segment timerange ${JSON.stringify(body.timerange)}`);
  if (timerange.empty) return new TamsError('bad_timerange', `Segment timerange ${body.timerange} is empty`);
  if (timerange.start === null || timerange.end === null) {
    return new TamsError('bad_timerange', `Segment timerange ${body.timerange} must have a start and an end`);
  }
  if (body.object_timerange !== undefined) {
    const otr = tryParseTimeRange(body.object_timerange);
    if (otr === undefined || otr.empty) return new TamsError('bad_timerange', `Invalid object_timerange ${JSON.stringify(body.object_timerange)}`);
  }
  if (body.last_duration !== undefined && body.last_duration.startsWith('-')) {
    return new TamsError('validation_failed', 'last_duration cannot be negative');
  }
  if (body.init_object_id !== undefined && body.init_object_id === body.object_id) {
    return new TamsError('object_reuse_conflict', 'An object cannot be its own initialisation object');
  }
  const badUrl = body.get_urls?.findIndex((u) => !isHttpUrl(u.url)) ?? -1;
  if (badUrl >= 0) return new TamsError('validation_failed', `get_urls[${badUrl}].url must be an absolute http or https URL`);
  // A URL labelled as a storage backend would pass for that backend's own URL (accept_get_urls selects by label).
  const posing = body.get_urls?.find((u) => backends.some((b) => b.label === u.label));
  if (posing !== undefined) return new TamsError('validation_failed', `get_urls label ${posing.label} is the label of a storage backend`);
  const segment: NewSegment = {
    object_id: body.object_id,
    timerange,
    timerange_text: body.timerange,
  };
  if (body.init_object_id !== undefined) segment.init_object_id = body.init_object_id;
  copyOptionalScalars(body, segment);
  if (body.get_urls !== undefined) segment.get_urls = body.get_urls.map((u) => ({ url: u.url, label: u.label }));
  return segment;
}
