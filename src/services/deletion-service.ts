import { randomUUID } from 'node:crypto';
import type { DeletionRequest, Flow } from '../domain/entities';
import { TamsError } from '../domain/errors';
import { ETERNITY, TimeRange, formatTimeRange } from '../domain/timerange';
import type { MetadataStore } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { PageCursorCodec } from './page-cursor';
import type { CursorPage, FlowService, ListOptions } from './flow-service';
import type { RequestContext } from './request-context';
import { enforce, requireAdmin } from './access-policy';
import { callerName } from './attribution';

/** How long a deletion request stays visible after its last change (the worker renews it as it works). */
export const DELETION_REQUEST_RETENTION_MS = 24 * 60 * 60 * 1000;
const SCAN_PAGE = 1000;
/** Unfinished requests looked through for one on a flow (there are few: one per flow being deleted). */
const UNFINISHED_SCAN = 1000;

export type DeletionSort = 'created' | 'expiry';

/** A delete either finished within the request, or continues as a deletion request. */
export type DeletionOutcome = { done: true } | { done: false; request: DeletionRequest };

/**
 * A deletion request as stored: with the auth classes its flow had when it was made, so
 * who may read it is still known once the flow is gone (AppNote 0016: delete permission on
 * the request's flow). Never shown to clients.
 */
interface StoredDeletionRequest extends DeletionRequest {
  flow_auth_classes?: string[];
}

/** The request as clients see it (deletion-request.json). */
function publicRequest(request: DeletionRequest): DeletionRequest {
  const copy: StoredDeletionRequest = { ...request };
  delete copy.flow_auth_classes;
  return copy;
}

function badCursor(): TamsError {
  return new TamsError('bad_cursor', 'Invalid page cursor');
}

/**
 * Flow and segment deletion, synchronous below a threshold and as deletion requests above it.
 * A deletion request is stored `created` and worked by the deletion worker
 * (src/workers/deletion-worker.ts), which `requested` wakes.
 */
export class DeletionService {
  constructor(
    readonly store: MetadataStore,
    readonly flows: FlowService,
    readonly clock: Clock,
    readonly asyncThreshold: number,
    private readonly cursors: PageCursorCodec,
    /** Told of each new deletion request (wakes the worker). */
    private readonly requested: () => void = () => undefined,
  ) {}

  private now(): string {
    return new Date(this.clock.nowMs()).toISOString();
  }

  /** DELETE /flows/{id}: the flow, its segments, and its source when nobody else uses it. Needs delete on the flow. */
  async deleteFlow(ctx: RequestContext, flowId: string): Promise<DeletionOutcome> {
    const flow = await this.flows.writableFlow(ctx, flowId, 'delete');
    const pending = (await this.store.listUnfinishedDeletionRequests(UNFINISHED_SCAN)).find((r) => r.flow_id === flowId);
    if (pending !== undefined) return { done: false, request: publicRequest(await this.extendToFlow(pending)) };
    if ((await this.store.countSegments(flowId)) <= this.asyncThreshold) {
      await this.flows.deleteFlow(flowId);
      return { done: true };
    }
    return { done: false, request: await this.startRequest(flow, ETERNITY, true, callerName(ctx.principal)) };
  }

  /**
   * DELETE /flows/{id}/segments: the segments completely covered by `timerange` (and of
   * `objectId`). A deletion request cannot describe an object filter, so that form always
   * runs within the request.
   */
  async deleteSegments(ctx: RequestContext, flowId: string, timerange: TimeRange, objectId: string | undefined): Promise<DeletionOutcome> {
    const flow = await this.flows.writableFlow(ctx, flowId, 'delete');
    if (objectId !== undefined || timerange.empty || (await this.store.countSegments(flowId)) <= this.asyncThreshold) {
      await this.store.deleteSegments(flowId, timerange, objectId, this.now());
      return { done: true };
    }
    return { done: false, request: await this.startRequest(flow, timerange, false, callerName(ctx.principal)) };
  }

  /**
   * GET /flow-delete-requests/{id}: admin, or delete permission on the request's flow (its
   * classes now, or those it had when the request was made once it is gone); 404 when the
   * request has no permission on that flow at all.
   */
  async getRequest(ctx: RequestContext, id: string): Promise<DeletionRequest> {
    const request: StoredDeletionRequest | undefined = await this.store.getDeletionRequest(id);
    if (!request) throw new TamsError('not_found', `Flow delete request ${id} does not exist`);
    const access = this.flows.access;
    if (!access.unrestricted(ctx.principal)) {
      const flow = await this.store.getFlow(request.flow_id);
      const classes = flow === undefined ? request.flow_auth_classes : await access.classesOfFlow(flow);
      enforce(access.policy.decide(ctx.principal, 'delete', classes), `Flow delete request ${id}`, 'delete');
    }
    return publicRequest(request);
  }

  /**
   * Newest first by `created` (or by `expiry`), `reverse` for oldest first. The store keeps
   * the default order; other orders are built from a scan of the (short-lived) requests.
   */
  async listRequests(ctx: RequestContext, sort: DeletionSort, reverse: boolean, options: ListOptions): Promise<CursorPage<DeletionRequest>> {
    requireAdmin(ctx.principal, 'Listing flow delete requests');
    if (sort === 'created' && !reverse) {
      const listing = 'delete-requests:created';
      const after = options.page === undefined ? undefined : this.cursors.decode(listing, options.page);
      const page = await this.store.listDeletionRequests({ limit: options.limit, ...(after === undefined ? {} : { after }) });
      return { items: page.items.map(publicRequest), limit: options.limit, ...(page.next === undefined ? {} : { next: this.cursors.encode(listing, page.next) }) };
    }
    const listing = `delete-requests:${sort}:${reverse ? 1 : 0}`;
    const after = options.page === undefined ? undefined : this.cursors.decode(listing, options.page);
    if (after !== undefined && (typeof after !== 'string' || after === '')) throw badCursor();
    const all: DeletionRequest[] = [];
    let next: unknown;
    do {
      const page = await this.store.listDeletionRequests({ limit: SCAN_PAGE, ...(next === undefined ? {} : { after: next }) });
      all.push(...page.items);
      next = page.next;
    } while (next !== undefined);
    // Newest first; requests without the sort field come after, by id (spec of sort_by).
    const ordered = all.sort((a, b) => {
      const ka = a[sort];
      const kb = b[sort];
      if (ka !== kb) {
        if (ka === undefined) return 1;
        if (kb === undefined) return -1;
        return ka < kb ? 1 : -1;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    if (reverse) ordered.reverse();
    const start = after === undefined ? 0 : ordered.findIndex((r) => r.id === after) + 1;
    if (after !== undefined && start === 0) throw badCursor();
    const items = ordered.slice(start, start + options.limit);
    const last = items[items.length - 1];
    const more = start + options.limit < ordered.length;
    return { items: items.map(publicRequest), limit: options.limit, ...(more && last !== undefined ? { next: this.cursors.encode(listing, last.id) } : {}) };
  }

  /**
   * DELETE /flows/{id} while a request on the flow is unfinished (a client retrying, or a range
   * deletion under way): that request, made to delete the flow too (the rest of the flow is
   * added to what remains), so the answer is the 202 the spec declares, naming it. The worker
   * sees the changed request at its next chunk and goes on from it.
   */
  private async extendToFlow(pending: DeletionRequest): Promise<DeletionRequest> {
    if (pending.delete_flow) return pending;
    const nowMs = Math.max(this.clock.nowMs(), pending.updated === undefined ? 0 : Date.parse(pending.updated) + 1);
    const extended: DeletionRequest = {
      ...pending,
      delete_flow: true,
      timerange_to_delete: formatTimeRange(ETERNITY),
      timerange_remaining: formatTimeRange(ETERNITY),
      updated: new Date(nowMs).toISOString(),
      expiry: new Date(nowMs + DELETION_REQUEST_RETENTION_MS).toISOString(),
    };
    await this.store.putDeletionRequest(extended);
    this.requested();
    return extended;
  }

  /** A deletion request, made by `createdBy` (the caller's name, when known: deletion-request.json's created_by). */
  private async startRequest(flow: Flow, timerange: TimeRange, deleteFlow: boolean, createdBy: string | undefined): Promise<DeletionRequest> {
    const now = this.clock.nowMs();
    const text = formatTimeRange(timerange);
    const classes = await this.flows.access.classesOfFlow(flow);
    const request: StoredDeletionRequest = {
      id: randomUUID(),
      flow_id: flow.id,
      timerange_to_delete: text,
      timerange_remaining: text,
      delete_flow: deleteFlow,
      status: 'created',
      created: new Date(now).toISOString(),
      updated: new Date(now).toISOString(),
      expiry: new Date(now + DELETION_REQUEST_RETENTION_MS).toISOString(),
      ...(createdBy === undefined ? {} : { created_by: createdBy }),
      ...(classes === undefined ? {} : { flow_auth_classes: [...classes] }),
    };
    await this.store.putDeletionRequest(request);
    this.requested();
    return publicRequest(request);
  }
}
