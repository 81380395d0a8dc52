import { randomUUID } from 'node:crypto';
import type { ObjectRecord, ObjectStorageRef } from '../domain/entities';
import { TamsError } from '../domain/errors';
import { isHttpUrl } from '../domain/http-url';
import type { InstanceSelector, MetadataStore, NewObjectAllocation, TagFilter } from '../ports/metadata-store';
import type { ObjectStore } from '../ports/object-store';
import type { ObjectStores } from './object-stores';
import type { Clock } from '../ports/clock';
import type { FlowService } from './flow-service';
import type { RequestContext } from './request-context';
import { requireContainer } from './segment-service';
import { GetUrlBuilder, GetUrlOptions } from './get-urls';
import type { CursorPage } from './flow-service';
import { matchesTags } from '../domain/tags';
import { Permission, enforce } from './access-policy';
import { isWellFormedText } from '../domain/text';
import { Semaphore } from './semaphore';

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

/** Copies onto other backends running at once (each streams or holds one part at most). */
const COPIES_IN_FLIGHT = 4;

export class StorageService {
  /** Copies in progress by object and target backend: a second request for one waits for it. */
  private readonly copies = new Map<string, Promise<void>>();
  private readonly copySlots = new Semaphore(COPIES_IN_FLIGHT);

  constructor(
    private readonly store: MetadataStore,
    private readonly stores: ObjectStores,
    private readonly flows: FlowService,
    private readonly clock: Clock,
    private readonly presignedUrlTimeoutSec: number,
    private readonly defaultLimit: number,
    /**
     * How long after an object's allocation a PUT URL for it may still be used (min_object_timeout
     * plus the upload grace): a removed instance's bytes are not deleted before then, or an upload
     * could put back bytes nothing tracks.
     */
    private readonly putUrlLifetimeMs = 0,
  ) {}

  /** POST /flows/{id}/storage: needs write on the flow and on the storage backend (AppNote 0016). */
  async allocate(ctx: RequestContext, flowId: string, request: StorageRequest): Promise<MediaObjectAllocation[]> {
    const flow = await this.flows.writableFlow(ctx, flowId);
    const container = requireContainer(flow);
    if (request.limit !== undefined && request.object_ids !== undefined) {
      throw new TamsError('validation_failed', 'Give either limit or object_ids, not both');
    }
    const target = this.allocationStore(request.storage_id);
    this.flows.access.requireBackend(ctx.principal, 'write', target.backend);
    if (request.presigned === false) {
      throw new TamsError('validation_failed', `Storage backend ${target.backend.label} only issues presigned PUT URLs`);
    }
    const ids = request.object_ids ?? Array.from({ length: request.limit ?? this.defaultLimit }, () => randomUUID());
    if (new Set(ids).size !== ids.length) throw new TamsError('validation_failed', 'object_ids contains duplicates');
    const malformed = ids.findIndex((id) => !isWellFormedText(id));
    if (malformed >= 0) throw new TamsError('validation_failed', `object_ids[${malformed}] holds a lone UTF-16 surrogate, which cannot be stored as sent`);
    if (request.object_ids !== undefined) await this.recordHiddenIds(ctx, request.object_ids);
    const contentType = request.content_type ?? container;
    const allocations: NewObjectAllocation[] = ids.map((id) => ({
      id,
      storage_id: target.backend.id,
      key: target.keyFor(id),
      ...(request.content_type === undefined ? {} : { content_type: request.content_type }),
    }));
    const now = this.clock.nowMs();
    await this.store.allocateObjects(flowId, allocations, new Date(now).toISOString());
    const expiresAt = Math.floor(now / 1000) + this.presignedUrlTimeoutSec;
    return allocations.map((a) => {
      const signed = target.signPut(a.key, ctx.baseUrl, expiresAt, contentType);
      return {
        object_id: a.id,
        put_url: { url: signed.url, 'content-type': contentType, ...(signed.headers ? { headers: signed.headers } : {}) },
        presigned: true,
      };
    });
  }

  /** The backend a storage request allocates on: the one named, else the default (400 when there is none). */
  private allocationStore(storageId: string | undefined): ObjectStore {
    if (storageId !== undefined) return this.stores.require(storageId);
    const fallback = this.stores.default;
    if (fallback === undefined) {
      throw new TamsError('validation_failed', 'This service has no default storage backend: name one with storage_id (see GET /service/storage-backends)');
    }
    return fallback;
  }

  /**
   * Object ids are global: allocating an id that is taken fails whoever holds it, so that it is
   * taken cannot be hidden. An attempt on an object the request may not see is recorded.
   */
  private async recordHiddenIds(ctx: RequestContext, ids: readonly string[]): Promise<void> {
    if (this.flows.access.unrestricted(ctx.principal) || ctx.concealed === undefined) return;
    for (const object of await this.store.getObjects(ids)) {
      if (object?.registered !== true) continue;
      if ((await this.flows.access.decideOnObject(ctx.principal, 'read', object)) === 'not_found') ctx.concealed(`object:${object.id}`);
    }
  }

  /** The registered object, or not_found (also for allocated-but-unregistered ids). */
  private async registeredObject(id: string): Promise<ObjectRecord> {
    const object = await this.store.getObject(id);
    if (!object || !object.registered) throw new TamsError('not_found', `Object ${id} does not exist`);
    return object;
  }

  /**
   * The registered object the request may act on with `permission` (from the flows that
   * reference it): 404 when unknown, only allocated, or the request has no permission on
   * any of those flows; 403 when some but not enough.
   */
  private async permittedObject(ctx: RequestContext, id: string, permission: Permission): Promise<ObjectRecord> {
    const object = await this.registeredObject(id);
    enforce(await this.flows.access.decideOnObject(ctx.principal, permission, object), `Object ${id}`, permission);
    return object;
  }

  /** Throws as GET /objects/{id} would (404 for unknown or hidden, 403) unless the request may read the object. */
  async checkReadable(ctx: RequestContext, id: string): Promise<void> {
    await this.permittedObject(ctx, id, 'read');
  }

  /**
   * GET /objects/{id}: 404 for unknown and for allocated-but-unregistered ids, and when the
   * request may read none of the flows referencing it. `referenced_by_flows` lists the flows
   * the request may read (possibly none), filtered by the flows' tags (flow_tag.*) and paged
   * by flow id; get_urls only name storage backends it may read.
   */
  async getObject(ctx: RequestContext, id: string, getUrls: GetUrlOptions, query: ObjectQuery): Promise<ObjectPage> {
    const object = await this.permittedObject(ctx, id, 'read');
    const readable = await this.flows.access.readableFlowIds(ctx.principal, flowIdsOf(object));
    let flows = object.referenced_by_flows.filter((flowId) => readable.has(flowId)).sort();
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
    const body = await this.present(ctx, { ...withoutHiddenFirst(object, readable), referenced_by_flows: shown }, getUrls);
    return {
      body,
      limit: query.limit,
      items: shown,
      ...(flows.length > query.limit && last !== undefined ? { next: encodeFlowCursor(last) } : {}),
    };
  }

  /**
   * Many registered objects at once (GraphQL loaders), presented as GET /objects/{id} presents
   * them but with every referencing flow the request may read: undefined for unknown or only
   * allocated ids, and for objects the request may read through no flow. Unrestricted
   * requests cost two store calls whatever the count: the objects, then their init objects.
   */
  async getObjects(ctx: RequestContext, ids: readonly string[], getUrls: GetUrlOptions): Promise<(Record<string, unknown> | undefined)[]> {
    let found = (await this.store.getObjects(ids)).map((o) => (o?.registered ? o : undefined));
    if (!this.flows.access.unrestricted(ctx.principal)) {
      const readable = await this.flows.access.readableFlowIds(ctx.principal, [...new Set(found.flatMap((o) => (o === undefined ? [] : flowIdsOf(o))))]);
      found = found.map((o) => {
        if (o === undefined || !o.referenced_by_flows.some((f) => readable.has(f))) return undefined;
        return { ...withoutHiddenFirst(o, readable), referenced_by_flows: o.referenced_by_flows.filter((f) => readable.has(f)) };
      });
    }
    const initIds = [...new Set(found.flatMap((o) => (o?.init_object_id === undefined ? [] : [o.init_object_id])))];
    const inits = new Map<string, ObjectRecord>();
    if (initIds.length > 0) {
      (await this.store.getObjects(initIds)).forEach((init, i) => {
        if (init !== undefined) inits.set(initIds[i]!, init);
      });
    }
    const urls = this.urlBuilder(ctx, getUrls);
    return found.map((o) => (o === undefined ? undefined : this.presentWith(urls, o, o.init_object_id === undefined ? undefined : inits.get(o.init_object_id))));
  }

  /**
   * POST /objects/{id}/instances. Uncontrolled instances (url + label) are recorded. A
   * controlled one is a copy of the object's bytes onto the backend named (server-side when the
   * backends can, else streamed through the gateway, never whole in memory), recorded once the
   * copy is complete; already there, nothing happens. Access: write on the object (every flow
   * referencing it), write on the backend named and read on the backend copied from.
   */
  async addInstance(ctx: RequestContext, id: string, request: InstanceRequest): Promise<void> {
    const object = await this.permittedObject(ctx, id, 'write');
    if ('storage_id' in request) {
      const target = this.stores.require(request.storage_id);
      this.flows.access.requireBackend(ctx.principal, 'write', target.backend);
      if (object.instances.some((i) => i.storage_id === request.storage_id)) return;
      // One copy per object and backend at a time: a concurrent request waits for it (and is
      // answered as it is) rather than moving the bytes again.
      const key = `${id}\u0000${target.backend.id}`;
      let copying = this.copies.get(key);
      if (copying === undefined) {
        copying = this.copySlots.run(() => this.copyTo(ctx, object, target)).finally(() => this.copies.delete(key));
        this.copies.set(key, copying);
      }
      await copying;
      return;
    }
    if (!isHttpUrl(request.url)) {
      throw new TamsError('validation_failed', 'An object instance url must be an absolute http or https URL');
    }
    if (this.stores.backends.some((b) => b.label === request.label)) {
      throw new TamsError('instance_conflict', `Label ${request.label} is the label of a storage backend`);
    }
    if (object.uncontrolled_urls.some((u) => u.label === request.label)) {
      throw new TamsError('instance_conflict', `Object ${id} already has an instance labelled ${request.label}`);
    }
    await this.store.addObjectInstance(id, { url: request.url, label: request.label });
  }

  /**
   * Copies an object's bytes to `target` from one of its controlled instances the request may
   * read (one on the same kind of store first, so S3 can copy server-side), then records the new
   * instance. Bytes copied for an instance that cannot be recorded (the object went meanwhile)
   * are deleted again.
   */
  private async copyTo(ctx: RequestContext, object: ObjectRecord, target: ObjectStore): Promise<void> {
    const sources = object.instances.flatMap((instance) => {
      const store = this.stores.get(instance.storage_id);
      return store !== undefined && this.flows.access.canUseBackend(ctx.principal, 'read', store.backend) ? [{ store, instance }] : [];
    });
    const source = sources.find((s) => s.store.constructor === target.constructor) ?? sources[0];
    if (source === undefined) {
      throw new TamsError(
        'validation_failed',
        `Object ${object.id} has no controlled instance this request may read to copy from (uncontrolled URLs are not copied)`,
      );
    }
    const copy: ObjectStorageRef = { storage_id: target.backend.id, key: target.keyFor(object.id) };
    await this.stores.copy(source.store, source.instance.key, target, copy.key);
    try {
      await this.store.addObjectInstance(object.id, copy);
    } catch (err) {
      await target.delete(copy.key).catch(() => undefined);
      // A concurrent request made the same copy first: the backend holds the object, as asked.
      if (err instanceof TamsError && err.code === 'instance_conflict') return;
      throw err;
    }
  }

  /**
   * DELETE /objects/{id}/instances?storage_id=|label=. The last instance is never removed.
   * A controlled instance may be named by its backend's label too; its bytes are deleted
   * (queued in the same transaction, so the garbage collector finishes the job when the
   * backend cannot be reached now). Access: write on the object (every flow referencing it),
   * and on the backend of a controlled instance.
   */
  async removeInstance(ctx: RequestContext, id: string, selector: InstanceSelector): Promise<void> {
    const object = await this.permittedObject(ctx, id, 'write');
    const backend = 'storage_id' in selector ? this.stores.get(selector.storage_id)?.backend : this.stores.backends.find((b) => b.label === selector.label);
    const controlled = backend !== undefined && object.instances.some((i) => i.storage_id === backend.id);
    const uncontrolled = 'label' in selector && object.uncontrolled_urls.some((u) => u.label === selector.label);
    if (!controlled && !uncontrolled) {
      const which = 'storage_id' in selector ? `on storage backend ${selector.storage_id}` : `labelled ${selector.label}`;
      throw new TamsError('not_found', `Object ${id} has no instance ${which}`);
    }
    if (controlled) this.flows.access.requireBackend(ctx.principal, 'write', backend);
    if (object.instances.length + object.uncontrolled_urls.length <= 1) {
      throw new TamsError('last_instance', `Cannot delete the last instance of object ${id}; delete the segments that use it instead`);
    }
    const now = this.clock.nowMs();
    const safeAt = Date.parse(object.created) + this.putUrlLifetimeMs;
    const removed = await this.store.removeObjectInstance(id, controlled ? { storage_id: backend.id } : selector, new Date(Math.max(now, safeAt)).toISOString());
    // While a PUT URL may still work the bytes stay queued; the garbage collector deletes them when due.
    if (removed !== undefined && !(safeAt > now)) await this.deleteBytes(removed);
  }

  /** Deletes removed bytes now when the backend answers; left queued for the garbage collector when not. */
  private async deleteBytes(instance: ObjectStorageRef): Promise<void> {
    const store = this.stores.get(instance.storage_id);
    if (store === undefined) return;
    try {
      await store.delete(instance.key);
      await this.store.completeObjectDeletions([instance]);
    } catch {
      // Still queued: the garbage collector retries.
    }
  }

  private urlBuilder(ctx: RequestContext, options: GetUrlOptions): GetUrlBuilder {
    return new GetUrlBuilder(this.stores, options, ctx.baseUrl, Math.floor(this.clock.nowMs() / 1000) + this.presignedUrlTimeoutSec, (backend) =>
      this.flows.access.canUseBackend(ctx.principal, 'read', backend),
    );
  }

  private async present(ctx: RequestContext, o: ObjectRecord, options: GetUrlOptions): Promise<Record<string, unknown>> {
    const init = o.init_object_id === undefined ? undefined : await this.store.getObject(o.init_object_id);
    return this.presentWith(this.urlBuilder(ctx, options), o, init);
  }

  private presentWith(urls: GetUrlBuilder, o: ObjectRecord, init: ObjectRecord | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = { id: o.id, referenced_by_flows: o.referenced_by_flows };
    if (o.first_referenced_by_flow !== undefined) out.first_referenced_by_flow = o.first_referenced_by_flow;
    if (o.timerange !== undefined) out.timerange = o.timerange;
    if (o.key_frame_count !== undefined) out.key_frame_count = o.key_frame_count;
    if (o.init_object_id !== undefined) {
      out.init_object = { id: o.init_object_id, get_urls: urls.build(init?.instances, init?.uncontrolled_urls) };
    }
    out.get_urls = urls.build(o.instances, o.uncontrolled_urls);
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

/** The flows an object names: those referencing it and the first that did. */
function flowIdsOf(object: ObjectRecord): string[] {
  const first = object.first_referenced_by_flow;
  return first === undefined || object.referenced_by_flows.includes(first) ? object.referenced_by_flows : [...object.referenced_by_flows, first];
}

/** The object without first_referenced_by_flow when the request may not read that flow (it names a flow id). */
function withoutHiddenFirst(object: ObjectRecord, readable: ReadonlySet<string>): ObjectRecord {
  if (object.first_referenced_by_flow === undefined || readable.has(object.first_referenced_by_flow)) return object;
  const copy = { ...object };
  delete copy.first_referenced_by_flow;
  return copy;
}
