import { randomUUID } from 'node:crypto';
import type { ObjectRecord } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { InstanceSelector, MetadataStore, NewObjectAllocation, TagFilter } from '../ports/metadata-store';
import type { ObjectStore } from '../ports/object-store';
import type { Clock } from '../ports/clock';
import type { FlowService } from './flow-service';
import type { RequestContext } from './request-context';
import { requireContainer } from './segment-service';
import { GetUrlBuilder, GetUrlOptions } from './get-urls';
import type { CursorPage } from './flow-service';
import { matchesTags } from '../domain/tags';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** flow-storage-post.json, schema-valid. */
export interface StorageRequest {
  limit?: number;
  object_ids?: string[];
  storage_id?: string;
  content_type?: string;
  presigned?: boolean;
}

export interface MediaObjectAllocation {
  object_id: string;
  put_url: { url: string; 'content-type': string; headers?: Record<string, string> };
  presigned: boolean;
}

/** objects-instances-post.json, schema-valid: a controlled or an uncontrolled instance. */
export type InstanceRequest = { storage_id: string } | { url: string; label: string };

/** Paging and flow-tag filtering of an object's referenced_by_flows. */
export interface ObjectQuery {
  limit: number;
  page?: string;
  flowTags?: TagFilter;
}

/** The object document plus the paging of its referenced_by_flows (items are flow ids). */
export interface ObjectPage extends CursorPage<string> {
  body: Record<string, unknown>;
}

export class StorageService {
  constructor(
    private readonly store: MetadataStore,
    private readonly objects: ObjectStore,
    private readonly flows: FlowService,
    private readonly clock: Clock,
    private readonly presignedUrlTimeoutSec: number,
    private readonly defaultLimit: number,
  ) {}

  async allocate(ctx: RequestContext, flowId: string, request: StorageRequest): Promise<MediaObjectAllocation[]> {
    const flow = await this.flows.writableFlow(flowId);
    const container = requireContainer(flow);
    if (request.limit !== undefined && request.object_ids !== undefined) {
      throw new TamsError('validation_failed', 'Give either limit or object_ids, not both');
    }
    if (request.storage_id !== undefined && request.storage_id !== this.objects.backend.id) {
      throw new TamsError('validation_failed', `Unknown storage backend ${request.storage_id}`);
    }
    if (request.presigned === false) {
      throw new TamsError('validation_failed', 'This storage backend only issues presigned URLs');
    }
    const ids = request.object_ids ?? Array.from({ length: request.limit ?? this.defaultLimit }, () => randomUUID());
    if (new Set(ids).size !== ids.length) throw new TamsError('validation_failed', 'object_ids contains duplicates');
    const contentType = request.content_type ?? container;
    const allocations: NewObjectAllocation[] = ids.map((id) => ({
      id,
      storage_id: this.objects.backend.id,
      key: this.objects.keyFor(id),
      ...(request.content_type === undefined ? {} : { content_type: request.content_type }),
    }));
    const now = this.clock.nowMs();
    await this.store.allocateObjects(flowId, allocations, new Date(now).toISOString());
    const expiresAt = Math.floor(now / 1000) + this.presignedUrlTimeoutSec;
    return allocations.map((a) => {
      const signed = this.objects.signPut(a.key, ctx.baseUrl, expiresAt, contentType);
      return {
        object_id: a.id,
        put_url: { url: signed.url, 'content-type': contentType, ...(signed.headers ? { headers: signed.headers } : {}) },
        presigned: true,
      };
    });
  }

  /** The registered object, or not_found (also for allocated-but-unregistered ids). */
  private async registeredObject(id: string): Promise<ObjectRecord> {
    const object = await this.store.getObject(id);
    if (!object || !object.registered) throw new TamsError('not_found', `Object ${id} does not exist`);
    return object;
  }

  /**
   * GET /objects/{id}: 404 for unknown and for allocated-but-unregistered ids.
   * `referenced_by_flows` is filtered by the flows' tags (flow_tag.*) and paged by flow id.
   */
  async getObject(ctx: RequestContext, id: string, getUrls: GetUrlOptions, query: ObjectQuery): Promise<ObjectPage> {
    const object = await this.registeredObject(id);
    let flows = [...object.referenced_by_flows].sort();
    if (query.flowTags !== undefined) {
      const tags = query.flowTags;
      const matches = await Promise.all(flows.map(async (flowId) => {
        const flow = await this.store.getFlow(flowId);
        return flow !== undefined && matchesTags(flow.tags, tags);
      }));
      flows = flows.filter((_, i) => matches[i]);
    }
    if (query.page !== undefined) {
      const after = decodeFlowCursor(query.page);
      flows = flows.filter((flowId) => flowId > after);
    }
    const shown = flows.slice(0, query.limit);
    const last = shown[shown.length - 1];
    const body = await this.present(ctx, { ...object, referenced_by_flows: shown }, getUrls);
    return {
      body,
      limit: query.limit,
      items: shown,
      ...(flows.length > query.limit && last !== undefined ? { next: encodeFlowCursor(last) } : {}),
    };
  }

  /**
   * POST /objects/{id}/instances. Uncontrolled instances (url + label) are recorded; copies
   * to another storage backend need a backend to copy to, which this gateway does not have
   * yet, so a controlled request only succeeds when the backend already holds the object.
   */
  async addInstance(id: string, request: InstanceRequest): Promise<void> {
    const object = await this.registeredObject(id);
    const backend = this.objects.backend;
    if ('storage_id' in request) {
      if (object.storage?.storage_id === request.storage_id) return;
      if (request.storage_id !== backend.id) {
        throw new TamsError('validation_failed', `Unknown storage backend ${request.storage_id}`);
      }
      throw new TamsError(
        'validation_failed',
        `Copying an object to storage backend ${request.storage_id} is not supported yet (this object has no controlled instance to copy from)`,
      );
    }
    let url: URL | undefined;
    try {
      url = new URL(request.url);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new TamsError('validation_failed', 'An object instance url must be an absolute http or https URL');
    }
    if (request.label === backend.label) {
      throw new TamsError('instance_conflict', `Label ${request.label} is the label of a storage backend`);
    }
    if (object.uncontrolled_urls.some((u) => u.label === request.label)) {
      throw new TamsError('instance_conflict', `Object ${id} already has an instance labelled ${request.label}`);
    }
    await this.store.addObjectInstance(id, { url: request.url, label: request.label });
  }

  /**
   * DELETE /objects/{id}/instances?storage_id=|label=. The last instance is never removed.
   * A controlled instance may be named by its backend's label too.
   */
  async removeInstance(id: string, selector: InstanceSelector): Promise<void> {
    const object = await this.registeredObject(id);
    const backend = this.objects.backend;
    const controlled =
      'storage_id' in selector
        ? object.storage !== null && object.storage.storage_id === selector.storage_id
        : object.storage !== null && object.storage.storage_id === backend.id && selector.label === backend.label;
    const uncontrolled = 'label' in selector && object.uncontrolled_urls.some((u) => u.label === selector.label);
    if (!controlled && !uncontrolled) {
      const which = 'storage_id' in selector ? `on storage backend ${selector.storage_id}` : `labelled ${selector.label}`;
      throw new TamsError('not_found', `Object ${id} has no instance ${which}`);
    }
    const instances = (object.storage === null ? 0 : 1) + object.uncontrolled_urls.length;
    if (instances <= 1) {
      throw new TamsError('last_instance', `Cannot delete the last instance of object ${id}; delete the segments that use it instead`);
    }
    await this.store.removeObjectInstance(id, controlled && object.storage !== null ? { storage_id: object.storage.storage_id } : selector);
  }

  private async present(ctx: RequestContext, o: ObjectRecord, options: GetUrlOptions): Promise<Record<string, unknown>> {
    const urls = new GetUrlBuilder(this.objects, options, ctx.baseUrl, Math.floor(this.clock.nowMs() / 1000) + this.presignedUrlTimeoutSec);
    const out: Record<string, unknown> = { id: o.id, referenced_by_flows: o.referenced_by_flows };
    if (o.first_referenced_by_flow !== undefined) out.first_referenced_by_flow = o.first_referenced_by_flow;
    if (o.timerange !== undefined) out.timerange = o.timerange;
    if (o.key_frame_count !== undefined) out.key_frame_count = o.key_frame_count;
    if (o.init_object_id !== undefined) {
      const init = await this.store.getObject(o.init_object_id);
      out.init_object = { id: o.init_object_id, get_urls: urls.build(init?.storage, init?.uncontrolled_urls) };
    }
    out.get_urls = urls.build(o.storage, o.uncontrolled_urls);
    return out;
  }
}

/** The cursor of referenced_by_flows paging: the last flow id shown (flows are listed by id). */
function encodeFlowCursor(flowId: string): string {
  return Buffer.from(flowId).toString('base64url');
}

function decodeFlowCursor(cursor: string): string {
  const flowId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID_RE.test(flowId)) throw new TamsError('bad_cursor', 'Invalid page cursor');
  return flowId;
}
