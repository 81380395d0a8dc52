/**
 * The MetadataStore contract, batch reads: each batch method must answer, key by key and in
 * order, exactly what its single-key method answers (unknown keys included).
 */
import { randomUUID } from 'node:crypto';
import { at, addSegments, seg, storeFixtures } from './contract-fixtures';
import { EMPTY, formatTimeRange, parseTimeRange, span } from '../../src/domain/timerange';
import type { SegmentRecord } from '../../src/domain/entities';
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
      await addSegments(store, f.id, [seg(`o-${run}`, '[0:0_1:0)')], at(2));
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
      await addSegments(store, a.id, [0, 1, 2, 3].map((i) => seg(`a${i}-${run}`, `[${i}:0_${i + 1}:0)`)), at(1));
      await addSegments(store, b.id, [5, 6].map((i) => seg(`b${i}-${run}`, `[${i}:0_${i + 1}:0)`)), at(1));
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

    it('listSegmentTexts holds exactly the segments listSegments returns, optional fields as JSON text', async () => {
      // init_segments: every segment has an init object (its own, or its re-used object's).
      const f = await addFlow({ container: 'video/mp2t', essence_parameters: { init_segments: true } });
      const init = `init-${run}`;
      const media = `media-${run}`;
      // Ids are client text: control characters (U+001E included), quotes and backslashes.
      const oddInit = `init \u001e "odd" \\ \u001f ${run}`;
      await store.allocateObjects(f.id, [
        { id: init, storage_id: 'local', key: `k/${init}` },
        { id: media, storage_id: 'local', key: `k/${media}` },
        { id: oddInit, storage_id: 'local', key: `k/odd-${run}` },
      ], at(1));
      const elsewhere = [{ url: 'https://elsewhere.example/a?b="c"', label: 'elsewhere \\ é' }];
      const registered = [
        seg(media, '[0:0_1:0)', { init_object_id: init, ts_offset: '0:5', key_frame_count: 1, object_timerange: '[0:0_2:0)' }),
        // Re-uses the object: no object_timerange of its own; the object's is there when asked.
        seg(media, '[1:0_2:0)', { init_object_id: init, last_duration: '0:500', sample_offset: 3, sample_count: 25 }),
        seg(`external "quoted" \\ ${run}`, '[2:0_3:0]', { get_urls: elsewhere, key_frame_count: 2, init_object_id: init }),
        // Neighbours with the same stored text as the one before (with and without get_urls).
        seg(`external-2-${run}`, '(3:0_3:500)', { get_urls: elsewhere, key_frame_count: 2, init_object_id: oddInit }),
        seg(`plain-é-${run}`, '[3:500_4:0)', { key_frame_count: 7, init_object_id: init }),
        seg(`plain-2-${run}`, '[4:0_4:500)', { key_frame_count: 7, init_object_id: init }),
        seg(`odd \u001e media ${run}`, '[4:500_4:700)', { init_object_id: oddInit }),
        seg(`unbounded-${run}`, '[4:700_', { init_object_id: init }),
      ];
      await addSegments(store, f.id, registered, at(2));
      const optional = ['ts_offset', 'last_duration', 'object_timerange', 'sample_offset', 'sample_count', 'key_frame_count'] as const;
      const expected = (r: SegmentRecord): Record<string, unknown> => {
        const fields: Record<string, unknown> = {};
        for (const k of optional) if (r[k] !== undefined) fields[k] = r[k];
        return {
          json: { object_id: r.object_id, timerange: r.timerange_text, ...fields },
          has_object_timerange: r.object_timerange !== undefined,
          ...(r.object_timerange_of_object === undefined ? {} : { object_timerange_of_object: r.object_timerange_of_object }),
          ...(r.object_instances === undefined ? {} : { object_instances: r.object_instances }),
          ...(r.init_object_id === undefined ? {} : { init_object_id: r.init_object_id }),
          ...(r.init_object_instances === undefined ? {} : { init_object_instances: r.init_object_instances }),
          ...(r.get_urls === undefined ? {} : { get_urls: r.get_urls }),
        };
      };
      const compare = async (): Promise<void> => {
        for (const query of [
          { timerange: parseTimeRange('_') },
          { timerange: parseTimeRange('_'), object_timerange: false },
          { timerange: parseTimeRange('[0:500_4:200)'), reverse: true },
          { timerange: parseTimeRange('_'), object_id: media },
          { timerange: EMPTY },
        ]) {
          let after: unknown = undefined;
          let pages = 0;
          do {
            const records = await store.listSegments(f.id, query, { limit: 4, after });
            const texts = await store.listSegmentTexts(f.id, query, { limit: 4, after });
            for (const t of texts.items) {
              expect(t.json_head.startsWith('{"object_id":')).toBe(true);
              // JSON.parse keeps the last of two equal keys: check there are none (`{"` and
              // `,"` only occur between members: a quote inside a string is escaped).
              const keys = [...t.json_head.matchAll(/[{,]"([a-z_]+)":/g)].map((m) => m[1]);
              expect(new Set(keys).size).toBe(keys.length);
            }
            const parsed = texts.items.map(({ json_head, ...rest }) => ({ ...rest, json: JSON.parse(`${json_head}}`) as unknown }));
            expect(parsed).toEqual(records.items.map(expected));
            // No two segments share their get_urls objects.
            const lists = texts.items.flatMap((t) => (t.get_urls === undefined ? [] : [t.get_urls]));
            expect(new Set(lists).size).toBe(lists.length);
            expect(formatTimeRange(texts.span)).toBe(formatTimeRange(records.items.reduce((acc, r) => span(acc, r.timerange), EMPTY)));
            expect(texts.next).toEqual(records.next);
            after = records.next;
            pages += 1;
          } while (after !== undefined && pages < 10);
          expect(pages).toBe(query.timerange === EMPTY || query.object_id !== undefined ? 1 : 2);
        }
      };
      // The records hold what was registered (and the texts hold the records, above), get_urls
      // as the object's uncontrolled instances stand: `urls` gives them by object id.
      const holdsRegistered = async (urls: (objectId: string, registeredUrls: unknown) => unknown): Promise<void> => {
        const all = await store.listSegments(f.id, { timerange: parseTimeRange('_') }, { limit: 100 });
        expect(all.items.map((r) => {
          const fields: Record<string, unknown> = { object_id: r.object_id, timerange: r.timerange_text, get_urls: r.get_urls };
          for (const k of optional) if (r[k] !== undefined) fields[k] = r[k];
          return fields;
        })).toEqual(registered.map((g) => {
          const fields: Record<string, unknown> = { object_id: g.object_id, timerange: g.timerange_text, get_urls: urls(g.object_id, g.get_urls) };
          for (const k of optional) if (g[k] !== undefined) fields[k] = g[k];
          return fields;
        }));
      };
      await compare();
      await holdsRegistered((_id, urls) => urls);
      // Instances added and removed after registration reach the texts as they reach the records.
      const mirrorM = { url: 'https://mirror.example/m', label: 'mirror "1"' };
      const mirrorE = { url: 'https://mirror.example/e', label: 'mirror' };
      await store.addObjectInstance(media, mirrorM);
      await store.addObjectInstance(`external-2-${run}`, mirrorE);
      await compare();
      await holdsRegistered((id, urls) => (id === media ? [mirrorM] : id === `external-2-${run}` ? [...elsewhere, mirrorE] : urls));
      await store.removeObjectInstance(media, { label: 'mirror "1"' });
      await store.removeObjectInstance(`external-2-${run}`, { label: 'elsewhere \\ é' });
      await compare();
      await holdsRegistered((id, urls) => (id === media ? undefined : id === `external-2-${run}` ? [mirrorE] : urls));
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
