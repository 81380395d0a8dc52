/**
 * S3ObjectStore against a real S3-protocol server (s3rver, in process on 127.0.0.1, a fresh
 * directory and bucket per run): bytes PUT and GET through presigned URLs with plain fetch,
 * ranges, HeadObject, DeleteObject, HeadBucket readiness.
 *
 * What s3rver cannot check: it accepts any SigV4 signature (V4 verification is unimplemented;
 * it only looks the access key up), so every presigned URL handed out here is re-signed with
 * `@smithy/signature-v4` (what the AWS SDK signs with) from the URL's own X-Amz-Date and
 * X-Amz-Expires and compared (a control case shows that check does fail on a wrong signature).
 * It does not enforce X-Amz-Expires, does not verify a client's Content-MD5 (the test shows
 * such a PUT is accepted and stored intact, not that a wrong digest is refused), and has no
 * conditional writes (If-None-Match on PUT), so none of those is tested here: real S3/MinIO
 * behaviour in those respects needs a test against such a server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { S3ObjectStore, MAX_PRESIGN_SEC } from '../../src/adapters/s3/s3-object-store';
import type { S3Credentials } from '../../src/adapters/s3/sigv4-presigner';
import { localBackend } from '../fixtures/local-backend';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';
// Through the checked fetch as every test request goes (S3 paths are no TAMS operation, so nothing is checked on them).
import { checkedFetch } from '../support/checked-fetch';

const backend = localBackend({ label: 's3', provider: 's3rver', store_product: 's3rver', region: 'us-east-1' });
const REGION = 'us-east-1';

let server: S3TestServer;
let store: S3ObjectStore;

function storeFor(endpoint: string, extra: { requestTimeoutMs?: number; maxAttempts?: number; keyPrefix?: string; credentials?: S3Credentials } = {}): S3ObjectStore {
  return new S3ObjectStore({
    backend,
    endpoint,
    bucket: server.bucket,
    region: REGION,
    pathStyle: true,
    credentials: extra.credentials ?? { ...S3RVER_CREDENTIALS },
    ...(extra.keyPrefix === undefined ? {} : { keyPrefix: extra.keyPrefix }),
    ...(extra.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: extra.requestTimeoutMs }),
    ...(extra.maxAttempts === undefined ? {} : { maxAttempts: extra.maxAttempts }),
  });
}

beforeAll(async () => {
  server = await startS3Server();
  store = storeFor(server.endpoint, { keyPrefix: 'tams/media' });
});

afterAll(async () => {
  store?.close();
  await server?.stop();
});

const nowSec = (): number => Math.floor(Date.now() / 1000);

/** `20261206T205912Z` -> Date */
function parseAmzDate(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) throw new Error(`bad X-Amz-Date ${value}`);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

/**
 * Re-signs a presigned URL with @smithy/signature-v4 from its own date and expiry and the given
 * credentials, and checks the signature, the signed headers and that no checksum parameter rides along.
 */
async function expectValidPresign(urlText: string, method: 'GET' | 'PUT', credentials: S3Credentials = S3RVER_CREDENTIALS): Promise<void> {
  const url = new URL(urlText);
  const params = url.searchParams;
  expect([...params.keys()].filter((k) => /checksum|content-md5/i.test(k))).toEqual([]);
  expect(params.get('X-Amz-SignedHeaders')).toBe('host');
  const signingDate = parseAmzDate(params.get('X-Amz-Date') ?? '');
  const expiresIn = Number(params.get('X-Amz-Expires'));
  expect(Number.isInteger(expiresIn) && expiresIn >= 1 && expiresIn <= MAX_PRESIGN_SEC).toBe(true);
  const signer = new SignatureV4({ credentials, region: REGION, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false });
  const signed = await signer.presign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query: {},
      headers: { host: url.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn, signingDate },
  );
  const query = signed.query as Record<string, string>;
  expect(params.get('X-Amz-Signature')).toBe(query['X-Amz-Signature']);
  expect(params.get('X-Amz-Credential')).toBe(query['X-Amz-Credential']);
}

describe('S3ObjectStore against s3rver', () => {
  it('mints fresh keys spread over two hex levels under the prefix, never from the object id', () => {
    const keys = new Set(Array.from({ length: 200 }, () => store.keyFor('../../etc/passwd?x=1')));
    expect(keys.size).toBe(200);
    for (const key of keys) {
      expect(key).toMatch(/^tams\/media\/([0-9a-f]{2})\/([0-9a-f]{2})\/\1\2[0-9a-f]{4}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(key).not.toContain('passwd');
    }
    expect(new Set([...keys].map((k) => k.split('/')[2])).size).toBeGreaterThan(50);
    expect(store.getUrlsArePlainAfterBase).toBe(false);
  });

  it('PUTs 1 MB of random bytes and a small text by presigned URL, reads them back whole and by range', async () => {
    for (const [body, contentType] of [
      [randomBytes(1024 * 1024), 'video/mp2t'],
      [Buffer.from('hello, time-addressable media\n'), 'text/plain'],
    ] as const) {
      const key = store.keyFor('obj');
      const put = store.signPut(key, 'http://gateway.invalid', nowSec() + 600, contentType);
      expect(put.method).toBe('PUT');
      expect(put.headers).toEqual({ 'content-type': contentType });
      expect(put.url.startsWith(`${server.endpoint}/${server.bucket}/${key}?`)).toBe(true);
      await expectValidPresign(put.url, 'PUT');
      expect(await store.exists(key)).toBe(false);

      const putRes = await checkedFetch(put.url, { method: 'PUT', headers: put.headers, body });
      expect(putRes.status).toBe(200);
      await putRes.arrayBuffer();
      expect(await store.exists(key)).toBe(true);

      const getUrl = store.signGet(key, 'http://gateway.invalid', nowSec() + 600);
      await expectValidPresign(getUrl, 'GET');
      const got = await checkedFetch(getUrl);
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe(contentType);
      expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);

      const ranged = await checkedFetch(getUrl, { headers: { Range: 'bytes=10-19' } });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('content-range')).toBe(`bytes 10-19/${body.length}`);
      expect(Buffer.from(await ranged.arrayBuffer()).equals(body.subarray(10, 20))).toBe(true);
    }
  });

  it('signs no Content-Type: a PUT URL given none returns no headers and takes any upload', async () => {
    const key = store.keyFor('obj');
    const put = store.signPut(key, '', nowSec() + 60);
    expect(put.headers).toBeUndefined();
    await expectValidPresign(put.url, 'PUT');
    const res = await checkedFetch(put.url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('abc') });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await store.exists(key)).toBe(true);
  });

  it("accepts a PUT carrying the client's own Content-MD5", async () => {
    const key = store.keyFor('obj');
    const body = randomBytes(4096);
    const put = store.signPut(key, '', nowSec() + 60, 'application/octet-stream');
    const res = await checkedFetch(put.url, {
      method: 'PUT',
      headers: { ...put.headers, 'content-md5': createHash('md5').update(body).digest('base64') },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    await res.arrayBuffer();
    const got = await checkedFetch(store.signGet(key, '', nowSec() + 60));
    expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);
  });

  it('signs a page of GET URLs, one per key in order, each valid', async () => {
    const keys = Array.from({ length: 5 }, () => store.keyFor('obj'));
    for (const [i, key] of keys.entries()) {
      const res = await checkedFetch(store.signPut(key, '', nowSec() + 60).url, { method: 'PUT', body: `object ${i}` });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const urls = store.signGets(keys, 'http://gateway.invalid', nowSec() + 300);
    expect(urls).toHaveLength(keys.length);
    for (const [i, url] of urls.entries()) {
      expect(new URL(url).pathname).toBe(`/${server.bucket}/${keys[i]}`);
      await expectValidPresign(url, 'GET');
      const res = await checkedFetch(url);
      expect(await res.text()).toBe(`object ${i}`);
    }
    expect(store.signGets([], '', nowSec() + 300)).toEqual([]);
  });

  it('deletes: exists() turns false and the GET URL answers 404; deleting again succeeds', async () => {
    const key = store.keyFor('obj');
    const res = await checkedFetch(store.signPut(key, '', nowSec() + 60).url, { method: 'PUT', body: 'bye' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await store.exists(key)).toBe(true);
    await store.delete(key);
    expect(await store.exists(key)).toBe(false);
    const got = await checkedFetch(store.signGet(key, '', nowSec() + 60));
    expect(got.status).toBe(404);
    await got.arrayBuffer();
    await expect(store.delete(key)).resolves.toBeUndefined();
  });

  it('lets errors other than 404 propagate from exists()', async () => {
    // An access key s3rver does not know: 403 InvalidAccessKeyId, not "absent".
    const stranger = storeFor(server.endpoint, { credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'x' }, maxAttempts: 1 });
    try {
      await expect(stranger.exists(store.keyFor('obj'))).rejects.toThrow();
    } finally {
      stranger.close();
    }
  });

  it('the re-signing check fails on a tampered signature or other credentials (control)', async () => {
    const url = store.signGet(store.keyFor('obj'), '', nowSec() + 60);
    await expectValidPresign(url, 'GET');
    const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
    await expect(expectValidPresign(tampered, 'GET')).rejects.toThrow();
    await expect(expectValidPresign(url, 'PUT')).rejects.toThrow();
    await expect(expectValidPresign(url, 'GET', { accessKeyId: 'S3RVER', secretAccessKey: 'other' })).rejects.toThrow();
  });

  it('presigns with session tokens, and the signatures still check out', async () => {
    const credentials = { ...S3RVER_CREDENTIALS, sessionToken: 'IQoJb3JpZ2luX2VjE/tok+en==' };
    const withToken = storeFor(server.endpoint, { credentials });
    try {
      const url = withToken.signGet(withToken.keyFor('obj'), '', nowSec() + 60);
      expect(new URL(url).searchParams.get('X-Amz-Security-Token')).toBe(credentials.sessionToken);
      await expectValidPresign(url, 'GET', credentials);
    } finally {
      withToken.close();
    }
  });

  it('refuses expiries SigV4 cannot sign, with a clear error', () => {
    const key = store.keyFor('obj');
    expect(() => store.signGet(key, '', nowSec() - 1)).toThrow(/not after now/);
    expect(() => store.signPut(key, '', nowSec() + MAX_PRESIGN_SEC + 10)).toThrow(/at most 604800 s/);
    expect(() => store.signGets([key], '', Number.NaN)).toThrow(/not a number/);
    const url = new URL(store.signGet(key, '', nowSec() + MAX_PRESIGN_SEC));
    expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(MAX_PRESIGN_SEC);
  });

  it('refuses a key prefix that is not plain segments', () => {
    expect(() => storeFor(server.endpoint, { keyPrefix: 'a/../b' })).toThrow(/keyPrefix/);
    expect(() => storeFor(server.endpoint, { keyPrefix: 'a b' })).toThrow(/keyPrefix/);
  });

  it('ping() is true while the bucket answers', async () => {
    expect(await store.ping()).toBe(true);
  });

  it('ping() is false, within the timeout, for a missing bucket, a wrong port and a stopped server', async () => {
    const missing = new S3ObjectStore({
      backend, endpoint: server.endpoint, bucket: 'no-such-bucket', region: REGION, pathStyle: true, credentials: { ...S3RVER_CREDENTIALS },
    });
    try {
      expect(await missing.ping()).toBe(false);
    } finally {
      missing.close();
    }

    // A port that was just free: connection refused.
    const other = await startS3Server('scratch');
    const freePort = other.port;
    await other.stop();
    const wrongPort = storeFor(`http://127.0.0.1:${freePort}`, { requestTimeoutMs: 1000 });
    try {
      const started = Date.now();
      expect(await wrongPort.ping()).toBe(false);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      wrongPort.close();
    }

    // A store that was talking to a server that then stopped (its kept-alive socket goes too).
    const stopping = await startS3Server('stopping');
    const own = new S3ObjectStore({
      backend, endpoint: stopping.endpoint, bucket: stopping.bucket, region: REGION, pathStyle: true, credentials: { ...S3RVER_CREDENTIALS }, requestTimeoutMs: 1000,
    });
    try {
      expect(await own.ping()).toBe(true);
      await stopping.stop();
      const started = Date.now();
      expect(await own.ping()).toBe(false);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      own.close();
      await stopping.stop();
    }
  });

  it('ping() gives up at the timeout on a server that accepts but never answers', async () => {
    const { createServer } = await import('node:net');
    const sockets = new Set<import('node:net').Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const hung = storeFor(`http://127.0.0.1:${port}`, { requestTimeoutMs: 300 });
    try {
      const started = Date.now();
      expect(await hung.ping()).toBe(false);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(1000);
    } finally {
      hung.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
