import type { StorageBackend } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { ObjectStore } from '../ports/object-store';

/**
 * The deployment's storage backends, keyed by storage_id: the embedded local directory, S3
 * buckets, or both. At most one is the default (where a storage request without
 * `storage_id` allocates).
 */
export class ObjectStores {
  private readonly byId = new Map<string, ObjectStore>();
  readonly all: readonly ObjectStore[];
  readonly backends: readonly StorageBackend[];
  /** Undefined when no backend is marked default_storage. */
  readonly default: ObjectStore | undefined;

  constructor(stores: readonly ObjectStore[]) {
    if (stores.length === 0) throw new Error('ObjectStores: at least one storage backend is needed');
    for (const store of stores) {
      if (this.byId.has(store.backend.id)) throw new Error(`ObjectStores: storage backend ${store.backend.id} is listed twice`);
      this.byId.set(store.backend.id, store);
    }
    const defaults = stores.filter((s) => s.backend.default_storage);
    if (defaults.length > 1) throw new Error(`ObjectStores: ${defaults.length} storage backends are marked default_storage; at most one may be`);
    this.all = [...stores];
    this.backends = stores.map((s) => s.backend);
    this.default = defaults[0];
  }

  get(storageId: string): ObjectStore | undefined {
    return this.byId.get(storageId);
  }

  /** The store named, or `validation_failed` naming the unknown id. */
  require(storageId: string): ObjectStore {
    const store = this.byId.get(storageId);
    if (store === undefined) throw new TamsError('validation_failed', `Unknown storage backend ${storageId}`);
    return store;
  }

  /** Copies an object between (or within) stores: server-side when the pair can, else streamed. */
  async copy(source: ObjectStore, sourceKey: string, target: ObjectStore, targetKey: string): Promise<void> {
    if (target.copyWithin !== undefined && (await target.copyWithin(source, sourceKey, targetKey))) return;
    await target.write(targetKey, await source.read(sourceKey));
  }

  /** Every store reachable (readiness). */
  async ping(): Promise<boolean> {
    const results = await Promise.all(this.all.map((s) => s.ping().catch(() => false)));
    return results.every(Boolean);
  }

  close(): void {
    for (const store of this.all) store.close?.();
  }
}
