import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignedMethod = 'GET' | 'PUT';

export interface UrlSignerOptions {
  /** HMAC-SHA256 key; at least 32 bytes. */
  secret: Buffer;
  /** Expiries are rounded up to a multiple of this many seconds. Default 60. */
  expiryBucketSec?: number;
  /** Most signatures kept in the LRU cache. Default 100,000. */
  cacheSize?: number;
}

export interface UrlSignature {
  /** The expiry actually signed: the requested one rounded up to the bucket. */
  exp: number;
  /** base64url HMAC-SHA256 over method, expiry and key. */
  sig: string;
}

const SIGNATURE_RE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Signs and verifies (method, key, expiry) for URLs the gateway serves itself.
 *
 * A segments page hands out dozens of GET URLs and is requested thousands of times a second,
 * so expiries are quantised (many requests then share one expiry) and signatures are cached
 * in a bounded LRU: a repeated page costs map lookups instead of HMACs.
 */
export class UrlSigner {
  private readonly secret: Buffer;
  private readonly bucketSec: number;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, string>();

  constructor(options: UrlSignerOptions) {
    if (options.secret.length < 32) throw new Error('UrlSigner: the secret must be at least 32 bytes');
    const bucket = options.expiryBucketSec ?? 60;
    const size = options.cacheSize ?? 100_000;
    if (!Number.isInteger(bucket) || bucket < 1) throw new Error('UrlSigner: expiryBucketSec must be a positive integer');
    if (!Number.isInteger(size) || size < 0) throw new Error('UrlSigner: cacheSize must be a non-negative integer');
    // A private copy, so a caller zeroing or reusing its buffer cannot change our key.
    this.secret = Buffer.from(options.secret);
    this.bucketSec = bucket;
    this.cacheSize = size;
  }

  /** Rounds up, never down: a URL must live at least as long as the caller asked. */
  quantiseExpiry(expiresAtSec: number): number {
    if (!Number.isFinite(expiresAtSec)) throw new RangeError(`UrlSigner: invalid expiry ${expiresAtSec}`);
    return Math.ceil(Math.ceil(expiresAtSec) / this.bucketSec) * this.bucketSec;
  }

  sign(method: SignedMethod, key: string, expiresAtSec: number): UrlSignature {
    const exp = this.quantiseExpiry(expiresAtSec);
    const message = signedMessage(method, key, exp);
    const cached = this.cache.get(message);
    if (cached !== undefined) {
      // Re-insert to mark as most recently used (a Map iterates in insertion order).
      this.cache.delete(message);
      this.cache.set(message, cached);
      return { exp, sig: cached };
    }
    const sig = this.hmac(message);
    if (this.cacheSize > 0) {
      if (this.cache.size >= this.cacheSize) {
        const oldest = this.cache.keys().next();
        if (oldest.done !== true) this.cache.delete(oldest.value);
      }
      this.cache.set(message, sig);
    }
    return { exp, sig };
  }

  /**
   * True when `sig` signs exactly (method, key, exp) and `exp` has not passed. The comparison
   * is constant-time. Verification never fills the cache: its inputs come from the network.
   */
  verify(method: SignedMethod, key: string, exp: number, sig: string, nowSec: number): boolean {
    if (!Number.isSafeInteger(exp) || exp < 0 || nowSec > exp) return false;
    if (!SIGNATURE_RE.test(sig)) return false;
    const message = signedMessage(method, key, exp);
    const expected = this.cache.get(message) ?? this.hmac(message);
    // Compare the texts, not decoded bytes: base64url has several spellings of the last byte.
    return timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(sig, 'latin1'));
  }

  /** Number of cached signatures (for tests and metrics). */
  get cachedCount(): number {
    return this.cache.size;
  }

  private hmac(message: string): string {
    return createHmac('sha256', this.secret).update(message, 'utf8').digest('base64url');
  }
}

/** Method and expiry have no newline, so putting the free-form key last keeps fields unambiguous. */
function signedMessage(method: SignedMethod, key: string, exp: number): string {
  return `${method}\n${exp}\n${key}`;
}
