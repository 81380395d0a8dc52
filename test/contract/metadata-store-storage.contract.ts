/**
 * The MetadataStore contract, storage part: controlled object instances on several backends,
 * the queue of bytes to delete, leases, and object garbage collection. Collection acts on the
 * whole store, so these run on a store of their own (never a shared database).
 */
import { randomUUID } from 'node:crypto';
import { INIT_SEGMENTS, at, expectCode, seg, storeFixtures } from './contract-fixtures';
import type { ObjectStorageRef, SegmentRecord } from '../../src/domain/entities';
import { parseTimeRange } from '../../src/domain/timerange';
import type { MetadataStore } from '../../src/ports/metadata-store';

export function runMetadataStoreStorageContract(name: string, makeStore: () => Promise<MetadataStore>): void {
  describe(`MetadataStore contract (object instances, garbage collection, leases): ${name}`, () => {
    let store: MetadataStore;
    let run: string;
    /** Run-unique backend ids. */
    let A: string;
    let B: string;

    beforeEach(async () => {
      store = await makeStore();
      await store.init();
      run = randomUUID();
      A = `a-${run}`;
      B = `b-${run}`;
    });

    afterEach(async () => {
      await store.close();
    });

    const { addFlow, allPages } = storeFixtures(() => ({ store, run }));

    async function segments(flowId: string): Promise<SegmentRecord[]> {
      return allPages((after) => store.listSegments(flowId, { timerange: parseTimeRange('_') }, { limit: 1000, after }));
    }

    const ref = (storage_id: string, key: string): ObjectStorageRef => ({ storage_id, key });

    /** A flow with one segment of media object `m` and init object `i`, both allocated on backend A. */
    async function registered(m: string, i: string): Promise<string> {
      const f = await addFlow(INIT_SEGMENTS);
      await store.allocateObjects(f.id, [
        { id: m, storage_id: A, key: `k/${m}` },
        { id: i, storage_id: A, key: `k/${i}` },
      ], at(1));
      const [out] = await store.addSegments(f.id, [seg(m, '[0:0_1:0)', { init_object_id: i })], at(2));
      expect(out!.error).toBeUndefined();
      return f.id;
    }

    describe('controlled instances', () => {
      it('adds copies on other backends, oldest first, on the object and every segment naming it', async () => {
        const flowId = await registered('m', 'i');
        await store.addObjectInstance('m', ref(B, 'kb/m'));
        await store.addObjectInstance('i', ref(B, 'kb/i'));
        expect((await store.getObject('m'))?.instances).toEqual([ref(A, 'k/m'), ref(B, 'kb/m')]);
        const [s] = await segments(flowId);
        expect(s!.object_instances).toEqual([ref(A, 'k/m'), ref(B, 'kb/m')]);
        expect(s!.init_object_instances).toEqual([ref(A, 'k/i'), ref(B, 'kb/i')]);
        const [text] = (await store.listSegmentTexts(flowId, { timerange: parseTimeRange('_') }, { limit: 10 })).items;
        expect(text!.object_instances).toEqual([ref(A, 'k/m'), ref(B, 'kb/m')]);
        expect(text!.init_object_instances).toEqual([ref(A, 'k/i'), ref(B, 'kb/i')]);

        await expectCode(store.addObjectInstance('m', ref(B, 'kb/other')), 'instance_conflict');
        await expectCode(store.addObjectInstance(`nope-${run}`, ref(B, 'x')), 'not_found');
        expect((await store.getObject('m'))?.instances).toEqual([ref(A, 'k/m'), ref(B, 'kb/m')]);
      });

      it('removes one, queueing its bytes, and never the last', async () => {
        const flowId = await registered('m', 'i');
        await store.addObjectInstance('m', ref(B, 'kb/m'));
        expect(await store.removeObjectInstance('m', { storage_id: A })).toEqual(ref(A, 'k/m'));
        expect((await store.getObject('m'))?.instances).toEqual([ref(B, 'kb/m')]);
        expect((await segments(flowId))[0]!.object_instances).toEqual([ref(B, 'kb/m')]);
        expect(await store.pendingObjectDeletions(100)).toEqual([ref(A, 'k/m')]);

        await expectCode(store.removeObjectInstance('m', { storage_id: B }), 'last_instance');
        await expectCode(store.removeObjectInstance('m', { storage_id: A }), 'not_found');
        expect((await store.getObject('m'))?.instances).toEqual([ref(B, 'kb/m')]);
        expect(await store.pendingObjectDeletions(100)).toEqual([ref(A, 'k/m')]);

        await store.completeObjectDeletions([ref(A, 'k/m')]);
        expect(await store.pendingObjectDeletions(100)).toEqual([]);
      });

      it('names every backend an instance is on (queued deletions do not count)', async () => {
        await registered('m', 'i');
        expect((await store.storageIdsInUse()).sort()).toEqual([A]);
        await store.addObjectInstance('m', ref(B, 'kb/m'));
        await store.addObjectInstance('i', ref(B, 'kb/i'));
        expect((await store.storageIdsInUse()).sort()).toEqual([A, B].sort());
        await store.removeObjectInstance('m', { storage_id: A });
        expect((await store.storageIdsInUse()).sort()).toEqual([A, B].sort());
        await store.removeObjectInstance('i', { storage_id: A });
        expect(await store.storageIdsInUse()).toEqual([B]);
        expect(await store.pendingObjectDeletions(100)).toHaveLength(2);
      });

      it('queues removed bytes until a given time, and hands them out only once due', async () => {
        await registered('m', 'i');
        await store.addObjectInstance('m', ref(B, 'kb/m'));
        const later = new Date(Date.now() + 3_600_000).toISOString();
        await store.removeObjectInstance('m', { storage_id: A }, later);
        expect(await store.pendingObjectDeletions(100)).toEqual([ref(A, 'k/m')]);
        expect(await store.pendingObjectDeletions(100, undefined, new Date().toISOString())).toEqual([]);
        expect(await store.pendingObjectDeletions(100, [A], later)).toEqual([ref(A, 'k/m')]);
        expect(await store.pendingObjectDeletions(100, [B], later)).toEqual([]);
        // A time already past means at once.
        await store.addObjectInstance('i', ref(B, 'kb/i'));
        await store.removeObjectInstance('i', { storage_id: A }, at(0));
        expect(await store.pendingObjectDeletions(100, undefined, new Date().toISOString())).toEqual([ref(A, 'k/i')]);
      });
    });

    describe('leases', () => {
      it('is held by one holder until it expires or is released', async () => {
        const lease = `gc-${run}`;
        expect(await store.acquireLease(lease, 'p1', 1000, 10_000)).toBe(true);
        expect(await store.acquireLease(lease, 'p2', 1000, 10_500)).toBe(false);
        expect(await store.acquireLease(lease, 'p1', 1000, 10_900)).toBe(true); // renewed to 11,900
        expect(await store.acquireLease(lease, 'p2', 1000, 11_500)).toBe(false);
        expect(await store.acquireLease(lease, 'p2', 1000, 11_900)).toBe(true);
        await store.releaseLease(lease, 'p1'); // not p1's any more: no effect
        expect(await store.acquireLease(lease, 'p1', 1000, 12_000)).toBe(false);
        await store.releaseLease(lease, 'p2');
        expect(await store.acquireLease(lease, 'p1', 1000, 12_000)).toBe(true);
        expect(await store.acquireLease(`other-${run}`, 'p2', 1000, 12_000)).toBe(true);
      });
    });

    describe('garbage collection', () => {
      it('collects registered objects no segment references any more, with their init objects', async () => {
        const flowId = await registered('m', 'i');
        await store.addObjectInstance('m', ref(B, 'kb/m'));
        expect((await store.collectObjects(at(0), 100)).collected).toBe(0);
        expect(await store.getObject('m')).toBeDefined();

        expect(await store.deleteSegments(flowId, parseTimeRange('_'), undefined, at(3))).toBe(1);
        // Not before a PUT URL for them may have stopped working: created at(1), so kept until then.
        expect((await store.collectObjects(at(1), 100)).collected).toBe(0);
        expect(await store.getObject('m')).toBeDefined();
        expect((await store.collectObjects(at(2), 100)).collected).toBe(2);
        expect(await store.getObject('m')).toBeUndefined();
        expect(await store.getObject('i')).toBeUndefined();
        expect((await store.pendingObjectDeletions(100)).sort((x, y) => x.key.localeCompare(y.key))).toEqual([ref(A, 'k/i'), ref(A, 'k/m'), ref(B, 'kb/m')]);
        expect((await store.collectObjects(at(100), 100)).collected).toBe(0);

        // A segment naming a collected object finds it unknown: never a reference to deleted bytes.
        const [again] = await store.addSegments(flowId, [seg('m', '[5:0_6:0)', { init_object_id: 'i' })], at(4));
        expect(again!.error?.code).toBe('validation_failed');
      });

      it('keeps objects other flows still reference, and collects them once the last goes', async () => {
        const first = await registered('m', 'i');
        const second = await addFlow(INIT_SEGMENTS);
        expect((await store.addSegments(second.id, [seg('m', '[0:0_1:0)')], at(3)))[0]!.error).toBeUndefined();
        expect(await store.deleteFlow(first, at(4))).toBe(true);
        expect((await store.collectObjects(at(100), 100)).collected).toBe(0);
        expect((await store.getObject('m'))?.referenced_by_flows).toEqual([second.id]);
        expect(await store.getObject('i')).toBeDefined();

        expect(await store.deleteFlow(second.id, at(5))).toBe(true);
        expect((await store.collectObjects(at(100), 100)).collected).toBe(2);
        expect(await store.getObject('m')).toBeUndefined();
      });

      it('collects objects allocated and never registered only once they are older than the cut-off', async () => {
        const f = await addFlow();
        await store.allocateObjects(f.id, [{ id: 'u1', storage_id: A, key: 'k/u1' }], at(10));
        await store.allocateObjects(f.id, [{ id: 'u2', storage_id: A, key: 'k/u2' }], at(20));
        expect((await store.collectObjects(at(10), 100)).collected).toBe(0);
        expect((await store.collectObjects(at(11), 100)).collected).toBe(1);
        expect(await store.getObject('u1')).toBeUndefined();
        expect(await store.getObject('u2')).toBeDefined();
        expect(await store.pendingObjectDeletions(100)).toEqual([ref(A, 'k/u1')]);
        expect((await store.collectObjects(at(21), 100)).collected).toBe(1);
      });

      it('collects at most `limit` objects a pass', async () => {
        const f = await addFlow();
        await store.allocateObjects(f.id, Array.from({ length: 5 }, (_, n) => ({ id: `u${n}`, storage_id: A, key: `k/u${n}` })), at(1));
        expect((await store.collectObjects(at(2), 2)).collected).toBe(2);
        expect((await store.collectObjects(at(2), 2)).collected).toBe(2);
        expect((await store.collectObjects(at(2), 2)).collected).toBe(1);
        expect(await store.pendingObjectDeletions(2)).toHaveLength(2);
        expect(await store.pendingObjectDeletions(100)).toHaveLength(5);
      });

      it('drops objects known only by URL without queueing anything', async () => {
        const f = await addFlow();
        const urls = [{ url: 'https://elsewhere.example/x', label: 'x' }];
        expect((await store.addSegments(f.id, [seg('ext', '[0:0_1:0)', { get_urls: urls })], at(1)))[0]!.error).toBeUndefined();
        await store.deleteSegments(f.id, parseTimeRange('_'), undefined, at(2));
        expect((await store.collectObjects(at(100), 100)).collected).toBe(1);
        expect(await store.pendingObjectDeletions(100)).toEqual([]);
      });
    });
  });
}
