/**
 * Controlled object instances across storage backends, over real HTTP: POST
 * /objects/{id}/instances copies an object's bytes between two buckets of one s3rver
 * (server-side CopyObject), to a bucket of another s3rver (streamed through the gateway), to
 * the embedded local directory and back; GET /objects/{id} and segment listings then hand out
 * every instance's URL, and each reads the same bytes. DELETE ?storage_id= removes an instance
 * at once and its bytes once no PUT URL for the object may work any more (allocation +
 * min_object_timeout + grace, by the gateway's clock, which the tests move: before then a
 * garbage-collection pass deletes them when due); the last instance stays. Above
 * TAMS_COPY_MULTIPART_THRESHOLD_BYTES (lowered to S3's 5 MiB minimum part) copies go in parts.
 *
 * Each s3rver sits behind a recording proxy (the backends' endpoints), so the S3 operations the
 * gateway used show: CopyObject, UploadPartCopy (which s3rver does not implement: the gateway
 * then streams), multipart parts. What s3rver cannot check is listed in s3-media-workflow.test.ts.
 */
import { existsSync } from 'node:fs';
import { startHarness, type Harness } from '../support/gateway-harness';
import { client, type Client, type Json } from '../support/tams-client';
import {
  bucketObjects,
  createBucket,
  entryFor,
  expectPresignedFor,
  expectStatus,
  getBytes,
  mediaClient,
  presignedUrlChecker,
  startRecordingProxy,
  startS3Server,
  writeBackendsFile,
  type ListedGetUrl,
  type MediaClient,
  type RecordingProxy,
  type S3BackendUnderTest,
  type S3TestServer,
  type SeenRequest,
} from '../support/s3-server';
import { TestClock } from '../support/test-clock';

const MiB = 1024 ** 2;
const SECRET = 'instances-secret-0d9c7e5a3b1f2468';

const MAIN: S3BackendUnderTest = { id: '6b2e1d4f-8c3a-4f9b-8d72-1e4a6f8b0c01', label: 'inst-main', bucket: 'inst-main', region: 'eu-central-1', secret: SECRET, conditional: true, endpoint: '' };
const COPIES: S3BackendUnderTest = { id: '6b2e1d4f-8c3a-4f9b-8d72-1e4a6f8b0c02', label: 'inst-copies', bucket: 'inst-copies', region: 'eu-central-1', secret: SECRET, conditional: false, endpoint: '' };
const REMOTE: S3BackendUnderTest = { id: '6b2e1d4f-8c3a-4f9b-8d72-1e4a6f8b0c03', label: 'inst-remote', bucket: 'inst-remote', region: 'ap-south-1', secret: SECRET, conditional: true, endpoint: '' };
const S3_BACKENDS = [MAIN, COPIES, REMOTE];
const OBJECT_TIMEOUT_SEC = 3600;
const GRACE_SEC = 600;
/** How long after its allocation an object's PUT URL may still be used: a removed instance's bytes stay that long. */
const LIFETIME_MS = (OBJECT_TIMEOUT_SEC + GRACE_SEC) * 1000;

let s3a: S3TestServer;
let s3b: S3TestServer;
let proxyA: RecordingProxy;
let proxyB: RecordingProxy;
let h: Harness;
let c: Client;
let media: MediaClient;
let removeFile: () => Promise<void>;
let localId: string;
let clock: TestClock;

beforeAll(async () => {
  [s3a, s3b] = await Promise.all([startS3Server(MAIN.bucket), startS3Server(REMOTE.bucket)]);
  await createBucket(s3a, COPIES.bucket);
  [proxyA, proxyB] = await Promise.all([startRecordingProxy(s3a.endpoint), startRecordingProxy(s3b.endpoint)]);
  MAIN.endpoint = proxyA.endpoint;
  COPIES.endpoint = proxyA.endpoint;
  REMOTE.endpoint = proxyB.endpoint;
  const file = await writeBackendsFile([
    entryFor(MAIN, { store_product: 's3', default_storage: true }),
    entryFor(COPIES, { store_product: 'ceph' }),
    entryFor(REMOTE, { store_product: 'minio' }),
  ]);
  removeFile = file.remove;
  clock = new TestClock();
  h = await startHarness(
    {
      TAMS_STORAGE_BACKENDS_FILE: file.file,
      TAMS_COPY_MULTIPART_THRESHOLD_BYTES: String(5 * MiB),
      TAMS_COPY_PART_BYTES: String(5 * MiB),
      TAMS_MIN_OBJECT_TIMEOUT: `${OBJECT_TIMEOUT_SEC}:0`,
      TAMS_GC_GRACE_SEC: String(GRACE_SEC),
      TAMS_GC_INTERVAL_MS: '86400000',
    },
    { clock },
  );
  c = client(h);
  media = mediaClient(c.req, presignedUrlChecker(S3_BACKENDS, { min: 3599, max: 3600 }));
  localId = h.gateway.localObjects.backend.id;
});

afterAll(async () => {
  await h?.close();
  await Promise.all([proxyA?.close(), proxyB?.close()]);
  await Promise.all([s3a?.stop(), s3b?.stop()]);
  await removeFile?.();
});

const enc = encodeURIComponent;
const gc = (): ReturnType<NonNullable<Harness['gateway']['gc']>['runOnce']> => h.gateway.gc!.runOnce();
const serverOf = (b: S3BackendUnderTest): S3TestServer => (b === REMOTE ? s3b : s3a);
const backendById = (id: string): S3BackendUnderTest | undefined => S3_BACKENDS.find((b) => b.id === id);

/** One registered object on `b` (a one-segment flow); its id, bytes and flow. */
async function objectOn(b: { id: string }, size: number): Promise<{ objectId: string; bytes: Buffer; flowId: string }> {
  const { flowId, bytes } = await media.flowWith(b.id, 1, size);
  const [objectId, data] = [...bytes][0]!;
  return { objectId, bytes: data, flowId };
}

async function addInstance(objectId: string, storageId: string, status = 201): Promise<void> {
  expectStatus(await c.req('POST', `/objects/${enc(objectId)}/instances`, { storage_id: storageId }), status);
}

/** GET /objects/{id}?verbose_storage=true: its get_urls by storage_id (each S3 URL checked independently). */
async function instanceUrls(objectId: string): Promise<Map<string, ListedGetUrl>> {
  const res = await c.req('GET', `/objects/${enc(objectId)}?verbose_storage=true`);
  expectStatus(res, 200);
  const urls = new Map<string, ListedGetUrl>();
  for (const u of res.body.get_urls as ListedGetUrl[]) {
    expect(u.presigned).toBe(true);
    expect(u.controlled).toBe(true);
    const backend = backendById(u.storage_id!);
    if (backend !== undefined) await expectPresignedFor(u.url, backend, 'GET');
    urls.set(u.storage_id!, u);
  }
  return urls;
}

/** The key an S3 instance URL names in its backend's bucket. */
function keyOfInstance(urls: Map<string, ListedGetUrl>, b: S3BackendUnderTest): string {
  return new URL(urls.get(b.id)!.url).pathname.slice(b.bucket.length + 2);
}

async function expectBytes(url: string, bytes: Buffer): Promise<void> {
  const got = await getBytes(url);
  expect(got.status).toBe(200);
  expect(got.bytes.length).toBe(bytes.length);
  expect(got.bytes.equals(bytes)).toBe(true);
}

/** Requests a proxy saw while `run` ran. */
async function seenDuring(proxy: RecordingProxy, run: () => Promise<void>): Promise<SeenRequest[]> {
  const from = proxy.seen.length;
  await run();
  return proxy.seen.slice(from);
}

/** A request as `METHOD /bucket?subresources` with the S3 operation's telling parts. */
function operation(r: SeenRequest): string {
  const bucket = r.url.pathname.split('/')[1] ?? '';
  const query = [...r.url.searchParams.keys()].filter((k) => !k.startsWith('X-Amz-') && k !== 'x-id').sort();
  const copy = r.headers['x-amz-copy-source'] === undefined ? '' : ' copy';
  return `${r.method} ${bucket}${query.length > 0 ? `?${query.join('&')}` : ''}${copy} ${r.status ?? '-'}`;
}

describe('object instances across S3 backends and the local directory', () => {
  it('copies to a second bucket on the same endpoint server-side, to another endpoint by streaming and to the local directory; every instance reads the same bytes', async () => {
    const { objectId, bytes, flowId } = await objectOn(MAIN, 200_000);

    const sameEndpoint = await seenDuring(proxyA, () => addInstance(objectId, COPIES.id));
    // One CopyObject into the second bucket; the bytes never left the server.
    expect(sameEndpoint.map(operation).filter((o) => !o.startsWith('HEAD '))).toEqual(['PUT inst-copies copy 200']);

    const seenA = proxyA.seen.length;
    const acrossEndpoints = await seenDuring(proxyB, () => addInstance(objectId, REMOTE.id));
    expect(proxyA.seen.slice(seenA).map(operation)).toEqual(['GET inst-main 200']);
    expect(acrossEndpoints.map(operation)).toEqual(['PUT inst-remote 200']);
    // Write-once on a conditional-writes backend: the PUT itself says "only if absent".
    expect(acrossEndpoints[0]!.headers['if-none-match']).toBe('*');

    await addInstance(objectId, localId);

    const urls = await instanceUrls(objectId);
    expect([...urls.keys()].sort()).toEqual([MAIN.id, COPIES.id, REMOTE.id, localId].sort());
    expect(urls.get(localId)!.url.startsWith(h.base)).toBe(true);
    for (const u of urls.values()) await expectBytes(u.url, bytes);
    for (const b of S3_BACKENDS) expect(bucketObjects(serverOf(b), b.bucket).get(keyOfInstance(urls, b))?.equals(bytes)).toBe(true);

    // Segment listings hand out every instance too, and filter them by backend.
    const [segment] = await media.segments(flowId);
    expect((segment!.get_urls as ListedGetUrl[]).map((u) => u.label).sort()).toEqual([MAIN.label, COPIES.label, REMOTE.label, 'local'].sort());
    const [onlyRemote] = await media.segments(flowId, `?accept_storage_ids=${REMOTE.id}`);
    expect((onlyRemote!.get_urls as ListedGetUrl[]).map((u) => u.label)).toEqual([REMOTE.label]);
    await expectBytes((onlyRemote!.get_urls as ListedGetUrl[])[0]!.url, bytes);

    // Adding an instance that exists changes nothing.
    const held = bucketObjects(s3b, REMOTE.bucket).size;
    const again = await seenDuring(proxyB, () => addInstance(objectId, REMOTE.id));
    expect(again).toEqual([]);
    expect(bucketObjects(s3b, REMOTE.bucket).size).toBe(held);
  });

  it('local + S3 in one store: bytes uploaded to the local directory are copied to S3, and back once the local instance is gone', async () => {
    const { objectId, bytes } = await objectOn({ id: localId }, 150_000);
    const before = await instanceUrls(objectId);
    expect([...before.keys()]).toEqual([localId]);
    const localFile = h.gateway.localObjects.resolveKey((await h.gateway.store.getObject(objectId))!.instances[0]!.key);

    await addInstance(objectId, MAIN.id);
    const both = await instanceUrls(objectId);
    await expectBytes(both.get(MAIN.id)!.url, bytes);
    expect(bucketObjects(s3a, MAIN.bucket).get(keyOfInstance(both, MAIN))?.equals(bytes)).toBe(true);

    expectStatus(await c.req('DELETE', `/objects/${enc(objectId)}/instances?storage_id=${localId}`), 204);
    expect([...(await instanceUrls(objectId)).keys()]).toEqual([MAIN.id]);
    // The instance is gone; its bytes stay queued while the object's PUT URL may still work.
    expect(existsSync(localFile)).toBe(true);
    expect(await gc()).toMatchObject({ collected: 0, deleted: 0, failed: 0 });
    clock.advance(LIFETIME_MS);
    expect(await gc()).toMatchObject({ collected: 0, deleted: 1, failed: 0 });
    expect(existsSync(localFile)).toBe(false);
    expect((await getBytes(before.get(localId)!.url)).status).toBe(403);

    await addInstance(objectId, localId);
    const back = await instanceUrls(objectId);
    expect([...back.keys()].sort()).toEqual([MAIN.id, localId].sort());
    await expectBytes(back.get(localId)!.url, bytes);
  });

  it('DELETE ?storage_id= removes that instance, and its bytes from that bucket only once due; the last instance cannot be removed', async () => {
    const { objectId, bytes, flowId } = await objectOn(MAIN, 50_000);
    await addInstance(objectId, COPIES.id);
    await addInstance(objectId, REMOTE.id);
    const urls = await instanceUrls(objectId);
    const keys = new Map(S3_BACKENDS.map((b) => [b.id, keyOfInstance(urls, b)]));

    expectStatus(await c.req('DELETE', `/objects/${enc(objectId)}/instances?storage_id=${COPIES.id}`), 204);
    expect([...(await instanceUrls(objectId)).keys()].sort()).toEqual([MAIN.id, REMOTE.id].sort());
    // Gone is gone: a second removal finds nothing.
    expect((await c.req('DELETE', `/objects/${enc(objectId)}/instances?storage_id=${COPIES.id}`)).status).toBe(404);
    // Its bytes wait for the object's PUT URL lifetime, queued.
    expect(bucketObjects(s3a, COPIES.bucket).get(keys.get(COPIES.id)!)?.equals(bytes)).toBe(true);
    expect(await h.gateway.store.pendingObjectDeletions(100)).toEqual([{ storage_id: COPIES.id, key: keys.get(COPIES.id)! }]);

    expectStatus(await c.req('DELETE', `/objects/${enc(objectId)}/instances?storage_id=${MAIN.id}`), 204);
    expect(bucketObjects(s3a, MAIN.bucket).get(keys.get(MAIN.id)!)?.equals(bytes)).toBe(true);

    const last = await c.req('DELETE', `/objects/${enc(objectId)}/instances?storage_id=${REMOTE.id}`);
    expect([last.status, last.body.type]).toEqual([400, 'LastInstance']);

    expect(await gc()).toMatchObject({ collected: 0, deleted: 0, failed: 0 });
    clock.advance(LIFETIME_MS - 1);
    expect(await gc()).toMatchObject({ collected: 0, deleted: 0, failed: 0 });
    expect(bucketObjects(s3a, COPIES.bucket).has(keys.get(COPIES.id)!)).toBe(true);
    clock.advance(1);
    expect(await gc()).toMatchObject({ collected: 0, deleted: 2, failed: 0 });
    expect(bucketObjects(s3a, COPIES.bucket).has(keys.get(COPIES.id)!)).toBe(false);
    expect(bucketObjects(s3a, MAIN.bucket).has(keys.get(MAIN.id)!)).toBe(false);
    expect((await getBytes(urls.get(COPIES.id)!.url)).status).toBe(404);
    expect(await h.gateway.store.pendingObjectDeletions(100)).toEqual([]);

    expect(bucketObjects(s3b, REMOTE.bucket).get(keys.get(REMOTE.id)!)?.equals(bytes)).toBe(true);
    const [segment] = await media.segments(flowId);
    const remaining = segment!.get_urls as ListedGetUrl[];
    expect(remaining.map((u) => u.label)).toEqual([REMOTE.label]);
    await expectBytes(remaining[0]!.url, bytes);
  });

  it('GraphQL addObjectInstance and removeObjectInstance copy, and remove with the bytes queued', async () => {
    const { objectId, bytes } = await objectOn(MAIN, 20_000);
    const added = await c.gql(
      `mutation($id: String!, $s: ID) { addObjectInstance(objectId: $id, storageId: $s) { getUrls { url label storageId presigned } } }`,
      { id: objectId, s: REMOTE.id },
    );
    const remote = (added.addObjectInstance.getUrls as Json[]).find((u) => u.storageId === REMOTE.id);
    const { key } = await expectPresignedFor(remote.url as string, REMOTE, 'GET');
    await expectBytes(remote.url as string, bytes);
    const mainKey = (await h.gateway.store.getObject(objectId))!.instances.find((i) => i.storage_id === MAIN.id)!.key;
    const removed = await c.gql(`mutation($id: String!, $s: ID) { removeObjectInstance(objectId: $id, storageId: $s) { getUrls { storageId } } }`, { id: objectId, s: MAIN.id });
    expect(removed.removeObjectInstance.getUrls).toEqual([{ storageId: REMOTE.id }]);
    expect(bucketObjects(s3b, REMOTE.bucket).get(key)?.equals(bytes)).toBe(true);
    // As by REST: the removed bytes stay queued while the object's PUT URL may work.
    expect(bucketObjects(s3a, MAIN.bucket).get(mainKey)?.equals(bytes)).toBe(true);
    expect(await h.gateway.store.pendingObjectDeletions(100)).toEqual([{ storage_id: MAIN.id, key: mainKey }]);
    const last: Json = await c.gqlRaw(`mutation($id: String!, $s: ID) { removeObjectInstance(objectId: $id, storageId: $s) { id } }`, { id: objectId, s: REMOTE.id });
    expect(last.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('multipart copies above TAMS_COPY_MULTIPART_THRESHOLD_BYTES (5 MiB parts)', () => {
  let objectId: string;
  let bytes: Buffer;

  beforeAll(async () => {
    ({ objectId, bytes } = await objectOn(MAIN, 11 * MiB));
  });

  // First, while MAIN holds the object's only S3 instance (a copy reads from the first instance
  // of the target's kind, and instances added later are dated by the store's real clock, which
  // the moved gateway clock of the tests above is ahead of).
  it('within one endpoint tries UploadPartCopy (s3rver: 501), aborts, and streams the parts instead, the bytes intact', async () => {
    const seen = (await seenDuring(proxyA, () => addInstance(objectId, COPIES.id))).map(operation).filter((o) => !o.startsWith('HEAD '));
    // s3rver limit: it implements neither UploadPartCopy nor AbortMultipartUpload (405).
    expect(seen).toEqual([
      'POST inst-copies?uploads 200',
      'PUT inst-copies?partNumber&uploadId copy 501',
      'DELETE inst-copies?uploadId 405',
      'GET inst-main 200',
      'POST inst-copies?uploads 200',
      'PUT inst-copies?partNumber&uploadId 200',
      'PUT inst-copies?partNumber&uploadId 200',
      'PUT inst-copies?partNumber&uploadId 200',
      'POST inst-copies?uploadId 200',
    ]);
    const urls = await instanceUrls(objectId);
    await expectBytes(urls.get(COPIES.id)!.url, bytes);
    expect(bucketObjects(s3a, COPIES.bucket).get(keyOfInstance(urls, COPIES))?.equals(bytes)).toBe(true);
  });

  it('copies an 11 MiB object to another endpoint in three parts, streamed, the bytes intact', async () => {
    const seen = await seenDuring(proxyB, () => addInstance(objectId, REMOTE.id));
    expect(seen.map(operation)).toEqual(['POST inst-remote?uploads 200', 'PUT inst-remote?partNumber&uploadId 200', 'PUT inst-remote?partNumber&uploadId 200', 'PUT inst-remote?partNumber&uploadId 200', 'POST inst-remote?uploadId 200']);
    expect(seen.filter((r) => r.method === 'PUT').map((r) => Number(r.headers['content-length']))).toEqual([5 * MiB, 5 * MiB, 1 * MiB]);
    expect(seen.at(-1)!.headers['if-none-match']).toBe('*');
    const urls = await instanceUrls(objectId);
    await expectBytes(urls.get(REMOTE.id)!.url, bytes);
  });
});
