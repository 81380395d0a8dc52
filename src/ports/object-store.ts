import type { StorageBackend } from '../domain/entities';

export interface SignedRequest {
  url: string;
  /** HTTP method the URL is valid for. */
  method: 'PUT' | 'GET';
  /** Headers the client must send (e.g. Content-Type), if any. */
  headers?: Record<string, string>;
}

/**
 * Where media bytes live. The gateway hands out signed URLs; bytes never pass through the
 * services. `baseUrl` is the gateway's public base (for stores served by the gateway itself;
 * an S3 store ignores it).
 */
export interface ObjectStore {
  readonly backend: StorageBackend;
  /** A fresh, unique storage key for a new object id. */
  keyFor(objectId: string): string;
  /** A URL a client can PUT the object's bytes to until `expiresAtSec` (unix seconds). */
  signPut(key: string, baseUrl: string, expiresAtSec: number, contentType?: string): SignedRequest;
  /** A URL a client can GET the object's bytes from until `expiresAtSec` (unix seconds). */
  signGet(key: string, baseUrl: string, expiresAtSec: number): string;
  /** GET URLs for many keys at once (one per key, same order): a page of segments. */
  signGets(keys: readonly string[], baseUrl: string, expiresAtSec: number): string[];
  /**
   * True when every GET URL it signs is `baseUrl` followed only by printable ASCII other than
   * `"` and `\`, so it needs JSON escaping only where `baseUrl` does (checked once per page
   * instead of once per URL).
   */
  readonly getUrlsArePlainAfterBase?: boolean;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** True when the store is reachable (readiness). */
  ping(): Promise<boolean>;
}
