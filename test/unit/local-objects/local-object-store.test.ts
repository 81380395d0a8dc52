import path from 'node:path';
import { LocalObjectStore, parseByteRange } from '../../../src/adapters/local-objects/local-object-store';
import { TamsError } from '../../../src/domain/errors';
import { isPlainJsonText } from '../../../src/domain/json-text';
import { localBackend } from '../../fixtures/local-backend';

const backend = localBackend();
const rootDir = path.resolve('/srv/tams-media');
const secret = Buffer.alloc(32, 1);
const make = (extra: Partial<ConstructorParameters<typeof LocalObjectStore>[0]> = {}): LocalObjectStore =>
  new LocalObjectStore({ rootDir, secret, backend, maxObjectBytes: 1024, ...extra });

function urlParts(url: string): { pathname: string; exp: string; sig: string } {
  const u = new URL(url);
  return { pathname: u.pathname, exp: u.searchParams.get('exp') ?? '', sig: u.searchParams.get('sig') ?? '' };
}

describe('LocalObjectStore (no I/O)', () => {
  it('rejects bad options', () => {
    expect(() => make({ mediaPath: 'media' })).toThrow(/mediaPath/);
    expect(() => make({ mediaPath: '/media/' })).toThrow(/mediaPath/);
    expect(() => make({ mediaPath: '/me dia' })).toThrow(/mediaPath/);
    expect(() => make({ maxObjectBytes: -1 })).toThrow(/maxObjectBytes/);
    expect(() => make({ secret: Buffer.alloc(8) })).toThrow(/32 bytes/);
  });

  it('exposes backend, mediaPath and limits for the routes', () => {
    const store = make();
    expect(store.backend).toBe(backend);
    expect(store.mediaPath).toBe('/media');
    expect(store.maxObjectBytes).toBe(1024);
    expect(make({ mediaPath: '/objects/v1' }).mediaPath).toBe('/objects/v1');
  });

  describe('keyFor', () => {
    it.each(['obj-1', '../../etc/passwd', '/abs/path', 'a/../../b', 'é/ü/漢字', '%2e%2e%2f', 'nul\0byte', ''])(
      'mints a safe, fresh key whatever the object id (%j)',
      (objectId) => {
        const store = make();
        const a = store.keyFor(objectId);
        const b = store.keyFor(objectId);
        expect(a).not.toBe(b);
        expect(a).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/);
        expect(store.resolveKey(a).startsWith(rootDir + path.sep)).toBe(true);
      },
    );
  });

  describe('resolveKey', () => {
    it('maps a key to a file inside the root', () => {
      const store = make();
      const key = store.keyFor('x');
      expect(store.resolveKey(key)).toBe(path.join(rootDir, ...key.split('/')));
    });

    it.each([
      '../../../etc/passwd',
      '/etc/passwd',
      '3f/a2/../../../etc/passwd',
      '..%2f..%2fetc%2fpasswd',
      '%2e%2e/%2e%2e/etc/passwd',
      '3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab\0',
      '3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab/..',
      '3f/a2/.3fa2c0de-1234-4abc-8def-0123456789ab.x.tmp',
      '',
    ])('rejects %j with not_found', (key) => {
      const store = make();
      expect(() => store.resolveKey(key)).toThrow(TamsError);
      try {
        store.resolveKey(key);
      } catch (err) {
        expect((err as TamsError).code).toBe('not_found');
      }
    });
  });

  describe('signed URLs', () => {
    it('builds <base><mediaPath>/<key>?exp=&sig= with exp rounded up to the minute', () => {
      const store = make();
      const key = store.keyFor('x');
      const url = store.signGet(key, 'https://tams.example.com/base', 1_700_000_001);
      expect(url).toMatch(new RegExp(`^https://tams\\.example\\.com/base/media/${key}\\?exp=1700000040&sig=[A-Za-z0-9_-]{22}$`));
    });

    it('tolerates a trailing slash on the base URL', () => {
      const store = make();
      const key = store.keyFor('x');
      expect(store.signGet(key, 'http://localhost:8000/', 60)).toBe(store.signGet(key, 'http://localhost:8000', 60));
    });

    it('signPut returns method PUT and the Content-Type header to send', () => {
      const store = make();
      const key = store.keyFor('x');
      const put = store.signPut(key, 'http://h', 600, 'video/mp2t');
      expect(put.method).toBe('PUT');
      expect(put.headers).toEqual({ 'Content-Type': 'video/mp2t' });
      expect(put.url.startsWith(`http://h/media/${key}?exp=600&sig=`)).toBe(true);
      expect(store.signPut(key, 'http://h', 600).headers).toBeUndefined();
    });

    it('refuses to sign a key it did not mint', () => {
      expect(() => make().signGet('../x', 'http://h', 60)).toThrow(TamsError);
    });

    it('signGets signs a page like signGet, key by key', () => {
      const store = make();
      const keys = [store.keyFor('a'), store.keyFor('b'), store.keyFor('c')];
      expect(store.signGets(keys, 'http://h/', 600)).toEqual(keys.map((key) => store.signGet(key, 'http://h', 600)));
    });

    it('keeps its promise that GET URLs are plain JSON text after the base URL (getUrlsArePlainAfterBase)', () => {
      for (const mediaPath of ['/media', '/a.b_c~d-e/f9']) {
        const store = make({ mediaPath });
        expect(store.getUrlsArePlainAfterBase).toBe(true);
        const keys = Array.from({ length: 200 }, (_, i) => store.keyFor(`object-${i}`));
        const base = 'https://tams.example:8443/api';
        const urls = [...store.signGets(keys, base, 1_900_000_000), store.signGet(keys[0] as string, base, 60)];
        for (const url of urls) {
          expect(url.startsWith(base)).toBe(true);
          expect(isPlainJsonText(url.slice(base.length))).toBe(true);
          expect(`"${url}"`).toBe(JSON.stringify(url));
        }
      }
    });

    it.each([
      ['../../../etc/passwd', 'a path'],
      ['3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab/', 'a trailing slash'],
      ['3f/a2/3fa2c0de_1234-4abc-8def-0123456789ab', 'a separator out of place'],
      ['00/00/3fa2c0de-1234-4abc-8def-0123456789ab', 'directories not matching the uuid'],
      ['3f/a2/3fa2c0de-1234-4abc-8def-0123456789a?', 'a query character among the uuid digits'],
      ['3f/a2/3fa2c0de-12#4-4abc-8def-0123456789ab', 'a fragment character among the uuid digits'],
      ['3f/a2/3fa2c0de-1234-4abc-8def-01234567 9ab', 'a space among the uuid digits'],
    ])('signGets refuses a page holding %j (%s): no such URL is made', (bad) => {
      const store = make();
      expect(() => store.signGets([store.keyFor('a'), bad], 'http://h', 600)).toThrow();
    });

    it('verify accepts the raw query values of its own URLs', () => {
      const store = make();
      const key = store.keyFor('x');
      const get = urlParts(store.signGet(key, 'http://h', 600));
      const put = urlParts(store.signPut(key, 'http://h', 600).url);
      expect(store.verify('GET', key, get.exp, get.sig, 599)).toBe(true);
      expect(store.verify('HEAD', key, get.exp, get.sig, 599)).toBe(true);
      expect(store.verify('GET', key, Number(get.exp), get.sig, 599)).toBe(true);
      expect(store.verify('PUT', key, put.exp, put.sig, 599)).toBe(true);
    });

    it('signs PUT URLs to the second asked for, valid strictly before it (the collector relies on their end)', () => {
      const store = make();
      const key = store.keyFor('x');
      const put = urlParts(store.signPut(key, 'http://h', 601).url);
      const get = urlParts(store.signGet(key, 'http://h', 601));
      expect(put.exp).toBe('601');
      expect(store.verify('PUT', key, put.exp, put.sig, 600)).toBe(true);
      expect(store.verify('PUT', key, put.exp, put.sig, 601)).toBe(false);
      // GET URLs are rounded up to the minute and valid through their second.
      expect(get.exp).toBe('660');
      expect(store.verify('GET', key, get.exp, get.sig, 660)).toBe(true);
    });

    it('verify rejects wrong method, expiry, key, or malformed query values', () => {
      const store = make();
      const key = store.keyFor('x');
      const get = urlParts(store.signGet(key, 'http://h', 600));
      expect(store.verify('PUT', key, get.exp, get.sig, 0)).toBe(false);
      expect(store.verify('DELETE', key, get.exp, get.sig, 0)).toBe(false);
      expect(store.verify('POST', key, get.exp, get.sig, 0)).toBe(false);
      expect(store.verify('GET', key, get.exp, get.sig, 601)).toBe(false);
      expect(store.verify('GET', store.keyFor('x'), get.exp, get.sig, 0)).toBe(false);
      expect(store.verify('GET', `${key}/..`, get.exp, get.sig, 0)).toBe(false);
      for (const exp of [undefined, '', '600.0', '+600', '0600x', ' 600', [get.exp, get.exp], '9'.repeat(20), {}]) {
        expect(store.verify('GET', key, exp, get.sig, 0)).toBe(false);
      }
      for (const sig of [undefined, '', [get.sig], 42]) {
        expect(store.verify('GET', key, get.exp, sig, 0)).toBe(false);
      }
    });

    it('a URL from a store with another secret does not verify', () => {
      const key = make().keyFor('x');
      const other = urlParts(make({ secret: Buffer.alloc(32, 2) }).signGet(key, 'http://h', 600));
      expect(make().verify('GET', key, other.exp, other.sig, 0)).toBe(false);
    });
  });

  it('re-exports parseByteRange for the media routes', () => {
    expect(parseByteRange('bytes=0-1', 10)).toEqual({ start: 0, end: 1 });
  });
});
