import type { Flow, Profile, Source } from '../domain/entities';
import { TamsError } from '../domain/errors';
import { ETERNITY, TimeRange, formatTimeRange } from '../domain/timerange';
import type { FlowFilter, MetadataStore, Page, SourceFilter } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { PageCursorCodec } from './page-cursor';
import { FlowPropertyService } from './flow-property-service';

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

export interface CursorPage<T> {
  items: T[];
  /** Opaque cursor for the next page, absent on the last page. */
  next?: string;
  limit: number;
}

export class FlowService {
  /** The flow and source property endpoints (tags, label, read_only, collection, ...). */
  readonly properties: FlowPropertyService;

  constructor(
    private readonly store: MetadataStore,
    /** Shared with listings served by services main.ts builds without a codec (profiles). */
    private readonly cursors: PageCursorCodec,
    private readonly clock: Clock,
  ) {
    this.properties = new FlowPropertyService(store, clock);
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

  async getSource(id: string): Promise<Source> {
    const source = await this.store.getSource(id);
    if (!source) throw new TamsError('not_found', `Source ${id} does not exist`);
    return source;
  }

  async listSources(filter: SourceFilter, options: ListOptions): Promise<CursorPage<Source>> {
    const listing = `sources:${filter.sort_by ?? 'created'}:${filter.reverse ? 1 : 0}`;
    const page = await this.store.listSources(filter, { limit: options.limit, after: this.after(listing, options.page) });
    return this.toCursorPage(listing, page, options.limit);
  }

  async listFlows(filter: FlowFilter, options: ListOptions): Promise<CursorPage<Flow>> {
    const listing = `flows:${filter.sort_by ?? 'created'}:${filter.reverse ? 1 : 0}`;
    const page = await this.store.listFlows(filter, { limit: options.limit, after: this.after(listing, options.page) });
    return this.toCursorPage(listing, page, options.limit);
  }

  /**
   * The flow, with `timerange` (the span of its segments, optionally limited to those
   * overlapping `within`) when asked for.
   */
  async getFlow(id: string, options: { includeTimerange?: boolean; within?: TimeRange } = {}): Promise<Flow> {
    const flow = await this.store.getFlow(id);
    if (!flow) throw new TamsError('not_found', `Flow ${id} does not exist`);
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
   */
  async putFlow(id: string, body: Flow): Promise<{ created: boolean; flow: Flow }> {
    if (body.id !== id) throw new TamsError('validation_failed', `Flow id in the body (${body.id}) does not match the path (${id})`);
    const existing = await this.store.getFlow(id);
    if (existing?.read_only === true && body.read_only !== false) {
      throw new TamsError('read_only', `Flow ${id} is read-only`);
    }
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
    return this.store.putFlow(flow, this.now());
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

  async deleteFlow(id: string): Promise<void> {
    const flow = await this.store.getFlow(id);
    if (!flow) throw new TamsError('not_found', `Flow ${id} does not exist`);
    if (flow.read_only === true) throw new TamsError('read_only', `Flow ${id} is read-only`);
    await this.store.deleteFlow(id, this.now());
  }

  /** The flow for a write: exists, not read-only. */
  async writableFlow(id: string): Promise<Flow> {
    const flow = await this.store.getFlow(id);
    if (!flow) throw new TamsError('not_found', `Flow ${id} does not exist`);
    if (flow.read_only === true) throw new TamsError('read_only', `Flow ${id} is read-only`);
    return flow;
  }
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
