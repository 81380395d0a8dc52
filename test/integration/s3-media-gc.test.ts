/**
 * Object garbage collection on S3 backends, over real HTTP with a clock the test moves (only
 * explicit `gateway.gc.runOnce()` passes run: the scheduled one is a day of real time away).
 * Deleting flows frees their objects, and once they were allocated more than
 * min_object_timeout plus the grace period ago (no PUT URL for them works any more) a pass
 * deletes the bytes of every controlled instance (two buckets and the local directory);
 * objects another flow still uses stay; objects allocated and never registered go after that
 * lifetime too, not before; a removed instance's bytes stay queued until it is over, so a
 * re-upload through the PUT URL cannot leave bytes nothing tracks; a backend that is down keeps
 * its deletions queued while the others' proceed. What s3rver cannot check is listed in
 * s3-media-workflow.test.ts; here, that it checks X-Amz-Expires by the real clock, not the
 * gateway's moved one, so a PUT URL's expiry is checked against the gateway's clock instead.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { startHarness, type Harness } from '../support/gateway-harness';
import {
  bucketObjects,
  createBucket,
  entryFor,
  expectPresignedFor,
  expectStatus,
  getBytes,
  mediaClient,
  presignedUrlChecker,
  second,
  startS3Server,
  uploaded,
  writeBackendsFile,
  type ListedGetUrl,
  type MediaClient,
  type S3BackendUnderTest,
  type S3TestServer,
} from '../support/s3-server';
import { TestClock } from '../support/test-clock';

const SECRET = 'gc-secret-7e3a91c04b5d2f68';
const PRESIGNED_SEC = 60;
const OBJECT_TIMEOUT_SEC = 300;
const GRACE_SEC = 60;
/** How long after its allocation an object's PUT URL may still be used: its bytes stay that long at least. */
const LIFETIME_MS = (OBJECT_TIMEOUT_SEC + GRACE_SEC) * 1000;

const MAIN: S3BackendUnderTest = { id: '7c3f2e5a-9d4b-4a0c-8e83-2f5b7a9c1d01', label: 'gc-main', bucket: 'gc-main', region: 'us-east-1', secret: SECRET, conditional: true, endpoint: '' };
const COPIES: S3BackendUnderTest = { id: '7c3f2e5a-9d4b-4a0c-8e83-2f5b7a9c1d02', label: 'gc-copies', bucket: 'gc-copies', region: 'us-east-1', secret: SECRET, conditional: false, endpoint: '' };
/** On an s3rver of its own, stopped by the last test. */
const AWAY: S3BackendUnderTest = { id: '7c3f2e5a-9d4b-4a0c-8e83-2f5b7a9c1d03', label: 'gc-away', bucket: 'gc-away', region: 'us-east-1', secret: SECRET, conditional: true, endpoint: '' };

let s3a: S3TestServer;
let s3away: S3TestServer;
let clock: TestClock;
let h: Harness;
let media: MediaClient;
let removeFile: () => Promise<void>;

beforeAll(async () => {
  [s3a, s3away] = await Promise.all([startS3Server(MAIN.bucket), startS3Server(AWAY.bucket)]);
  await createBucket(s3a, COPIES.bucket);
  MAIN.endpoint = s3a.endpoint;
  COPIES.endpoint = s3a.endpoint;
  AWAY.endpoint = s3away.endpoint;
  // One attempt, a short timeout: the stopped backend fails fast.
  const file = await writeBackendsFile([
    entryFor(MAIN, { store_product: 's3', default_storage: true }),
    entryFor(COPIES, { store_product: 'ceph' }),
    entryFor(AWAY, { store_product: 'minio', request_timeout_ms: 500, max_attempts: 1 }),
  ]);
  removeFile = file.remove;
  clock = new TestClock();
  h = await startHarness(
    {
      TAMS_STORAGE_BACKENDS_FILE: file.file,
      TAMS_PRESIGNED_URL_TIMEOUT: `${PRESIGNED_SEC}:0`,
      TAMS_MIN_OBJECT_TIMEOUT: `${OBJECT_TIMEOUT_SEC}:0`,
      TAMS_GC_GRACE_SEC: String(GRACE_SEC),
      TAMS_GC_INTERVAL_MS: '86400000',
    },
    { clock },
  );
  // Signatures only: URL lifetimes under the moved clock are the subject of a test below.
  media = mediaClient((method, path, body) => h.request(method, path, body), presignedUrlChecker([MAIN, COPIES, AWAY]));
});

afterAll(async () => {
  await h?.close();
  await Promise.all([s3a?.stop(), s3away?.stop()]);
  await removeFile?.();
});

const enc = encodeURIComponent;
const gc = (): ReturnType<NonNullable<Harness['gateway']['gc']>['runOnce']> => h.gateway.gc!.runOnce();

async function addInstance(objectId: string, storageId: string): Promise<void> {
  expectStatus(await h.request('POST', `/objects/${enc(objectId)}/instances`, { storage_id: storageId }), 201);
}

/** The object's instance URLs by storage_id (verbose get_urls). */
async function instanceUrls(objectId: string): Promise<Map<string, string>> {
  const res = await h.request('GET', `/objects/${enc(objectId)}?verbose_storage=true`);
  expectStatus(res, 200);
  return new Map((res.body.get_urls as ListedGetUrl[]).map((u) => [u.storage_id!, u.url]));
}

const keyIn = (url: string, b: S3BackendUnderTest): string => new URL(url).pathname.slice(b.bucket.length + 2);
const inBucket = (server: S3TestServer, b: S3BackendUnderTest, url: string): Buffer | undefined => bucketObjects(server, b.bucket).get(keyIn(url, b));

describe('object garbage collection on S3 backends', () => {
  // What earlier tests left to collect goes first (once past its lifetime), so each test counts only its own objects.
  beforeEach(async () => {
    clock.advance(LIFETIME_MS + 1);
    await gc();
  });

  it('deleting a flow frees its objects: a pass deletes their bytes from both buckets and the local directory; a shared object stays', async () => {
    const { flowId, bytes } = await media.flowWith(MAIN.id, 2, 10_000);
    const [own, shared] = [...bytes.keys()] as [string, string];
    await addInstance(own, COPIES.id);
    await addInstance(own, h.gateway.localObjects.backend.id);
    const ownUrls = await instanceUrls(own);
    const ownLocalFile = h.gateway.localObjects.resolveKey((await h.gateway.store.getObject(own))!.instances.find((i) => i.storage_id === h.gateway.localObjects.backend.id)!.key);
    expect(fs.readFileSync(ownLocalFile).equals(bytes.get(own)!)).toBe(true);
    const sharedUrl = (await instanceUrls(shared)).get(MAIN.id)!;
    const other = await media.putFlow();
    await media.register(other, { object_id: shared, timerange: second(0) });

    expect(await gc()).toEqual({ ran: true, collected: 0, deleted: 0, failed: 0 });
    expectStatus(await h.request('DELETE', `/flows/${flowId}`), 204);
    // Nothing is deleted before a pass runs, nor by a pass while the object's PUT URLs may work.
    expect(inBucket(s3a, MAIN, ownUrls.get(MAIN.id)!)?.equals(bytes.get(own)!)).toBe(true);
    expect(await gc()).toEqual({ ran: true, collected: 0, deleted: 0, failed: 0 });
    expect(inBucket(s3a, MAIN, ownUrls.get(MAIN.id)!)?.equals(bytes.get(own)!)).toBe(true);
    expect(inBucket(s3a, COPIES, ownUrls.get(COPIES.id)!)?.equals(bytes.get(own)!)).toBe(true);
    clock.advance(LIFETIME_MS);
    expect(await gc()).toEqual({ ran: true, collected: 0, deleted: 0, failed: 0 });
    expect(inBucket(s3a, MAIN, ownUrls.get(MAIN.id)!)?.equals(bytes.get(own)!)).toBe(true);

    clock.advance(1);
    expect(await gc()).toEqual({ ran: true, collected: 1, deleted: 3, failed: 0 });
    expect(inBucket(s3a, MAIN, ownUrls.get(MAIN.id)!)).toBeUndefined();
    expect(inBucket(s3a, COPIES, ownUrls.get(COPIES.id)!)).toBeUndefined();
    expect(fs.existsSync(ownLocalFile)).toBe(false);
    expect((await h.request('GET', `/objects/${enc(own)}`)).status).toBe(404);

    // The other flow still uses `shared`: its bytes stay, readable.
    const kept = await h.request('GET', `/objects/${enc(shared)}`);
    expectStatus(kept, 200);
    expect(kept.body.referenced_by_flows).toEqual([other]);
    expect((await getBytes(sharedUrl)).bytes.equals(bytes.get(shared)!)).toBe(true);

    // Allocated long enough ago: freed, it goes with the next pass.
    expectStatus(await h.request('DELETE', `/flows/${other}`), 204);
    expect(await gc()).toEqual({ ran: true, collected: 1, deleted: 1, failed: 0 });
    expect(inBucket(s3a, MAIN, sharedUrl)).toBeUndefined();
    expect((await getBytes(sharedUrl)).status).toBe(404);
  });

  it('objects allocated and never registered go with their uploaded bytes after min_object_timeout plus the grace, not before; registered ones stay', async () => {
    const flowId = await media.putFlow();
    const [uploadedOnly, neverUploaded, registered] = await media.allocate(flowId, { limit: 3 });
    const bytes = randomBytes(5000);
    await uploaded(uploadedOnly!.put_url, bytes);
    await uploaded(registered!.put_url, bytes);
    await media.register(flowId, { object_id: registered!.object_id, timerange: second(0) });

    clock.advance((OBJECT_TIMEOUT_SEC + GRACE_SEC - 1) * 1000);
    expect(await gc()).toEqual({ ran: true, collected: 0, deleted: 0, failed: 0 });
    expect(inBucket(s3a, MAIN, uploadedOnly!.put_url.url)?.equals(bytes)).toBe(true);

    clock.advance(2000);
    // Both unregistered allocations go; only one had bytes, but deleting absent bytes is no failure.
    expect(await gc()).toEqual({ ran: true, collected: 2, deleted: 2, failed: 0 });
    expect(inBucket(s3a, MAIN, uploadedOnly!.put_url.url)).toBeUndefined();
    expect(inBucket(s3a, MAIN, registered!.put_url.url)?.equals(bytes)).toBe(true);
    expect((await media.segments(flowId)).map((s) => s.object_id)).toEqual([registered!.object_id]);
    // Their ids are free again.
    const again = await media.allocate(flowId, { object_ids: [uploadedOnly!.object_id, neverUploaded!.object_id] });
    expect(again.map((a) => a.object_id)).toEqual([uploadedOnly!.object_id, neverUploaded!.object_id]);
  });

  it("presigned PUT URLs are dated by the gateway's clock and never outlive min_object_timeout by it, as the local backend's are", async () => {
    clock.advance(3600_000);
    const flowId = await media.putFlow();
    const [local] = await media.allocate(flowId, { storage_id: h.gateway.localObjects.backend.id, limit: 1 });
    // The local directory's URLs expire by the gateway's clock (rounded up to the minute).
    const localExpiry = Number(new URL(local!.put_url.url).searchParams.get('exp')) - Math.floor(clock.nowMs() / 1000);
    expect(localExpiry >= PRESIGNED_SEC && localExpiry < PRESIGNED_SEC + 60).toBe(true);
    const [allocation] = await media.allocate(flowId, { object_ids: [randomUUID()] });
    const { expiresInSec } = await expectPresignedFor(allocation!.put_url.url, MAIN, 'PUT');
    const signedAt = new URL(allocation!.put_url.url).searchParams.get('X-Amz-Date');
    const now = new Date(clock.nowMs()).toISOString().replace(/[-:]|\.\d{3}/g, '');
    expect({ signedAt, expiresInSec }).toEqual({ signedAt: now, expiresInSec: PRESIGNED_SEC });
  });

  it('a removed instance keeps its bytes while its PUT URL may work: a re-upload lands on a key still queued, and a pass deletes it once due', async () => {
    const flowId = await media.putFlow();
    const [allocation] = await media.allocate(flowId, { storage_id: MAIN.id, limit: 1 });
    const objectId = allocation!.object_id;
    const bytes = randomBytes(3000);
    await uploaded(allocation!.put_url, bytes);
    await media.register(flowId, { object_id: objectId, timerange: second(0) });
    await addInstance(objectId, COPIES.id);
    const mainKey = keyIn(allocation!.put_url.url, MAIN);
    const allocatedAt = clock.nowMs();

    expectStatus(await h.request('DELETE', `/objects/${enc(objectId)}/instances?storage_id=${MAIN.id}`), 204);
    expect([...(await instanceUrls(objectId)).keys()]).toEqual([COPIES.id]);
    // Not deleted with the request: queued until allocation + lifetime.
    expect(inBucket(s3a, MAIN, allocation!.put_url.url)?.equals(bytes)).toBe(true);
    expect(await h.gateway.store.pendingObjectDeletions(100)).toEqual([{ storage_id: MAIN.id, key: mainKey }]);

    // The uploader uses its PUT URL again. s3rver limit: it ignores If-None-Match: * and
    // replaces the bytes (S3 with conditional writes answers 412); either way the key is still
    // queued, so nothing the API does not track is left.
    const again = randomBytes(4000);
    await uploaded(allocation!.put_url, again);
    expect(inBucket(s3a, MAIN, allocation!.put_url.url)?.equals(again)).toBe(true);
    expect(await gc()).toEqual({ ran: true, collected: 0, deleted: 0, failed: 0 });
    clock.advance(LIFETIME_MS - 1);
    expect(await gc()).toEqual({ ran: true, collected: 0, deleted: 0, failed: 0 });
    expect(inBucket(s3a, MAIN, allocation!.put_url.url)).toBeDefined();

    clock.advance(1);
    expect(await gc()).toEqual({ ran: true, collected: 0, deleted: 1, failed: 0 });
    expect(inBucket(s3a, MAIN, allocation!.put_url.url)).toBeUndefined();
    expect(await h.gateway.store.pendingObjectDeletions(100)).toEqual([]);
    // By the gateway's clock the PUT URL had expired when the bytes went (S3 would refuse it
    // from then on; s3rver checks the real clock, which this test does not move).
    const put = new URL(allocation!.put_url.url).searchParams;
    const signedAt = Date.parse(put.get('X-Amz-Date')!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const expiresAt = signedAt + Number(put.get('X-Amz-Expires')) * 1000;
    expect({ expiredBeforeDeletion: expiresAt < clock.nowMs(), withinMinObjectTimeout: expiresAt <= allocatedAt + OBJECT_TIMEOUT_SEC * 1000 }).toEqual({
      expiredBeforeDeletion: true,
      withinMinObjectTimeout: true,
    });
    // The copy is untouched.
    expect((await getBytes((await instanceUrls(objectId)).get(COPIES.id)!)).bytes.equals(bytes)).toBe(true);
  });

  it('a backend that is down keeps its deletions queued for the next pass; the other backends are cleaned meanwhile', async () => {
    const { flowId, bytes } = await media.flowWith(MAIN.id, 1, 4000);
    const [objectId] = [...bytes.keys()] as [string];
    await addInstance(objectId, AWAY.id);
    const urls = await instanceUrls(objectId);
    expect(inBucket(s3away, AWAY, urls.get(AWAY.id)!)?.equals(bytes.get(objectId)!)).toBe(true);
    await s3away.close();

    expectStatus(await h.request('DELETE', `/flows/${flowId}`), 204);
    clock.advance(LIFETIME_MS + 1);
    const started = Date.now();
    expect(await gc()).toEqual({ ran: true, collected: 1, deleted: 1, failed: 1 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(inBucket(s3a, MAIN, urls.get(MAIN.id)!)).toBeUndefined();
    expect(await h.gateway.store.pendingObjectDeletions(100)).toEqual([{ storage_id: AWAY.id, key: keyIn(urls.get(AWAY.id)!, AWAY) }]);
    // Still down: still queued, the bytes still there.
    expect(await gc()).toEqual({ ran: true, collected: 0, deleted: 0, failed: 1 });
    expect(inBucket(s3away, AWAY, urls.get(AWAY.id)!)?.equals(bytes.get(objectId)!)).toBe(true);
  });
});
