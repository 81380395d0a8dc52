/**
 * The MetadataStore contract, batch reads: each batch method must answer, key by key and in
 * order, exactly what its single-key method answers (unknown keys included).
 */
import { randomUUID } from 'node:crypto';
import { at, seg, storeFixtures } from './contract-fixtures';
import { parseTimeRange } from '../../src/domain/timerange';
import type { MetadataStore } from '../../src/ports/metadata-store';

export function runMetadataStoreBatchContract(
  name: string,
  makeStore: () => Promise<MetadataStore>,
  cleanup?: (store: MetadataStore) => Promise<void>,
): void {
  describe(`MetadataStore contract (batch reads): ${name}`, () => {
    let store: MetadataStore;
    let run: string;

    beforeEach(async () => {
      store = await makeStore();
      await store.init();
      run = randomUUID();
    });

    afterEach(async () => {
      if (cleanup) await cleanup(store);
      else await store.close();
    });

    const { addFlow } = storeFixtures(() => ({ store, run }));

    it('getSources and getFlows answer per id, in order, undefined for unknown ids', async () => {
      const a = await addFlow({ label: 'a' });
      const b = await addFlow({ label: 'b' });
      const unknown = randomUUID();
      const flows = await store.getFlows([b.id, unknown, a.id, b.id]);
      expect(flows).toEqual([await store.getFlow(b.id), undefined, await store.getFlow(a.id), await store.getFlow(b.id)]);
      expect(flows[0]?.label).toBe('b');
      const sources = await store.getSources([a.source_id, unknown, b.source_id]);
      expect(sources).toEqual([await store.getSource(a.source_id), undefined, await store.getSource(b.source_id)]);
      expect(sources[0]?.id).toBe(a.source_id);
      expect(await store.getFlows([])).toEqual([]);
    });

    it('getObjects answers what getObject answers, registered or only allocated', async () => {
      const f = await addFlow({ container: 'video/mp2t' });
      const allocated = randomUUID();
      await store.allocateObjects(f.id, [{ id: allocated, storage_id: 'local', key: `k/${allocated}` }], at(1));
      await store.addSegments(f.id, [seg(`o-${run}`, '[0:0_1:0)')], at(2));
      const ids = [`o-${run}`, allocated, randomUUID()];
      const batch = await store.getObjects(ids);
      expect(batch).toEqual(await Promise.all(ids.map((id) => store.getObject(id))));
      expect(batch[0]?.referenced_by_flows).toEqual([f.id]);
      expect(batch[1]?.registered).toBe(false);
      expect(batch[2]).toBeUndefined();
    });

    it('listSegmentsBatch pages each flow as listSegments does', async () => {
      const a = await addFlow({ container: 'video/mp2t' });
      const b = await addFlow({ container: 'video/mp2t' });
      const empty = await addFlow({ container: 'video/mp2t' });
      await store.addSegments(a.id, [0, 1, 2, 3].map((i) => seg(`a${i}-${run}`, `[${i}:0_${i + 1}:0)`)), at(1));
      await store.addSegments(b.id, [5, 6].map((i) => seg(`b${i}-${run}`, `[${i}:0_${i + 1}:0)`)), at(1));
      for (const query of [
        { timerange: parseTimeRange('_') },
        { timerange: parseTimeRange('[1:0_6:0)'), reverse: true },
      ]) {
        const ids = [a.id, b.id, empty.id, randomUUID()];
        const batch = await store.listSegmentsBatch(ids, query, { limit: 2 });
        expect(batch).toEqual(await Promise.all(ids.map((id) => store.listSegments(id, query, { limit: 2 }))));
        expect(batch[0]?.items).toHaveLength(2);
        expect(batch[0]?.next).toBeDefined();
        expect(batch[2]?.items).toEqual([]);
        const next = batch[0]?.next;
        const second = await store.listSegmentsBatch([a.id], query, { limit: 2, after: next });
        expect(second).toEqual([await store.listSegments(a.id, query, { limit: 2, after: next })]);
      }
    });

    it('listFlowsBatch answers listFlows per filter', async () => {
      const shared = randomUUID();
      const one = await addFlow({ source_id: shared, label: 'x' });
      await addFlow({ source_id: shared, label: 'y' });
      await addFlow({ source_id: shared, label: 'z' });
      const other = await addFlow();
      const filters = [{ source_id: shared }, { source_id: other.source_id }, { source_id: randomUUID() }, { source_id: shared, label: 'x' }];
      const batch = await store.listFlowsBatch(filters, { limit: 2 });
      expect(batch).toEqual(await Promise.all(filters.map((f) => store.listFlows(f, { limit: 2 }))));
      expect(batch[0]?.items).toHaveLength(2);
      expect(batch[0]?.next).toBeDefined();
      expect(batch[1]?.items.map((f) => f.id)).toEqual([other.id]);
      expect(batch[2]?.items).toEqual([]);
      expect(batch[3]?.items.map((f) => f.id)).toEqual([one.id]);
    });
  });
}
