import { randomUUID } from 'node:crypto';
import type { ObjectRecord } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { MetadataStore, NewObjectAllocation } from '../ports/metadata-store';
import type { ObjectStore } from '../ports/object-store';
import type { Clock } from '../ports/clock';
import type { FlowService } from './flow-service';
import type { RequestContext } from './request-context';
import { requireContainer } from './segment-service';
import { GetUrlBuilder, GetUrlOptions } from './get-urls';

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

  /** GET /objects/{id}: 404 for unknown and for allocated-but-unregistered ids. */
  async getObject(ctx: RequestContext, id: string, getUrls: GetUrlOptions): Promise<Record<string, unknown>> {
    const object = await this.store.getObject(id);
    if (!object || !object.registered) throw new TamsError('not_found', `Object ${id} does not exist`);
    return this.present(ctx, object, getUrls);
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
