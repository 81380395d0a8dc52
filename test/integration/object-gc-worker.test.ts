/**
 * The object garbage collector over a real SQLite store (in memory) and real local backends in
 * a temp dir: how much one pass does, what stop() waits for and gives up, that a backend whose
 * deletions fail (a directory where an object's bytes would be: unlink answers EISDIR) or that
 * is not configured holds up neither the other backends nor itself for long, and that objects
 * and queued deletions wait for their time by the worker's clock (allocation + unregisteredAfterMs,
 * a deletion's not_before).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { LocalObjectStore } from '../../src/adapters/local-objects/local-object-store';
import { ObjectStores } from '../../src/services/object-stores';
import { ObjectGcWorker, type ObjectGcOptions, type ObjectGcPass } from '../../src/workers/object-gc-worker';
import type { ObjectStorageRef } from '../../src/domain/entities';
import { parseTimeRange } from '../../src/domain/timerange';
import { TestClock } from '../support/test-clock';

const FLOW = 'c0ffee00-0000-4000-8000-000000000001';
const LEASE_AFTER_PASS = 'SELECT holder FROM leases WHERE name = ?';
/** Allocated objects older than this are collected. */
const UNREGISTERED_AFTER_MS = 1000;
const DAY_MS = 86_400_000;

let dir: string;
let store: SqliteMetadataStore;
let clock: TestClock;
let a: LocalObjectStore;
let b: LocalObjectStore;
let stores: ObjectStores;

function localStore(name: string, isDefault: boolean): LocalObjectStore {
  return new LocalObjectStore({
    rootDir: path.join(dir, name),
    secret: Buffer.alloc(32, 7),
    backend: {
      id: `c0ffee00-0000-4000-8000-00000000000${isDefault ? 'a' : 'b'}`,
      label: name,
      store_type: 'http_object_store',
      provider: 'tams-gateway',
      store_product: 'local-directory',
      default_storage: isDefault,
    },
    maxObjectBytes: 1 << 20,
  });
}

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-gc-worker-'));
  store = new SqliteMetadataStore({ filename: ':memory:' });
  await store.init();
  await store.putFlow({ id: FLOW, source_id: 'c0ffee00-0000-4000-8000-0000000000ff', format: 'urn:x-nmos:format:data', container: 'application/json' }, new Date(0).toISOString());
  // A day ahead of the real time: the store dates the deletions it queues by its own clock
  // (see the DEFECT test at the end), which must not hold up what these tests look at.
  clock = new TestClock(Date.now() + DAY_MS);
  a = localStore('a', true);
  b = localStore('b', false);
  stores = new ObjectStores([a, b]);
});

afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function worker(options: Partial<ObjectGcOptions> = {}, holder = 'test'): ObjectGcWorker {
  return new ObjectGcWorker(store, stores, clock, { holder, batch: 2, intervalMs: 60_000, unregisteredAfterMs: UNREGISTERED_AFTER_MS, ...options });
}

/**
 * `n` objects allocated now on `on` and never registered, each with bytes (or, `blocked`, a
 * directory where its bytes would be); one millisecond apart, so they are collected in order.
 */
async function allocated(on: LocalObjectStore, n: number, prefix: string, blocked = false): Promise<{ ref: ObjectStorageRef; file: string }[]> {
  const out: { ref: ObjectStorageRef; file: string }[] = [];
  for (let i = 0; i < n; i++) {
    const ref = { storage_id: on.backend.id, key: on.keyFor(`${prefix}-${i}`) };
    await store.allocateObjects(FLOW, [{ id: `${prefix}-${i}`, ...ref }], new Date(clock.nowMs()).toISOString());
    const file = on.resolveKey(ref.key);
    if (blocked) fs.mkdirSync(file, { recursive: true });
    else await on.write(ref.key, { body: Readable.from([randomBytes(32)]), size: 32 });
    out.push({ ref, file });
    clock.advance(1);
  }
  return out;
}

const present = (objects: { file: string }[]): boolean[] => objects.map((o) => fs.existsSync(o.file));
const pass = (collected: number, deleted: number, failed = 0): ObjectGcPass => ({ ran: true, collected, deleted, failed });

describe('ObjectGcWorker', () => {
  it('does at most maxStepsPerPass steps of `batch` objects in a pass, and the rest in the next ones', async () => {
    const backlog = await allocated(a, 13, 'backlog');
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    const gc = worker({ batch: 2, maxStepsPerPass: 3 });

    expect(await gc.runOnce()).toEqual(pass(6, 6));
    expect(present(backlog)).toEqual([...Array<boolean>(6).fill(false), ...Array<boolean>(7).fill(true)]);
    expect(await gc.runOnce()).toEqual(pass(6, 6));
    expect(await gc.runOnce()).toEqual(pass(1, 1));
    expect(present(backlog)).toEqual(Array<boolean>(13).fill(false));
    expect(await gc.runOnce()).toEqual(pass(0, 0));
    expect(await store.pendingObjectDeletions(100)).toEqual([]);
  });

  it('stop() waits for the pass that is running and gives the lease up', async () => {
    const backlog = await allocated(a, 8, 'running');
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    const gc = worker({ batch: 2 });
    const order: string[] = [];
    const running = gc.runOnce().then((result) => {
      order.push('pass');
      return result;
    });
    // A second call joins the pass in flight rather than starting another.
    const joined = gc.runOnce();
    const stopped = gc.stop().then(() => order.push('stopped'));
    await Promise.all([running, stopped]);
    expect(order).toEqual(['pass', 'stopped']);
    expect(await running).toEqual(pass(8, 8));
    expect(await joined).toEqual(pass(8, 8));
    expect(present(backlog)).toEqual(Array<boolean>(8).fill(false));
    expect(store.database.prepare(LEASE_AFTER_PASS).get('object-gc')).toBeUndefined();
    // Free at once, not after the lease would have run out.
    expect((await worker({}, 'next').runOnce()).ran).toBe(true);
  });

  it('holds the lease after a pass, so another holder waits until it runs out', async () => {
    const gc = worker({ intervalMs: 60_000 });
    expect(await gc.runOnce()).toEqual(pass(0, 0));
    expect(store.database.prepare(LEASE_AFTER_PASS).get('object-gc')).toEqual({ holder: 'test' });
    const other = worker({}, 'other');
    clock.advance(120_000 - 1);
    expect(await other.runOnce()).toEqual({ ran: false, collected: 0, deleted: 0, failed: 0 });
    clock.advance(1);
    expect(await other.runOnce()).toEqual(pass(0, 0));
    expect(await gc.runOnce()).toEqual({ ran: false, collected: 0, deleted: 0, failed: 0 });
  });

  it('after stop() schedules no more passes', async () => {
    const passes: ObjectGcPass[] = [];
    const gc = new ObjectGcWorker(store, stores, clock, { holder: 'test', batch: 2, intervalMs: 10, unregisteredAfterMs: UNREGISTERED_AFTER_MS }, {
      pass: (result) => passes.push(result),
      failed: () => undefined,
    });
    const errors: unknown[] = [];
    gc.start((error) => errors.push(error));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await gc.stop();
    const seen = passes.length;
    expect(seen).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(passes.length).toBe(seen);
    expect(errors).toEqual([]);
  });

  it('keeps the deletions of a failing backend queued, reporting it once per pass, and deletes the others in the same pass', async () => {
    const failing = await allocated(a, 1, 'failing', true);
    const healthy = await allocated(b, 2, 'healthy');
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    const failures: string[] = [];
    const gc = new ObjectGcWorker(store, stores, clock, { holder: 'test', batch: 10, intervalMs: 60_000, unregisteredAfterMs: UNREGISTERED_AFTER_MS }, {
      pass: () => undefined,
      failed: (storageId, error) => failures.push(`${storageId} ${(error as NodeJS.ErrnoException).code ?? ''}`),
    });
    expect(await gc.runOnce()).toEqual(pass(3, 2, 1));
    expect(failures).toEqual([`${a.backend.id} EISDIR`]);
    expect(present(healthy)).toEqual([false, false]);
    expect(await store.pendingObjectDeletions(100)).toEqual(failing.map((o) => o.ref));

    fs.rmdirSync(failing[0]!.file);
    expect(await gc.runOnce()).toEqual(pass(0, 1));
    expect(await store.pendingObjectDeletions(100)).toEqual([]);
  });

  /*
   * The queue is read oldest first, `batch * 4` entries at a time, and a step whose entries all
   * belong to a failing (or unconfigured) backend ends the pass: whatever waits behind them on
   * a healthy backend is never reached while that backend fails.
   */
  it('deletes queued bytes on a healthy backend while a failing one holds a batch of older entries', async () => {
    await allocated(a, 2, 'failing', true);
    const healthy = await allocated(b, 2, 'healthy');
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    // Queued by an earlier pass that did not get to delete them (a crash, say).
    expect((await store.collectObjects(new Date(clock.nowMs() - UNREGISTERED_AFTER_MS).toISOString(), 100)).collected).toBe(4);
    const gc = worker({ batch: 2 });
    const result = await gc.runOnce();
    expect({ collected: result.collected, deleted: result.deleted }).toEqual({ collected: 0, deleted: 2 });
    expect(present(healthy)).toEqual([false, false]);
  });

  it('deletes queued bytes on a configured backend behind a window of entries for a backend no store serves', async () => {
    const ghost = { storage_id: 'c0ffee00-0000-4000-8000-00000000dead', key: 'ghost/key' };
    await store.allocateObjects(FLOW, [{ id: 'ghostly', storage_id: b.backend.id, key: b.keyFor('ghostly') }], new Date(clock.nowMs()).toISOString());
    await store.addSegments(FLOW, [{ object_id: 'ghostly', timerange: parseTimeRange('[0:0_1:0)'), timerange_text: '[0:0_1:0)' }], new Date(clock.nowMs()).toISOString());
    for (let i = 0; i < 4; i++) {
      await store.addObjectInstance('ghostly', { ...ghost, key: `ghost/${i}` });
      await store.removeObjectInstance('ghostly', { storage_id: ghost.storage_id });
    }
    const healthy = await allocated(b, 1, 'healthy');
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    const result = await worker({ batch: 1 }).runOnce();
    expect({ collected: result.collected, deleted: result.deleted }).toEqual({ collected: 1, deleted: 1 });
    expect(present(healthy)).toEqual([false]);
    expect((await store.pendingObjectDeletions(100)).map((d) => d.storage_id)).toEqual(Array<string>(4).fill(ghost.storage_id));
  });

  it('collects an unreferenced object only once the clock has passed its allocation + unregisteredAfterMs by 1 ms, one whose segments were deleted as well as one never registered', async () => {
    const refs = ['never-registered', 'freed'].map((id) => ({ id, storage_id: a.backend.id, key: a.keyFor(id) }));
    await store.allocateObjects(FLOW, refs, clock.iso());
    for (const r of refs) await a.write(r.key, { body: Readable.from([randomBytes(32)]), size: 32 });
    await store.addSegments(FLOW, [{ object_id: 'freed', timerange: parseTimeRange('[0:0_1:0)'), timerange_text: '[0:0_1:0)' }], clock.iso());
    await store.deleteSegments(FLOW, parseTimeRange('[0:0_1:0)'), undefined, clock.iso());
    const files = refs.map((r) => ({ file: a.resolveKey(r.key) }));
    const gc = worker({ batch: 10 });

    // Freed at once, but a PUT URL for either may still work: nothing goes, bytes included.
    expect(await gc.runOnce()).toEqual(pass(0, 0));
    clock.advance(UNREGISTERED_AFTER_MS);
    expect(await gc.runOnce()).toEqual(pass(0, 0));
    expect(present(files)).toEqual([true, true]);
    expect((await store.getObject('freed'))?.registered).toBe(true);

    clock.advance(1);
    expect(await gc.runOnce()).toEqual(pass(2, 2));
    expect(present(files)).toEqual([false, false]);
    expect(await store.getObject('freed')).toBeUndefined();
    expect(await store.pendingObjectDeletions(100)).toEqual([]);
  });

  it('leaves a queued deletion alone until the clock reaches its not_before, then deletes it', async () => {
    const moved = { storage_id: a.backend.id, key: a.keyFor('moved') };
    await store.allocateObjects(FLOW, [{ id: 'moved', ...moved }], clock.iso());
    await a.write(moved.key, { body: Readable.from([randomBytes(32)]), size: 32 });
    await store.addSegments(FLOW, [{ object_id: 'moved', timerange: parseTimeRange('[0:0_1:0)'), timerange_text: '[0:0_1:0)' }], clock.iso());
    await store.addObjectInstance('moved', { storage_id: b.backend.id, key: b.keyFor('moved') });
    expect(await store.removeObjectInstance('moved', { storage_id: a.backend.id }, new Date(clock.nowMs() + 5000).toISOString())).toEqual(moved);
    const file = [{ file: a.resolveKey(moved.key) }];
    const gc = worker({ batch: 10 });

    expect(await gc.runOnce()).toEqual(pass(0, 0));
    clock.advance(4999);
    expect(await gc.runOnce()).toEqual(pass(0, 0));
    expect(present(file)).toEqual([true]);
    expect(await store.pendingObjectDeletions(100)).toEqual([moved]);
    // The queue read with a due time leaves it out until then.
    expect(await store.pendingObjectDeletions(100, undefined, clock.iso())).toEqual([]);

    clock.advance(1);
    expect(await gc.runOnce()).toEqual(pass(0, 1));
    expect(present(file)).toEqual([false]);
    expect(await store.pendingObjectDeletions(100)).toEqual([]);
  });

  it('under a clock behind the real one, the bytes of an object the pass collects are deleted in that pass (their deletion is dated by the worker\'s clock)', async () => {
    // A worker whose clock reads 2024-01-01 (the gateway's injected clock; the store runs on the
    // real one): one object allocated then, with bytes, and never registered; the clock moved
    // past allocation + unregisteredAfterMs; one runOnce(). Expected pass(1, 1), the file gone,
    // as with the system clock. Got pass(1, 0), the file left: SqliteMetadataStore.collectObjects
    // (src/adapters/sqlite/sqlite-metadata-store.ts) hands SqliteObjectStorage.collect
    // `new Date().toISOString()`, and collectOne (src/adapters/sqlite/object-storage.ts) queues
    // the bytes with not_before = that real time, while the worker reads the queue with
    // dueBy = its own clock (src/workers/object-gc-worker.ts deleteQueued). A collected object
    // is past its PUT URL lifetime by the caller's clock, so its bytes are due at once; they
    // stay queued until the gateway's clock reaches the store host's. Harmless while both
    // clocks are the system clock; contrary to "time comes from the injected clock".
    clock = new TestClock(Date.parse('2024-01-01T00:00:00.000Z'));
    const old = await allocated(a, 1, 'old');
    clock.advance(UNREGISTERED_AFTER_MS + 1);
    expect(await worker({ batch: 10 }).runOnce()).toEqual(pass(1, 1));
    expect(present(old)).toEqual([false]);
  });
});
