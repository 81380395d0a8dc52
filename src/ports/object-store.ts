import type { Readable } from 'node:stream';
import type { StorageBackend } from '../domain/entities';

export interface SignedRequest {
  url: string;
  /** HTTP method the URL is valid for. */
  method: 'PUT' | 'GET';
  /** Headers the client must send (e.g. Content-Type), if any. */
  headers?: Record<string, string>;
}

/** An object's bytes as one store hands them to another (copies between backends). */
export interface ObjectBytes {
  /** The whole object; the receiver consumes or destroys it. */
  body: Readable;
  /** Its length in bytes. */
  size: number;
  contentType?: string;
}

/**
 * Where media bytes live. The gateway hands out signed URLs; bytes never pass through the
 * services. `baseUrl` is the gateway's public base (for stores served by the gateway itself;
 * an S3 store ignores it).
 *
 * Failures of the store itself are TamsErrors: `not_found` (no such bucket or object),
 * `forbidden` (access denied), `unavailable` (endpoint down, throttled, timed out), so a caller
 * answers with a clear status and other backends keep serving.
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
   * An unsigned GET URL for the key, when the backend is configured to expose them (a public
   * bucket, or credentials clients hold out of band); absent when it is not.
   */
  plainGet?(key: string): string;
  /**
   * True when every GET URL it signs is `baseUrl` followed only by printable ASCII other than
   * `"` and `\`, so it needs JSON escaping only where `baseUrl` does (checked once per page
   * instead of once per URL).
   */
  readonly getUrlsArePlainAfterBase?: boolean;
  /** True when every GET URL it signs is printable ASCII other than `"` and `\`, whatever the base URL (JSON as it is). */
  readonly getUrlsArePlain?: boolean;
  exists(key: string): Promise<boolean>;
  /** Deleting a key that holds nothing succeeds. */
  delete(key: string): Promise<void>;
  /** The whole object as a stream (`not_found` when the key holds nothing). */
  read(key: string): Promise<ObjectBytes>;
  /**
   * Stores `bytes` under a key this store minted, write-once: `media_exists` when the key
   * already holds bytes. Never holds the whole object in memory.
   */
  write(key: string, bytes: ObjectBytes): Promise<void>;
  /**
   * Copies `sourceKey` of `source` to `key` of this store without the bytes passing through
   * the gateway (S3 CopyObject on the same endpoint). False, having done nothing, when this
   * pair of stores cannot do that: the caller then streams `read` into `write`.
   */
  copyWithin?(source: ObjectStore, sourceKey: string, key: string): Promise<boolean>;
  /** True when the store is reachable (readiness). */
  ping(): Promise<boolean>;
  /** Releases connections (shutdown). */
  close?(): void;
}
