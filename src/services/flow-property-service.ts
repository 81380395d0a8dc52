import type { CollectionItem, Flow, Source, TagValue, Tags } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { MetadataStore } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { Principal } from '../domain/principal';
import type { RequestContext } from './request-context';
import { AUTH_CLASSES_TAG, authClassesOf, requireAuthClassChange } from './access-policy';
import type { ResourceAccess } from './resource-access';
import { attributeChange } from './attribution';

/** Flow properties with their own endpoint that hold a single string or number. */
export type FlowScalarProperty = 'label' | 'description' | 'max_bit_rate' | 'avg_bit_rate';
export type SourceScalarProperty = 'label' | 'description';

/**
 * The individually addressable properties of flows and sources (ADR 0025): read one, set
 * one, unset one. Every write is one store read-modify-write, so the read-only check, the
 * change and its `flows/updated` / `sources/updated` event commit together.
 *
 * Access (AppNote 0016): reads need read permission on the flow or source, every write
 * (PUT and DELETE alike) needs write; a change to the `auth_classes` tag also needs a grant
 * on each class added or removed, checked inside the read-modify-write against the stored
 * value.
 */
export class FlowPropertyService {
  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
    private readonly access: ResourceAccess,
  ) {}

  private now(): string {
    return new Date(this.clock.nowMs()).toISOString();
  }

  private async flow(ctx: RequestContext, id: string): Promise<Flow> {
    return this.access.flow(ctx.principal, id, 'read');
  }

  private async source(ctx: RequestContext, id: string): Promise<Source> {
    return this.access.source(ctx.principal, id, 'read');
  }

  /**
   * Applies `change` to the stored flow, once the request may write it. A read-only flow
   * refuses every change except to read_only itself (`allowReadOnly`).
   */
  private async updateFlow(ctx: RequestContext, id: string, change: (flow: Flow) => Flow, allowReadOnly = false): Promise<Flow> {
    // Unrestricted requests skip the read: the store's own answer says whether the flow exists.
    if (!this.access.unrestricted(ctx.principal)) await this.access.flow(ctx.principal, id, 'write');
    const updated = await this.store.updateFlow(
      id,
      (flow) => {
        if (flow.read_only === true && !allowReadOnly) throw new TamsError('read_only', `Flow ${id} is read-only`);
        const next = attributeChange(ctx.principal, change(flow));
        guardAuthClasses(ctx.principal, flow.tags, next.tags, `flow ${id}`);
        return next;
      },
      this.now(),
    );
    if (!updated) throw new TamsError('not_found', `Flow ${id} does not exist`);
    return updated;
  }

  private async updateSource(ctx: RequestContext, id: string, change: (source: Source) => Source): Promise<Source> {
    if (!this.access.unrestricted(ctx.principal)) await this.access.source(ctx.principal, id, 'write');
    const updated = await this.store.updateSource(
      id,
      (source) => {
        const next = attributeChange(ctx.principal, change(source));
        guardAuthClasses(ctx.principal, source.tags, next.tags, `source ${id}`);
        return next;
      },
      this.now(),
    );
    if (!updated) throw new TamsError('not_found', `Source ${id} does not exist`);
    return updated;
  }

  /** Fails like a write would (unknown flow 404, not permitted 404/403, read-only 403) for a write that changes nothing. */
  private async checkWritable(ctx: RequestContext, id: string): Promise<Flow> {
    const flow = await this.access.flow(ctx.principal, id, 'write');
    if (flow.read_only === true) throw new TamsError('read_only', `Flow ${id} is read-only`);
    return flow;
  }

  async getFlowTags(ctx: RequestContext, id: string): Promise<Tags> {
    return (await this.flow(ctx, id)).tags ?? {};
  }

  async getFlowTag(ctx: RequestContext, id: string, name: string): Promise<TagValue> {
    const value = (await this.flow(ctx, id)).tags?.[name];
    if (value === undefined) throw new TamsError('not_found', `Flow ${id} has no tag ${JSON.stringify(name)}`);
    return value;
  }

  async putFlowTag(ctx: RequestContext, id: string, name: string, value: TagValue): Promise<void> {
    await this.updateFlow(ctx, id, (flow) => ({ ...flow, tags: { ...flow.tags, [name]: value } }));
  }

  /** Removing a tag the flow does not have is a 404, as reading it is. */
  async deleteFlowTag(ctx: RequestContext, id: string, name: string): Promise<void> {
    await this.updateFlow(ctx, id, (flow) => {
      if (flow.tags?.[name] === undefined) throw new TamsError('not_found', `Flow ${id} has no tag ${JSON.stringify(name)}`);
      const tags = { ...flow.tags };
      delete tags[name];
      return { ...flow, tags };
    });
  }

  /** An unset label, description or bit rate is a 404: there is no value to return. */
  async getFlowProperty(ctx: RequestContext, id: string, property: FlowScalarProperty): Promise<string | number> {
    const value = (await this.flow(ctx, id))[property];
    if (value === undefined) throw new TamsError('not_found', `Flow ${id} has no ${property}`);
    return value;
  }

  async putFlowProperty(ctx: RequestContext, id: string, property: FlowScalarProperty, value: string | number): Promise<void> {
    await this.updateFlow(ctx, id, (flow) => {
      if (property === 'avg_bit_rate') refuseProfileLinked(flow, 'update');
      return { ...flow, [property]: value };
    });
  }

  /** Unsetting a property that is not set changes nothing and writes no event. */
  async deleteFlowProperty(ctx: RequestContext, id: string, property: FlowScalarProperty): Promise<void> {
    const current = await this.checkWritable(ctx, id);
    if (current[property] === undefined) return;
    await this.updateFlow(ctx, id, (flow) => {
      if (property === 'avg_bit_rate') refuseProfileLinked(flow, 'delete');
      const next = { ...flow };
      delete next[property];
      return next;
    });
  }

  async getReadOnly(ctx: RequestContext, id: string): Promise<boolean> {
    return (await this.flow(ctx, id)).read_only ?? false;
  }

  /** The one write a read-only flow accepts. */
  async putReadOnly(ctx: RequestContext, id: string, readOnly: boolean): Promise<void> {
    await this.updateFlow(ctx, id, (flow) => ({ ...flow, read_only: readOnly }), true);
  }

  async getFlowCollection(ctx: RequestContext, id: string): Promise<CollectionItem[]> {
    return (await this.flow(ctx, id)).flow_collection ?? [];
  }

  /**
   * Replaces the ordered collection. Members must be other flows of this store, each once;
   * the store keeps their `collected_by` in step.
   */
  async putFlowCollection(ctx: RequestContext, id: string, items: CollectionItem[]): Promise<void> {
    await this.checkWritable(ctx, id);
    await this.checkCollectionMembers(ctx, id, items);
    await this.updateFlow(ctx, id, (flow) => ({ ...flow, flow_collection: items }));
  }

  /**
   * The checks on the members of a collection flow `id` is given, wherever it is given (this
   * endpoint, a whole-flow PUT): other flows of this store, each once, that the request may
   * read. A member it cannot see at all is as good as missing (its `collected_by` is not
   * changed, nor is its existence told); one it sees but may not read is a 403.
   */
  async checkCollectionMembers(ctx: RequestContext, id: string, items: readonly CollectionItem[]): Promise<void> {
    const seen = new Set<string>();
    for (const item of items) {
      if (item.id === id) throw new TamsError('validation_failed', `Flow ${id} cannot collect itself`);
      if (seen.has(item.id)) throw new TamsError('validation_failed', `Flow ${item.id} appears more than once in the collection`);
      seen.add(item.id);
    }
    const members = await Promise.all(items.map((item) => this.store.getFlow(item.id)));
    const decisions = await this.access.decideOnFlows(ctx.principal, 'read', members.filter((m): m is Flow => m !== undefined));
    const decisionOf = new Map(members.filter((m): m is Flow => m !== undefined).map((m, i) => [m.id, decisions[i]]));
    const missing = items.find((item, i) => members[i] === undefined || decisionOf.get(item.id) === 'not_found');
    if (missing) throw new TamsError('validation_failed', `Collection member flow ${missing.id} does not exist`);
    const unreadable = items.find((item) => decisionOf.get(item.id) === 'forbidden');
    if (unreadable) throw new TamsError('forbidden', `This request has no read permission on collection member flow ${unreadable.id}`);
  }

  async deleteFlowCollection(ctx: RequestContext, id: string): Promise<void> {
    const current = await this.checkWritable(ctx, id);
    if (current.flow_collection === undefined) return;
    await this.updateFlow(ctx, id, (flow) => {
      const next = { ...flow };
      delete next.flow_collection;
      return next;
    });
  }

  async getSourceTags(ctx: RequestContext, id: string): Promise<Tags> {
    return (await this.source(ctx, id)).tags ?? {};
  }

  async getSourceTag(ctx: RequestContext, id: string, name: string): Promise<TagValue> {
    const value = (await this.source(ctx, id)).tags?.[name];
    if (value === undefined) throw new TamsError('not_found', `Source ${id} has no tag ${JSON.stringify(name)}`);
    return value;
  }

  async putSourceTag(ctx: RequestContext, id: string, name: string, value: TagValue): Promise<void> {
    await this.updateSource(ctx, id, (source) => ({ ...source, tags: { ...source.tags, [name]: value } }));
  }

  async deleteSourceTag(ctx: RequestContext, id: string, name: string): Promise<void> {
    await this.updateSource(ctx, id, (source) => {
      if (source.tags?.[name] === undefined) throw new TamsError('not_found', `Source ${id} has no tag ${JSON.stringify(name)}`);
      const tags = { ...source.tags };
      delete tags[name];
      return { ...source, tags };
    });
  }

  async getSourceProperty(ctx: RequestContext, id: string, property: SourceScalarProperty): Promise<string> {
    const value = (await this.source(ctx, id))[property];
    if (value === undefined) throw new TamsError('not_found', `Source ${id} has no ${property}`);
    return value;
  }

  async putSourceProperty(ctx: RequestContext, id: string, property: SourceScalarProperty, value: string): Promise<void> {
    await this.updateSource(ctx, id, (source) => ({ ...source, [property]: value }));
  }

  async deleteSourceProperty(ctx: RequestContext, id: string, property: SourceScalarProperty): Promise<void> {
    const current = await this.access.source(ctx.principal, id, 'write');
    if (current[property] === undefined) return;
    await this.updateSource(ctx, id, (source) => {
      const next = { ...source };
      delete next[property];
      return next;
    });
  }
}

/**
 * A profile-linked flow inherits avg_bit_rate from its profile (AppNote 0020): changing it
 * would break the link, so the client must unlink first (flow PUT with `profile_id: ""`).
 * An update is a bad request (400, as the YAML says); removal answers 403, the only refusal
 * the DELETE operation lists.
 */
function refuseProfileLinked(flow: Flow, action: 'update' | 'delete'): void {
  if (flow.profile_id === undefined) return;
  const why = `avg_bit_rate of flow ${flow.id} comes from profile ${flow.profile_id}; unlink the profile (flow PUT with profile_id "") first`;
  throw new TamsError(action === 'update' ? 'validation_failed' : 'forbidden', `Cannot ${action} ${why}`);
}

/**
 * The escalation guard of AppNote 0016 for a tag write: when the change touches the
 * `auth_classes` tag, the request needs a grant on every class added or removed.
 */
function guardAuthClasses(principal: Principal, before: Tags | undefined, after: Tags | undefined, what: string): void {
  if (before?.[AUTH_CLASSES_TAG] === after?.[AUTH_CLASSES_TAG]) return;
  requireAuthClassChange(principal, authClassesOf(before), authClassesOf(after), what);
}
