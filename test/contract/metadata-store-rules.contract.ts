/**
 * The MetadataStore contract, third part: the TAMS rules every store keeps on its own writes
 * (ports/metadata-store.ts): metadata_version, the init_segments rule, segments of unknown
 * objects, source collections inferred from flow collections, and what deleting a collected
 * flow does to its collectors. Every adapter must pass it unchanged.
 */
import { randomUUID } from 'node:crypto';
import { INIT_SEGMENTS, at, addSegments, expectCode, seg, storeFixtures } from './contract-fixtures';
import type { Flow } from '../../src/domain/entities';
import { MAX_COLLECTORS } from '../../src/domain/source-collections';
import { ETERNITY } from '../../src/domain/timerange';
import type { MetadataStore } from '../../src/ports/metadata-store';

const MULTI = 'urn:x-nmos:format:multi' as const;

/**
 * `slowTestMs`: the time allowed to the one test that makes MAX_COLLECTORS flows (a store whose
 * every call crosses a network, as VAST's through the fake server, needs more than 60 s).
 * `withoutMaxCollectors`: leave that test out (a variant whose store runs it elsewhere).
 */
export function runMetadataStoreRulesContract(
  name: string,
  makeStore: () => Promise<MetadataStore>,
  options: { slowTestMs?: number; withoutMaxCollectors?: boolean } = {},
): void {
  describe(`MetadataStore contract (TAMS rules): ${name}`, () => {
    let store: MetadataStore;
    let run: string;
    const { addFlow, flow, lastSeq, eventsSince } = storeFixtures(() => ({ store, run }));

    beforeEach(async () => {
      store = await makeStore();
      await store.init();
      run = randomUUID();
    });

    afterEach(async () => {
      await store.close();
    });

    const version = async (id: string): Promise<string | undefined> => (await store.getFlow(id))?.metadata_version;

    describe('metadata_version', () => {
      it('keeps the client\'s value on creation and sets one when there is none', async () => {
        const given = await store.putFlow(flow({ metadata_version: 'v-from-elsewhere' }), at(1));
        expect(given.flow.metadata_version).toBe('v-from-elsewhere');
        const none = await addFlow();
        expect(typeof none.metadata_version).toBe('string');
        expect(none.metadata_version).not.toBe('');
        expect(await version(none.id)).toBe(none.metadata_version);
      });

      it('changes on every metadata write unless the client brings a new value', async () => {
        const f = await addFlow({ label: 'one' });
        const v1 = f.metadata_version!;
        // Sent back unchanged with changed metadata: a new version.
        const v2 = (await store.putFlow({ ...f, label: 'two' }, at(2))).flow.metadata_version!;
        expect(v2).not.toBe(v1);
        // Without a version: a new one.
        const { metadata_version: _v, ...withoutVersion } = f;
        const v3 = (await store.putFlow({ ...withoutVersion, label: 'three' }, at(3))).flow.metadata_version!;
        expect([v1, v2]).not.toContain(v3);
        // A new value of the client's: kept.
        expect((await store.putFlow({ ...f, metadata_version: 'client-v4' }, at(4))).flow.metadata_version).toBe('client-v4');
        // A property write (read-modify-write): a new one.
        const v5 = (await store.updateFlow(f.id, (x) => ({ ...x, tags: { ...x.tags, genre: 'news' } }), at(5)))!.metadata_version!;
        expect(v5).not.toBe('client-v4');
      });

      it('is not changed by segment writes', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, [seg(`o-${run}`, '[0:0_1:0)')], at(2));
        expect(await version(f.id)).toBe(f.metadata_version);
        expect(await store.deleteSegments(f.id, ETERNITY, undefined, at(3))).toBe(1);
        expect(await version(f.id)).toBe(f.metadata_version);
      });

      it('changes on a member when a collection adds or drops it (collected_by), not on the others', async () => {
        const a = await addFlow();
        const b = await addFlow();
        const x = await addFlow({ format: MULTI });
        await store.updateFlow(x.id, (cur) => ({ ...cur, flow_collection: [{ id: a.id, role: 'video' }] }), at(2));
        const aAdded = await version(a.id);
        expect(aAdded).not.toBe(a.metadata_version);
        expect(await version(b.id)).toBe(b.metadata_version);
        await store.updateFlow(x.id, (cur) => ({ ...cur, flow_collection: [] }), at(3));
        expect(await version(a.id)).not.toBe(aAdded);
      });
    });

    describe('init_segments and unknown objects', () => {
      it('refuses a segment of an unknown object without get_urls, and takes one with get_urls', async () => {
        const f = await addFlow();
        const out = await store.addSegments(f.id, [
          seg(`never-allocated-${run}`, '[0:0_1:0)'),
          seg(`external-${run}`, '[1:0_2:0)', { get_urls: [{ url: 'https://elsewhere.example/x', label: 'x' }] }),
        ], at(1));
        expect(out.map((o) => o.error?.code)).toEqual(['validation_failed', undefined]);
        expect(await store.getObject(`never-allocated-${run}`)).toBeUndefined();
        expect((await store.listSegments(f.id, { timerange: ETERNITY }, { limit: 10 })).items.map((s) => s.object_id)).toEqual([`external-${run}`]);
      });

      it('refuses init objects on a flow without init_segments, and their absence on one with it', async () => {
        const plain = await addFlow();
        const withInit = await addFlow(INIT_SEGMENTS);
        const out1 = await addSegments(store, plain.id, [
          seg(`p1-${run}`, '[0:0_1:0)', { init_object_id: `pi-${run}` }),
          seg(`p2-${run}`, '[1:0_2:0)'),
        ], at(1));
        expect(out1.map((o) => o.error?.code)).toEqual(['validation_failed', undefined]);
        const out2 = await addSegments(store, withInit.id, [
          seg(`w1-${run}`, '[0:0_1:0)'),
          seg(`w2-${run}`, '[1:0_2:0)', { init_object_id: `wi-${run}` }),
        ], at(1));
        expect(out2.map((o) => o.error?.code)).toEqual(['validation_failed', undefined]);
      });

      it('gives a re-used object its init object, and refuses it on a flow without init_segments', async () => {
        const first = await addFlow(INIT_SEGMENTS);
        const second = await addFlow(INIT_SEGMENTS);
        const plain = await addFlow();
        await addSegments(store, first.id, [seg(`m-${run}`, '[0:0_1:0)', { init_object_id: `i-${run}` })], at(1));
        const reused = await store.addSegments(second.id, [seg(`m-${run}`, '[5:0_6:0)')], at(2));
        expect(reused[0]!.error).toBeUndefined();
        const [listed] = (await store.listSegments(second.id, { timerange: ETERNITY }, { limit: 10 })).items;
        expect(listed!.init_object_id).toBe(`i-${run}`);
        const refused = await store.addSegments(plain.id, [seg(`m-${run}`, '[5:0_6:0)')], at(3));
        expect(refused[0]!.error?.code).toBe('validation_failed');
      });

      it('refuses a flow write that its stored segments contradict, and allows it without segments', async () => {
        const f = await addFlow();
        await addSegments(store, f.id, [seg(`s-${run}`, '[0:0_1:0)')], at(1));
        await expectCode(store.putFlow({ ...f, ...INIT_SEGMENTS }, at(2)), 'validation_failed');
        expect((await store.getFlow(f.id))!.essence_parameters).toBeUndefined();
        const g = await addFlow(INIT_SEGMENTS);
        await addSegments(store, g.id, [seg(`t-${run}`, '[0:0_1:0)', { init_object_id: `ti-${run}` })], at(1));
        await expectCode(store.putFlow({ ...g, essence_parameters: {} }, at(2)), 'validation_failed');
        const empty = await addFlow();
        expect((await store.putFlow({ ...empty, ...INIT_SEGMENTS }, at(2))).flow.essence_parameters).toEqual({ init_segments: true });
      });
    });

    const collect = async (x: Flow, items: { id: string; role: string }[], now: string): Promise<Flow | undefined> =>
      store.updateFlow(x.id, (cur) => ({ ...cur, flow_collection: items }), now);

    describe('source collections', () => {
      it('infers a source\'s collection from its flows\' collections, with collected_by on the members', async () => {
        const a = await addFlow();
        const b = await addFlow();
        const x = await addFlow({ format: MULTI });
        const seq = await lastSeq();
        await collect(x, [{ id: a.id, role: 'video' }, { id: b.id, role: 'audio' }], at(2));
        expect((await store.getSource(x.source_id))!.source_collection).toEqual([
          { id: a.source_id, role: 'video' },
          { id: b.source_id, role: 'audio' },
        ]);
        expect((await store.getSource(a.source_id))!.collected_by).toEqual([x.source_id]);
        expect((await store.getSource(b.source_id))!.collected_by).toEqual([x.source_id]);
        const listed = await store.listSources({ collected_by_ids: [x.source_id] }, { limit: 100 });
        expect(listed.items.map((s) => s.id).sort()).toEqual([a.source_id, b.source_id].sort());
        const sourceEvents = (await eventsSince(seq)).filter((e) => e.event_type === 'sources/updated').map((e) => e.source_id);
        expect(sourceEvents.sort()).toEqual([x.source_id, a.source_id, b.source_id].sort());
      });

      it('refuses a collection that contradicts another flow of the same source, and accepts one that agrees', async () => {
        const a = await addFlow();
        const b = await addFlow();
        const x = await addFlow({ format: MULTI });
        await collect(x, [{ id: a.id, role: 'video' }, { id: b.id, role: 'audio' }], at(2));
        const sibling = flow({ format: MULTI, source_id: x.source_id });
        await expectCode(store.putFlow({ ...sibling, flow_collection: [{ id: b.id, role: 'audio' }, { id: a.id, role: 'video' }] }, at(3)), 'validation_failed');
        await expectCode(store.putFlow({ ...sibling, flow_collection: [{ id: a.id, role: 'main' }, { id: b.id, role: 'audio' }] }, at(3)), 'validation_failed');
        expect(await store.getFlow(sibling.id)).toBeUndefined();
        // Part of it (a flow without the audio) agrees where they overlap.
        const part = flow({ format: MULTI, source_id: x.source_id });
        expect((await store.putFlow({ ...part, flow_collection: [{ id: a.id, role: 'video' }] }, at(4))).created).toBe(true);
        await store.deleteFlow(part.id, at(4));
        const same = await store.putFlow({ ...sibling, flow_collection: [{ id: a.id, role: 'video' }, { id: b.id, role: 'audio' }] }, at(4));
        expect(same.created).toBe(true);
        // The first flow's collection dropped: the sibling's still gives the source its collection.
        await collect(x, [], at(5));
        expect((await store.getSource(x.source_id))!.source_collection).toHaveLength(2);
        await store.updateFlow(sibling.id, (cur) => ({ ...cur, flow_collection: [] }), at(6));
        expect((await store.getSource(x.source_id))!.source_collection).toBeUndefined();
        expect((await store.getSource(a.source_id))!.collected_by).toBeUndefined();
      });

      it('follows a member flow that moves to another source', async () => {
        const a = await addFlow();
        const x = await addFlow({ format: MULTI });
        await collect(x, [{ id: a.id, role: 'video' }], at(2));
        const newSource = randomUUID();
        await store.putFlow({ ...(await store.getFlow(a.id))!, source_id: newSource }, at(3));
        expect((await store.getSource(x.source_id))!.source_collection).toEqual([{ id: newSource, role: 'video' }]);
        expect((await store.getSource(newSource))!.collected_by).toEqual([x.source_id]);
        expect(await store.getSource(a.source_id)).toBeUndefined();
      });
    });

    describe('deleting a collected flow', () => {
      it('keeps a source\'s collection the merge of its flows\' when one loses a member, and still takes a write that agrees', async () => {
        const a = await addFlow();
        const a2 = await addFlow({ source_id: a.source_id });
        const b = await addFlow();
        const x = await addFlow({ format: MULTI });
        const x2 = await store.putFlow({ ...flow({ format: MULTI, source_id: x.source_id }), flow_collection: [{ id: a2.id, role: 'video' }, { id: b.id, role: 'audio' }] }, at(1));
        await collect(x, [{ id: a.id, role: 'video' }, { id: b.id, role: 'audio' }], at(2));
        await store.deleteFlow(a.id, at(3));
        expect((await store.getFlow(x.id))!.flow_collection).toEqual([{ id: b.id, role: 'audio' }]);
        // x2 still collects a2 of the same source a had: the source's collection still names it.
        expect((await store.getSource(x.source_id))!.source_collection).toEqual([
          { id: a.source_id, role: 'video' },
          { id: b.source_id, role: 'audio' },
        ]);
        expect((await store.getSource(a.source_id))!.collected_by).toEqual([x.source_id]);
        const x3 = flow({ format: MULTI, source_id: x.source_id });
        expect((await store.putFlow({ ...x3, flow_collection: [{ id: b.id, role: 'audio' }] }, at(4))).created).toBe(true);
        expect(x2.created).toBe(true);
      });

      it('removes it from its collectors in the same change, with flows/updated and new versions', async () => {
        const a = await addFlow();
        const b = await addFlow();
        const x = await addFlow({ format: MULTI });
        await collect(x, [{ id: a.id, role: 'video' }, { id: b.id, role: 'audio' }], at(2));
        const before = (await store.getFlow(x.id))!;
        const seq = await lastSeq();
        expect(await store.deleteFlow(a.id, at(3))).toBe(true);
        const after = (await store.getFlow(x.id))!;
        expect(after.flow_collection).toEqual([{ id: b.id, role: 'audio' }]);
        expect(after.metadata_version).not.toBe(before.metadata_version);
        expect(after.metadata_updated).toBe(at(3));
        // The gateway's own change: updated_by stays as the flow's last writer left it.
        expect(after.updated_by).toBe(before.updated_by);
        const events = await eventsSince(seq);
        expect(events.map((e) => [e.event_type, e.flow_id ?? e.source_id])).toEqual([
          ['flows/deleted', a.id],
          ['flows/updated', x.id],
          ['sources/updated', x.source_id],
          ['sources/deleted', a.source_id],
        ]);
        expect(events[1]!.event).toEqual({ flow: after });
        expect((await store.getSource(x.source_id))!.source_collection).toEqual([{ id: b.source_id, role: 'audio' }]);
        // The last member gone: the collection is gone.
        await store.deleteFlow(b.id, at(4));
        expect((await store.getFlow(x.id))!.flow_collection).toBeUndefined();
        expect((await store.getSource(x.source_id))!.source_collection).toBeUndefined();
      });
    });

    it('refuses a move that makes a collector contradict a sibling, and a write adding to a disagreement, not one that does not', async () => {
      const a = await addFlow();
      const b = await addFlow();
      const x1 = await addFlow({ format: MULTI });
      const x2 = await addFlow({ format: MULTI, source_id: x1.source_id });
      await collect(x1, [{ id: a.id, role: 'video' }], at(1));
      await collect(x2, [{ id: b.id, role: 'audio' }], at(1));
      // b moving to a's source would give x1's source that source as video and as audio.
      await expectCode(store.putFlow({ ...(await store.getFlow(b.id))!, source_id: a.source_id }, at(2)), 'validation_failed');
      expect((await store.getFlow(b.id))!.source_id).toBe(b.source_id);

      // A disagreement left by a deleted member does not block a write that does not add to it.
      const b1 = await addFlow();
      const b2 = await addFlow({ source_id: b1.source_id });
      const c = await addFlow();
      const y1 = await addFlow({ format: MULTI });
      const y2 = await addFlow({ format: MULTI, source_id: y1.source_id });
      await collect(y1, [{ id: b1.id, role: 'b' }, { id: a.id, role: 'a' }, { id: b2.id, role: 'b' }], at(3));
      await collect(y2, [{ id: b2.id, role: 'b' }, { id: a.id, role: 'a' }], at(3));
      await store.deleteFlow(b1.id, at(4));
      expect((await store.getFlow(y1.id))!.flow_collection).toEqual([{ id: a.id, role: 'a' }, { id: b2.id, role: 'b' }]);
      await collect(y2, [{ id: b2.id, role: 'b' }, { id: a.id, role: 'a' }, { id: c.id, role: 'c' }], at(5));
      expect((await store.getFlow(y2.id))!.flow_collection).toHaveLength(3);
      // One that does (c in another role than a sibling gives it) is still refused.
      await collect(y1, [{ id: a.id, role: 'a' }, { id: b2.id, role: 'b' }, { id: c.id, role: 'not c' }], at(6)).then(
        () => {
          throw new Error('accepted');
        },
        (err: { code?: string }) => expect(err.code).toBe('validation_failed'),
      );
    });

    (options.withoutMaxCollectors === true ? it.skip : it)('keeps a flow in at most MAX_COLLECTORS collections', async () => {
      const member = await addFlow();
      for (let i = 0; i < MAX_COLLECTORS; i++) {
        await store.putFlow(flow({ format: MULTI, flow_collection: [{ id: member.id, role: 'm' }] }), at(1));
      }
      expect((await store.getFlow(member.id))!.collected_by).toHaveLength(MAX_COLLECTORS);
      await expectCode(store.putFlow(flow({ format: MULTI, flow_collection: [{ id: member.id, role: 'm' }] }), at(2)), 'validation_failed');
      expect((await store.getFlow(member.id))!.collected_by).toHaveLength(MAX_COLLECTORS);
    }, options.slowTestMs ?? 60_000);

    it('gives a source made for a flow the flow\'s updated_by as created_by', async () => {
      const made = await store.putFlow(flow({ created_by: 'erin', updated_by: 'erin' }), at(1));
      expect(await store.getSource(made.flow.source_id)).toMatchObject({ created_by: 'erin', updated_by: 'erin' });
    });
  });
}
