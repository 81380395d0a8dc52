/**
 * The media workflow of a gateway whose storage backends are S3 buckets, over real HTTP end to
 * end: a backends file (temp dir, s3rver account inline) lists two buckets on one s3rver and a
 * third on another beside the embedded local directory; clients allocate, PUT bytes straight to
 * the bucket through the presigned put_url, register segments, list get_urls and GET the bytes
 * back, by REST and GraphQL. Instances across backends are in s3-media-instances.test.ts,
 * garbage collection in s3-media-gc.test.ts, injected failures in s3-media-failures.test.ts.
 *
 * What s3rver (3.7.1) cannot check, found by trying (the tests that show it are marked
 * "s3rver limit"), and how these tests make up for it:
 * - SigV4 signatures: it looks the access key up and accepts any signature, with any secret.
 *   Every presigned URL the gateway hands out is therefore re-signed independently with
 *   @smithy/signature-v4, the backend's own (non-S3RVER) secret and region, and compared
 *   (verifyPresignedUrl in test/support/s3-server.ts); checksum parameters are refused there.
 * - Conditional writes: a PUT with `If-None-Match: *` over an existing key replaces it (so
 *   only the signed header is checked here; write-once refusals are tested against a scripted
 *   server in s3-object-store-failures.test.ts).
 * - Checksums: a wrong Content-MD5 and a wrong x-amz-checksum-sha256 are both stored without
 *   complaint (real S3 answers 400 BadDigest / InvalidRequest), so these tests show that the
 *   client's own digest headers pass the presigned URL (they are not signed), not that S3
 *   would verify them.
 * - Access control: it serves any object to an anonymous GET (no bucket policies), so plain
 *   URLs always work here; what it does enforce is the access key and X-Amz-Expires.
 * - UploadPartCopy (501) and AbortMultipartUpload (405): not implemented, so a multipart
 *   server-side copy falls back to a streamed one and its abandoned upload stays behind
 *   (s3-media-instances.test.ts shows the requests).
 * - Interrupted uploads: it keeps what it received of a PUT whose connection dropped as an
 *   object (S3 stores nothing from a body that ended short), so after a copy broken off
 *   part-way the bucket holds a truncated, unlisted leftover (s3-media-failures.test.ts).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { client, type Client, type Json } from '../support/tams-client';
import {
  bucketObjects,
  createBucket,
  entryFor,
  expectStatus,
  getBytes,
  keyInBucket,
  mediaClient,
  presignedUrlChecker,
  S3RVER_CREDENTIALS,
  second,
  startS3Server,
  upload,
  uploaded,
  verifyPresignedUrl,
  writeBackendsFile,
  type ListedGetUrl as GetUrl,
  type MediaClient,
  type S3BackendUnderTest,
  type S3TestServer,
} from '../support/s3-server';

/** The secrets the backends sign with: s3rver ignores them, the independent check does not. */
const SECRET_A = 'workflow-secret-A-5f0e4c2b9d7a1e3f';
const SECRET_B = 'workflow-secret-B-81c6a0d4e2f7b935';
const PRESIGNED_SEC = 900;
const OBJECT_TIMEOUT_SEC = 1800;
/** The scheduled garbage collection stays a day away: nothing is collected under these tests. */
const GATEWAY_ENV = { TAMS_PRESIGNED_URL_TIMEOUT: `${PRESIGNED_SEC}:0`, TAMS_MIN_OBJECT_TIMEOUT: `${OBJECT_TIMEOUT_SEC}:0`, TAMS_GC_INTERVAL_MS: '86400000' };

interface Backend extends S3BackendUnderTest {
  /** Its backends-file fields besides id, label, region, bucket, endpoint, credentials. */
  entry: Record<string, unknown>;
  /** What /service/storage-backends must show of it, besides id and label. */
  shown: Record<string, unknown>;
}

const MAIN: Backend = {
  id: '5a1d0c3e-7b2f-4e8a-9c61-0d3f5e7a9b01',
  label: 's3-main',
  bucket: 'media-main',
  region: 'eu-west-1',
  secret: SECRET_A,
  conditional: true,
  endpoint: '',
  entry: { store_product: 's3', prefix: 'tams/media', tags: { site: 'london' }, default_storage: true },
  shown: { store_type: 'http_object_store', provider: 's3rver', store_product: 's3', region: 'eu-west-1', default_storage: true, tags: { site: 'london' } },
};
const COPIES: Backend = {
  id: '5a1d0c3e-7b2f-4e8a-9c61-0d3f5e7a9b02',
  label: 's3-copies',
  bucket: 'media-copies',
  region: 'us-east-1',
  secret: SECRET_A,
  conditional: false,
  endpoint: '',
  entry: { provider: 'Ceph Foundation', store_product: 'ceph', availability_zone: 'rack-2', tags: { tier: ['nearline', 'cheap'] }, plain_urls: true },
  shown: {
    store_type: 'http_object_store',
    provider: 'Ceph Foundation',
    store_product: 'ceph',
    region: 'us-east-1',
    availability_zone: 'rack-2',
    default_storage: false,
    tags: { tier: ['nearline', 'cheap'] },
  },
};
const REMOTE: Backend = {
  id: '5a1d0c3e-7b2f-4e8a-9c61-0d3f5e7a9b03',
  label: 's3-remote',
  bucket: 'media-remote',
  region: 'us-west-2',
  secret: SECRET_B,
  conditional: true,
  endpoint: '',
  entry: { provider: 'MinIO', store_product: 'minio' },
  shown: { store_type: 'http_object_store', provider: 'MinIO', store_product: 'minio', region: 'us-west-2', default_storage: false },
};

let s3a: S3TestServer;
let s3b: S3TestServer;
let h: Harness;
let c: Client;
let removeFile: () => Promise<void>;
/** Every REST and GraphQL answer text, to look for credentials in at the end. */
const answers: string[] = [];

beforeAll(async () => {
  [s3a, s3b] = await Promise.all([startS3Server(MAIN.bucket), startS3Server(REMOTE.bucket)]);
  await createBucket(s3a, COPIES.bucket);
  MAIN.endpoint = s3a.endpoint;
  COPIES.endpoint = s3a.endpoint;
  REMOTE.endpoint = s3b.endpoint;
  const file = await writeBackendsFile([MAIN, COPIES, REMOTE].map((b) => entryFor(b, b.entry)));
  removeFile = file.remove;
  h = await startHarness({ ...GATEWAY_ENV, TAMS_STORAGE_BACKENDS_FILE: file.file, TAMS_VERIFY_UPLOADS: 'true' });
  const raw = client(h);
  media = mediaClient((method, path, body) => c.req(method, path, body), checkUrl);
  c = {
    req: async (method, path, body) => {
      const res = await raw.req(method, path, body);
      answers.push(res.text);
      return res;
    },
    gqlRaw: async (query, variables) => {
      const result: Json = await raw.gqlRaw(query, variables);
      answers.push(JSON.stringify(result));
      return result;
    },
    gql: async (query, variables) => {
      const result: Json = await c.gqlRaw(query, variables);
      if (result.errors !== undefined) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
  };
});

afterAll(async () => {
  await h?.close();
  await Promise.all([s3a?.stop(), s3b?.stop()]);
  await removeFile?.();
});

// ---- helpers -------------------------------------------------------------------------------

let media: MediaClient;
const segments = async (flowId: string, query?: string): Promise<Json[]> => media.segments(flowId, query);
const tr = second;

const keyOf = (url: string, b: Backend): string => keyInBucket(url, b.bucket);
/** Run on every put_url and listed presigned get_url the media client receives. */
const checkUrl = presignedUrlChecker([MAIN, COPIES, REMOTE], { min: PRESIGNED_SEC - 1, max: Math.min(PRESIGNED_SEC, OBJECT_TIMEOUT_SEC) });

/**
 * A presigned URL into b's bucket, checked independently (smithy, b's secret and region) and
 * living as long as the service promises (min_presigned_url_timeout, to the second it was
 * signed in) but never past min_object_timeout.
 */
async function expectPresigned(url: string, b: Backend, method: 'GET' | 'PUT'): Promise<void> {
  expect(new URL(url).origin).toBe(b.endpoint);
  keyOf(url, b);
  await checkUrl(url, method);
}

const enc = encodeURIComponent;

// ---- the workflow --------------------------------------------------------------------------

describe('storage backends from the backends file', () => {
  it('GET /service/storage-backends lists the local directory and each S3 bucket with the file fields, nothing more', async () => {
    const res = await c.req('GET', '/service/storage-backends');
    expectStatus(res, 200);
    const byId = new Map((res.body as Json[]).map((b: Json) => [b.id as string, b]));
    expect(byId.size).toBe(4);
    for (const b of [MAIN, COPIES, REMOTE]) expect(byId.get(b.id)).toEqual({ id: b.id, label: b.label, ...b.shown });
    // The local directory is listed beside them but is not the default once a file is given.
    const local = byId.get(h.gateway.localObjects.backend.id);
    expect(local).toMatchObject({ label: 'local', store_type: 'http_object_store', default_storage: false });
    expect((res.body as Json[]).filter((b: Json) => b.default_storage === true).map((b: Json) => b.id)).toEqual([MAIN.id]);
    // Never credentials, and not where the bucket is either.
    for (const secret of [SECRET_A, SECRET_B, S3RVER_CREDENTIALS.accessKeyId, s3a.endpoint, s3b.endpoint, `:${s3a.port}`, MAIN.bucket, 'tams/media']) {
      expect(res.text).not.toContain(secret);
    }
  });

  it('GraphQL storageBackends shows the same backends, without credentials', async () => {
    const result: Json = await c.gqlRaw('{ storageBackends { id label storeType provider storeProduct region availabilityZone defaultStorage tags } }');
    expect(result.errors).toBeUndefined();
    const byId = new Map((result.data.storageBackends as Json[]).map((b: Json) => [b.id as string, b]));
    expect(byId.size).toBe(4);
    for (const b of [MAIN, COPIES, REMOTE]) {
      expect(byId.get(b.id)).toEqual({
        id: b.id,
        label: b.label,
        storeType: b.shown.store_type,
        provider: b.shown.provider,
        storeProduct: b.shown.store_product,
        region: b.shown.region,
        availabilityZone: b.shown.availability_zone ?? null,
        defaultStorage: b.shown.default_storage,
        tags: b.shown.tags ?? null,
      });
    }
    const text = JSON.stringify(result);
    for (const secret of [SECRET_A, SECRET_B, S3RVER_CREDENTIALS.accessKeyId, s3a.endpoint, s3b.endpoint]) expect(text).not.toContain(secret);
  });
});

describe('POST /flows/{id}/storage on S3 backends', () => {
  it('advertises the URL lifetime the PUT URLs are checked against', async () => {
    const res = await c.req('GET', '/service');
    expectStatus(res, 200);
    expect([res.body.min_presigned_url_timeout, res.body.min_object_timeout]).toEqual([`${PRESIGNED_SEC}:0`, `${OBJECT_TIMEOUT_SEC}:0`]);
  });

  it('the independent signature check fails on a wrong secret, region, method or key (so it can catch a bad URL)', async () => {
    const flowId = await media.putFlow();
    const url = (await media.allocate(flowId, { limit: 1 }))[0]!.put_url.url;
    const right = { method: 'PUT' as const, credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: SECRET_A }, region: MAIN.region, signedHeaders: { 'if-none-match': '*' } };
    await expect(verifyPresignedUrl(url, right)).resolves.toBeDefined();
    await expect(verifyPresignedUrl(url, { ...right, credentials: { ...right.credentials, secretAccessKey: SECRET_B } })).rejects.toThrow('X-Amz-Signature');
    await expect(verifyPresignedUrl(url, { ...right, region: 'us-east-1' })).rejects.toThrow('X-Amz-Signature');
    await expect(verifyPresignedUrl(url, { ...right, method: 'GET' })).rejects.toThrow('X-Amz-Signature');
    await expect(verifyPresignedUrl(url, { ...right, signedHeaders: {} })).rejects.toThrow('signs host;if-none-match');
    await expect(verifyPresignedUrl(url.replace('/tams/media/', '/tams/other/'), right)).rejects.toThrow('X-Amz-Signature');
    await expect(verifyPresignedUrl(`${url}&x-amz-checksum-crc32=AAAAAA%3D%3D`, right)).rejects.toThrow('checksum');
  });

  it('allocates on the default backend without storage_id: presigned PUT URLs into its bucket, signing if-none-match', async () => {
    const flowId = await media.putFlow();
    const allocated = await media.allocate(flowId);
    expect(allocated.length).toBe(10);
    expect(new Set(allocated.map((m) => m.object_id)).size).toBe(10);
    for (const m of allocated) {
      expect(m.presigned).toBe(true);
      expect(m.put_url.url.startsWith(`${s3a.endpoint}/${MAIN.bucket}/tams/media/`)).toBe(true);
      expect(m.put_url['content-type']).toBe('video/mp2t');
      expect(m.put_url.headers).toEqual({ 'content-type': 'video/mp2t', 'if-none-match': '*' });
      await expectPresigned(m.put_url.url, MAIN, 'PUT');
    }
    // Keys are fresh and spread, never the object id.
    const keys = allocated.map((m) => keyOf(m.put_url.url, MAIN));
    expect(new Set(keys).size).toBe(10);
    for (const [i, key] of keys.entries()) expect(key).not.toContain(allocated[i]!.object_id);
  });

  it('allocates on the backend named by storage_id, `limit` or `object_ids` of them, with content_type for init segments', async () => {
    const flowId = await media.putFlow();
    const copies = await media.allocate(flowId, { storage_id: COPIES.id, limit: 2 });
    expect(copies.length).toBe(2);
    for (const m of copies) {
      await expectPresigned(m.put_url.url, COPIES, 'PUT');
      // No conditional writes on that product: nothing more to send than the type.
      expect(m.put_url.headers ?? { 'content-type': 'video/mp2t' }).toEqual({ 'content-type': 'video/mp2t' });
    }
    const ids = [randomUUID(), randomUUID()];
    const remote = await media.allocate(flowId, { storage_id: REMOTE.id, object_ids: ids, content_type: 'video/mp4' });
    expect(remote.map((m) => m.object_id)).toEqual(ids);
    for (const m of remote) {
      await expectPresigned(m.put_url.url, REMOTE, 'PUT');
      expect(m.put_url['content-type']).toBe('video/mp4');
    }
  });

  it('refuses limit with object_ids, an id already in use, presigned:false and an unknown storage_id (400), allocating nothing', async () => {
    const flowId = await media.putFlow();
    const taken = (await media.allocate(flowId, { limit: 1 }))[0]!.object_id;
    const fresh = randomUUID();
    const refused = [
      { limit: 1, object_ids: [fresh] },
      { object_ids: [fresh, taken] },
      { object_ids: [fresh], storage_id: COPIES.id, presigned: false },
      { object_ids: [fresh], presigned: false },
      { object_ids: [fresh], storage_id: randomUUID() },
    ];
    for (const body of refused) {
      const res = await c.req('POST', `/flows/${flowId}/storage`, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(typeof res.body.summary).toBe('string');
    }
    // `fresh` was not taken by any of them.
    expect((await media.allocate(flowId, { object_ids: [fresh] })).map((m) => m.object_id)).toEqual([fresh]);
  });
});

describe('upload, register, list and read back through S3 URLs', () => {
  it('PUTs bytes to the presigned URL; segments list presigned get_urls that verify and read the bytes back, whole and by range', async () => {
    const { flowId, bytes } = await media.flowWith(MAIN.id, 3, 100_000);
    const listed = await segments(flowId);
    expect(listed.map((s) => s.timerange)).toEqual([tr(0), tr(1), tr(2)]);
    for (const s of listed) {
      const urls = s.get_urls as GetUrl[];
      expect(urls.map((u) => ({ presigned: u.presigned, label: u.label }))).toEqual([{ presigned: true, label: MAIN.label }]);
      await expectPresigned(urls[0]!.url, MAIN, 'GET');
      const expected = bytes.get(s.object_id as string)!;
      // The bytes are where the URL says, in the bucket itself.
      expect(bucketObjects(s3a, MAIN.bucket).get(keyOf(urls[0]!.url, MAIN))?.equals(expected)).toBe(true);
      const whole = await getBytes(urls[0]!.url);
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-type')).toBe('video/mp2t');
      expect(whole.bytes.equals(expected)).toBe(true);
      const slice = await getBytes(urls[0]!.url, { Range: 'bytes=1000-1999' });
      expect(slice.status).toBe(206);
      expect(slice.headers.get('content-range')).toBe(`bytes 1000-1999/${expected.length}`);
      expect(slice.bytes.equals(expected.subarray(1000, 2000))).toBe(true);
    }
  });

  it('get_urls of a plain_urls backend: both kinds when presigned is omitted, one kind for presigned=true/false; plain URLs read too (s3rver limit: no bucket policy)', async () => {
    const { flowId, bytes } = await media.flowWith(COPIES.id, 2, 4096);
    for (const s of await segments(flowId)) {
      const urls = s.get_urls as GetUrl[];
      expect(urls.map((u) => u.presigned).sort()).toEqual([false, true]);
      const signed = urls.find((u) => u.presigned)!;
      const plain = urls.find((u) => !u.presigned)!;
      await expectPresigned(signed.url, COPIES, 'GET');
      expect(plain).toEqual({ url: `${s3a.endpoint}/${COPIES.bucket}/${keyOf(signed.url, COPIES)}`, presigned: false, label: COPIES.label });
      for (const u of [signed, plain]) expect((await getBytes(u.url)).bytes.equals(bytes.get(s.object_id as string)!)).toBe(true);
    }
    expect((await segments(flowId, '?presigned=true')).flatMap((s) => (s.get_urls as GetUrl[]).map((u) => u.presigned))).toEqual([true, true]);
    const plainOnly = await segments(flowId, '?presigned=false');
    expect(plainOnly.flatMap((s) => (s.get_urls as GetUrl[]).map((u) => u.presigned))).toEqual([false, false]);
    for (const s of plainOnly) expect(new URL((s.get_urls as GetUrl[])[0]!.url).search).toBe('');
  });

  it('a backend without plain_urls has nothing for presigned=false', async () => {
    const { flowId } = await media.flowWith(MAIN.id, 1, 1024);
    expect((await segments(flowId, '?presigned=false')).map((s) => s.get_urls)).toEqual([[]]);
  });

  it('accept_storage_ids, accept_get_urls and verbose_storage pick and describe the backends of a flow on two buckets', async () => {
    const flowId = await media.putFlow();
    const onMain = (await media.allocate(flowId, { limit: 1 }))[0]!;
    const onRemote = (await media.allocate(flowId, { storage_id: REMOTE.id, limit: 1 }))[0]!;
    await uploaded(onMain.put_url, randomBytes(512));
    await uploaded(onRemote.put_url, randomBytes(512));
    await media.register(flowId, [{ object_id: onMain.object_id, timerange: tr(0) }, { object_id: onRemote.object_id, timerange: tr(1) }]);
    const labels = async (query: string): Promise<string[][]> => (await segments(flowId, query)).map((s) => (s.get_urls as GetUrl[]).map((u) => u.label!));

    expect(await labels('')).toEqual([[MAIN.label], [REMOTE.label]]);
    expect(await labels(`?accept_storage_ids=${REMOTE.id}`)).toEqual([[], [REMOTE.label]]);
    expect(await labels(`?accept_storage_ids=${MAIN.id},${REMOTE.id}`)).toEqual([[MAIN.label], [REMOTE.label]]);
    expect(await labels(`?accept_get_urls=${MAIN.label}`)).toEqual([[MAIN.label], []]);
    expect(await labels('?accept_get_urls=')).toEqual([[], []]);

    const verbose = await segments(flowId, '?verbose_storage=true');
    const [mainUrl, remoteUrl] = verbose.map((s) => (s.get_urls as GetUrl[])[0]!);
    expect({ ...mainUrl, url: undefined }).toEqual({ url: undefined, presigned: true, label: MAIN.label, storage_id: MAIN.id, controlled: true, ...withoutDefault(MAIN.shown) });
    expect({ ...remoteUrl, url: undefined }).toEqual({ url: undefined, presigned: true, label: REMOTE.label, storage_id: REMOTE.id, controlled: true, ...withoutDefault(REMOTE.shown) });
    await expectPresigned(mainUrl!.url, MAIN, 'GET');
    await expectPresigned(remoteUrl!.url, REMOTE, 'GET');

    // GET /objects/{id} hands out the same kind of URL.
    const object = await c.req('GET', `/objects/${enc(onRemote.object_id)}?verbose_storage=true`);
    expectStatus(object, 200);
    expect((object.body.get_urls as GetUrl[]).map((u) => [u.label, u.storage_id, u.presigned])).toEqual([[REMOTE.label, REMOTE.id, true]]);
    await expectPresigned((object.body.get_urls as GetUrl[])[0]!.url, REMOTE, 'GET');
  });

  it('the presigned GET URL is refused once it has expired (s3rver does enforce X-Amz-Expires)', async () => {
    const { flowId } = await media.flowWith(MAIN.id, 1, 256);
    const url = new URL(((await segments(flowId))[0]!.get_urls as GetUrl[])[0]!.url);
    url.searchParams.set('X-Amz-Date', '20200101T000000Z');
    const res = await getBytes(url.toString());
    expect(res.status).toBe(403);
    expect(res.bytes.toString()).toContain('Request has expired');
  });
});

function withoutDefault(shown: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...shown };
  delete copy.default_storage;
  return copy;
}

describe("a client's own digest headers on the presigned PUT", () => {
  const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64');
  const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');

  it('Content-MD5 and x-amz-checksum-sha256 ride along unsigned and the bytes are stored intact', async () => {
    const flowId = await media.putFlow();
    const [a, b] = await media.allocate(flowId, { limit: 2 });
    const [bytesA, bytesB] = [randomBytes(20_000), randomBytes(30_000)];
    const resA = await upload(a!.put_url, bytesA, { 'content-md5': md5(bytesA) });
    const resB = await upload(b!.put_url, bytesB, { 'x-amz-checksum-sha256': sha256(bytesB) });
    expect([resA.status, resB.status]).toEqual([200, 200]);
    // s3rver answers the MD5 as the ETag: the bytes arrived whole.
    expect(resA.headers.get('etag')).toBe(`"${createHash('md5').update(bytesA).digest('hex')}"`);
    const stored = bucketObjects(s3a, MAIN.bucket);
    expect(stored.get(keyOf(a!.put_url.url, MAIN))?.equals(bytesA)).toBe(true);
    expect(stored.get(keyOf(b!.put_url.url, MAIN))?.equals(bytesB)).toBe(true);
  });

  it('s3rver limit: a wrong Content-MD5 or x-amz-checksum-sha256 is stored anyway (real S3 refuses it)', async () => {
    const flowId = await media.putFlow();
    const [a, b] = await media.allocate(flowId, { storage_id: COPIES.id, limit: 2 });
    const bytes = randomBytes(1000);
    const wrong = randomBytes(1000);
    expect((await upload(a!.put_url, bytes, { 'content-md5': md5(wrong) })).status).toBe(200);
    expect((await upload(b!.put_url, bytes, { 'x-amz-checksum-sha256': sha256(wrong) })).status).toBe(200);
  });

  it('s3rver limit: If-None-Match: * does not stop a second PUT over the key (the signed header is all that is checked here)', async () => {
    const flowId = await media.putFlow();
    const [a] = await media.allocate(flowId, { limit: 1 });
    await uploaded(a!.put_url, randomBytes(100));
    const again = randomBytes(100);
    expect((await upload(a!.put_url, again)).status).toBe(200);
    expect(bucketObjects(s3a, MAIN.bucket).get(keyOf(a!.put_url.url, MAIN))?.equals(again)).toBe(true);
  });
});

describe('TAMS_VERIFY_UPLOADS=true', () => {
  it('refuses one segment whose object was never uploaded (400); in an array it fails alone and the others are registered', async () => {
    const flowId = await media.putFlow();
    const [up1, missing, up2] = await media.allocate(flowId, { limit: 3 });
    await uploaded(up1!.put_url, randomBytes(256));
    await uploaded(up2!.put_url, randomBytes(256));

    const single = await media.register(flowId, { object_id: missing!.object_id, timerange: tr(0) }, 400);
    expect(single.body.summary).toContain(missing!.object_id);
    expect(await segments(flowId)).toEqual([]);

    const batch = await media.register(flowId, [
      { object_id: up1!.object_id, timerange: tr(0) },
      { object_id: missing!.object_id, timerange: tr(1) },
      { object_id: up2!.object_id, timerange: tr(2) },
    ], 200);
    expect((batch.body.failed_segments as Json[]).map((f) => [f.object_id, f.timerange, f.error.type])).toEqual([[missing!.object_id, tr(1), 'ValidationError']]);
    expect((await segments(flowId)).map((s) => [s.object_id, s.timerange])).toEqual([
      [up1!.object_id, tr(0)],
      [up2!.object_id, tr(2)],
    ]);
    // Once uploaded it registers.
    await uploaded(missing!.put_url, randomBytes(256));
    await media.register(flowId, { object_id: missing!.object_id, timerange: tr(1) });
  });
});

describe('GraphQL on S3 backends', () => {
  it('allocateStorage gives presigned putUrls that verify; FlowSegment.getUrls gives presigned GET URLs that verify and read the bytes', async () => {
    const flowId = await media.putFlow();
    const data = await c.gql(
      `mutation($flowId: ID!, $storageId: ID) { allocateStorage(flowId: $flowId, storageId: $storageId, limit: 2) {
        objectId presigned putUrl { url contentType headers { name value } } } }`,
      { flowId, storageId: REMOTE.id },
    );
    const allocations = data.allocateStorage as Json[];
    expect(allocations.length).toBe(2);
    const bytes = new Map<string, Buffer>();
    for (const a of allocations) {
      expect(a.presigned).toBe(true);
      await expectPresigned(a.putUrl.url as string, REMOTE, 'PUT');
      const headers = Object.fromEntries((a.putUrl.headers as Json[]).map((x) => [x.name as string, x.value as string]));
      expect(headers).toEqual({ 'content-type': 'video/mp2t', 'if-none-match': '*' });
      const payload = randomBytes(3000);
      await uploaded({ url: a.putUrl.url as string, 'content-type': a.putUrl.contentType as string, headers }, payload);
      bytes.set(a.objectId as string, payload);
    }
    const registered = await c.gql(
      `mutation($flowId: ID!, $segments: [FlowSegmentInput!]!) { registerSegments(flowId: $flowId, segments: $segments) { registeredCount failed { objectId } } }`,
      { flowId, segments: allocations.map((a, i) => ({ objectId: a.objectId, timerange: tr(i) })) },
    );
    expect(registered.registerSegments).toEqual({ registeredCount: 2, failed: [] });

    const listed = await c.gql(`query($flowId: ID!) { segments(flowId: $flowId) { nodes { objectId getUrls { url presigned label storageId controlled } } } }`, { flowId });
    const nodes = listed.segments.nodes as Json[];
    expect(nodes.length).toBe(2);
    for (const node of nodes) {
      const urls = node.getUrls as Json[];
      expect(urls.map((u) => [u.presigned, u.label, u.storageId, u.controlled])).toEqual([[true, REMOTE.label, REMOTE.id, true]]);
      await expectPresigned(urls[0].url as string, REMOTE, 'GET');
      expect((await getBytes(urls[0].url as string)).bytes.equals(bytes.get(node.objectId as string)!)).toBe(true);
    }
  });

  it('allocateStorage without storageId uses the default backend; an unknown storageId is a BAD_USER_INPUT', async () => {
    const flowId = await media.putFlow();
    const data = await c.gql(`mutation($flowId: ID!) { allocateStorage(flowId: $flowId, limit: 1) { putUrl { url } } }`, { flowId });
    await expectPresigned(data.allocateStorage[0].putUrl.url as string, MAIN, 'PUT');
    const bad: Json = await c.gqlRaw(`mutation($flowId: ID!, $s: ID) { allocateStorage(flowId: $flowId, storageId: $s, limit: 1) { objectId } }`, { flowId, s: randomUUID() });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('no credential in any answer', () => {
  it('no REST or GraphQL answer of this suite holds a backend secret', () => {
    expect(answers.length).toBeGreaterThan(30);
    for (const text of answers) for (const secret of [SECRET_A, SECRET_B]) expect(text.includes(secret)).toBe(false);
  });
});

describe('a backends file without a default backend', () => {
  let g: Harness;
  let remove: () => Promise<void>;
  const ONLY = { id: '5a1d0c3e-7b2f-4e8a-9c61-0d3f5e7a9b09', label: 's3-only' };

  beforeAll(async () => {
    const file = await writeBackendsFile([entryFor({ ...MAIN, ...ONLY }, { store_product: 's3' })]);
    remove = file.remove;
    g = await startHarness({ ...GATEWAY_ENV, TAMS_STORAGE_BACKENDS_FILE: file.file });
  });

  afterAll(async () => {
    await g?.close();
    await remove?.();
  });

  it('answers 400 to a storage request without storage_id, naming where to look; with storage_id it allocates', async () => {
    const other = mediaClient((method, path, body) => g.request(method, path, body), presignedUrlChecker([{ ...MAIN, ...ONLY }]));
    const flowId = await other.putFlow();
    const backends = await g.request('GET', '/service/storage-backends');
    expect((backends.body as Json[]).map((b: Json) => b.default_storage)).toEqual([false, false]);
    const res = await g.request('POST', `/flows/${flowId}/storage`, { limit: 1 });
    expect(res.status).toBe(400);
    expect(res.body.summary).toContain('storage_id');
    const [allocation] = await other.allocate(flowId, { limit: 1, storage_id: ONLY.id });
    await expectPresigned(allocation!.put_url.url, MAIN, 'PUT');
  });
});
