import type { Flow, ObjectRecord, Source, StorageBackend } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { Principal } from '../domain/principal';
import type { MetadataStore } from '../ports/metadata-store';
import {
  AccessPolicy,
  Decision,
  Permission,
  ResourceClasses,
  authClassesOf,
  enforce,
  flowClasses,
  isAdmin,
} from './access-policy';

/**
 * The access policy applied to stored resources: looks up what a decision needs (a flow's
 * source, an object's flows) and answers 404 / 403 as the policy says. Admin requests (and
 * TAMS_AUTH=off, whose development principal is admin) skip every lookup, so they cost
 * nothing and behave exactly as before authorization existed.
 */
export class ResourceAccess {
  constructor(
    private readonly store: MetadataStore,
    readonly policy: AccessPolicy,
  ) {}

  /** Admin sees and may do everything: callers skip filtering for it. */
  unrestricted(principal: Principal): boolean {
    return isAdmin(principal);
  }

  /** The flow's classes: its own, else its source's (one store read when it has none). */
  async classesOfFlow(flow: Flow): Promise<ResourceClasses> {
    const own = authClassesOf(flow.tags);
    if (own !== undefined) return own;
    return flowClasses(flow, await this.store.getSource(flow.source_id));
  }

  /** classesOfFlow for many flows, with one store call for the sources they inherit from. */
  async classesOfFlows(flows: readonly Flow[]): Promise<ResourceClasses[]> {
    const needSource = [...new Set(flows.filter((f) => authClassesOf(f.tags) === undefined).map((f) => f.source_id))];
    const sources = new Map<string, Source>();
    if (needSource.length > 0) {
      (await this.store.getSources(needSource)).forEach((s, i) => {
        if (s !== undefined) sources.set(needSource[i]!, s);
      });
    }
    return flows.map((f) => flowClasses(f, sources.get(f.source_id)));
  }

  async decideOnFlow(principal: Principal, permission: Permission, flow: Flow): Promise<Decision> {
    if (this.unrestricted(principal)) return 'allow';
    return this.policy.decide(principal, permission, await this.classesOfFlow(flow));
  }

  /** Throws 404 / 403 unless the request has `permission` on the flow. */
  async checkFlow(principal: Principal, permission: Permission, flow: Flow): Promise<void> {
    enforce(await this.decideOnFlow(principal, permission, flow), `Flow ${flow.id}`, permission);
  }

  /** The stored flow when the request has `permission` on it; 404 when unknown or hidden, 403 when not enough. */
  async flow(principal: Principal, id: string, permission: Permission): Promise<Flow> {
    const flow = await this.store.getFlow(id);
    if (!flow) throw new TamsError('not_found', `Flow ${id} does not exist`);
    await this.checkFlow(principal, permission, flow);
    return flow;
  }

  decideOnSource(principal: Principal, permission: Permission, source: Source): Decision {
    if (this.unrestricted(principal)) return 'allow';
    return this.policy.decide(principal, permission, authClassesOf(source.tags));
  }

  checkSource(principal: Principal, permission: Permission, source: Source): void {
    enforce(this.decideOnSource(principal, permission, source), `Source ${source.id}`, permission);
  }

  async source(principal: Principal, id: string, permission: Permission): Promise<Source> {
    const source = await this.store.getSource(id);
    if (!source) throw new TamsError('not_found', `Source ${id} does not exist`);
    this.checkSource(principal, permission, source);
    return source;
  }

  /** Each flow's standing for `permission` (batch: one store call for inherited classes). */
  async decideOnFlows(principal: Principal, permission: Permission, flows: readonly Flow[]): Promise<Decision[]> {
    if (this.unrestricted(principal)) return flows.map(() => 'allow');
    const classes = await this.classesOfFlows(flows);
    return classes.map((c) => this.policy.decide(principal, permission, c));
  }

  /** The flows the request may read, in order. */
  async readableFlows(principal: Principal, flows: Flow[]): Promise<Flow[]> {
    if (this.unrestricted(principal)) return flows;
    const decisions = await this.decideOnFlows(principal, 'read', flows);
    return flows.filter((_, i) => decisions[i] === 'allow');
  }

  readableSources(principal: Principal, sources: Source[]): Source[] {
    if (this.unrestricted(principal)) return sources;
    return sources.filter((s) => this.decideOnSource(principal, 'read', s) === 'allow');
  }

  /** Of these flow ids, those of existing flows the request may read. */
  async readableFlowIds(principal: Principal, ids: readonly string[]): Promise<Set<string>> {
    if (this.unrestricted(principal)) return new Set(ids);
    const flows = (await this.store.getFlows(ids)).filter((f): f is Flow => f !== undefined);
    return new Set((await this.readableFlows(principal, flows)).map((f) => f.id));
  }

  /**
   * The flows an object's permissions come from: those referencing it, or, before any does,
   * the flow it was allocated for.
   */
  private objectFlowIds(object: ObjectRecord): string[] {
    if (object.referenced_by_flows.length > 0) return object.referenced_by_flows;
    return object.allocated_for_flow === null ? [] : [object.allocated_for_flow];
  }

  /** The request's standing on an object, from the flows it belongs to (see decideOnObject). */
  async decideOnObject(principal: Principal, permission: Permission, object: ObjectRecord): Promise<Decision> {
    if (this.unrestricted(principal)) return 'allow';
    const flows = (await this.store.getFlows(this.objectFlowIds(object))).filter((f): f is Flow => f !== undefined);
    return this.policy.decideOnObject(principal, permission, await this.classesOfFlows(flows));
  }

  /** A storage backend's use (get_urls need read, allocating and copying need write). */
  canUseBackend(principal: Principal, permission: Permission, backend: StorageBackend): boolean {
    return this.unrestricted(principal) || this.policy.canUseStorageBackend(principal, permission, backend);
  }

  requireBackend(principal: Principal, permission: Permission, backend: StorageBackend): void {
    if (this.canUseBackend(principal, permission, backend)) return;
    if (this.policy.canSeeStorageBackend(principal, backend)) {
      throw new TamsError('forbidden', `This request has no ${permission} permission on storage backend ${backend.id}`);
    }
    throw new TamsError('validation_failed', `Unknown storage backend ${backend.id}`);
  }
}
