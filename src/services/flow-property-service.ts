import type { CollectionItem, Flow, Source, TagValue, Tags } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { MetadataStore } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';

/** Flow properties with their own endpoint that hold a single string or number. */
export type FlowScalarProperty = 'label' | 'description' | 'max_bit_rate' | 'avg_bit_rate';
export type SourceScalarProperty = 'label' | 'description';

/**
 * The individually addressable properties of flows and sources (ADR 0025): read one, set
 * one, unset one. Every write is one store read-modify-write, so the read-only check, the
 * change and its `flows/updated` / `sources/updated` event commit together.
 */
export class FlowPropertyService {
  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
  ) {}

  private now(): string {
    return new Date(this.clock.nowMs()).toISOString();
  }

  private async flow(id: string): Promise<Flow> {
    const flow = await this.store.getFlow(id);
    if (!flow) throw new TamsError('not_found', `Flow ${id} does not exist`);
    return flow;
  }

  private async source(id: string): Promise<Source> {
    const source = await this.store.getSource(id);
    if (!source) throw new TamsError('not_found', `Source ${id} does not exist`);
    return source;
  }

  /**
   * Applies `change` to the stored flow. A read-only flow refuses every change except to
   * read_only itself (`allowReadOnly`).
   */
  private async updateFlow(id: string, change: (flow: Flow) => Flow, allowReadOnly = false): Promise<Flow> {
    const updated = await this.store.updateFlow(
      id,
      (flow) => {
        if (flow.read_only === true && !allowReadOnly) throw new TamsError('read_only', `Flow ${id} is read-only`);
        return change(flow);
      },
      this.now(),
    );
    if (!updated) throw new TamsError('not_found', `Flow ${id} does not exist`);
    return updated;
  }

  private async updateSource(id: string, change: (source: Source) => Source): Promise<Source> {
    const updated = await this.store.updateSource(id, change, this.now());
    if (!updated) throw new TamsError('not_found', `Source ${id} does not exist`);
    return updated;
  }

  /** Fails like a write would (unknown flow 404, read-only 403) for a write that changes nothing. */
  private async checkWritable(id: string): Promise<Flow> {
    const flow = await this.flow(id);
    if (flow.read_only === true) throw new TamsError('read_only', `Flow ${id} is read-only`);
    return flow;
  }

  async getFlowTags(id: string): Promise<Tags> {
    return (await this.flow(id)).tags ?? {};
  }

  async getFlowTag(id: string, name: string): Promise<TagValue> {
    const value = (await this.flow(id)).tags?.[name];
    if (value === undefined) throw new TamsError('not_found', `Flow ${id} has no tag ${JSON.stringify(name)}`);
    return value;
  }

  async putFlowTag(id: string, name: string, value: TagValue): Promise<void> {
    await this.updateFlow(id, (flow) => ({ ...flow, tags: { ...flow.tags, [name]: value } }));
  }

  /** Removing a tag the flow does not have is a 404, as reading it is. */
  async deleteFlowTag(id: string, name: string): Promise<void> {
    await this.updateFlow(id, (flow) => {
      if (flow.tags?.[name] === undefined) throw new TamsError('not_found', `Flow ${id} has no tag ${JSON.stringify(name)}`);
      const tags = { ...flow.tags };
      delete tags[name];
      return { ...flow, tags };
    });
  }

  /** An unset label, description or bit rate is a 404: there is no value to return. */
  async getFlowProperty(id: string, property: FlowScalarProperty): Promise<string | number> {
    const value = (await this.flow(id))[property];
    if (value === undefined) throw new TamsError('not_found', `Flow ${id} has no ${property}`);
    return value;
  }

  async putFlowProperty(id: string, property: FlowScalarProperty, value: string | number): Promise<void> {
    await this.updateFlow(id, (flow) => {
      if (property === 'avg_bit_rate') refuseProfileLinked(flow, 'update');
      return { ...flow, [property]: value };
    });
  }

  /** Unsetting a property that is not set changes nothing and writes no event. */
  async deleteFlowProperty(id: string, property: FlowScalarProperty): Promise<void> {
    const current = await this.checkWritable(id);
    if (current[property] === undefined) return;
    await this.updateFlow(id, (flow) => {
      if (property === 'avg_bit_rate') refuseProfileLinked(flow, 'delete');
      const next = { ...flow };
      delete next[property];
      return next;
    });
  }

  async getReadOnly(id: string): Promise<boolean> {
    return (await this.flow(id)).read_only ?? false;
  }

  /** The one write a read-only flow accepts. */
  async putReadOnly(id: string, readOnly: boolean): Promise<void> {
    await this.updateFlow(id, (flow) => ({ ...flow, read_only: readOnly }), true);
  }

  async getFlowCollection(id: string): Promise<CollectionItem[]> {
    return (await this.flow(id)).flow_collection ?? [];
  }

  /**
   * Replaces the ordered collection. Members must be other flows of this store, each once;
   * the store keeps their `collected_by` in step.
   */
  async putFlowCollection(id: string, items: CollectionItem[]): Promise<void> {
    await this.checkWritable(id);
    const seen = new Set<string>();
    for (const item of items) {
      if (item.id === id) throw new TamsError('validation_failed', `Flow ${id} cannot collect itself`);
      if (seen.has(item.id)) throw new TamsError('validation_failed', `Flow ${item.id} appears more than once in the collection`);
      seen.add(item.id);
    }
    const members = await Promise.all(items.map((item) => this.store.getFlow(item.id)));
    const missing = items.find((_, i) => members[i] === undefined);
    if (missing) throw new TamsError('validation_failed', `Collection member flow ${missing.id} does not exist`);
    await this.updateFlow(id, (flow) => ({ ...flow, flow_collection: items }));
  }

  async deleteFlowCollection(id: string): Promise<void> {
    const current = await this.checkWritable(id);
    if (current.flow_collection === undefined) return;
    await this.updateFlow(id, (flow) => {
      const next = { ...flow };
      delete next.flow_collection;
      return next;
    });
  }

  async getSourceTags(id: string): Promise<Tags> {
    return (await this.source(id)).tags ?? {};
  }

  async getSourceTag(id: string, name: string): Promise<TagValue> {
    const value = (await this.source(id)).tags?.[name];
    if (value === undefined) throw new TamsError('not_found', `Source ${id} has no tag ${JSON.stringify(name)}`);
    return value;
  }

  async putSourceTag(id: string, name: string, value: TagValue): Promise<void> {
    await this.updateSource(id, (source) => ({ ...source, tags: { ...source.tags, [name]: value } }));
  }

  async deleteSourceTag(id: string, name: string): Promise<void> {
    await this.updateSource(id, (source) => {
      if (source.tags?.[name] === undefined) throw new TamsError('not_found', `Source ${id} has no tag ${JSON.stringify(name)}`);
      const tags = { ...source.tags };
      delete tags[name];
      return { ...source, tags };
    });
  }

  async getSourceProperty(id: string, property: SourceScalarProperty): Promise<string> {
    const value = (await this.source(id))[property];
    if (value === undefined) throw new TamsError('not_found', `Source ${id} has no ${property}`);
    return value;
  }

  async putSourceProperty(id: string, property: SourceScalarProperty, value: string): Promise<void> {
    await this.updateSource(id, (source) => ({ ...source, [property]: value }));
  }

  async deleteSourceProperty(id: string, property: SourceScalarProperty): Promise<void> {
    const current = await this.source(id);
    if (current[property] === undefined) return;
    await this.updateSource(id, (source) => {
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
