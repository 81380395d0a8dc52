/**
 * Hostile review of issue 17: races and failures around controlled instances, copies and the
 * garbage collector, over real HTTP. The S3 backends sit behind a small HTTP proxy in front of
 * an in-process s3rver, so a test can count what reaches the bucket and hold, stall or fail a
 * chosen S3 operation while it does something else (remove an instance, delete the flow, run
 * the collector, register a segment) and then let it go. The outcome must always be one of
 * the consistent ones: the copy recorded with the right bytes, or nothing recorded and no bytes
 * left behind; never a reference to deleted bytes, never a hang, never a 500. Bytes are never
 * deleted while a PUT URL for them may still work (allocation + min_object_timeout + grace, by
 * the gateway's clock): tests that need bytes deleted at once move the clock past that first.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startHarness, type Harness, type TamsResponse } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';
import { videoFlow } from '../fixtures/flows';
import { TestClock } from '../support/test-clock';

/** What an S3 request is, from the proxy's point of view. */
type S3Op = 'HeadObject' | 'HeadBucket' | 'GetObject' | 'PutObject' | 'CopyObject' | 'DeleteObject' | 'Other';

function classify(req: http.IncomingMessage): S3Op {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/').filter((p) => p !== '');
  const onObject = parts.length > 1;
  if (req.method === 'HEAD') return onObject ? 'HeadObject' : 'HeadBucket';
  if (req.method === 'GET' && onObject && !url.search.includes('uploadId')) return 'GetObject';
  if (req.method === 'PUT' && onObject && req.headers['x-amz-copy-source'] !== undefined) return 'CopyObject';
  if (req.method === 'PUT' && onObject && !url.search.includes('uploadId')) return 'PutObject';
  if (req.method === 'DELETE' && onObject) return 'DeleteObject';
  return 'Other';
}

/** What the proxy does with one request: pass it on, after `hold` resolves, or answer instead. */
type Plan = { hold?: Promise<void>; holdResponse?: Promise<void>; answer?: number; stall?: boolean } | undefined;

interface S3Proxy {
  endpoint: string;
  counts: Map<S3Op, number>;
  /** The most requests of an operation seen in progress at once (arrived, not yet answered). */
  maxInFlight: Map<S3Op, number>;
  plan: (op: S3Op, req: http.IncomingMessage) => Plan;
  close(): Promise<void>;
}

async function s3Proxy(target: string): Promise<S3Proxy> {
  const upstream = new URL(target);
  const proxy: S3Proxy = { endpoint: '', counts: new Map(), maxInFlight: new Map(), plan: () => undefined, close: async () => undefined };
  const inFlight = new Map<S3Op, number>();
  const server = http.createServer((req, res) => {
    const op = classify(req);
    proxy.counts.set(op, (proxy.counts.get(op) ?? 0) + 1);
    inFlight.set(op, (inFlight.get(op) ?? 0) + 1);
    proxy.maxInFlight.set(op, Math.max(proxy.maxInFlight.get(op) ?? 0, inFlight.get(op)!));
    res.on('close', () => inFlight.set(op, inFlight.get(op)! - 1));
    const plan = proxy.plan(op, req);
    if (plan?.stall) {
      req.resume();
      return; // never answered
    }
    if (plan?.answer !== undefined) {
      req.resume();
      req.on('end', () => {
        res.writeHead(plan.answer!, { 'content-type': 'application/xml' });
        res.end(req.method === 'HEAD' ? undefined : `<?xml version="1.0"?><Error><Code>InternalError</Code><Message>injected</Message></Error>`);
      });
      return;
    }
    const forward = (): void => {
      const out = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          const send = (): void => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          };
          if (plan?.holdResponse === undefined) send();
          else void plan.holdResponse.then(send);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    };
    if (plan?.hold === undefined) forward();
    else {
      req.pause();
      void plan.hold.then(forward);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Resolves once `check` holds (polling), or throws after `ms`. */
async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const A = { id: 'b0000000-0000-4000-8000-0000000000a1', label: 'race-a', bucket: 'race-a' };
const B = { id: 'b0000000-0000-4000-8000-0000000000b2', label: 'race-b', bucket: 'race-b' };
/** On another endpoint (a second proxy port), so copies to and from it are streamed. */
const C = { id: 'b0000000-0000-4000-8000-0000000000c3', label: 'race-c', bucket: 'race-c' };

let s3: S3TestServer;
let proxy: S3Proxy;
let proxy2: S3Proxy;
let backendsDir: string;
let backendsFile: string;

function bucketObjects(bucket: string): Map<string, Buffer> {
  const root = path.join(s3.directory, bucket);
  const found = new Map<string, Buffer>();
  if (!existsSync(root)) return found;
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('._S3rver_object')) continue;
    const file = path.join(e.parentPath, e.name);
    found.set(path.relative(root, file).split(path.sep).join('/').replace(/\._S3rver_object$/, ''), readFileSync(file));
  }
  return found;
}

beforeAll(async () => {
  s3 = await startS3Server(A.bucket);
  const admin = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
  await admin.send(new CreateBucketCommand({ Bucket: B.bucket }));
  await admin.send(new CreateBucketCommand({ Bucket: C.bucket }));
  admin.destroy();
  proxy = await s3Proxy(s3.endpoint);
  proxy2 = await s3Proxy(s3.endpoint);
  const entry = (b: typeof A, endpoint: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    id: b.id,
    label: b.label,
    store_type: 'http_object_store',
    provider: 's3rver',
    store_product: 's3rver',
    endpoint,
    path_style: true,
    bucket: b.bucket,
    credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: 'race-secret' },
    request_timeout_ms: 400,
    max_attempts: 2,
    ...extra,
  });
  backendsDir = await mkdtemp(path.join(tmpdir(), 'tams-hostile-races-'));
  backendsFile = path.join(backendsDir, 'backends.json');
  await writeFile(backendsFile, JSON.stringify({ backends: [entry(A, proxy.endpoint, { default_storage: true }), entry(B, proxy.endpoint), entry(C, proxy2.endpoint)] }));
});

afterAll(async () => {
  await proxy?.close();
  await proxy2?.close();
  await s3?.stop();
  if (backendsDir !== undefined) await rm(backendsDir, { recursive: true, force: true });
});

describe('hostile: races and failures of instances, copies and garbage collection', () => {
  let h: Harness;
  let clock: TestClock;

  beforeEach(async () => {
    proxy.plan = () => undefined;
    proxy2.plan = () => undefined;
    clock = new TestClock();
    h = await startHarness(
      {
        TAMS_STORAGE_BACKENDS_FILE: backendsFile,
        TAMS_GC_INTERVAL_MS: '86400000',
        TAMS_PRESIGNED_URL_TIMEOUT: '60:0',
        TAMS_MIN_OBJECT_TIMEOUT: '300:0',
        TAMS_GC_GRACE_SEC: '0',
        TAMS_VERIFY_UPLOADS: 'true',
        TAMS_MAX_OBJECT_BYTES: String(300 * 1024),
      },
      { clock },
    );
  });

  afterEach(async () => {
    proxy.plan = () => undefined;
    proxy2.plan = () => undefined;
    await h?.close();
  });

  /** TAMS_MIN_OBJECT_TIMEOUT (300 s) plus TAMS_GC_GRACE_SEC (0): how long a PUT URL for an object may work after its allocation. */
  const LIFETIME_MS = 300_000;
  const req = (method: string, p: string, body?: unknown): Promise<TamsResponse> => h.request(method, p, body);
  const gc = () => h.gateway.gc!.runOnce();

  async function putFlow(): Promise<string> {
    const flow = videoFlow();
    expect((await req('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    return flow.id as string;
  }

  async function allocateAndUpload(flowId: string, storageId: string, bytes: Buffer): Promise<string> {
    const objectId = randomUUID();
    const alloc = await req('POST', `/flows/${flowId}/storage`, { object_ids: [objectId], storage_id: storageId });
    expect({ status: alloc.status, body: alloc.status === 201 ? undefined : alloc.body }).toEqual({ status: 201, body: undefined });
    const put = alloc.body.media_objects[0].put_url as { url: string; 'content-type': string; headers?: Record<string, string> };
    const up = await checkedFetch(put.url, { method: 'PUT', body: bytes, headers: { 'content-type': put['content-type'], ...(put.headers ?? {}) } });
    expect(up.status).toBe(200);
    return objectId;
  }

  async function registered(flowId: string, storageId: string, second: number, size = 2048): Promise<{ objectId: string; bytes: Buffer }> {
    const bytes = randomBytes(size);
    const objectId = await allocateAndUpload(flowId, storageId, bytes);
    const reg = await req('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: `[${second}:0_${second + 1}:0)` });
    expect({ status: reg.status, body: reg.status === 201 ? undefined : reg.body }).toEqual({ status: 201, body: undefined });
    return { objectId, bytes };
  }

  const instancesOf = async (objectId: string): Promise<string[] | undefined> =>
    (await h.gateway.store.getObject(objectId))?.instances.map((i) => i.storage_id).sort();

  /** The bytes of the object's instance on `bucket`, read from s3rver's disk. */
  async function bytesOn(objectId: string, storageId: string, bucket: string): Promise<Buffer | undefined> {
    const key = (await h.gateway.store.getObject(objectId))?.instances.find((i) => i.storage_id === storageId)?.key;
    return key === undefined ? undefined : bucketObjects(bucket).get(key);
  }

  const digest = (b: Buffer | undefined): string | undefined => (b === undefined ? undefined : createHash('sha256').update(b).digest('hex'));

  it('concurrent copies of one object onto one backend end with exactly one instance and no orphaned bytes', async () => {
    const flowId = await putFlow();
    const { objectId, bytes } = await registered(flowId, A.id, 0);
    const before = bucketObjects(C.bucket).size;
    const answers = await Promise.all(Array.from({ length: 8 }, () => req('POST', `/objects/${objectId}/instances`, { storage_id: C.id })));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    expect(await instancesOf(objectId)).toEqual([A.id, C.id].sort());
    expect(bucketObjects(C.bucket).size).toBe(before + 1);
    expect(digest(await bytesOn(objectId, C.id, C.bucket))).toBe(digest(bytes));
  });

  it('concurrent copies of one object onto one backend transfer it once: the others wait for that copy (one PutObject reaches the target)', async () => {
    // POST /objects/{id}/instances {storage_id} x8 at once: one request streams the object into
    // the target, the seven others wait for it and answer as it does, without moving the bytes again.
    const flowId = await putFlow();
    const { objectId } = await registered(flowId, A.id, 0, 64 * 1024);
    proxy2.counts.clear();
    const answers = await Promise.all(Array.from({ length: 8 }, () => req('POST', `/objects/${objectId}/instances`, { storage_id: C.id })));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    expect({ putObjectsReachingTheTarget: proxy2.counts.get('PutObject') ?? 0 }).toEqual({ putObjectsReachingTheTarget: 1 });
  });

  it('at most 4 copies run at once: 8 copies of different objects onto one backend, each answer held a while, never more than 4 uploads in flight', async () => {
    const flowId = await putFlow();
    const objects: { objectId: string; bytes: Buffer }[] = [];
    for (let i = 0; i < 8; i++) objects.push(await registered(flowId, A.id, i, 32 * 1024));
    proxy2.counts.clear();
    proxy2.maxInFlight.clear();
    // Each upload's answer held 150 ms (under the backend's 400 ms request timeout), so copies overlap.
    proxy2.plan = (op) => (op === 'PutObject' ? { holdResponse: new Promise<void>((resolve) => setTimeout(resolve, 150)) } : undefined);
    const answers = await Promise.all(objects.map((o) => req('POST', `/objects/${o.objectId}/instances`, { storage_id: C.id })));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(201));
    const most = proxy2.maxInFlight.get('PutObject') ?? 0;
    // Without the bound all 8 overlap; with it, at most 4 (and the copies did overlap).
    expect({ putObjects: proxy2.counts.get('PutObject') ?? 0, atMostFourInFlight: most <= 4, overlapped: most >= 2 }).toEqual({ putObjects: 8, atMostFourInFlight: true, overlapped: true });
    for (const o of objects) expect(digest(await bytesOn(o.objectId, C.id, C.bucket))).toBe(digest(o.bytes));
  });

  it('removing the source instance while a streamed copy reads it: the copy lands whole or nothing is recorded', async () => {
    const flowId = await putFlow();
    const { objectId, bytes } = await registered(flowId, A.id, 0, 256 * 1024);
    expect((await req('POST', `/objects/${objectId}/instances`, { storage_id: B.id })).status).toBe(201);
    // Past the object's PUT URL lifetime, so a removal deletes its bytes with the request.
    clock.advance(LIFETIME_MS);
    // Hold the copy's upload into C (the read from A or B is already open).
    const held = gate();
    proxy2.plan = (op) => (op === 'PutObject' ? { hold: held.promise } : undefined);
    const copying = req('POST', `/objects/${objectId}/instances`, { storage_id: C.id });
    await until(() => (proxy2.counts.get('PutObject') ?? 0) > 0);
    const removeA = await req('DELETE', `/objects/${objectId}/instances?storage_id=${A.id}`);
    const removeB = await req('DELETE', `/objects/${objectId}/instances?storage_id=${B.id}`);
    // One of the two goes; the other is the last instance.
    expect([removeA.status, removeB.status].sort()).toEqual([204, 400]);
    held.open();
    const copied = await copying;
    expect([201, 404, 503]).toContain(copied.status);
    const instances = (await instancesOf(objectId))!;
    if (copied.status === 201) {
      expect(instances).toContain(C.id);
      expect(digest(await bytesOn(objectId, C.id, C.bucket))).toBe(digest(bytes));
    } else {
      expect(instances).not.toContain(C.id);
    }
    // Every recorded instance holds the object's bytes.
    for (const [id, bucket] of [[A.id, A.bucket], [B.id, B.bucket], [C.id, C.bucket]] as const) {
      if (instances.includes(id)) expect({ id, sha: digest(await bytesOn(objectId, id, bucket)) }).toEqual({ id, sha: digest(bytes) });
    }
  });

  it('deleting the flow and collecting its objects during a copy: the copy answers 404 and leaves no bytes behind', async () => {
    const flowId = await putFlow();
    const { objectId } = await registered(flowId, A.id, 0, 128 * 1024);
    // Past the object's PUT URL lifetime, so the collector may take it once the flow is gone.
    clock.advance(LIFETIME_MS + 1);
    const cBefore = new Set(bucketObjects(C.bucket).keys());
    const held = gate();
    proxy2.plan = (op) => (op === 'PutObject' ? { holdResponse: held.promise } : undefined);
    const copying = req('POST', `/objects/${objectId}/instances`, { storage_id: C.id });
    await until(() => (proxy2.counts.get('PutObject') ?? 0) > 0);
    expect((await req('DELETE', `/flows/${flowId}`)).status).toBe(204);
    const pass = await gc();
    expect(pass.collected).toBe(1);
    held.open();
    const copied = await copying;
    expect(copied.status).toBe(404);
    expect(await h.gateway.store.getObject(objectId)).toBeUndefined();
    expect([...bucketObjects(C.bucket).keys()].filter((k) => !cBefore.has(k))).toEqual([]);
    await gc();
    expect(await h.gateway.store.pendingObjectDeletions(100)).toEqual([]);
  });

  it('a segment re-using an object while the collector takes it either keeps the object (bytes there) or is refused', async () => {
    const flowId = await putFlow();
    const other = await putFlow();
    for (let round = 0; round < 4; round++) {
      const { objectId, bytes } = await registered(flowId, A.id, round);
      expect((await req('DELETE', `/flows/${flowId}/segments?object_id=${objectId}`)).status).toBe(204);
      // Past its PUT URL lifetime: the collector may take it now.
      clock.advance(LIFETIME_MS + 1);
      const [pass, reg] = await Promise.all([gc(), req('POST', `/flows/${other}/segments`, { object_id: objectId, timerange: `[${round}:0_${round + 1}:0)` })]);
      if (reg.status === 201) {
        expect(pass.collected).toBe(0);
        expect(digest(await bytesOn(objectId, A.id, A.bucket))).toBe(digest(bytes));
      } else {
        expect(reg.status).toBe(400);
        expect(await h.gateway.store.getObject(objectId)).toBeUndefined();
      }
    }
  });

  it('registration with TAMS_VERIFY_UPLOADS racing the collector of the unregistered object: 400, never a segment on deleted bytes', async () => {
    const flowId = await putFlow();
    const objectId = await allocateAndUpload(flowId, A.id, randomBytes(100));
    clock.advance(301_000);
    // The upload check finds the bytes; its answer is held while the collector takes the object.
    const held = gate();
    proxy.plan = (op) => (op === 'HeadObject' ? { holdResponse: held.promise } : undefined);
    proxy.counts.clear();
    const registering = req('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' });
    await until(() => (proxy.counts.get('HeadObject') ?? 0) > 0);
    proxy.plan = () => undefined;
    const pass = await gc();
    expect(pass).toMatchObject({ collected: 1, deleted: 1 });
    held.open();
    const reg = await registering;
    expect(reg.status).toBe(400);
    const listed = await req('GET', `/flows/${flowId}/segments`);
    expect(listed.body).toEqual([]);
  });

  it('removing an instance keeps its bytes while the PUT URL handed out for them may work, so a re-upload lands on a key still queued, deleted once due', async () => {
    // POST /flows/{f}/storage {storage_id: A} -> put_url (valid TAMS_PRESIGNED_URL_TIMEOUT);
    // PUT bytes; register; POST /objects/{id}/instances {storage_id: B}; DELETE
    // /objects/{id}/instances?storage_id=A; PUT to the same put_url again. The bytes at A's key
    // stay, queued, until allocation + min_object_timeout + grace, when a collector pass deletes
    // them: whatever the re-upload wrote is deleted with them, and by then the URL has expired.
    // (s3rver limit: it replaces bytes despite If-None-Match and checks X-Amz-Expires by the real
    // clock, so here the re-upload answers 200 and the URL's expiry is read from the URL.)
    const flowId = await putFlow();
    const objectId = randomUUID();
    const alloc = await req('POST', `/flows/${flowId}/storage`, { object_ids: [objectId], storage_id: A.id });
    const put = alloc.body.media_objects[0].put_url as { url: string; 'content-type': string; headers?: Record<string, string> };
    const allocatedAt = clock.nowMs();
    const send = (bytes: Buffer) => checkedFetch(put.url, { method: 'PUT', body: bytes, headers: { 'content-type': put['content-type'], ...(put.headers ?? {}) } });
    expect((await send(randomBytes(1000))).status).toBe(200);
    expect((await req('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).status).toBe(201);
    const keyOnA = (await h.gateway.store.getObject(objectId))!.instances[0]!.key;
    expect((await req('POST', `/objects/${objectId}/instances`, { storage_id: B.id })).status).toBe(201);
    proxy.counts.clear();
    expect((await req('DELETE', `/objects/${objectId}/instances?storage_id=${A.id}`)).status).toBe(204);
    expect(await instancesOf(objectId)).toEqual([B.id]);
    // No DeleteObject with the request: the bytes stay, queued.
    expect(proxy.counts.get('DeleteObject') ?? 0).toBe(0);
    expect(bucketObjects(A.bucket).has(keyOnA)).toBe(true);
    const queuedOnA = async (): Promise<boolean> => (await h.gateway.store.pendingObjectDeletions(1000)).some((d) => d.storage_id === A.id && d.key === keyOnA);
    expect(await queuedOnA()).toBe(true);

    const again = await send(randomBytes(50_000));
    expect(again.status).toBe(200);
    expect(await queuedOnA()).toBe(true);
    expect(await gc()).toMatchObject({ deleted: 0, failed: 0 });
    clock.advance(LIFETIME_MS - 1);
    expect(await gc()).toMatchObject({ deleted: 0, failed: 0 });
    expect(bucketObjects(A.bucket).has(keyOnA)).toBe(true);

    clock.advance(1);
    expect(await gc()).toMatchObject({ deleted: 1, failed: 0 });
    expect({ leftInBucket: bucketObjects(A.bucket).has(keyOnA), queued: await queuedOnA() }).toEqual({ leftInBucket: false, queued: false });
    // The URL had expired by the gateway's clock before the bytes went (S3 refuses it from then on).
    const q = new URL(put.url).searchParams;
    const signedAt = Date.parse(q.get('X-Amz-Date')!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const expiresAt = signedAt + Number(q.get('X-Amz-Expires')) * 1000;
    expect({ expiredWhenDeleted: expiresAt < clock.nowMs(), signedAtAllocation: signedAt <= allocatedAt }).toEqual({ expiredWhenDeleted: true, signedAtAllocation: true });
  });

  it('the collector keeps a freed object while its PUT URL may work (local backend): a re-upload meets write-once, and once the bytes are gone the URL is refused', async () => {
    // Register, DELETE the segments, collector passes; the still-valid local put_url tries to
    // write the bytes again. Until allocation + min_object_timeout + grace the object and its
    // bytes stay (the /media PUT route refuses a second upload: write-once); after, the pass
    // deletes them, and the URL has expired by the gateway's clock (403): nothing comes back.
    const localId = h.gateway.localObjects.backend.id;
    const flowId = await putFlow();
    const objectId = randomUUID();
    const alloc = await req('POST', `/flows/${flowId}/storage`, { object_ids: [objectId], storage_id: localId });
    const put = alloc.body.media_objects[0].put_url as { url: string; 'content-type': string };
    const send = (bytes: Buffer) => checkedFetch(put.url, { method: 'PUT', body: bytes, headers: { 'content-type': put['content-type'] } });
    const bytes = randomBytes(1000);
    expect((await send(bytes)).status).toBe(200);
    expect((await req('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).status).toBe(201);
    const key = (await h.gateway.store.getObject(objectId))!.instances[0]!.key;
    const file = path.join(h.gateway.localObjects.rootDir, ...key.split('/'));
    expect((await req('DELETE', `/flows/${flowId}/segments`)).status).toBe(204);
    expect(await gc()).toMatchObject({ collected: 0, deleted: 0 });
    expect(readFileSync(file).equals(bytes)).toBe(true);
    const again = await send(randomBytes(20_000));
    expect(again.status).toBe(409);
    expect(readFileSync(file).equals(bytes)).toBe(true);

    clock.advance(LIFETIME_MS);
    expect(await gc()).toMatchObject({ collected: 0, deleted: 0 });
    expect(existsSync(file)).toBe(true);
    clock.advance(1);
    expect(await gc()).toMatchObject({ collected: 1, deleted: 1 });
    expect(existsSync(file)).toBe(false);
    const late = await send(randomBytes(20_000));
    expect(late.status).toBe(403);
    clock.advance(3_600_000);
    await gc();
    const tracked = (await h.gateway.store.pendingObjectDeletions(1000)).some((d) => d.key === key);
    expect({ onDisk: existsSync(file), tracked }).toEqual({ onDisk: false, tracked: false });
  });

  it('a server-side copy whose CopyObject never answers fails with 503 within the backend timeout, recording nothing', async () => {
    const flowId = await putFlow();
    const { objectId } = await registered(flowId, A.id, 0);
    proxy.plan = (op) => (op === 'CopyObject' ? { stall: true } : undefined);
    const started = Date.now();
    const res = await req('POST', `/objects/${objectId}/instances`, { storage_id: B.id });
    const ms = Date.now() - started;
    expect({ status: res.status, fast: ms < 5000 }).toEqual({ status: 503, fast: true });
    expect(await instancesOf(objectId)).toEqual([A.id]);
  });

  it('a copy whose target answers 500 gives 503, records nothing, and leaves nothing in the target bucket', async () => {
    const flowId = await putFlow();
    const { objectId } = await registered(flowId, A.id, 0);
    const before = bucketObjects(C.bucket).size;
    proxy2.plan = (op) => (op === 'PutObject' ? { answer: 500 } : undefined);
    const res = await req('POST', `/objects/${objectId}/instances`, { storage_id: C.id });
    expect(res.status).toBe(503);
    expect(await instancesOf(objectId)).toEqual([A.id]);
    expect(bucketObjects(C.bucket).size).toBe(before);
  });

  it('a copy onto the local backend of an object larger than it accepts answers 413 and leaves no file behind', async () => {
    const flowId = await putFlow();
    const { objectId } = await registered(flowId, A.id, 0, 400 * 1024);
    const root = h.gateway.localObjects.rootDir;
    const files = (): string[] => (existsSync(root) ? readdirSync(root, { recursive: true }).map(String) : []);
    const before = files();
    const res = await req('POST', `/objects/${objectId}/instances`, { storage_id: h.gateway.localObjects.backend.id });
    expect(res.status).toBe(413);
    expect(await instancesOf(objectId)).toEqual([A.id]);
    expect(files()).toEqual(before);
  });

  it('removing an instance while its backend fails deletes answers 204, and the collector deletes the bytes once it is back', async () => {
    const flowId = await putFlow();
    const { objectId } = await registered(flowId, A.id, 0);
    expect((await req('POST', `/objects/${objectId}/instances`, { storage_id: B.id })).status).toBe(201);
    const key = (await h.gateway.store.getObject(objectId))!.instances.find((i) => i.storage_id === B.id)!.key;
    // Past the object's PUT URL lifetime, so the removal tries to delete the bytes with the request.
    clock.advance(LIFETIME_MS);
    proxy.plan = (op) => (op === 'DeleteObject' ? { answer: 503 } : undefined);
    proxy.counts.clear();
    const res = await req('DELETE', `/objects/${objectId}/instances?storage_id=${B.id}`);
    expect(res.status).toBe(204);
    expect(proxy.counts.get('DeleteObject') ?? 0).toBeGreaterThan(0);
    expect(await instancesOf(objectId)).toEqual([A.id]);
    expect(bucketObjects(B.bucket).has(key)).toBe(true);
    const listed = await req('GET', `/objects/${objectId}?verbose_storage=true`);
    expect(listed.body.get_urls.map((u: { storage_id: string }) => u.storage_id)).toEqual([A.id]);
    // Still failing: the pass keeps it queued.
    expect(await gc()).toMatchObject({ deleted: 0, failed: 1 });
    expect(bucketObjects(B.bucket).has(key)).toBe(true);
    proxy.plan = () => undefined;
    expect(await gc()).toMatchObject({ deleted: 1, failed: 0 });
    expect(bucketObjects(B.bucket).has(key)).toBe(false);
    expect(await h.gateway.store.pendingObjectDeletions(100)).toEqual([]);
  });
});

describe('hostile: a local PUT URL against a grace period under a minute', () => {
  let h: Harness;
  let clock: TestClock;

  beforeEach(async () => {
    // One second past a whole minute (and ahead of the real time): the local backend rounds
    // URL expiries up to the minute, here by 59 s.
    clock = new TestClock(Math.ceil(Date.now() / 60_000) * 60_000 + 1_000);
    h = await startHarness(
      { TAMS_GC_INTERVAL_MS: '86400000', TAMS_PRESIGNED_URL_TIMEOUT: '300:0', TAMS_MIN_OBJECT_TIMEOUT: '300:0', TAMS_GC_GRACE_SEC: '0' },
      { clock },
    );
  });

  afterEach(async () => {
    await h?.close();
  });

  it('with TAMS_GC_GRACE_SEC under 60 s, a local PUT URL no longer works once the collector deleted its bytes (local PUT URLs end at the second asked for)', async () => {
    // TAMS_PRESIGNED_URL_TIMEOUT = TAMS_MIN_OBJECT_TIMEOUT = 300:0 (allowed: at most equal),
    // TAMS_GC_GRACE_SEC = 0 (allowed: 0 and up). Allocate on the local backend at a whole
    // minute + 1 s, upload, register, DELETE the segments; 300.001 s later a pass collects the
    // object and deletes its bytes; PUT to the put_url again. Expected 403 (no PUT URL outlives
    // allocation + min_object_timeout + grace, which is what the collector waits for). Got 200:
    // StorageService.allocate asks for exp = now + 300 s, but UrlSigner.quantiseExpiry
    // (src/adapters/local-objects/url-signer.ts) rounds local expiries up to the minute (+59 s
    // here) and verify accepts the whole second of exp, so the URL works until allocation +
    // 360 s; putUrlLifetimeMs (src/main.ts) counts min_object_timeout + grace only. The bytes
    // written then are named by no object and no queued deletion: nothing ever deletes them.
    // (The default grace, 600 s, covers the rounding; any grace under 60 s, with a presigned
    // timeout within 60 s of min_object_timeout, does not.)
    const flow = videoFlow();
    const flowId = flow.id as string;
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    const objectId = randomUUID();
    const alloc = await h.request('POST', `/flows/${flowId}/storage`, { object_ids: [objectId] });
    expect(alloc.status).toBe(201);
    const put = alloc.body.media_objects[0].put_url as { url: string; 'content-type': string };
    const send = (bytes: Buffer) => checkedFetch(put.url, { method: 'PUT', body: bytes, headers: { 'content-type': put['content-type'] } });
    expect((await send(randomBytes(1000))).status).toBe(200);
    expect((await h.request('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).status).toBe(201);
    const key = (await h.gateway.store.getObject(objectId))!.instances[0]!.key;
    const file = path.join(h.gateway.localObjects.rootDir, ...key.split('/'));
    expect((await h.request('DELETE', `/flows/${flowId}/segments`)).status).toBe(204);
    clock.advance(300_001);
    expect(await h.gateway.gc!.runOnce()).toMatchObject({ collected: 1, deleted: 1 });
    expect(existsSync(file)).toBe(false);

    const reupload = await send(randomBytes(20_000));
    clock.advance(3_600_000);
    await h.gateway.gc!.runOnce();
    const tracked = (await h.gateway.store.pendingObjectDeletions(1000)).some((d) => d.key === key);
    expect({ reuploadAfterDeletion: reupload.status, orphanOnDisk: existsSync(file) && !tracked }).toEqual({ reuploadAfterDeletion: 403, orphanOnDisk: false });
  });
});
