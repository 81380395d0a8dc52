import type { Flow, Source } from '../domain/entities';
import { TamsError } from '../domain/errors';
import { ETERNITY, TimeRange, formatTimeRange } from '../domain/timerange';
import type { FlowFilter, MetadataStore, Page, SourceFilter } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { PageCursorCodec } from './page-cursor';

/** Fields the service owns: a client's values for them are ignored on PUT. */
const SERVER_MANAGED_FLOW_FIELDS = [
  'created',
  'metadata_updated',
  'segments_updated',
  'timerange',
  'collected_by',
] as const;

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
  constructor(
    private readonly store: MetadataStore,
    private readonly cursors: PageCursorCodec,
    private readonly clock: Clock,
  ) {}

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

  /** Creates (created=true) or replaces the flow. The body has passed schema validation. */
  async putFlow(id: string, body: Flow): Promise<{ created: boolean; flow: Flow }> {
    if (body.id !== id) throw new TamsError('validation_failed', `Flow id in the body (${body.id}) does not match the path (${id})`);
    if (body.profile_id !== undefined && body.profile_id !== '') {
      throw new TamsError('validation_failed', `Profile ${body.profile_id} does not exist`);
    }
    const existing = await this.store.getFlow(id);
    if (existing?.read_only === true && body.read_only !== false) {
      throw new TamsError('read_only', `Flow ${id} is read-only`);
    }
    const flow: Flow = { ...body };
    for (const field of SERVER_MANAGED_FLOW_FIELDS) delete flow[field];
    if (flow.profile_id === '') delete flow.profile_id;
    return this.store.putFlow(flow, this.now());
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
