/**
 * The VAST store's object instances, garbage collection and byte-deletion queue
 * (store/object-instances.ts, store/object-gc.ts) against the fake VAST server:
 *
 * - each call made on an in-memory SqliteMetadataStore too and compared: results, errors (code
 *   and message), the objects' and segments' instance copies, the queue and its order;
 * - concurrent writers of one object (two stores on one schema, as two replicas), in both of the
 *   fake's conflict modes: no lost instance, exactly one of two conflicting changes wins;
 * - a transaction whose snapshot predates another's committed change of the same object (made
 *   deterministic by `gated`: the other write runs to its commit after the first transaction
 *   has begun): a collection pass must run again and see it, and so must a segment registration
 *   re-using the object (it writes the rows of the objects it re-uses: segment-registration.ts
 *   touchReusedObjects), against a pass or an instance change on either side of it.
 */
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import type { VastClient } from '../../src/adapters/vast/client/vast-client';
import type { VastTransaction } from '../../src/adapters/vast/client/vast-transaction';
import { collectObjects, queueId } from '../../src/adapters/vast/store/object-gc';
import { registerSegments } from '../../src/adapters/vast/store/segment-registration';
import { vastStoreTables } from '../../src/adapters/vast/store/vast-tables';
import { VastMetadataStore } from '../../src/adapters/vast/vast-metadata-store';
import type { Flow, ObjectStorageRef, SegmentRecord } from '../../src/domain/entities';
import { TamsError } from '../../src/domain/errors';
import { parseTimeRange } from '../../src/domain/timerange';
import type { MetadataStore } from '../../src/ports/metadata-store';
import { at, INIT_SEGMENTS, seg, VIDEO } from '../contract/contract-fixtures';
import type { FakeVastOptions, FakeVastServer } from '../support/vast-fake-server';
import { startFakeVastClient } from '../support/vast-fake-client';

const SCHEMA = 'objects_test';
const ALL = parseTimeRange('_');

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Setup {
  client: VastClient;
  server: FakeVastServer;
  vast: VastMetadataStore;
  /** A second store on the same schema: another replica. */
  replica: VastMetadataStore;
  sqlite: SqliteMetadataStore;
}

async function setup(fake: FakeVastOptions = {}): Promise<Setup> {
  const { server, client, close } = await startFakeVastClient({ fake, client: { conflictRetry: { maxRuns: 60, baseDelayMs: 2, maxDelayMs: 30 } } });
  closers.push(close);
  const vast = new VastMetadataStore({ client, schema: SCHEMA });
  const replica = new VastMetadataStore({ client, schema: SCHEMA });
  await vast.init();
  const sqlite = new SqliteMetadataStore({ filename: ':memory:' });
  closers.push(() => sqlite.close());
  await sqlite.init();
  return { client, server, vast, replica, sqlite };
}

const ref = (storage_id: string, key: string): ObjectStorageRef => ({ storage_id, key });
const flow = (id: string, extra: Partial<Flow> = {}): Flow => ({ id, source_id: `${id}-source`, format: VIDEO, ...extra });

/** A result or the TamsError it failed with (code and message). */
async function outcome<T>(work: () => Promise<T>): Promise<unknown> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TamsError) return { error: error.code, message: error.message };
    throw error;
  }
}

/** Runs a call on both stores, expects the same outcome, and returns it. */
async function both<T>(s: Setup, call: (store: MetadataStore) => Promise<T>): Promise<unknown> {
  const vast = await outcome(() => call(s.vast));
  expect(vast).toEqual(await outcome(() => call(s.sqlite)));
  return vast;
}

async function segments(store: MetadataStore, flowId: string): Promise<SegmentRecord[]> {
  return (await store.listSegments(flowId, { timerange: ALL }, { limit: 1000 })).items;
}

/** What a reader sees of the objects and of the flows' segments and segment texts. */
async function view(store: MetadataStore, objects: string[], flows: string[]): Promise<unknown> {
  return {
    objects: await store.getObjects(objects),
    segments: await Promise.all(flows.map((f) => segments(store, f))),
    texts: await Promise.all(flows.map(async (f) => (await store.listSegmentTexts(f, { timerange: ALL }, { limit: 1000 })).items)),
  };
}

/** Flow f (init segments: m and m2 on A with init object i) and flow g (a segment of an object known only by URL); u1, u2 allocated, never registered. */
async function populate(s: Setup): Promise<void> {
  await both(s, (st) => st.putFlow(flow('f', INIT_SEGMENTS), at(0)).then(() => undefined));
  await both(s, (st) => st.putFlow(flow('g'), at(0)).then(() => undefined));
  await both(s, (st) =>
    st.allocateObjects('f', [
      { id: 'm', storage_id: 'A', key: 'k/m' },
      { id: 'm2', storage_id: 'A', key: 'k/m2' },
      { id: 'i', storage_id: 'A', key: 'k/i' },
    ], at(1)),
  );
  await both(s, (st) => st.allocateObjects('g', [{ id: 'u1', storage_id: 'A', key: 'k/u1' }], at(2)));
  await both(s, (st) => st.allocateObjects('g', [{ id: 'u2', storage_id: 'B', key: 'k/u2' }], at(3)));
  await both(s, (st) => st.addSegments('f', [seg('m', '[0:0_1:0)', { init_object_id: 'i' }), seg('m', '[1:0_2:0)', { init_object_id: 'i' }), seg('m2', '[2:0_3:0)', { init_object_id: 'i' })], at(2)));
  await both(s, (st) => st.addSegments('g', [seg('ext', '[0:0_1:0)', { get_urls: [{ url: 'https://elsewhere.example/x', label: 'x' }] })], at(2)));
}

describe('object instances, collection and the byte queue, compared with SQLite', () => {
  it('adds and removes instances with the same results, errors and copies', async () => {
    const s = await setup();
    await populate(s);
    const objects = ['m', 'm2', 'i', 'ext', 'u1'];
    const flows = ['f', 'g'];
    await both(s, (st) => st.addObjectInstance('m', ref('B', 'kb/m')));
    await both(s, (st) => st.addObjectInstance('m', ref('B', 'kb/other')));
    await both(s, (st) => st.addObjectInstance('m', { url: 'https://mirror.example/m', label: 'mirror "1" é' }));
    await both(s, (st) => st.addObjectInstance('m', { url: 'https://mirror.example/again', label: 'mirror "1" é' }));
    await both(s, (st) => st.addObjectInstance('nope', ref('B', 'x')));
    await both(s, (st) => st.addObjectInstance('u1', ref('B', 'x')));
    await both(s, (st) => st.addObjectInstance('u1', { url: 'https://x.example', label: 'x' }));
    await both(s, (st) => st.addObjectInstance('i', ref('C', 'kc/i')));
    await both(s, (st) => st.addObjectInstance('i', ref('B', 'kb/i')));
    await both(s, (st) => st.addObjectInstance('ext', ref('B', 'kb/ext')));
    await both(s, (st) => st.addObjectInstance('ext', { url: 'https://elsewhere.example/y', label: 'y' }));
    await both(s, (st) => view(st, objects, flows));
    expect(await both(s, (st) => st.storageIdsInUse())).toEqual(['A', 'B', 'C']);

    await both(s, (st) => st.removeObjectInstance('m', { storage_id: 'C' }));
    await both(s, (st) => st.removeObjectInstance('m', { label: 'nope' }));
    await both(s, (st) => st.removeObjectInstance('nope', { label: 'x' }));
    await both(s, (st) => st.removeObjectInstance('u1', { storage_id: 'A' }));
    await both(s, (st) => st.removeObjectInstance('m', { storage_id: 'A' }));
    await both(s, (st) => st.removeObjectInstance('m', { label: 'mirror "1" é' }));
    await both(s, (st) => st.removeObjectInstance('m', { storage_id: 'B' }));
    await both(s, (st) => st.removeObjectInstance('i', { storage_id: 'A' }, at(50)));
    await both(s, (st) => st.removeObjectInstance('ext', { label: 'x' }));
    await both(s, (st) => st.removeObjectInstance('ext', { label: 'y' }));
    await both(s, (st) => st.removeObjectInstance('ext', { storage_id: 'B' }));
    await both(s, (st) => view(st, objects, flows));
    await both(s, (st) => st.storageIdsInUse());

    await both(s, (st) => st.pendingObjectDeletions(100));
    await both(s, (st) => st.pendingObjectDeletions(1));
    await both(s, (st) => st.pendingObjectDeletions(100, ['A'], at(49)));
    await both(s, (st) => st.pendingObjectDeletions(100, ['A'], at(50)));
    await both(s, (st) => st.pendingObjectDeletions(100, ['C', 'B']));
    await both(s, (st) => st.pendingObjectDeletions(100, []));
    await both(s, (st) => st.completeObjectDeletions([ref('A', 'k/m'), ref('A', 'never queued')]));
    expect(await both(s, (st) => st.pendingObjectDeletions(100))).toEqual([ref('A', 'k/i')]);
  }, 60_000);

  it('collects the same objects and queues the same bytes', async () => {
    const s = await setup();
    await populate(s);
    await both(s, (st) => st.addObjectInstance('m', ref('B', 'kb/m')));
    // Only the never-registered u1 and u2 go.
    expect(await both(s, (st) => st.collectObjects(at(100), 100, at(200)))).toEqual({ collected: 2, more: false });
    await both(s, (st) => st.pendingObjectDeletions(100));
    await both(s, (st) => st.deleteSegments('f', parseTimeRange('[0:0_1:0)'), undefined, at(5)));
    // m still has a segment; i is still everyone's init object.
    await both(s, (st) => st.collectObjects(at(100), 100, at(201)));
    await both(s, (st) => st.deleteSegments('f', ALL, undefined, at(6)));
    await both(s, (st) => st.deleteSegments('g', ALL, undefined, at(6)));
    await both(s, (st) => st.collectObjects(at(1), 100, at(202)));
    await both(s, (st) => st.collectObjects(at(2), 100, at(203)));
    await both(s, (st) => view(st, ['m', 'm2', 'i', 'ext', 'u1', 'u2'], ['f', 'g']));
    // The candidates' order is the store's own (no ORDER BY in the SQL stores): compared as sets.
    const byKey = (refs: unknown): unknown => (refs as ObjectStorageRef[]).slice().sort((x, y) => x.key.localeCompare(y.key));
    expect(byKey(await s.vast.pendingObjectDeletions(100))).toEqual(byKey(await s.sqlite.pendingObjectDeletions(100)));
    await both(s, (st) => st.collectObjects(at(100), 100, at(204)));
    await both(s, (st) => st.collectObjects(at(100), 100, at(205)));
    await both(s, (st) => st.storageIdsInUse());
    expect(await both(s, (st) => st.pendingObjectDeletions(100, ['B']))).toEqual([ref('B', 'k/u2'), ref('B', 'kb/m')]);
  }, 60_000);

  it('queues a pass\'s bytes in the order it collected them, oldest unregistered first, and stops at the limit', async () => {
    const s = await setup();
    await both(s, (st) => st.putFlow(flow('g'), at(0)).then(() => undefined));
    // Created in an order their ids do not sort in.
    for (const [n, id] of ['u9', 'u3', 'u7', 'u1', 'u5'].entries()) {
      await both(s, (st) => st.allocateObjects('g', [{ id, storage_id: 'A', key: `k/${id}` }], at(n + 1)));
    }
    await both(s, (st) => st.collectObjects(at(10), 2, at(20)));
    await both(s, (st) => st.collectObjects(at(10), 3, at(20)));
    await both(s, (st) => st.collectObjects(at(10), 3, at(20)));
    expect(await both(s, (st) => st.pendingObjectDeletions(100))).toEqual(['u9', 'u3', 'u7', 'u1', 'u5'].map((id) => ref('A', `k/${id}`)));
    await both(s, (st) => st.pendingObjectDeletions(100, undefined, at(19)));
  }, 60_000);
});

describe('byte deletion ids', () => {
  // The fake answers rows in insertion order, which would hide ids out of order: checked here.
  it('are UUIDs, each greater than the one before, however many in one millisecond', () => {
    const ids = Array.from({ length: 20_000 }, () => queueId());
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(ids.filter((id) => !uuid.test(id))).toEqual([]);
    expect(ids.every((id, n) => n === 0 || (ids[n - 1] as string) < id)).toBe(true);
  });
});

/**
 * A client whose first transaction, once begun (its snapshot taken), waits for `between` to
 * finish before its work runs; `after` runs in every transaction after the work.
 */
function gated(client: VastClient, options: { between?: () => Promise<unknown>; after?: (tx: VastTransaction) => Promise<void> }): VastClient {
  let first = true;
  const withTransaction = <T>(work: (tx: VastTransaction) => Promise<T>): Promise<T> =>
    client.withTransaction(async (tx) => {
      if (first) {
        first = false;
        await options.between?.();
      }
      const result = await work(tx);
      await options.after?.(tx);
      return result;
    });
  return Object.assign(Object.create(client) as VastClient, { withTransaction });
}

for (const mode of ['at-write', 'at-commit'] as const) {
  describe(`concurrent writers of one object (conflicts ${mode})`, () => {
    async function registered(s: Setup): Promise<void> {
      await s.vast.putFlow(flow('f', INIT_SEGMENTS), at(0));
      await s.vast.allocateObjects('f', [{ id: 'm', storage_id: 'A', key: 'k/m' }, { id: 'i', storage_id: 'A', key: 'k/i' }], at(1));
      const [out] = await s.vast.addSegments('f', [seg('m', '[0:0_1:0)', { init_object_id: 'i' })], at(2));
      expect(out?.error).toBeUndefined();
    }

    it('two instances added on two replicas at once: both kept, on the object and its segment', async () => {
      const s = await setup({ conflictDetection: mode });
      await registered(s);
      for (let n = 0; n < 4; n += 1) {
        await Promise.all([s.vast.addObjectInstance('m', ref(`B${n}`, `kb/${n}`)), s.replica.addObjectInstance('m', { url: `https://c.example/${n}`, label: `c${n}` })]);
      }
      await Promise.all([s.vast.addObjectInstance('i', ref('B', 'kb/i')), s.replica.addObjectInstance('i', ref('C', 'kc/i'))]);
      const object = await s.vast.getObject('m');
      expect(object?.instances.map((i) => i.storage_id)).toEqual(['A', 'B0', 'B1', 'B2', 'B3']);
      expect(object?.uncontrolled_urls.map((u) => u.label)).toEqual(['c0', 'c1', 'c2', 'c3']);
      const [segment] = await segments(s.vast, 'f');
      expect(segment?.object_instances).toEqual(object?.instances);
      expect(segment?.get_urls).toEqual(object?.uncontrolled_urls);
      expect(segment?.init_object_instances?.map((i) => i.storage_id).sort()).toEqual(['A', 'B', 'C']);
      expect(segment?.init_object_instances).toEqual((await s.vast.getObject('i'))?.instances);
    });

    it('one backend added twice at once: one wins, the other is told instance_conflict', async () => {
      const s = await setup({ conflictDetection: mode });
      await registered(s);
      for (let n = 0; n < 3; n += 1) {
        const settled = await Promise.allSettled([s.vast.addObjectInstance('m', ref(`B${n}`, 'one')), s.replica.addObjectInstance('m', ref(`B${n}`, 'two'))]);
        expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(settled.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'instance_conflict' } });
      }
      expect((await s.vast.getObject('m'))?.instances).toHaveLength(4);
      expect(s.server.committedRows(SCHEMA, 'object_instances')).toHaveLength(3);
    });

    it('the last two instances removed at once: one goes, the other is refused as the last', async () => {
      const s = await setup({ conflictDetection: mode });
      await registered(s);
      await s.vast.addObjectInstance('m', ref('B', 'kb/m'));
      const settled = await Promise.allSettled([s.vast.removeObjectInstance('m', { storage_id: 'A' }), s.replica.removeObjectInstance('m', { storage_id: 'B' })]);
      expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(settled.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'last_instance' } });
      expect((await s.vast.getObject('m'))?.instances).toHaveLength(1);
      expect(await s.vast.pendingObjectDeletions(100)).toHaveLength(1);
    });

    it('an instance added after a collection pass began: the pass runs again and queues its bytes too', async () => {
      const s = await setup({ conflictDetection: mode });
      await registered(s);
      await s.vast.deleteSegments('f', ALL, undefined, at(3));
      const tables = vastStoreTables(SCHEMA);
      const pass = collectObjects(
        gated(s.client, { between: () => s.replica.addObjectInstance('m', ref('B', 'kb/m')) }),
        tables,
        at(10),
        100,
      );
      expect((await pass).collected).toBe(2);
      expect((await s.vast.pendingObjectDeletions(100)).map((r) => r.key).sort()).toEqual(['k/i', 'k/m', 'kb/m']);
      expect(s.server.committedRows(SCHEMA, 'object_instances')).toHaveLength(0);
    });

    it('two collection passes at once collect each object once', async () => {
      const s = await setup({ conflictDetection: mode });
      await s.vast.putFlow(flow('g'), at(0));
      await s.vast.allocateObjects('g', Array.from({ length: 6 }, (_, n) => ({ id: `u${n}`, storage_id: 'A', key: `k/u${n}` })), at(1));
      const [a, b] = await Promise.all([s.vast.collectObjects(at(2), 100), s.replica.collectObjects(at(2), 100)]);
      expect((a?.collected ?? 0) + (b?.collected ?? 0)).toBe(6);
      expect(await s.vast.pendingObjectDeletions(100)).toHaveLength(6);
      expect(s.server.committedRows(SCHEMA, 'objects')).toHaveLength(0);
    });

    /** Flow h, and m and i registered by flow f whose segments are gone: collectable, and re-usable until collected. */
    async function unreferenced(s: Setup): Promise<void> {
      await registered(s);
      await s.vast.deleteSegments('f', ALL, undefined, at(3));
      await s.vast.putFlow(flow('h', INIT_SEGMENTS), at(4));
    }

    /** Registers a segment of h re-using m, through `client`; its error code, if refused. */
    async function reuse(client: VastClient): Promise<string | undefined> {
      return (await registerSegments(client, vastStoreTables(SCHEMA), 'h', [seg('m', '[0:0_1:0)')], at(5)))[0]?.error?.code;
    }

    /** After a pass and a registration re-using m: either m and i are kept and the segment stored, or the segment was refused. */
    async function expectNoDanglingSegment(s: Setup, refused: string | undefined): Promise<void> {
      const kept = (await s.vast.getObject('m')) !== undefined && (await s.vast.getObject('i')) !== undefined;
      const stored = (await segments(s.vast, 'h')).length;
      expect({ kept, stored, refused: refused !== undefined }).toEqual(stored === 1 ? { kept: true, stored: 1, refused: false } : { kept, stored: 0, refused: true });
    }

    // Were DEFECTS (races): registration re-using an object wrote no row a collection pass or an
    // instance change writes, so both committed. Registration now writes the re-used objects'
    // rows (touchReusedObjects); without that, these three fail.
    it('a segment re-using an object registered after a collection pass began: no segment names a deleted object', async () => {
      const s = await setup({ conflictDetection: mode });
      await unreferenced(s);
      let refused: string | undefined;
      await collectObjects(gated(s.client, { between: async () => (refused = await reuse(s.client)) }), vastStoreTables(SCHEMA), at(10), 100);
      await expectNoDanglingSegment(s, refused);
    });

    it('a collection pass committed after a registration re-using its object began: no segment names a deleted object', async () => {
      const s = await setup({ conflictDetection: mode });
      await unreferenced(s);
      const refused = await reuse(gated(s.client, { between: () => s.replica.collectObjects(at(10), 100) }));
      await expectNoDanglingSegment(s, refused);
    });

    it('an instance added after a registration re-using the object began: the new segment lists it', async () => {
      const s = await setup({ conflictDetection: mode });
      await unreferenced(s);
      expect(await reuse(gated(s.client, { between: () => s.replica.addObjectInstance('m', ref('B', 'kb/m')) }))).toBeUndefined();
      expect((await segments(s.vast, 'h'))[0]?.object_instances).toEqual([ref('A', 'k/m'), ref('B', 'kb/m')]);
    });

  });
}
