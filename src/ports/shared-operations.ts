/**
 * Operations registered by automatic persisted queries, shared by every replica (REDIS_URL): a
 * client that registered an operation on one replica can send just its hash to another.
 * Implementations fail soft: while the shared store is away `get` finds nothing and `set`
 * keeps nothing (each replica still has its own cache), and neither throws.
 */
export interface SharedOperations {
  /** The operation text registered under this SHA-256 hex, if any. */
  get(hash: string): Promise<string | undefined>;
  set(hash: string, text: string): Promise<void>;
}
