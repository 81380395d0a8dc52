/**
 * The MetadataStore contract: every adapter (SQLite, PostgreSQL, VAST) must pass it
 * unchanged. Each test makes its own store and tags what it creates with a run-unique tag,
 * so adapters whose databases outlive one test (a shared PostgreSQL) still see only their
 * own items in listings.
 */
import { randomUUID } from 'node:crypto';
import { AUDIO, INIT_SEGMENTS, VIDEO, at, expectCode, expectNoEmptyMembers, addSegments, seg, storeFixtures } from './contract-fixtures';
import type { NewSegment, SegmentRecord } from '../../src/domain/entities';
import { TamsError } from '../../src/domain/errors';
import {
  EMPTY,
  formatTimeRange,
  overlaps,
  parseTimeRange,
  type TimeRange,
} from '../../src/domain/timerange';
import type { FlowFilter, MetadataStore, SourceFilter } from '../../src/ports/metadata-store';




/** `count` back-to-back one-second segments starting at `from` seconds. */
function seconds(prefix: string, from: number, count: number): NewSegment[] {
  return Array.from({ length: count }, (_, i) => seg(`${prefix}-${from + i}`, `[${from + i}:0_${from + i + 1}:0)`));
}

function texts(items: { timerange_text: string }[]): string[] {
  return items.map((s) => s.timerange_text);
}



export function runMetadataStoreContract(
  name: string,
  makeStore: () => Promise<MetadataStore>,
  cleanup?: (store: MetadataStore) => Promise<void>,
): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let store: MetadataStore;
    /** A tag value unique to this test, put on every flow it creates. */
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

    const { flow, addFlow, lastSeq, eventsSince, allPages } = storeFixtures(() => ({ store, run }));






    async function flowIds(filter: Omit<FlowFilter, 'tags'> & { tags?: FlowFilter['tags'] } = {}): Promise<string[]> {
      const tags = {
        values: { contract_run: [run], ...(filter.tags?.values ?? {}) },
        exists: { ...(filter.tags?.exists ?? {}) },
      };
      const page = await store.listFlows({ ...filter, tags }, { limit: 1000 });
      return page.items.map((f) => f.id);
    }

    async function segments(flowId: string, timerange: string, reverse = false): Promise<SegmentRecord[]> {
      return allPages((after) => store.listSegments(flowId, { timerange: parseTimeRange(timerange), reverse }, { limit: 1000, after }));
    }

    describe('service', () => {
      it('answers ping', async () => {
        expect(await store.ping()).toBe(true);
      });

      it('keeps name and description, updating only what is given', async () => {
        await store.setServiceInfo({ name: 'store', description: 'first' });
        expect(await store.setServiceInfo({ description: 'second' })).toEqual({ name: 'store', description: 'second' });
        expect(await store.getServiceInfo()).toEqual({ name: 'store', description: 'second' });
      });
    });

    describe('flows and sources', () => {
      it('creates a flow and its source, with events in order', async () => {
        const seq = await lastSeq();
        const input = flow({ label: 'News', description: 'Evening news', codec: 'video/h264' });
        const result = await store.putFlow(input, at(10));
        expect(result.created).toBe(true);
        expect(result.flow).toEqual({ ...input, created: at(10), metadata_updated: at(10), metadata_version: expect.any(String) });
        expect(result.flow.segments_updated).toBeUndefined();
        expectNoEmptyMembers(result.flow);
        expect(await store.getFlow(input.id)).toEqual(result.flow);

        const source = await store.getSource(input.source_id);
        expect(source).toEqual({
          id: input.source_id,
          format: VIDEO,
          label: 'News',
          description: 'Evening news',
          created: at(10),
          updated: at(10),
        });
        expectNoEmptyMembers(source!);

        const events = await eventsSince(seq);
        expect(events.map((e) => e.event_type)).toEqual(['sources/created', 'flows/created']);
        expect(events[0]!.event).toEqual({ source: source });
        expect(events[0]!.source_id).toBe(input.source_id);
        expect(events[1]!.event).toEqual({ flow: result.flow });
        expect(events[1]!.flow_id).toBe(input.id);
        expect(events[1]!.event_timestamp).toBe(at(10));
        expect(events[0]!.seq).toBeLessThan(events[1]!.seq);
      });

      it('updates a flow, keeping created and segments_updated', async () => {
        const created = await addFlow({ label: 'one' }, at(1));
        await addSegments(store, created.id, [seg('o1', '[0:0_1:0)')], at(2));
        const seq = await lastSeq();
        const result = await store.putFlow({ ...created, label: 'two', metadata_updated: undefined }, at(3));
        expect(result.created).toBe(false);
        expect(result.flow.label).toBe('two');
        expect(result.flow.created).toBe(at(1));
        expect(result.flow.metadata_updated).toBe(at(3));
        expect(result.flow.segments_updated).toBe(at(2));
        expectNoEmptyMembers(result.flow);
        const events = await eventsSince(seq);
        expect(events.map((e) => e.event_type)).toEqual(['flows/updated']);
        expect(events[0]!.event).toEqual({ flow: result.flow });
      });

      it('shares a source between flows and deletes it with its last flow', async () => {
        const a = await addFlow();
        const b = await addFlow({ source_id: a.source_id });
        await addSegments(store, a.id, seconds('a', 0, 2), at(1));

        let seq = await lastSeq();
        expect(await store.deleteFlow(a.id, at(2))).toBe(true);
        let events = await eventsSince(seq);
        expect(events.map((e) => [e.event_type, e.event])).toEqual([
          // From the start of the first deleted segment to the end of the last (the event's rule: never starting or ending in empty space).
          ['flows/segments_deleted', { flow_id: a.id, timerange: '[0:0_2:0)' }],
          ['flows/deleted', { flow_id: a.id }],
        ]);
        expect(await store.getFlow(a.id)).toBeUndefined();
        expect(await store.countSegments(a.id)).toBe(0);
        expect(await store.getSource(a.source_id)).toBeDefined();

        seq = await lastSeq();
        expect(await store.deleteFlow(b.id, at(3))).toBe(true);
        events = await eventsSince(seq);
        expect(events.map((e) => [e.event_type, e.event])).toEqual([
          ['flows/deleted', { flow_id: b.id }],
          ['sources/deleted', { source_id: a.source_id }],
        ]);
        expect(await store.getSource(a.source_id)).toBeUndefined();
        expect(await store.deleteFlow(b.id, at(4))).toBe(false);
      });

      it('deletes the old source when a flow moves to another one', async () => {
        const f = await addFlow();
        const target = randomUUID();
        const seq = await lastSeq();
        await store.putFlow({ ...f, source_id: target }, at(5));
        const events = await eventsSince(seq);
        expect(events.map((e) => e.event_type)).toEqual(['sources/created', 'flows/updated', 'sources/deleted']);
        expect(events[2]!.event).toEqual({ source_id: f.source_id });
        expect(await store.getSource(f.source_id)).toBeUndefined();
        expect((await store.getSource(target))?.format).toBe(VIDEO);
      });

      it('refuses a flow whose source has another format, and writes nothing', async () => {
        const f = await addFlow();
        const seq = await lastSeq();
        let commits = 0;
        const unsubscribe = store.onCommit(() => {
          commits += 1;
        });
        const other = flow({ source_id: f.source_id, format: AUDIO });
        await expectCode(store.putFlow(other, at(1)), 'source_conflict');
        unsubscribe();
        expect(commits).toBe(0);
        expect(await eventsSince(seq)).toEqual([]);
        expect(await store.getFlow(other.id)).toBeUndefined();
      });
    });

    describe('events', () => {
      it('reads committed events in order, in pages', async () => {
        const seq = await lastSeq();
        await addFlow();
        await addFlow();
        const all = await eventsSince(seq);
        expect(all).toHaveLength(4);
        for (let i = 1; i < all.length; i++) expect(all[i]!.seq).toBeGreaterThan(all[i - 1]!.seq);
        const first = await store.readEvents(seq, 2);
        const rest = await store.readEvents(first[1]!.seq, 10);
        expect([...first, ...rest]).toEqual(all);
        for (const e of all) expectNoEmptyMembers(e);
      });

      it('tells listeners after a commit, and stops when unsubscribed', async () => {
        const f = await addFlow();
        const seen: number[] = [];
        const unsubscribe = store.onCommit(() => {
          seen.push(1);
        });
        await addSegments(store, f.id, [seg('o1', '[0:0_1:0)')], at(1));
        expect(seen.length).toBeGreaterThanOrEqual(1);
        const count = seen.length;
        unsubscribe();
        await addSegments(store, f.id, [seg('o2', '[1:0_2:0)')], at(2));
        expect(seen.length).toBe(count);
      });
    });

    describe('segments', () => {
      it('registers segments with one event and touches segments_updated', async () => {
        const f = await addFlow();
        const seq = await lastSeq();
        const outcomes = await addSegments(store, f.id, seconds('o', 0, 3), at(7));
        expect(outcomes.every((o) => o.error === undefined)).toBe(true);
        const events = await eventsSince(seq);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ event_type: 'flows/segments_added', flow_id: f.id, event_timestamp: at(7) });
        expect(events[0]!.event).toEqual({
          flow_id: f.id,
          segments: [
            { object_id: 'o-0', timerange: '[0:0_1:0)' },
            { object_id: 'o-1', timerange: '[1:0_2:0)' },
            { object_id: 'o-2', timerange: '[2:0_3:0)' },
          ],
        });
        expect((await store.getFlow(f.id))?.segments_updated).toBe(at(7));
        expect(await store.countSegments(f.id)).toBe(3);
        expect(texts(await segments(f.id, '_'))).toEqual(['[0:0_1:0)', '[1:0_2:0)', '[2:0_3:0)']);
      });

      it('returns every stored field, and carries all but get_urls in the event', async () => {
        const f = await addFlow(INIT_SEGMENTS);
        const full = seg('media-1', '[10:0_12:0)', {
          init_object_id: 'init-1',
          ts_offset: '1:0',
          last_duration: '0:20000000',
          object_timerange: '[9:0_12:0)',
          sample_offset: 50,
          sample_count: 100,
          key_frame_count: 2,
          get_urls: [{ url: 'https://example.com/media-1', label: 'ext' }],
        });
        const seq = await lastSeq();
        await addSegments(store, f.id, [full], at(1));
        const [stored] = await segments(f.id, '_');
        expect(stored).toMatchObject({ ...full, flow_id: f.id });
        expectNoEmptyMembers(stored!);
        const events = await eventsSince(seq);
        expect(events[0]!.event).toEqual({
          flow_id: f.id,
          segments: [
            {
              object_id: 'media-1',
              timerange: '[10:0_12:0)',
              ts_offset: '1:0',
              last_duration: '0:20000000',
              object_timerange: '[9:0_12:0)',
              sample_offset: 50,
              sample_count: 100,
              key_frame_count: 2,
              init_object: { object_id: 'init-1' },
            },
          ],
        });
        const plain = seg('media-2', '[12:0_13:0)', { init_object_id: 'init-1' });
        await addSegments(store, f.id, [plain], at(2));
        const [, second] = await segments(f.id, '_');
        expect(Object.keys(second!).sort()).toEqual(
          Object.keys({ ...plain, flow_id: f.id, object_timerange_of_object: '', object_instances: [], init_object_instances: [] }).sort(),
        );
      });

      it('treats [1:0_2:0) then [2:0] as adjacent, and [1:0_2:0] then [2:0] as overlapping', async () => {
        const a = await addFlow();
        const ok = await addSegments(store, a.id, [seg('a1', '[1:0_2:0)'), seg('a2', '[2:0]')], at(1));
        expect(ok.map((o) => o.error)).toEqual([undefined, undefined]);
        expect(texts(await segments(a.id, '_'))).toEqual(['[1:0_2:0)', '[2:0]']);

        const b = await addFlow();
        const res = await addSegments(store, b.id, [seg('b1', '[1:0_2:0]'), seg('b2', '[2:0]')], at(1));
        expect(res[0]!.error).toBeUndefined();
        expect(res[1]!.error).toBeInstanceOf(TamsError);
        expect(res[1]!.error?.code).toBe('segment_overlap');
        expect(texts(await segments(b.id, '_'))).toEqual(['[1:0_2:0]']);

        const c = await addFlow();
        await addSegments(store, c.id, [seg('c1', '[2:0_3:0)')], at(1));
        const later = await addSegments(store, c.id, [seg('c2', '[1:0_2:0]'), seg('c3', '(3:0_4:0)'), seg('c4', '[1:0_2:0)')], at(2));
        expect(later.map((o) => o.error?.code)).toEqual(['segment_overlap', undefined, undefined]);
      });

      it('fails overlapping segments alone, against stored ones and earlier ones in the batch', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, [seg('x', '[10:0_20:0)')], at(1));
        const seq = await lastSeq();
        const batch = [
          seg('a', '[0:0_5:0)'),
          seg('b', '[19:0_21:0)'),
          seg('c', '[20:0_30:0)'),
          seg('d', '[25:0_26:0)'),
          seg('e', '(4:0_10:0)'),
          seg('f', '[9:999999999]'),
          seg('g', '_'),
        ];
        const outcomes = await addSegments(store, f.id, batch, at(2));
        expect(outcomes.map((o) => o.segment)).toEqual(batch);
        expect(outcomes.map((o) => o.error?.code)).toEqual([
          undefined,
          'segment_overlap',
          undefined,
          'segment_overlap',
          'segment_overlap',
          undefined,
          'segment_overlap',
        ]);
        expect(texts(await segments(f.id, '_'))).toEqual(['[0:0_5:0)', '[9:999999999]', '[10:0_20:0)', '[20:0_30:0)']);
        const events = await eventsSince(seq);
        expect(events).toHaveLength(1);
        const added = (events[0]!.event as { flow_id: string; segments: Record<string, unknown>[] }).segments;
        expect(added.map((s) => s.object_id)).toEqual(['a', 'c', 'f']);
        expect(await store.countSegments(f.id)).toBe(4);
      });

      it('checks a batch in time order against stored segments as a whole, still failing overlapping ones alone', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, [seg('stored', '[10:0_11:0)')], at(1));
        // In order and disjoint, but a stored segment lies inside the batch's span.
        const around = [seg('o1', '[8:0_9:0)'), seg('o2', '[9:0_10:0)'), seg('o3', '[10:500_11:500)'), seg('o4', '[11:500_12:0)')];
        expect((await addSegments(store, f.id, around, at(2))).map((o) => o.error?.code)).toEqual([undefined, undefined, 'segment_overlap', undefined]);
        // In order, disjoint and clear of stored ones, touching them at both ends, the last unbounded.
        const clear = [seg('p1', '[12:0_13:0)'), seg('p2', '[13:0_14:0]'), seg('p3', '(14:0_15:0)'), seg('p4', '[15:0_')];
        expect((await addSegments(store, f.id, clear, at(3))).map((o) => o.error?.code)).toEqual([undefined, undefined, undefined, undefined]);
        // In order but each overlapping the one before: only the first is stored.
        const g = await addFlow();
        const chained = [seg('q1', '[0:0_2:0)'), seg('q2', '[1:0_3:0)'), seg('q3', '[2:0_4:0)')];
        expect((await addSegments(store, g.id, chained, at(4))).map((o) => o.error?.code)).toEqual([undefined, 'segment_overlap', undefined]);
        expect(texts(await segments(f.id, '_'))).toEqual([
          '[8:0_9:0)', '[9:0_10:0)', '[10:0_11:0)', '[11:500_12:0)', '[12:0_13:0)', '[13:0_14:0]', '(14:0_15:0)', '[15:0_',
        ]);
        expect(texts(await segments(g.id, '_'))).toEqual(['[0:0_2:0)', '[2:0_4:0)']);
      });

      it('applies the object re-use rules to objects registered earlier in the same batch', async () => {
        const f = await addFlow(INIT_SEGMENTS);
        const [m, i, n] = ['m', 'i', 'n'].map((x) => `${x}-${run}`) as [string, string, string];
        const outcomes = await addSegments(store, f.id, [
          seg(m, '[0:0_1:0)', { key_frame_count: 1, init_object_id: i }),
          seg(m, '[1:0_2:0)', { key_frame_count: 2 }),
          seg(m, '[2:0_3:0)', { key_frame_count: 1, init_object_id: i }),
          seg(i, '[3:0_4:0)'),
          seg(n, '[4:0_5:0)', { init_object_id: m }),
        ], at(1));
        expect(outcomes.map((o) => o.error?.code)).toEqual([undefined, 'object_reuse_conflict', undefined, 'object_reuse_conflict', 'object_reuse_conflict']);
        expect(await store.getObject(m)).toMatchObject({ registered: true, role: 'media', key_frame_count: 1, init_object_id: i });
        expect(await store.getObject(i)).toMatchObject({ registered: true, role: 'init' });
        expect(await store.getObject(n)).toMatchObject({ registered: false });
      });

      it('writes no event and keeps segments_updated when nothing is stored', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, [seg('x', '[0:0_10:0)')], at(1));
        const seq = await lastSeq();
        const outcomes = await addSegments(store, f.id, [seg('y', '[5:0_6:0)'), seg('z', '[9:0_11:0)')], at(2));
        expect(outcomes.every((o) => o.error?.code === 'segment_overlap')).toBe(true);
        expect(await eventsSince(seq)).toEqual([]);
        expect((await store.getFlow(f.id))?.segments_updated).toBe(at(1));
      });

      it('stores unbounded segments and checks overlaps against them', async () => {
        const f = await addFlow();
        const first = await addSegments(store, f.id, [seg('late', '[100:0_'), seg('early', '_0:0)')], at(1));
        expect(first.map((o) => o.error)).toEqual([undefined, undefined]);
        const more = await addSegments(store, f.id, [seg('m', '[200:0_300:0)'), seg('n', '[-5:0_1:0)'), seg('o', '[0:0_100:0)')], at(2));
        expect(more.map((o) => o.error?.code)).toEqual(['segment_overlap', 'segment_overlap', undefined]);
        expect(texts(await segments(f.id, '[150:0_160:0)'))).toEqual(['[100:0_']);
        expect(texts(await segments(f.id, '[-1000:0]'))).toEqual(['_0:0)']);
        expect(texts(await segments(f.id, '_'))).toEqual(['_0:0)', '[0:0_100:0)', '[100:0_']);
        const [early] = await segments(f.id, '[-1:0_0:0)');
        expect(early!.timerange).toEqual({ start: null, end: 0n, empty: false });
      });
    });

    describe('segment windows', () => {
      let flowId: string;
      const windows = [
        '_',
        '()',
        '[2:0_4:0)',
        '[2:0_4:0]',
        '(2:0_4:0)',
        '(1:999999999_4:0)',
        '[1:500000000_2:0)',
        '[5:0_',
        '_3:0)',
        '_3:0]',
        '[10:0]',
        '[10:0_',
        '_10:0)',
        '_10:0]',
        '(10:0_',
        '[3:0]',
        '[3:500000000]',
        '[-5:0_0:0)',
        '[-5:0_0:0]',
        '[50:0_60:0)',
        '[9:999999999_10:1)',
      ];
      let all: NewSegment[];

      beforeEach(async () => {
        flowId = (await addFlow()).id;
        all = [...seconds('s', 0, 10), seg('instant', '[10:0]'), seg('late', '[20:0_30:0)', { object_id: 's-3' })];
        await addSegments(store, flowId, all, at(1));
      });

      function expected(window: TimeRange): string[] {
        return all.filter((s) => overlaps(s.timerange, window)).map((s) => s.timerange_text);
      }

      it.each(windows)('returns exactly the segments overlapping %s, in time order', async (w) => {
        const got = texts(await segments(flowId, w));
        expect(got).toEqual(expected(parseTimeRange(w)));
      });

      it.each(windows)('returns the segments overlapping %s in reverse', async (w) => {
        const got = texts(await segments(flowId, w, true));
        expect(got).toEqual(expected(parseTimeRange(w)).reverse());
      });

      it('spot-checks the clusivity rules', async () => {
        expect(texts(await segments(flowId, '[2:0_4:0)'))).toEqual(['[2:0_3:0)', '[3:0_4:0)']);
        expect(texts(await segments(flowId, '[2:0_4:0]'))).toEqual(['[2:0_3:0)', '[3:0_4:0)', '[4:0_5:0)']);
        expect(texts(await segments(flowId, '[10:0]'))).toEqual(['[10:0]']);
        expect(texts(await segments(flowId, '_10:0)'))).toHaveLength(10);
      });

      it('filters by object_id', async () => {
        const page = await store.listSegments(flowId, { timerange: parseTimeRange('_'), object_id: 's-3' }, { limit: 10 });
        expect(texts(page.items)).toEqual(['[3:0_4:0)', '[20:0_30:0)']);
        const reversed = await store.listSegments(
          flowId,
          { timerange: parseTimeRange('[3:500000000_25:0)'), object_id: 's-3', reverse: true },
          { limit: 10 },
        );
        expect(texts(reversed.items)).toEqual(['[20:0_30:0)', '[3:0_4:0)']);
      });

      it('answers an empty page for an unknown flow', async () => {
        expect((await store.listSegments(randomUUID(), { timerange: parseTimeRange('_') }, { limit: 10 })).items).toEqual([]);
      });

      it.each([1, 2, 5, 11, 12, 13])('pages forward and backward with limit %i, each segment once', async (limit) => {
        for (const reverse of [false, true]) {
          for (const w of ['_', '[2:500000000_25:0)']) {
            const query = { timerange: parseTimeRange(w), reverse };
            const pages: SegmentRecord[][] = [];
            const items = await allPages(async (after) => {
              const page = await store.listSegments(flowId, query, { limit, after });
              expect(page.items.length).toBeLessThanOrEqual(limit);
              pages.push(page.items);
              return page;
            });
            const want = expected(parseTimeRange(w));
            expect(texts(items)).toEqual(reverse ? want.reverse() : want);
            expect(pages.length).toBe(Math.max(1, Math.ceil(items.length / limit)));
          }
        }
      });

      it.each([{}, 'x', { e: 'abc' }, 42, [], null, { e: 5 }, { e: '1', extra: true }, { e: '-9223372036854775808' }, { e: '99999999999999999999' }])(
        'refuses the tampered cursor %j',
        async (after) => {
          await expectCode(store.listSegments(flowId, { timerange: parseTimeRange('_') }, { limit: 5, after }), 'bad_cursor');
        },
      );

      it('gives the span of the segments overlapping a range', async () => {
        const span = async (w: string): Promise<string> => formatTimeRange(await store.getFlowTimerange(flowId, parseTimeRange(w)));
        expect(await span('_')).toBe('[0:0_30:0)');
        expect(await span('[2:500000000_4:0)')).toBe('[2:0_4:0)');
        expect(await span('[10:0_15:0)')).toBe('[10:0]');
        expect(await span('[11:0_15:0)')).toBe('()');
        expect(await span('[29:0_')).toBe('[20:0_30:0)');
        expect(await span('()')).toBe('()');
        expect(await store.getFlowTimerange(randomUUID(), parseTimeRange('_'))).toEqual(EMPTY);
      });
    });

    describe('deleting segments', () => {
      it('deletes only the segments completely covered', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, seconds('s', 0, 10), at(1));
        const seq = await lastSeq();
        const tr = parseTimeRange('[2:500000000_5:0)');
        expect(await store.deleteSegments(f.id, tr, undefined, at(2))).toBe(2);
        expect(texts(await segments(f.id, '[2:0_6:0)'))).toEqual(['[2:0_3:0)', '[5:0_6:0)']);
        expect(await store.countSegments(f.id)).toBe(8);
        const events = await eventsSince(seq);
        // The segments deleted, not the range asked for, which starts inside a segment kept.
        expect(events.map((e) => [e.event_type, e.event])).toEqual([
          ['flows/segments_deleted', { flow_id: f.id, timerange: '[3:0_5:0)' }],
        ]);
        expect((await store.getFlow(f.id))?.segments_updated).toBe(at(2));
      });

      it('deletes with inclusive and unbounded ends, and only the given object', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, [...seconds('s', 0, 4), seg('s-0', '[4:0_5:0)'), seg('i', '[5:0]')], at(1));
        expect(await store.deleteSegments(f.id, parseTimeRange('[3:0_5:0)'), 's-0', at(2))).toBe(1);
        expect(texts(await segments(f.id, '_'))).toEqual(['[0:0_1:0)', '[1:0_2:0)', '[2:0_3:0)', '[3:0_4:0)', '[5:0]']);
        expect(await store.deleteSegments(f.id, parseTimeRange('[4:0_5:0)'), undefined, at(3))).toBe(0);
        expect(await store.deleteSegments(f.id, parseTimeRange('[3:0_5:0]'), undefined, at(3))).toBe(2);
        expect(await store.deleteSegments(f.id, parseTimeRange('_1:0]'), undefined, at(3))).toBe(1);
        expect(await store.deleteSegments(f.id, parseTimeRange('_'), undefined, at(3))).toBe(2);
        expect(await store.countSegments(f.id)).toBe(0);
      });

      it('writes no event when nothing is deleted', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, seconds('s', 0, 2), at(1));
        const seq = await lastSeq();
        expect(await store.deleteSegments(f.id, parseTimeRange('[0:500000000_1:500000000)'), undefined, at(2))).toBe(0);
        expect(await eventsSince(seq)).toEqual([]);
        expect((await store.getFlow(f.id))?.segments_updated).toBe(at(1));
      });
    });

    describe('objects', () => {
      it('records allocations, and refuses a batch with any existing id', async () => {
        const f = await addFlow();
        await store.allocateObjects(f.id, [
          { id: 'obj-a', storage_id: 'st', key: 'k/a', content_type: 'video/mp2t' },
          { id: 'obj-b', storage_id: 'st', key: 'k/b' },
        ], at(1));
        const a = await store.getObject('obj-a');
        expect(a).toEqual({
          id: 'obj-a',
          instances: [{ storage_id: 'st', key: 'k/a' }],
          allocated_for_flow: f.id,
          content_type: 'video/mp2t',
          registered: false,
          role: null,
          referenced_by_flows: [],
          uncontrolled_urls: [],
          created: at(1),
        });
        expectNoEmptyMembers(a!, ['instances', 'allocated_for_flow', 'role']);

        await expectCode(store.allocateObjects(f.id, [{ id: 'obj-c', storage_id: 'st', key: 'k/c' }, { id: 'obj-a', storage_id: 'st', key: 'x' }], at(2)), 'object_exists');
        expect(await store.getObject('obj-c')).toBeUndefined();
        expect((await store.getObject('obj-a'))?.instances).toEqual([{ storage_id: 'st', key: 'k/a' }]);
        await expectCode(store.allocateObjects(f.id, [{ id: 'obj-d', storage_id: 'st', key: 'd' }, { id: 'obj-d', storage_id: 'st', key: 'd2' }], at(2)), 'object_exists');
        expect(await store.getObject('obj-d')).toBeUndefined();
        expect(await store.getObject('never')).toBeUndefined();
      });

      it('registers an allocated object and reports its storage on segments', async () => {
        const f = await addFlow(INIT_SEGMENTS);
        await store.allocateObjects(f.id, [
          { id: 'm1', storage_id: 'st', key: 'k/m1' },
          { id: 'i1', storage_id: 'st', key: 'k/i1' },
        ], at(1));
        const out = await addSegments(store, f.id, [seg('m1', '[0:0_2:0)', { key_frame_count: 1, init_object_id: 'i1' })], at(2));
        expect(out[0]!.error).toBeUndefined();
        const m1 = await store.getObject('m1');
        expect(m1).toMatchObject({
          registered: true,
          role: 'media',
          key_frame_count: 1,
          timerange: '[0:0_2:0)',
          init_object_id: 'i1',
          first_referenced_by_flow: f.id,
          referenced_by_flows: [f.id],
        });
        expect(await store.getObject('i1')).toMatchObject({ registered: true, role: 'init', referenced_by_flows: [f.id] });
        const [s] = await segments(f.id, '_');
        expect(s!.object_instances).toEqual([{ storage_id: 'st', key: 'k/m1' }]);
        expect(s!.init_object_instances).toEqual([{ storage_id: 'st', key: 'k/i1' }]);
        expect(s!.object_timerange_of_object).toBe('[0:0_2:0)');
      });

      it('leaves out only the objects\' own timeranges when a listing does not ask for them', async () => {
        const f = await addFlow(INIT_SEGMENTS);
        await store.allocateObjects(f.id, [
          { id: 'lean-m1', storage_id: 'st', key: 'k/lean-m1' },
          { id: 'lean-m2', storage_id: 'st', key: 'k/lean-m2' },
          { id: 'lean-i1', storage_id: 'st', key: 'k/lean-i1' },
        ], at(1));
        const added = await addSegments(store, 
          f.id,
          [
            seg('lean-m1', '[0:0_2:0)', { key_frame_count: 1, init_object_id: 'lean-i1' }),
            seg('lean-m2', '[2:0_4:0)', { init_object_id: 'lean-i1', ts_offset: '0:0' }),
            seg('lean-plain', '[4:0_6:0)', { init_object_id: 'lean-i1' }),
          ],
          at(2),
        );
        expect(added.map((o) => o.error)).toEqual([undefined, undefined, undefined]);
        for (const reverse of [false, true]) {
          for (const object_id of [undefined, 'lean-m2']) {
            const query = { timerange: parseTimeRange('_'), reverse, ...(object_id === undefined ? {} : { object_id }) };
            const full = await store.listSegments(f.id, query, { limit: 10 });
            const lean = await store.listSegments(f.id, { ...query, object_timerange: false }, { limit: 10 });
            expect(full.items.filter((s) => s.object_id.startsWith('lean-m')).every((s) => typeof s.object_timerange_of_object === 'string')).toBe(true);
            expect(lean.items).toEqual(full.items.map(({ object_timerange_of_object: _dropped, ...rest }) => rest));
            // Each record its own copy of the (shared) init storage.
            if (lean.items.length > 1 && lean.items[0]!.init_object_instances && lean.items[1]!.init_object_instances) {
              expect(lean.items[0]!.init_object_instances).not.toBe(lean.items[1]!.init_object_instances);
            }
          }
        }
        const [first] = (await store.listSegments(f.id, { timerange: parseTimeRange('_'), object_timerange: false }, { limit: 1 })).items;
        expect(first!.init_object_instances).toEqual([{ storage_id: 'st', key: 'k/lean-i1' }]);
      });

      it('refuses an unregistered object allocated for another flow', async () => {
        const owner = await addFlow();
        const other = await addFlow(INIT_SEGMENTS);
        await store.allocateObjects(owner.id, [{ id: 'mine', storage_id: 'st', key: 'k' }, { id: 'my-init', storage_id: 'st', key: 'k2' }], at(1));
        const out = await addSegments(store, other.id, [seg('mine', '[0:0_1:0)'), seg('ext', '[1:0_2:0)', { init_object_id: 'my-init' })], at(2));
        expect(out.map((o) => o.error?.code)).toEqual(['object_reuse_conflict', 'object_reuse_conflict']);
        expect(await store.getObject('mine')).toMatchObject({ registered: false, referenced_by_flows: [] });
      });

      it('lets another flow re-use a registered object unchanged, and refuses changes', async () => {
        const a = await addFlow(INIT_SEGMENTS);
        const b = await addFlow(INIT_SEGMENTS);
        await store.allocateObjects(a.id, [{ id: 'shared', storage_id: 'st', key: 'k' }], at(1));
        await addSegments(store, a.id, [seg('shared', '[0:0_10:0)', { key_frame_count: 3, init_object_id: 'init-s' })], at(2));
        const out = await addSegments(store, b.id, [
          seg('shared', '[100:0_105:0)', { ts_offset: '100:0', object_timerange: '[0:0_10:0)' }),
          seg('shared', '[105:0_106:0)', { key_frame_count: 4 }),
          seg('shared', '[106:0_107:0)', { object_timerange: '[0:0_9:0)' }),
          seg('shared', '[107:0_108:0)', { init_object_id: 'other-init' }),
          seg('shared', '[108:0_109:0)', { key_frame_count: 3, init_object_id: 'init-s' }),
        ], at(3));
        expect(out.map((o) => o.error?.code)).toEqual([
          undefined,
          'object_reuse_conflict',
          'object_reuse_conflict',
          'object_reuse_conflict',
          undefined,
        ]);
        const shared = await store.getObject('shared');
        expect(shared?.first_referenced_by_flow).toBe(a.id);
        expect([...shared!.referenced_by_flows].sort()).toEqual([a.id, b.id].sort());
        expect(shared?.allocated_for_flow).toBe(a.id);
      });

      it('keeps init objects and media objects apart', async () => {
        const f = await addFlow(INIT_SEGMENTS);
        await addSegments(store, f.id, [seg('media', '[0:0_1:0)', { init_object_id: 'init' })], at(1));
        const out = await addSegments(store, f.id, [
          seg('init', '[1:0_2:0)'),
          seg('other', '[2:0_3:0)', { init_object_id: 'media' }),
          seg('self', '[3:0_4:0)', { init_object_id: 'self' }),
          seg('next', '[4:0_5:0)', { init_object_id: 'init' }),
        ], at(2));
        expect(out.map((o) => o.error?.code)).toEqual([
          'object_reuse_conflict',
          'object_reuse_conflict',
          'object_reuse_conflict',
          undefined,
        ]);
        const g = await addFlow(INIT_SEGMENTS);
        await addSegments(store, g.id, [seg('m2', '[0:0_1:0)', { init_object_id: 'init' })], at(3));
        expect([...(await store.getObject('init'))!.referenced_by_flows].sort()).toEqual([f.id, g.id].sort());
      });

      it('accepts an external object and keeps its URLs from the segment', async () => {
        const f = await addFlow();
        const urls = [{ url: 'https://elsewhere.example/obj', label: 'elsewhere' }];
        await addSegments(store, f.id, [seg('external', '[0:0_1:0)', { get_urls: urls })], at(1));
        const obj = await store.getObject('external');
        expect(obj).toMatchObject({
          id: 'external',
          instances: [],
          allocated_for_flow: null,
          registered: true,
          role: 'media',
          timerange: '[0:0_1:0)',
          uncontrolled_urls: urls,
          first_referenced_by_flow: f.id,
          referenced_by_flows: [f.id],
          created: at(1),
        });
        expectNoEmptyMembers(obj!, ['instances', 'allocated_for_flow', 'role']);
        const [s] = await segments(f.id, '_');
        expect(s!.object_instances).toBeUndefined();
        expect(s!.get_urls).toEqual(urls);
      });

      it('uses object_timerange, when given, as the object timerange', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, [seg('partial', '[5:0_6:0)', { object_timerange: '[0:0_2:0)', ts_offset: '5:0' })], at(1));
        expect((await store.getObject('partial'))?.timerange).toBe('[0:0_2:0)');
      });
    });

    describe('listing flows', () => {
      it('filters on every flow field', async () => {
        const srcA = randomUUID();
        const v1 = await addFlow({
          source_id: srcA,
          codec: 'video/h264',
          label: 'cam1',
          status: 'ingesting',
          profile_id: '5b6fa0b8-4f4b-4de7-9c8c-1b7f3a8e5b11',
          essence_parameters: { frame_width: 1920, frame_height: 1080, init_segments: true },
        });
        const v2 = await addFlow({
          source_id: srcA,
          codec: 'video/h222.0',
          label: 'cam2',
          status: 'closed',
          essence_parameters: { frame_width: 1280, frame_height: 720, init_segments: false },
        });
        const a1 = await addFlow({ format: AUDIO, codec: 'audio/aac', essence_parameters: { sample_rate: 48000 } });
        const sortIds = (ids: string[]): string[] => [...ids].sort();
        const ids = async (filter: FlowFilter): Promise<string[]> => sortIds(await flowIds(filter));

        expect(await ids({})).toEqual(sortIds([v1.id, v2.id, a1.id]));
        expect(await ids({ source_id: srcA })).toEqual(sortIds([v1.id, v2.id]));
        expect(await ids({ format: AUDIO })).toEqual([a1.id]);
        expect(await ids({ codec: 'video/h264' })).toEqual([v1.id]);
        expect(await ids({ profile_id: '5b6fa0b8-4f4b-4de7-9c8c-1b7f3a8e5b11' })).toEqual([v1.id]);
        expect(await ids({ label: 'cam2' })).toEqual([v2.id]);
        expect(await ids({ label: 'cam' })).toEqual([]);
        expect(await ids({ status: 'ingesting' })).toEqual([v1.id]);
        expect(await ids({ frame_width: 1280 })).toEqual([v2.id]);
        expect(await ids({ frame_height: 1080 })).toEqual([v1.id]);
        expect(await ids({ frame_width: 1920, frame_height: 720 })).toEqual([]);
        expect(await ids({ init_segments: true })).toEqual([v1.id]);
        expect(await ids({ init_segments: false })).toEqual(sortIds([v2.id, a1.id]));
      });

      it('filters on tags: values (string or array) and existence', async () => {
        const f1 = await addFlow({ tags: { genre: 'news', lang: ['en', 'fr'] } });
        const f2 = await addFlow({ tags: { genre: 'sport', lang: 'de' } });
        const f3 = await addFlow({ tags: { 'odd name.x': 'v,1' } });
        const ids = async (values: Record<string, string[]>, exists: Record<string, boolean> = {}): Promise<string[]> =>
          [...(await flowIds({ tags: { values, exists } }))].sort();
        expect(await ids({ genre: ['news'] })).toEqual([f1.id]);
        expect(await ids({ genre: ['news', 'sport'] })).toEqual([f1.id, f2.id].sort());
        expect(await ids({ genre: ['new'] })).toEqual([]);
        expect(await ids({ lang: ['fr'] })).toEqual([f1.id]);
        expect(await ids({ lang: ['de', 'en'] })).toEqual([f1.id, f2.id].sort());
        expect(await ids({ lang: ['en'], genre: ['sport'] })).toEqual([]);
        expect(await ids({ 'odd name.x': ['v,1'] })).toEqual([f3.id]);
        expect(await ids({}, { genre: true })).toEqual([f1.id, f2.id].sort());
        expect(await ids({}, { genre: false })).toEqual([f3.id]);
        expect(await ids({}, { lang: true, genre: false })).toEqual([]);
      });

      it('filters on collected_by_ids (collected_by is kept by the store from flow_collection)', async () => {
        const top = await addFlow();
        const c1 = await addFlow({ collected_by: [randomUUID()] });
        const c12 = await addFlow();
        const emptyList = await addFlow({ collected_by: [] });
        const parent1 = await addFlow({ flow_collection: [{ id: c1.id, role: 'a' }, { id: c12.id, role: 'b' }] });
        const parent2 = await addFlow({ flow_collection: [{ id: c12.id, role: 'a' }] });
        const ids = async (collected: string[]): Promise<string[]> => [...(await flowIds({ collected_by_ids: collected }))].sort();
        // A collected_by sent by a client is ignored: c1 is collected by parent1 only.
        expect(await ids([])).toEqual([top.id, emptyList.id, parent1.id, parent2.id].sort());
        expect(await ids([parent1.id])).toEqual([c1.id, c12.id].sort());
        expect(await ids([parent2.id, randomUUID()])).toEqual([c12.id]);
      });

      it('filters on timerange, EMPTY selecting flows without segments', async () => {
        const early = await addFlow();
        const late = await addFlow();
        const none = await addFlow();
        await addSegments(store, early.id, seconds('e', 0, 10), at(1));
        await addSegments(store, late.id, seconds('l', 100, 10), at(1));
        const ids = async (tr: TimeRange | string): Promise<string[]> =>
          [...(await flowIds({ timerange: typeof tr === 'string' ? parseTimeRange(tr) : tr }))].sort();
        expect(await ids('[5:0_6:0)')).toEqual([early.id]);
        expect(await ids('[10:0_100:0)')).toEqual([]);
        expect(await ids('[10:0_100:0]')).toEqual([late.id]);
        expect(await ids('[9:500000000_')).toEqual([early.id, late.id].sort());
        expect(await ids('_0:0]')).toEqual([early.id]);
        expect(await ids(EMPTY)).toEqual([none.id]);
        expect(await ids('_')).toEqual([early.id, late.id, none.id].sort());
      });

      it('sorts by created (newest first), metadata_updated and label, falling back to id', async () => {
        const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()].sort();
        const [i0, i1, i2, i3, i4] = ids as [string, string, string, string, string];
        await store.putFlow(flow({ id: i3, label: 'bravo' }), at(1));
        await store.putFlow(flow({ id: i1, label: 'alpha' }), at(2));
        await store.putFlow(flow({ id: i4 }), at(2));
        await store.putFlow(flow({ id: i0 }), at(3));
        await store.putFlow(flow({ id: i2, label: 'alpha' }), at(4));
        await store.putFlow({ ...(await store.getFlow(i3))!, metadata_updated: undefined }, at(9));

        const order = async (sort_by?: FlowFilter['sort_by'], reverse?: boolean): Promise<string[]> => {
          const filter: FlowFilter = {};
          if (sort_by) filter.sort_by = sort_by;
          if (reverse !== undefined) filter.reverse = reverse;
          return flowIds(filter);
        };
        const byCreated = [i2, i0, i1, i4, i3];
        expect(await order()).toEqual(byCreated);
        expect(await order('created')).toEqual(byCreated);
        expect(await order('created', true)).toEqual([...byCreated].reverse());
        const byUpdated = [i3, i2, i0, i1, i4];
        expect(await order('metadata_updated')).toEqual(byUpdated);
        expect(await order('metadata_updated', true)).toEqual([...byUpdated].reverse());
        const byLabel = [i1, i2, i3, i0, i4];
        expect(await order('label')).toEqual(byLabel);
        expect(await order('label', true)).toEqual([...byLabel].reverse());

        for (const sort_by of ['created', 'metadata_updated', 'label'] as const) {
          for (const reverse of [false, true]) {
            for (const limit of [1, 2, 3]) {
              const tags = { values: { contract_run: [run] }, exists: {} };
              const paged = await allPages((after) => store.listFlows({ sort_by, reverse, tags }, { limit, after }));
              expect(paged.map((f) => f.id)).toEqual(await order(sort_by, reverse));
            }
          }
        }
      });

      it.each([{}, 'x', { e: 'abc' }, 42, [], null])('refuses the tampered cursor %j', async (after) => {
        await addFlow();
        await expectCode(store.listFlows({}, { limit: 1, after }), 'bad_cursor');
      });
    });

    describe('listing sources', () => {
      async function sourceIds(filter: SourceFilter, ofRun: string[]): Promise<string[]> {
        const page = await store.listSources(filter, { limit: 10_000 });
        return page.items.map((s) => s.id).filter((id) => ofRun.includes(id));
      }

      it('filters on label, format and collected_by_ids', async () => {
        const v = await addFlow({ label: 'studio' });
        const a = await addFlow({ format: AUDIO, label: 'mic' });
        const mine = [v.source_id, a.source_id];
        expect(await sourceIds({ label: 'studio' }, mine)).toEqual([v.source_id]);
        expect(await sourceIds({ format: AUDIO }, mine)).toEqual([a.source_id]);
        expect((await sourceIds({ collected_by_ids: [] }, mine)).sort()).toEqual([...mine].sort());
        expect(await sourceIds({ collected_by_ids: [randomUUID()] }, mine)).toEqual([]);
        expect(await sourceIds({ tags: { values: {}, exists: { anything: true } } }, mine)).toEqual([]);
        expect((await sourceIds({ tags: { values: {}, exists: { anything: false } } }, mine)).sort()).toEqual([...mine].sort());
      });

      it('sorts by created, updated and label, falling back to id, and pages through', async () => {
        const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()].sort();
        const [i0, i1, i2, i3] = ids as [string, string, string, string];
        await store.putFlow(flow({ source_id: i2, label: 'zulu' }), at(101));
        await store.putFlow(flow({ source_id: i0 }), at(102));
        await store.putFlow(flow({ source_id: i3, label: 'alpha' }), at(102));
        await store.putFlow(flow({ source_id: i1 }), at(103));
        const order = async (filter: SourceFilter): Promise<string[]> => sourceIds(filter, ids);
        expect(await order({})).toEqual([i1, i0, i3, i2]);
        expect(await order({ sort_by: 'updated' })).toEqual([i1, i0, i3, i2]);
        expect(await order({ sort_by: 'created', reverse: true })).toEqual([i2, i3, i0, i1]);
        expect(await order({ sort_by: 'label' })).toEqual([i3, i2, i0, i1]);
        expect(await order({ sort_by: 'label', reverse: true })).toEqual([i1, i0, i2, i3]);

        for (const sort_by of ['created', 'updated', 'label'] as const) {
          for (const reverse of [false, true]) {
            const everything = (await store.listSources({ sort_by, reverse }, { limit: 10_000 })).items.map((s) => s.id);
            const paged = await allPages((after) => store.listSources({ sort_by, reverse }, { limit: 2, after }));
            expect(paged.map((s) => s.id)).toEqual(everything);
          }
        }
      });

      it.each([{}, 'x', { e: 'abc' }, 42, [], null])('refuses the tampered cursor %j', async (after) => {
        await addFlow();
        await expectCode(store.listSources({}, { limit: 1, after }), 'bad_cursor');
      });
    });
  });
}
