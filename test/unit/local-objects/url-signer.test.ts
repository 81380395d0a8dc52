import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { UrlSigner } from '../../../src/adapters/local-objects/url-signer';

const secret = Buffer.alloc(32, 7);
const key = '3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab';

describe('UrlSigner', () => {
  it('rejects short secrets and bad options', () => {
    expect(() => new UrlSigner({ secret: Buffer.alloc(31) })).toThrow(/32 bytes/);
    expect(() => new UrlSigner({ secret, expiryBucketSec: 0 })).toThrow();
    expect(() => new UrlSigner({ secret, expiryBucketSec: 1.5 })).toThrow();
    expect(() => new UrlSigner({ secret, cacheSize: -1 })).toThrow();
  });

  it('signs HMAC-SHA256 over method, expiry and key, base64url', () => {
    const signer = new UrlSigner({ secret });
    const { exp, sig } = signer.sign('GET', key, 1_700_000_040);
    const expected = createHmac('sha256', secret).update(`GET\n${exp}\n${key}`).digest('base64url');
    expect(sig).toBe(expected);
    expect(sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  describe('expiry quantisation', () => {
    it('rounds up to the bucket, never down', () => {
      const signer = new UrlSigner({ secret, expiryBucketSec: 60 });
      expect(signer.quantiseExpiry(120)).toBe(120);
      expect(signer.quantiseExpiry(121)).toBe(180);
      expect(signer.quantiseExpiry(179.2)).toBe(180);
      expect(signer.quantiseExpiry(180.5)).toBe(240);
      expect(() => signer.quantiseExpiry(Number.NaN)).toThrow(RangeError);
      expect(() => signer.quantiseExpiry(Infinity)).toThrow(RangeError);
    });

    it('is >= the requested expiry, < requested + bucket, and a bucket multiple', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 3600 }), fc.integer({ min: 0, max: 2 ** 40 }), (bucket, t) => {
          const q = new UrlSigner({ secret, expiryBucketSec: bucket, cacheSize: 0 }).quantiseExpiry(t);
          return q >= t && q < t + bucket && q % bucket === 0;
        }),
      );
    });

    it('requests within one bucket share one signature', () => {
      const signer = new UrlSigner({ secret });
      const a = signer.sign('GET', key, 1_000_001);
      const b = signer.sign('GET', key, 1_000_019);
      expect(a).toEqual(b);
      expect(a.exp).toBe(1_000_020);
    });
  });

  describe('verify', () => {
    const signer = new UrlSigner({ secret });
    const { exp, sig } = signer.sign('GET', key, 2_000_000_000);

    it('accepts a genuine signature until (and at) its expiry', () => {
      expect(signer.verify('GET', key, exp, sig, 1_999_999_000)).toBe(true);
      expect(signer.verify('GET', key, exp, sig, exp)).toBe(true);
    });

    it('rejects after expiry', () => {
      expect(signer.verify('GET', key, exp, sig, exp + 1)).toBe(false);
    });

    it('a GET signature does not authorise a PUT, nor the reverse', () => {
      expect(signer.verify('PUT', key, exp, sig, 0)).toBe(false);
      const put = signer.sign('PUT', key, 2_000_000_000);
      expect(put.sig).not.toBe(sig);
      expect(signer.verify('GET', key, put.exp, put.sig, 0)).toBe(false);
      expect(signer.verify('PUT', key, put.exp, put.sig, 0)).toBe(true);
    });

    it('rejects another key, a later expiry, or a different secret', () => {
      expect(signer.verify('GET', key.replace(/b$/, 'c'), exp, sig, 0)).toBe(false);
      expect(signer.verify('GET', key, exp + 60, sig, 0)).toBe(false);
      const other = new UrlSigner({ secret: Buffer.alloc(32, 8) });
      expect(other.verify('GET', key, exp, sig, 0)).toBe(false);
    });

    it.each([
      ['empty', ''],
      ['padded', `${sig}=`],
      ['standard-base64 character', `${sig.slice(0, 42)}+`],
      ['truncated', sig.slice(0, 42)],
      ['too long', `${sig}A`],
      ['non-ascii', `${sig.slice(0, 42)}é`],
      ['hex of the digest', Buffer.from(sig, 'base64url').toString('hex')],
    ])('rejects a malformed signature (%s)', (_label, bad) => {
      expect(signer.verify('GET', key, exp, bad, 0)).toBe(false);
    });

    it('rejects another spelling of the same digest bytes (base64url last-character malleability)', () => {
      const last = sig.charCodeAt(42);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const idx = alphabet.indexOf(String.fromCharCode(last));
      const twin = sig.slice(0, 42) + alphabet[idx ^ 1];
      expect(Buffer.from(twin, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
      expect(signer.verify('GET', key, exp, twin, 0)).toBe(false);
    });

    it.each([Number.NaN, -60, 1.5, 2 ** 60])('rejects the non-integer or unsafe expiry %p', (badExp) => {
      expect(signer.verify('GET', key, badExp, sig, 0)).toBe(false);
    });

    it('verifies signatures from a fresh signer with the same secret (another replica)', () => {
      const replica = new UrlSigner({ secret: Buffer.from(secret) });
      expect(replica.verify('GET', key, exp, sig, 0)).toBe(true);
      expect(replica.cachedCount).toBe(0);
    });

    it('is unaffected by the caller later changing its secret buffer', () => {
      const mutable = Buffer.alloc(32, 9);
      const s = new UrlSigner({ secret: mutable });
      const signed = s.sign('GET', key, 600);
      mutable.fill(0);
      expect(s.verify('GET', key, signed.exp, signed.sig, 0)).toBe(true);
    });
  });

  describe('signature cache', () => {
    it('serves repeats from the cache, never filling it from verify', () => {
      const signer = new UrlSigner({ secret, cacheSize: 10 });
      const first = signer.sign('GET', key, 600);
      expect(signer.cachedCount).toBe(1);
      expect(signer.sign('GET', key, 590)).toEqual(first);
      expect(signer.cachedCount).toBe(1);
      signer.verify('GET', key, 6000, first.sig, 0);
      signer.verify('PUT', key, 600, first.sig, 0);
      expect(signer.cachedCount).toBe(1);
    });

    it('is bounded and evicts the least recently used entry', () => {
      const signer = new UrlSigner({ secret, cacheSize: 3, expiryBucketSec: 1 });
      const sign = (exp: number): string => signer.sign('GET', key, exp).sig;
      const s1 = sign(1);
      sign(2);
      sign(3);
      sign(1); // touch 1: now 2 is the oldest
      sign(4); // evicts 2
      expect(signer.cachedCount).toBe(3);
      // Signatures stay correct whether or not they were evicted.
      expect(sign(1)).toBe(s1);
      expect(signer.verify('GET', key, 2, sign(2), 0)).toBe(true);
      expect(signer.cachedCount).toBe(3);
    });

    it('works with the cache disabled', () => {
      const signer = new UrlSigner({ secret, cacheSize: 0 });
      const a = signer.sign('PUT', key, 100);
      expect(signer.cachedCount).toBe(0);
      expect(signer.verify('PUT', key, a.exp, a.sig, 0)).toBe(true);
    });

    it('cached and uncached signatures agree for any inputs', () => {
      const cached = new UrlSigner({ secret, cacheSize: 5 });
      const uncached = new UrlSigner({ secret, cacheSize: 0 });
      fc.assert(
        fc.property(fc.constantFrom<'GET' | 'PUT'>('GET', 'PUT'), fc.string(), fc.integer({ min: 0, max: 1e10 }), (m, k, t) => {
          const a = cached.sign(m, k, t);
          const b = uncached.sign(m, k, t);
          return a.sig === b.sig && a.exp === b.exp && cached.cachedCount <= 5;
        }),
      );
    });

    it('fields cannot be shifted into one another (key last, no newline elsewhere)', () => {
      const signer = new UrlSigner({ secret, cacheSize: 0, expiryBucketSec: 1 });
      expect(signer.sign('GET', '1\nx', 60).sig).not.toBe(signer.sign('GET', 'x', 601).sig);
    });
  });
});
