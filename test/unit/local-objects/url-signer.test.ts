import { createCipheriv, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { UrlSigner } from '../../../src/adapters/local-objects/url-signer';

const secret = Buffer.alloc(32, 7);
const key = '3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab';

describe('UrlSigner', () => {
  it('rejects short secrets and bad options', () => {
    expect(() => new UrlSigner({ secret: Buffer.alloc(31) })).toThrow(/32 bytes/);
    expect(() => new UrlSigner({ secret, expiryBucketSec: 0 })).toThrow();
    expect(() => new UrlSigner({ secret, expiryBucketSec: 1.5 })).toThrow();
  });

  it('tags are AES-128 of the key uuid under a key derived by HMAC-SHA256 from method and expiry', () => {
    const signer = new UrlSigner({ secret });
    const { exp, sig } = signer.sign('GET', key, 1_700_000_040);
    const derived = createHmac('sha256', secret).update(`tams-media-url\nGET\n${exp}`).digest().subarray(0, 16);
    const cipher = createCipheriv('aes-128-ecb', derived, null).setAutoPadding(false);
    const expected = cipher.update(Buffer.from(key.slice(6).replace(/-/g, ''), 'hex')).toString('base64url');
    expect(sig).toBe(expected);
    expect(sig).toMatch(/^[A-Za-z0-9_-]{22}$/);
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
          const q = new UrlSigner({ secret, expiryBucketSec: bucket }).quantiseExpiry(t);
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
      ['standard-base64 character', `${sig.slice(0, 21)}+`],
      ['truncated', sig.slice(0, 21)],
      ['too long', `${sig}A`],
      ['non-ascii', `${sig.slice(0, 21)}é`],
      ['hex of the digest', Buffer.from(sig, 'base64url').toString('hex')],
    ])('rejects a malformed signature (%s)', (_label, bad) => {
      expect(signer.verify('GET', key, exp, bad, 0)).toBe(false);
    });

    it('rejects another spelling of the same digest bytes (base64url last-character malleability)', () => {
      const last = sig.charCodeAt(21);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const idx = alphabet.indexOf(String.fromCharCode(last));
      const twin = sig.slice(0, 21) + alphabet[idx ^ 1];
      expect(Buffer.from(twin, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
      expect(signer.verify('GET', key, exp, twin, 0)).toBe(false);
    });

    it.each([Number.NaN, -60, 1.5, 2 ** 60])('rejects the non-integer or unsafe expiry %p', (badExp) => {
      expect(signer.verify('GET', key, badExp, sig, 0)).toBe(false);
    });

    it('verifies signatures from a fresh signer with the same secret (another replica)', () => {
      const replica = new UrlSigner({ secret: Buffer.from(secret) });
      expect(replica.verify('GET', key, exp, sig, 0)).toBe(true);
    });

    it('is unaffected by the caller later changing its secret buffer', () => {
      const mutable = Buffer.alloc(32, 9);
      const s = new UrlSigner({ secret: mutable });
      const signed = s.sign('GET', key, 600);
      mutable.fill(0);
      expect(s.verify('GET', key, signed.exp, signed.sig, 0)).toBe(true);
    });
  });

  describe('batches', () => {
    const keys = fc.array(fc.uuid({ version: 4 }).map((u) => `${u.slice(0, 2)}/${u.slice(2, 4)}/${u}`), { minLength: 0, maxLength: 40 });

    it('signMany equals signing each key alone, for any keys and expiry', () => {
      const signer = new UrlSigner({ secret });
      const replica = new UrlSigner({ secret: Buffer.from(secret) });
      fc.assert(
        fc.property(fc.constantFrom<'GET' | 'PUT'>('GET', 'PUT'), keys, fc.integer({ min: 0, max: 1e10 }), (m, ks, t) => {
          const batch = signer.signMany(m, ks, t);
          return ks.every((k, i) => {
            const one = replica.sign(m, k, t);
            // A PUT URL is valid strictly before its expiry second.
            return one.exp === batch.exp && one.sig === batch.sigs[i] && replica.verify(m, k, batch.exp, batch.sigs[i], m === 'PUT' ? batch.exp - 1 : 0);
          });
        }),
      );
    });

    it('different keys, methods or expiries never share a tag', () => {
      const signer = new UrlSigner({ secret, expiryBucketSec: 1 });
      fc.assert(
        fc.property(keys, (ks) => {
          const unique = [...new Set(ks)];
          const tags = new Set([
            ...signer.signMany('GET', unique, 600).sigs,
            ...signer.signMany('PUT', unique, 600).sigs,
            ...signer.signMany('GET', unique, 601).sigs,
          ]);
          return tags.size === unique.length * 3;
        }),
      );
    });
  });
});
