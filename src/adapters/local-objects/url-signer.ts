import { Cipher, createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';

export type SignedMethod = 'GET' | 'PUT';

export interface UrlSignerOptions {
  /** Master secret; at least 32 bytes. */
  secret: Buffer;
  /** Expiries are rounded up to a multiple of this many seconds. Default 60. */
  expiryBucketSec?: number;
}

export interface UrlSignature {
  /** The expiry actually signed: the requested one rounded up to the bucket. */
  exp: number;
  /** base64url tag over method, expiry and key. */
  sig: string;
}

/** 16 bytes as unpadded base64url. */
const SIGNATURE_RE = /^[A-Za-z0-9_-]{21}[AQgw]$/;
/** `ab/cd/<uuid>`: the caller (LocalObjectStore) guarantees keys have this shape. */
const KEY_LENGTH = 42;
/** Derived ciphers kept for reuse: one per (method, quantised expiry) in use. */
const MAX_CIPHERS = 64;

/**
 * Signs and verifies (method, key, expiry) for URLs the gateway serves itself.
 *
 * A segments page hands out dozens of GET URLs and is requested thousands of times a second,
 * and its windows are spread over the whole flow, so a cache of signatures rarely hits. The
 * tag is therefore AES-128 of the object's 16-byte uuid under a key derived (HMAC-SHA256 of
 * the secret) from method and quantised expiry. A block cipher is a pseudo-random function on
 * single-block inputs, which makes this a MAC for them; unlike one HMAC per URL (about 5 µs
 * each here, almost all call overhead), a whole page is one cipher call (about 1.5 µs per
 * URL), and the derived cipher is shared by every URL with the same expiry.
 */
export class UrlSigner {
  private readonly secret: Buffer;
  private readonly bucketSec: number;
  private readonly ciphers = new Map<string, Cipher>();

  constructor(options: UrlSignerOptions) {
    if (options.secret.length < 32) throw new Error('UrlSigner: the secret must be at least 32 bytes');
    const bucket = options.expiryBucketSec ?? 60;
    if (!Number.isInteger(bucket) || bucket < 1) throw new Error('UrlSigner: expiryBucketSec must be a positive integer');
    // A private copy, so a caller zeroing or reusing its buffer cannot change our key.
    this.secret = Buffer.from(options.secret);
    this.bucketSec = bucket;
  }

  /** Rounds up, never down: a URL must live at least as long as the caller asked. */
  quantiseExpiry(expiresAtSec: number): number {
    if (!Number.isFinite(expiresAtSec)) throw new RangeError(`UrlSigner: invalid expiry ${expiresAtSec}`);
    return Math.ceil(Math.ceil(expiresAtSec) / this.bucketSec) * this.bucketSec;
  }

  sign(method: SignedMethod, key: string, expiresAtSec: number): UrlSignature {
    const { exp, sigs } = this.signMany(method, [key], expiresAtSec);
    return { exp, sig: sigs[0] as string };
  }

  /** Signs many keys with one expiry in a single cipher call. */
  signMany(method: SignedMethod, keys: readonly string[], expiresAtSec: number): { exp: number; sigs: string[] } {
    // PUT URLs are few and must not outlive what they were asked for (the garbage collector
    // deletes an object's bytes once every PUT URL for it has expired): exact to the second,
    // valid strictly before it. GET URLs are rounded up to share ciphers across a page's requests.
    const exp = method === 'PUT' ? Math.ceil(expiresAtSec) : this.quantiseExpiry(expiresAtSec);
    if (!Number.isFinite(exp)) throw new RangeError(`UrlSigner: invalid expiry ${expiresAtSec}`);
    if (keys.length === 0) return { exp, sigs: [] };
    const cipher = this.cipherFor(method, exp, true);
    // One hex decode for the whole page: a Buffer write per uuid part cost more than the cipher.
    let hex = '';
    for (const key of keys) hex += keyBlockHex(key);
    const blocks = Buffer.from(hex, 'hex');
    // Hex decoding stops at the first non-hex digit: a short buffer means a key of another shape.
    if (blocks.length !== keys.length * 16) throw new RangeError('UrlSigner: a key is not ab/cd/<uuid>');
    const tags = cipher.update(blocks);
    const sigs = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) sigs[i] = tags.toString('base64url', i * 16, i * 16 + 16);
    return { exp, sigs };
  }

  /**
   * True when `sig` signs exactly (method, key, exp) and `exp` has not passed. The comparison
   * is constant-time. Verification never adds to the cipher cache: its inputs come from the
   * network.
   */
  verify(method: SignedMethod, key: string, exp: number, sig: string, nowSec: number): boolean {
    if (!Number.isSafeInteger(exp) || exp < 0 || nowSec > exp || (method === 'PUT' && nowSec >= exp)) return false;
    if (key.length !== KEY_LENGTH || !SIGNATURE_RE.test(sig)) return false;
    const block = Buffer.from(keyBlockHex(key), 'hex');
    if (block.length !== 16) return false;
    const expected = this.cipherFor(method, exp, false).update(block).toString('base64url');
    return timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(sig, 'latin1'));
  }

  private cipherFor(method: SignedMethod, exp: number, remember: boolean): Cipher {
    const id = `${method}\n${exp}`;
    const known = this.ciphers.get(id);
    if (known) return known;
    const derived = createHmac('sha256', this.secret).update(`tams-media-url\n${id}`).digest().subarray(0, 16);
    // ECB with no padding: each 16-byte block is enciphered alone, so the object can be reused
    // for any number of update() calls without final().
    const cipher = createCipheriv('aes-128-ecb', derived, null);
    cipher.setAutoPadding(false);
    if (remember) {
      if (this.ciphers.size >= MAX_CIPHERS) this.ciphers.clear();
      this.ciphers.set(id, cipher);
    }
    return cipher;
  }
}

/** The uuid of `ab/cd/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` as 32 hex digits (16 bytes). */
function keyBlockHex(key: string): string {
  return key.slice(6, 14) + key.slice(15, 19) + key.slice(20, 24) + key.slice(25, 29) + key.slice(30, 42);
}
