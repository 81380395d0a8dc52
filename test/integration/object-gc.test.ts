/**
 * Object garbage collection over real HTTP, the local backend and a clock the test moves:
 * only explicit `gateway.gc.runOnce()` passes run (the scheduled interval is a day of real
 * time). An object goes, its bytes with it, when no segment needs it (its segments deleted, or
 * allocated and never registered) and it was allocated more than min_object_timeout plus the
 * grace period ago: until then a PUT URL handed out for it may still work, and deleting its
 * bytes would let an upload put back bytes nothing tracks. For the same reason a removed
 * instance's bytes stay queued until that lifetime is over. Uncontrolled URLs are never
 * requested; a failing deletion stays queued; the counts reach /metrics; one process at a time
 * works, under a lease.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startHarness, type Harness } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';
import { videoFlow } from '../fixtures/flows';
import type { ObjectStorageRef } from '../../src/domain/entities';
import { ObjectGcWorker, type ObjectGcPass } from '../../src/workers/object-gc-worker';
import { TestClock } from '../support/test-clock';
import { sqliteDatabase } from '../support/sqlite-database';

const METRICS_TOKEN = 'object-gc-metrics-0123456789';
const DAY_MS = 86_400_000;
/**
 * TAMS_MIN_OBJECT_TIMEOUT (300 s) plus TAMS_GC_GRACE_SEC (60 s): how long after its allocation
 * a PUT URL for an object may still be used, so how long its bytes are kept at least.
 */
const UNREGISTERED_AFTER_MS = 360_000;
const ENV = {
  TAMS_GC_INTERVAL_MS: String(DAY_MS),
  TAMS_PRESIGNED_URL_TIMEOUT: '60:0',
  TAMS_MIN_OBJECT_TIMEOUT: '300:0',
  TAMS_GC_GRACE_SEC: '60',
  METRICS_TOKEN,
};

const pass = (collected: number, deleted: number, failed = 0): ObjectGcPass => ({ ran: true, collected, deleted, failed });

/** A loopback server standing for a place uncontrolled URLs point at: it counts what reaches it. */
let elsewhere: http.Server;
let elsewhereHits: string[];
let elsewhereBase: string;

beforeAll(async () => {
  elsewhere = http.createServer((req, res) => {
    elsewhereHits.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.end('not the gateway');
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  elsewhereBase = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => elsewhere.close((err) => (err ? reject(err) : resolve())));
});

describe('object garbage collection', () => {
  let h: Harness;
  let clock: TestClock;

  beforeEach(async () => {
    elsewhereHits = [];
    clock = new TestClock();
    h = await startHarness(ENV, { clock });
  });

  afterEach(async () => {
    await h.close();
  });

  const gc = (): Promise<ObjectGcPass> => h.gateway.gc!.runOnce();
  const enc = encodeURIComponent;

  async function putFlow(overrides: Record<string, unknown> = {}): Promise<string> {
    const flow = videoFlow(overrides);
    const res = await h.request('PUT', `/flows/${flow.id as string}`, flow);
    expect({ status: res.status, body: res.status === 201 ? undefined : res.body }).toEqual({ status: 201, body: undefined });
    return flow.id as string;
  }

  /** Allocates the ids for the flow; their PUT URLs by object id. */
  async function allocate(flowId: string, ids: string[]): Promise<Map<string, { url: string; 'content-type': string }>> {
    const res = await h.request('POST', `/flows/${flowId}/storage`, { object_ids: ids });
    expect({ status: res.status, body: res.status === 201 ? undefined : res.body }).toEqual({ status: 201, body: undefined });
    const objects = res.body.media_objects as { object_id: string; put_url: { url: string; 'content-type': string } }[];
    return new Map(objects.map((o) => [o.object_id, o.put_url]));
  }

  async function upload(putUrl: { url: string; 'content-type': string } | undefined, bytes: Buffer): Promise<void> {
    const res = await checkedFetch(putUrl!.url, { method: 'PUT', body: bytes, headers: { 'content-type': putUrl!['content-type'] } });
    expect(res.status).toBe(200);
  }

  /** Allocated, uploaded and registered as the segment [second, second + 1) of the flow; the bytes. */
  async function registered(flowId: string, objectId: string, second: number, extra: Record<string, unknown> = {}): Promise<Buffer> {
    const bytes = randomBytes(256);
    await upload((await allocate(flowId, [objectId])).get(objectId), bytes);
    await segment(flowId, { object_id: objectId, timerange: `[${second}:0_${second + 1}:0)`, ...extra });
    return bytes;
  }

  async function segment(flowId: string, body: Record<string, unknown>, status = 201): Promise<void> {
    const res = await h.request('POST', `/flows/${flowId}/segments`, body);
    expect({ status: res.status, body: res.status === status ? undefined : res.body }).toEqual({ status, body: undefined });
  }

  async function deleteSegments(flowId: string): Promise<void> {
    expect((await h.request('DELETE', `/flows/${flowId}/segments`)).status).toBe(204);
  }

  /** The object's one controlled instance, on the local backend. */
  async function localInstance(objectId: string): Promise<ObjectStorageRef> {
    const instances = (await h.gateway.store.getObject(objectId))!.instances;
    expect(instances.map((i) => i.storage_id)).toEqual([h.gateway.localObjects.backend.id]);
    return instances[0]!;
  }

  /** Where the local instance's bytes are on disk, below dataDir/objects. */
  async function fileOf(objectId: string): Promise<string> {
    const file = h.gateway.localObjects.resolveKey((await localInstance(objectId)).key);
    expect(file.startsWith(path.join(h.dataDir, 'objects') + path.sep)).toBe(true);
    return file;
  }

  const onDisk = (file: string): Buffer | undefined => (fs.existsSync(file) ? fs.readFileSync(file) : undefined);
  const objectStatus = async (id: string): Promise<number> => (await h.request('GET', `/objects/${enc(id)}`)).status;
  const queued = (): Promise<ObjectStorageRef[]> => h.gateway.store.pendingObjectDeletions(1000);

  it('keeps objects that segments use, and drops an object and its bytes once its segments are gone and its PUT URL lifetime is over', async () => {
    const flowId = await putFlow();
    const [used, kept] = [randomUUID(), randomUUID()];
    const [bytes, keptBytes] = [randomBytes(1024), randomBytes(512)];
    const urls = await allocate(flowId, [used, kept]);
    await upload(urls.get(used), bytes);
    await upload(urls.get(kept), keptBytes);
    await segment(flowId, { object_id: used, timerange: '[0:0_1:0)' });
    await segment(flowId, { object_id: kept, timerange: '[1:0_2:0)' });
    const [file, keptFile] = [await fileOf(used), await fileOf(kept)];

    expect(await gc()).toEqual(pass(0, 0));
    expect(onDisk(file)).toEqual(bytes);
    expect(fs.existsSync(`${file}.content-type`)).toBe(true);
    expect(await objectStatus(used)).toBe(200);

    expect((await h.request('DELETE', `/flows/${flowId}/segments?timerange=${enc('[0:0_1:0)')}`)).status).toBe(204);
    // Unreferenced now, but allocated less than min_object_timeout + grace ago: its PUT URL may
    // still be used, so the object and its bytes stay (a re-upload meets write-once).
    expect(await gc()).toEqual(pass(0, 0));
    expect(onDisk(file)).toEqual(bytes);
    expect((await h.gateway.store.getObject(used))?.registered).toBe(true);
    expect(await queued()).toEqual([]);
    const reupload = await checkedFetch(urls.get(used)!.url, { method: 'PUT', body: randomBytes(64), headers: { 'content-type': urls.get(used)!['content-type'] } });
    expect(reupload.status).toBe(409);
    expect(onDisk(file)).toEqual(bytes);

    // Up to allocation + lifetime exactly, still kept; 1 ms later, collected with its bytes.
    clock.advance(UNREGISTERED_AFTER_MS);
    expect(await gc()).toEqual(pass(0, 0));
    expect(onDisk(file)).toEqual(bytes);
    clock.advance(1);
    expect(await gc()).toEqual(pass(1, 1));
    expect(await objectStatus(used)).toBe(404);
    expect(await h.gateway.store.getObject(used)).toBeUndefined();
    expect(onDisk(file)).toBeUndefined();
    expect(fs.existsSync(`${file}.content-type`)).toBe(false);
    expect(await queued()).toEqual([]);
    // Its PUT URL has long expired: nothing can put the bytes back.
    const late = await checkedFetch(urls.get(used)!.url, { method: 'PUT', body: randomBytes(64), headers: { 'content-type': urls.get(used)!['content-type'] } });
    expect(late.status).toBe(403);
    expect(onDisk(file)).toBeUndefined();
    // The id names nothing now: a segment cannot re-use it.
    await segment(flowId, { object_id: used, timerange: '[2:0_3:0)' }, 400);
    // However old, an object a segment uses stays, bytes and all.
    expect(onDisk(keptFile)).toEqual(keptBytes);
    expect(await objectStatus(kept)).toBe(200);
    // One allocated now is within its time.
    const unused = randomUUID();
    await allocate(flowId, [unused]);
    expect(await gc()).toEqual(pass(0, 0));
    expect((await h.gateway.store.getObject(unused))?.registered).toBe(false);
  });

  it('drops objects allocated and never registered only after min_object_timeout plus the grace period', async () => {
    const flowId = await putFlow();
    const [neverUploaded, neverRegistered, kept] = [randomUUID(), randomUUID(), randomUUID()];
    const urls = await allocate(flowId, [neverUploaded, neverRegistered]);
    const orphan = randomBytes(128);
    await upload(urls.get(neverRegistered), orphan);
    const keptBytes = await registered(flowId, kept, 0);
    const [orphanFile, keptFile] = [await fileOf(neverRegistered), await fileOf(kept)];
    expect(onDisk(orphanFile)).toEqual(orphan);

    clock.advance(UNREGISTERED_AFTER_MS);
    expect(await gc()).toEqual(pass(0, 0));
    expect((await h.gateway.store.getObject(neverUploaded))?.registered).toBe(false);
    expect(onDisk(orphanFile)).toEqual(orphan);

    clock.advance(1);
    expect(await gc()).toEqual(pass(2, 2));
    expect(await h.gateway.store.getObject(neverUploaded)).toBeUndefined();
    expect(await h.gateway.store.getObject(neverRegistered)).toBeUndefined();
    expect(onDisk(orphanFile)).toBeUndefined();
    expect(onDisk(keptFile)).toEqual(keptBytes);
    expect(await objectStatus(kept)).toBe(200);
    // The ids are free to allocate again.
    await allocate(flowId, [neverUploaded]);
  });

  it('frees the objects of a deleted flow, init objects included, but keeps one another flow uses', async () => {
    const withInit = await putFlow({ essence_parameters: { ...(videoFlow().essence_parameters as object), init_segments: true } });
    const [other, survivor] = [await putFlow(), await putFlow()];
    const [media, init, own, shared] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const initBytes = randomBytes(64);
    await upload((await allocate(withInit, [init])).get(init), initBytes);
    await registered(withInit, media, 0, { init_object_id: init });
    await registered(other, own, 0);
    const sharedBytes = await registered(other, shared, 1);
    await segment(survivor, { object_id: shared, timerange: '[5:0_6:0)' });
    const files = { media: await fileOf(media), init: await fileOf(init), own: await fileOf(own), shared: await fileOf(shared) };
    expect(onDisk(files.init)).toEqual(initBytes);

    expect(await gc()).toEqual(pass(0, 0));
    expect((await h.request('DELETE', `/flows/${withInit}`)).status).toBe(204);
    expect((await h.request('DELETE', `/flows/${other}`)).status).toBe(204);
    // Freed, but within their PUT URLs' lifetime: kept for now.
    expect(await gc()).toEqual(pass(0, 0));
    expect(onDisk(files.init)).toEqual(initBytes);
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    expect(await gc()).toEqual(pass(3, 3));

    for (const id of [media, init, own]) expect(await objectStatus(id)).toBe(404);
    expect([files.media, files.init, files.own].map(onDisk)).toEqual([undefined, undefined, undefined]);
    expect(onDisk(files.shared)).toEqual(sharedBytes);
    const res = await h.request('GET', `/objects/${enc(shared)}`);
    expect(res.status).toBe(200);
    expect(res.body.referenced_by_flows).toEqual([survivor]);
    expect(await queued()).toEqual([]);
  });

  it('drops an object known only by its get_urls without a request to them', async () => {
    const flowId = await putFlow();
    const external = randomUUID();
    await segment(flowId, { object_id: external, timerange: '[0:0_1:0)', get_urls: [{ url: `${elsewhereBase}/media/${external}`, label: 'elsewhere' }] });
    expect(await objectStatus(external)).toBe(200);
    expect(await gc()).toEqual(pass(0, 0));

    await deleteSegments(flowId);
    // Objects are collected by age whatever their instances: this one too waits out the lifetime.
    expect(await gc()).toEqual(pass(0, 0));
    expect(await objectStatus(external)).toBe(200);
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    expect(await gc()).toEqual(pass(1, 0));
    expect(await objectStatus(external)).toBe(404);
    expect(await queued()).toEqual([]);
    expect(elsewhereHits).toEqual([]);
  });

  it('keeps the local bytes of a removed local instance queued while its PUT URL may work, and a pass deletes them once due', async () => {
    const flowId = await putFlow();
    const id = randomUUID();
    const bytes = randomBytes(256);
    const putUrl = (await allocate(flowId, [id])).get(id)!;
    await upload(putUrl, bytes);
    await segment(flowId, { object_id: id, timerange: '[0:0_1:0)' });
    const file = await fileOf(id);
    const localRef = await localInstance(id);
    const mirror = `${elsewhereBase}/mirror/${id}`;
    expect((await h.request('POST', `/objects/${enc(id)}/instances`, { url: mirror, label: 'mirror' })).status).toBe(201);
    expect(onDisk(file)).toEqual(bytes);

    const localId = h.gateway.localObjects.backend.id;
    expect((await h.request('DELETE', `/objects/${enc(id)}/instances?storage_id=${localId}`)).status).toBe(204);
    const res = await h.request('GET', `/objects/${enc(id)}`);
    expect(res.body.get_urls).toEqual([{ url: mirror, label: 'mirror', presigned: false }]);
    // The instance is gone at once; its bytes are queued until allocation + lifetime, since the
    // PUT URL may still work until then: a re-upload meets write-once, nothing untracked appears.
    expect(onDisk(file)).toEqual(bytes);
    expect(await queued()).toEqual([localRef]);
    const reupload = await checkedFetch(putUrl.url, { method: 'PUT', body: randomBytes(64), headers: { 'content-type': putUrl['content-type'] } });
    expect(reupload.status).toBe(409);
    expect(onDisk(file)).toEqual(bytes);
    expect(await gc()).toEqual(pass(0, 0));
    clock.advance(UNREGISTERED_AFTER_MS - 1);
    expect(await gc()).toEqual(pass(0, 0));
    expect(onDisk(file)).toEqual(bytes);

    // Due at allocation + lifetime: the next pass deletes them.
    clock.advance(1);
    expect(await gc()).toEqual(pass(0, 1));
    expect(onDisk(file)).toBeUndefined();
    expect(await queued()).toEqual([]);
    const late = await checkedFetch(putUrl.url, { method: 'PUT', body: randomBytes(64), headers: { 'content-type': putUrl['content-type'] } });
    expect(late.status).toBe(403);
    expect(onDisk(file)).toBeUndefined();

    await deleteSegments(flowId);
    // (Objects go 1 ms after allocation + lifetime; queued bytes are due at it.)
    clock.advance(1);
    expect(await gc()).toEqual(pass(1, 0));
    expect(await objectStatus(id)).toBe(404);
    expect(elsewhereHits).toEqual([]);
  });

  it('deletes the local bytes with the request when the local instance is removed after its PUT URL lifetime', async () => {
    const flowId = await putFlow();
    const id = randomUUID();
    const bytes = await registered(flowId, id, 0);
    const file = await fileOf(id);
    const mirror = `${elsewhereBase}/mirror/${id}`;
    expect((await h.request('POST', `/objects/${enc(id)}/instances`, { url: mirror, label: 'mirror' })).status).toBe(201);
    expect(onDisk(file)).toEqual(bytes);
    clock.advance(UNREGISTERED_AFTER_MS);

    const localId = h.gateway.localObjects.backend.id;
    expect((await h.request('DELETE', `/objects/${enc(id)}/instances?storage_id=${localId}`)).status).toBe(204);
    // Gone with the request, not left for a pass.
    expect(onDisk(file)).toBeUndefined();
    expect(await queued()).toEqual([]);
    expect(await gc()).toEqual(pass(0, 0));
    expect(elsewhereHits).toEqual([]);
  });

  it('leaves a failed deletion queued while the pass deletes the others, and finishes it once it can', async () => {
    const flowId = await putFlow();
    const [stuck, gone, ghostly] = [randomUUID(), randomUUID(), randomUUID()];
    await allocate(flowId, [stuck]);
    // A directory where the object's bytes would be: the local backend cannot unlink it (EISDIR).
    const stuckFile = await fileOf(stuck);
    fs.mkdirSync(stuckFile, { recursive: true });
    // Bytes queued on a backend this gateway has no store for (through the store: the API only names configured ones).
    await registered(flowId, ghostly, 5);
    const ghost: ObjectStorageRef = { storage_id: randomUUID(), key: 'ghost/key' };
    await h.gateway.store.addObjectInstance(ghostly, ghost);
    expect(await h.gateway.store.removeObjectInstance(ghostly, { storage_id: ghost.storage_id })).toEqual(ghost);
    const goneBytes = await registered(flowId, gone, 0);
    const goneFile = await fileOf(gone);
    expect(onDisk(goneFile)).toEqual(goneBytes);

    const stuckRef = await localInstance(stuck);
    expect((await h.request('DELETE', `/flows/${flowId}/segments?timerange=${enc('[0:0_1:0)')}`)).status).toBe(204);
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    expect(await gc()).toEqual(pass(2, 1, 1));
    expect(onDisk(goneFile)).toBeUndefined();
    expect(await queued()).toEqual([ghost, stuckRef]);

    fs.rmdirSync(stuckFile);
    expect(await gc()).toEqual(pass(0, 1));
    expect(await queued()).toEqual([ghost]);
    expect(await gc()).toEqual(pass(0, 0));
    expect(await objectStatus(ghostly)).toBe(200);
  });

  it('counts collected objects and byte deletions in /metrics', async () => {
    const scrape = async (): Promise<Record<string, number>> => {
      const res = await checkedFetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(res.status).toBe(200);
      const values: Record<string, number> = {};
      for (const line of (await res.text()).split('\n')) {
        const m = /^(tams_object_gc_\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (m) values[m[1]!] = Number(m[2]);
      }
      return values;
    };
    const counts = (passes: number, collected: number, ok: number, failed: number): Record<string, number> => ({
      tams_object_gc_passes_total: passes,
      tams_object_gc_objects_collected_total: collected,
      'tams_object_gc_deletions_total{outcome="ok"}': ok,
      'tams_object_gc_deletions_total{outcome="failed"}': failed,
    });

    const flowId = await putFlow();
    const [a, b, unregistered, stuck] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await registered(flowId, a, 0);
    await registered(flowId, b, 1);
    await allocate(flowId, [unregistered]);
    expect(await gc()).toEqual(pass(0, 0));
    expect(await scrape()).toEqual(counts(1, 0, 0, 0));

    await deleteSegments(flowId);
    // Too young to collect: a pass, and nothing else counted.
    expect(await gc()).toEqual(pass(0, 0));
    expect(await scrape()).toEqual(counts(2, 0, 0, 0));

    clock.advance(UNREGISTERED_AFTER_MS + 1);
    // The never-uploaded one's bytes are absent: deleting them succeeds all the same.
    expect(await gc()).toEqual(pass(3, 3));
    expect(await scrape()).toEqual(counts(3, 3, 3, 0));

    await allocate(flowId, [stuck]);
    const stuckFile = await fileOf(stuck);
    fs.mkdirSync(stuckFile, { recursive: true });
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    expect(await gc()).toEqual(pass(1, 0, 1));
    expect(await scrape()).toEqual(counts(4, 4, 3, 1));

    fs.rmdirSync(stuckFile);
    expect(await gc()).toEqual(pass(0, 1));
    expect(await scrape()).toEqual(counts(5, 4, 4, 1));
  });

  it('lets one worker at a time run: another waits for the lease to expire or be given up', async () => {
    const flowId = await putFlow();
    const [first, second] = [randomUUID(), randomUUID()];
    await registered(flowId, first, 0);
    await registered(flowId, second, 1);
    expect(await gc()).toEqual(pass(0, 0));
    const lease = sqliteDatabase(h.gateway.store).prepare('SELECT holder, expires_ms FROM leases WHERE name = ?').get('object-gc') as { holder: string; expires_ms: number };
    expect(lease.expires_ms).toBe(clock.nowMs() + 2 * DAY_MS);

    const other = new ObjectGcWorker(h.gateway.store, h.gateway.objects, clock, {
      holder: 'other',
      batch: 10,
      intervalMs: 1000,
      unregisteredAfterMs: UNREGISTERED_AFTER_MS,
    });
    expect((await h.request('DELETE', `/flows/${flowId}/segments?timerange=${enc('[0:0_1:0)')}`)).status).toBe(204);
    expect(await other.runOnce()).toEqual({ ran: false, collected: 0, deleted: 0, failed: 0 });
    expect(await objectStatus(first)).toBe(200);

    clock.advance(lease.expires_ms - clock.nowMs() - 1);
    expect(await other.runOnce()).toEqual({ ran: false, collected: 0, deleted: 0, failed: 0 });
    clock.advance(1);
    expect(await other.runOnce()).toEqual(pass(1, 1));
    expect(await objectStatus(first)).toBe(404);

    // Now the other one holds it (for max(2 intervals, 60 s)).
    await deleteSegments(flowId);
    expect(await gc()).toEqual({ ran: false, collected: 0, deleted: 0, failed: 0 });
    await other.stop();
    expect(await gc()).toEqual(pass(1, 1));
    expect(await objectStatus(second)).toBe(404);
  });
});
