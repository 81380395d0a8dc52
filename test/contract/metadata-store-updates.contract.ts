/**
 * The MetadataStore contract, second part: read-modify-write of flows and sources (with
 * flow collections), flow profiles, webhook registrations, object instances and flow
 * delete requests. Like the first part, every adapter must pass it unchanged, and each test
 * tags what it creates with a run-unique value so shared databases stay usable.
 */
import { randomUUID } from 'node:crypto';
import { AUDIO, INIT_SEGMENTS, VIDEO, at, expectCode, expectNoEmptyMembers, addSegments, seg, storeFixtures } from './contract-fixtures';
import type { DeletionRequest, Flow, Profile, SegmentRecord, Webhook } from '../../src/domain/entities';
import type { OutboxEvent } from '../../src/domain/events';
import { TamsError } from '../../src/domain/errors';
import { parseTimeRange } from '../../src/domain/timerange';
import type { MetadataStore } from '../../src/ports/metadata-store';






function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

/** Cursors no store ever makes (plus ones of other listings, which must not be misread). */
const TAMPERED: unknown[] = [{}, 'x', { e: 'abc' }, 42, [], null, { s: 'created', k: null, i: 'x' }, { s: 'label', k: 'a', i: 'x' }];

export function runMetadataStoreUpdatesContract(
  name: string,
  makeStore: () => Promise<MetadataStore>,
  cleanup?: (store: MetadataStore) => Promise<void>,
): void {
  describe(`MetadataStore contract (updates, profiles, webhooks, instances, deletions): ${name}`, () => {
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

    const { addFlow, lastSeq, eventsSince, allPages } = storeFixtures(() => ({ store, run }));






    async function segments(flowId: string): Promise<SegmentRecord[]> {
      return allPages((after) => store.listSegments(flowId, { timerange: parseTimeRange('_') }, { limit: 1000, after }));
    }

    const runTags = (): { values: Record<string, string[]>; exists: Record<string, boolean> } => ({
      values: { contract_run: [run] },
      exists: {},
    });

    /** Counts commit notifications while `body` runs. */
    async function commitsDuring(body: () => Promise<void>): Promise<number> {
      let commits = 0;
      const unsubscribe = store.onCommit(() => {
        commits += 1;
      });
      try {
        await body();
      } finally {
        unsubscribe();
      }
      return commits;
    }

    describe('updateFlow', () => {
      it('changes the stored flow, keeps created and segments_updated, and writes flows/updated', async () => {
        const f = await addFlow({ label: 'old', codec: 'video/h264' }, at(1));
        await addSegments(store, f.id, [seg(`o-${run}`, '[0:0_1:0)')], at(2));
        const seq = await lastSeq();
        let seen: Flow | undefined;
        const result = await store.updateFlow(
          f.id,
          (current) => {
            seen = current;
            return { ...current, label: 'new', codec: 'video/h222.0', description: undefined, created: at(99) };
          },
          at(3),
        );
        expect(seen).toEqual({ ...f, segments_updated: at(2) });
        expect(result).toEqual({ ...f, label: 'new', codec: 'video/h222.0', metadata_updated: at(3), segments_updated: at(2), metadata_version: expect.any(String) });
        expect(result!.metadata_version).not.toBe(f.metadata_version);
        expectNoEmptyMembers(result!);
        expect(await store.getFlow(f.id)).toEqual(result);

        const events = await eventsSince(seq);
        expect(events.map((e) => e.event_type)).toEqual(['flows/updated']);
        expect(events[0]).toMatchObject({ flow_id: f.id, source_id: f.source_id, event_timestamp: at(3) });
        expect(events[0]!.event).toEqual({ flow: result });

        const ids = async (filter: { label?: string; codec?: string }): Promise<string[]> =>
          (await store.listFlows({ ...filter, tags: runTags() }, { limit: 100 })).items.map((x) => x.id);
        expect(await ids({ label: 'new' })).toEqual([f.id]);
        expect(await ids({ label: 'old' })).toEqual([]);
        expect(await ids({ codec: 'video/h222.0' })).toEqual([f.id]);
        const byUpdated = (await store.listFlows({ sort_by: 'metadata_updated', tags: runTags() }, { limit: 100 })).items;
        expect(byUpdated.map((x) => x.metadata_updated)).toEqual([at(3)]);
      });

      it('can remove optional fields and updates the indexed technical columns', async () => {
        const f = await addFlow({ label: 'x', essence_parameters: { frame_width: 1920, frame_height: 1080 } });
        const result = await store.updateFlow(
          f.id,
          (current) => {
            const next = { ...current, essence_parameters: { frame_width: 1280, frame_height: 720 }, read_only: true };
            delete next.label;
            return next;
          },
          at(5),
        );
        expect(result?.label).toBeUndefined();
        expect('label' in result!).toBe(false);
        const ids = async (filter: { frame_width?: number; label?: string }): Promise<string[]> =>
          (await store.listFlows({ ...filter, tags: runTags() }, { limit: 100 })).items.map((x) => x.id);
        expect(await ids({ frame_width: 1280 })).toEqual([f.id]);
        expect(await ids({ frame_width: 1920 })).toEqual([]);
        expect(await ids({ label: 'x' })).toEqual([]);
      });

      it('answers undefined for an unknown flow and writes nothing', async () => {
        const seq = await lastSeq();
        let called = false;
        const result = await store.updateFlow(randomUUID(), (current) => {
          called = true;
          return current;
        }, at(1));
        expect(result).toBeUndefined();
        expect(called).toBe(false);
        expect(await eventsSince(seq)).toEqual([]);
      });

      it('rolls everything back when change throws', async () => {
        const member = await addFlow();
        const f = await addFlow({ label: 'kept' });
        const seq = await lastSeq();
        const commits = await commitsDuring(async () => {
          await expectCode(
            store.updateFlow(f.id, () => {
              throw new TamsError('read_only', 'Flow is read-only');
            }, at(2)),
            'read_only',
          );
        });
        expect(commits).toBe(0);
        expect(await eventsSince(seq)).toEqual([]);
        expect(await store.getFlow(f.id)).toEqual(f);
        expect(await store.getFlow(member.id)).toEqual(member);
      });

      it('refuses a changed id, and rolls back a source conflict', async () => {
        const f = await addFlow();
        const audio = await addFlow({ format: AUDIO });
        const member = await addFlow();
        const seq = await lastSeq();
        await expectCode(store.updateFlow(f.id, (current) => ({ ...current, id: randomUUID() }), at(1)), 'validation_failed');
        await expectCode(
          store.updateFlow(
            f.id,
            (current) => ({ ...current, source_id: audio.source_id, flow_collection: [{ id: member.id, role: 'video' }] }),
            at(1),
          ),
          'source_conflict',
        );
        expect(await eventsSince(seq)).toEqual([]);
        expect(await store.getFlow(f.id)).toEqual(f);
        expect(await store.getFlow(member.id)).toEqual(member);
      });

      it('moves a flow to another source as putFlow does', async () => {
        const f = await addFlow();
        const target = randomUUID();
        const seq = await lastSeq();
        const result = await store.updateFlow(f.id, (current) => ({ ...current, source_id: target }), at(4));
        expect(result?.source_id).toBe(target);
        const events = await eventsSince(seq);
        expect(events.map((e) => e.event_type)).toEqual(['sources/created', 'flows/updated', 'sources/deleted']);
        expect(await store.getSource(f.source_id)).toBeUndefined();
        expect((await store.getSource(target))?.format).toBe(VIDEO);
      });

      it('maintains collected_by of the members added and removed, each with its own event', async () => {
        const a = await addFlow({ label: 'a' });
        const b = await addFlow({ label: 'b' });
        const c = await addFlow({ label: 'c' });
        const x = await addFlow({ format: 'urn:x-nmos:format:multi' });
        const missing = randomUUID();

        let seq = await lastSeq();
        const collected = await store.updateFlow(
          x.id,
          (current) => ({
            ...current,
            flow_collection: [
              { id: a.id, role: 'video' },
              { id: missing, role: 'audio' },
              { id: b.id, role: 'audio', container_mapping: { track_index: 1 } },
            ],
          }),
          at(10),
        );
        expect(collected?.flow_collection).toEqual([
          { id: a.id, role: 'video' },
          { id: missing, role: 'audio' },
          { id: b.id, role: 'audio', container_mapping: { track_index: 1 } },
        ]);
        expect(collected?.collected_by).toBeUndefined();
        // (Source collections change with the flow collection: their sources/updated are the rules contract's.)
        const flowEvents = async (since: number): Promise<OutboxEvent[]> => (await eventsSince(since)).filter((e) => e.event_type.startsWith('flows/'));
        let events = await flowEvents(seq);
        expect(events.map((e) => [e.event_type, e.flow_id])).toEqual([
          ['flows/updated', x.id],
          ['flows/updated', a.id],
          ['flows/updated', b.id],
        ]);
        const storedA = await store.getFlow(a.id);
        expect(storedA).toEqual({ ...a, collected_by: [x.id], metadata_updated: at(10), metadata_version: expect.any(String) });
        expect(storedA!.metadata_version).not.toBe(a.metadata_version);
        expect(events[1]!.event).toEqual({ flow: storedA });
        expect(events[1]!.source_id).toBe(a.source_id);
        expect((await store.getFlow(b.id))?.collected_by).toEqual([x.id]);
        expect(await store.getFlow(missing)).toBeUndefined();

        const collectedIds = async (): Promise<string[]> =>
          sorted((await store.listFlows({ collected_by_ids: [x.id], tags: runTags() }, { limit: 100 })).items.map((f) => f.id));
        expect(await collectedIds()).toEqual(sorted([a.id, b.id]));

        // Drop a, keep b (with another role), add c: only a and c change.
        seq = await lastSeq();
        await store.updateFlow(
          x.id,
          (current) => ({ ...current, flow_collection: [{ id: b.id, role: 'commentary' }, { id: c.id, role: 'video' }] }),
          at(11),
        );
        events = await flowEvents(seq);
        expect(events.map((e) => [e.event_type, e.flow_id])).toEqual([
          ['flows/updated', x.id],
          ['flows/updated', a.id],
          ['flows/updated', c.id],
        ]);
        const afterA = await store.getFlow(a.id);
        expect(afterA?.collected_by).toBeUndefined();
        expect(afterA?.metadata_updated).toBe(at(11));
        expectNoEmptyMembers(afterA!);
        expect((await store.getFlow(b.id))?.metadata_updated).toBe(at(10));
        expect((await store.getFlow(c.id))?.collected_by).toEqual([x.id]);
        expect(await collectedIds()).toEqual(sorted([b.id, c.id]));

        // Changing something else writes one event only.
        seq = await lastSeq();
        await store.updateFlow(x.id, (current) => ({ ...current, label: 'multi' }), at(12));
        expect((await eventsSince(seq)).map((e) => e.flow_id)).toEqual([x.id]);

        // Removing the collection altogether releases every member.
        seq = await lastSeq();
        await store.updateFlow(x.id, (current) => {
          const next = { ...current };
          delete next.flow_collection;
          return next;
        }, at(13));
        expect((await flowEvents(seq)).map((e) => e.flow_id)).toEqual([x.id, b.id, c.id]);
        expect(await collectedIds()).toEqual([]);
      });

      it('keeps other collectors in collected_by, and ignores changes to collected_by itself', async () => {
        const member = await addFlow();
        const x1 = await addFlow();
        const x2 = await addFlow();
        await store.updateFlow(x1.id, (f) => ({ ...f, flow_collection: [{ id: member.id, role: 'a' }] }), at(1));
        await store.updateFlow(x2.id, (f) => ({ ...f, flow_collection: [{ id: member.id, role: 'b' }] }), at(2));
        expect((await store.getFlow(member.id))?.collected_by).toEqual([x1.id, x2.id]);

        const updated = await store.updateFlow(member.id, (f) => ({ ...f, collected_by: [randomUUID()], label: 'm' }), at(3));
        expect(updated?.collected_by).toEqual([x1.id, x2.id]);
        const cleared = await store.updateFlow(x1.id, (f) => ({ ...f, collected_by: [randomUUID()] }), at(3));
        expect(cleared?.collected_by).toBeUndefined();

        await store.updateFlow(x1.id, (f) => ({ ...f, flow_collection: [] }), at(4));
        expect((await store.getFlow(member.id))?.collected_by).toEqual([x2.id]);
      });

      it('lets a flow collect itself', async () => {
        const x = await addFlow();
        const seq = await lastSeq();
        const result = await store.updateFlow(x.id, (f) => ({ ...f, flow_collection: [{ id: x.id, role: 'self' }] }), at(1));
        expect(result?.collected_by).toEqual([x.id]);
        expect(await eventsSince(seq)).toHaveLength(1);
        const released = await store.updateFlow(x.id, (f) => ({ ...f, flow_collection: [] }), at(2));
        expect(released?.collected_by).toBeUndefined();
      });

      it('releases the members of a deleted flow', async () => {
        const a = await addFlow();
        const b = await addFlow();
        const x = await addFlow();
        await store.updateFlow(x.id, (f) => ({ ...f, flow_collection: [{ id: a.id, role: 'v' }, { id: b.id, role: 'a' }] }), at(1));
        const seq = await lastSeq();
        expect(await store.deleteFlow(x.id, at(2))).toBe(true);
        const events = await eventsSince(seq);
        expect(events.map((e) => [e.event_type, e.flow_id ?? e.source_id])).toEqual([
          ['flows/deleted', x.id],
          ['flows/updated', a.id],
          ['flows/updated', b.id],
          // x's source collected a's and b's sources (inferred from x's collection): they are released too.
          ['sources/updated', a.source_id],
          ['sources/updated', b.source_id],
          ['sources/deleted', x.source_id],
        ]);
        const storedA = await store.getFlow(a.id);
        expect(storedA?.collected_by).toBeUndefined();
        expect(storedA?.metadata_updated).toBe(at(2));
        expect(events[1]!.event).toEqual({ flow: storedA });
      });
    });

    describe('updateSource', () => {
      it('changes the stored source, keeps created, sets updated, and writes sources/updated', async () => {
        const f = await addFlow({ label: 'first' }, at(1));
        const seq = await lastSeq();
        const result = await store.updateSource(
          f.source_id,
          (s) => ({ ...s, label: 'second', description: 'about', tags: { contract_run: run, genre: 'news' }, created: at(50), updated: at(50) }),
          at(7),
        );
        expect(result).toEqual({
          id: f.source_id,
          format: VIDEO,
          label: 'second',
          description: 'about',
          tags: { contract_run: run, genre: 'news' },
          created: at(1),
          updated: at(7),
        });
        expectNoEmptyMembers(result!);
        expect(await store.getSource(f.source_id)).toEqual(result);
        const events = await eventsSince(seq);
        expect(events.map((e) => e.event_type)).toEqual(['sources/updated']);
        expect(events[0]).toMatchObject({ source_id: f.source_id, event_timestamp: at(7) });
        expect(events[0]!.event).toEqual({ source: result });

        const labelled = (await store.listSources({ label: 'second' }, { limit: 10_000 })).items.map((s) => s.id);
        expect(labelled).toContain(f.source_id);
        expect((await store.listSources({ label: 'first' }, { limit: 10_000 })).items.map((s) => s.id)).not.toContain(f.source_id);
        const tagged = await store.listSources({ tags: { values: { contract_run: [run], genre: ['news'] }, exists: {} } }, { limit: 100 });
        expect(tagged.items.map((s) => s.id)).toEqual([f.source_id]);

        const removed = await store.updateSource(f.source_id, (s) => {
          const next = { ...s };
          delete next.label;
          return next;
        }, at(8));
        expect('label' in removed!).toBe(false);
        expect((await store.listSources({ label: 'second' }, { limit: 10_000 })).items.map((s) => s.id)).not.toContain(f.source_id);
      });

      it('answers undefined for an unknown source, refuses id and format changes, and rolls back on throw', async () => {
        const f = await addFlow();
        const before = await store.getSource(f.source_id);
        const seq = await lastSeq();
        expect(await store.updateSource(randomUUID(), (s) => s, at(1))).toBeUndefined();
        await expectCode(store.updateSource(f.source_id, (s) => ({ ...s, id: randomUUID() }), at(1)), 'validation_failed');
        await expectCode(store.updateSource(f.source_id, (s) => ({ ...s, format: AUDIO }), at(1)), 'validation_failed');
        const commits = await commitsDuring(async () => {
          await expectCode(
            store.updateSource(f.source_id, () => {
              throw new TamsError('forbidden', 'no');
            }, at(1)),
            'forbidden',
          );
        });
        expect(commits).toBe(0);
        expect(await eventsSince(seq)).toEqual([]);
        expect(await store.getSource(f.source_id)).toEqual(before);
      });
    });

    describe('profiles', () => {
      function profile(extra: Partial<Profile> = {}): Profile {
        return {
          id: randomUUID(),
          flow_metadata: { format: VIDEO, codec: 'video/h264', essence_parameters: { frame_width: 1920 } },
          ...extra,
          tags: { contract_run: run, ...(extra.tags ?? {}) },
        };
      }

      it('creates, reads back, and never replaces a profile', async () => {
        const p = profile({ label: 'HD', description: 'hd h264', created_by: 'me', created: at(1) });
        await store.createProfile(p);
        const stored = await store.getProfile(p.id);
        expect(stored).toEqual(p);
        expectNoEmptyMembers(stored!);
        await expectCode(store.createProfile({ ...p, label: 'changed', flow_metadata: {} }), 'profile_exists');
        expect(await store.getProfile(p.id)).toEqual(p);
        expect(await store.getProfile(randomUUID())).toBeUndefined();

        const bare = profile({ label: undefined });
        await store.createProfile(bare);
        const storedBare = await store.getProfile(bare.id);
        expect('label' in storedBare!).toBe(false);
        expectNoEmptyMembers(storedBare!);
      });

      it('lists by id, filters on label and tags, and pages through every item once', async () => {
        const made = [
          profile({ label: 'HD', tags: { tier: 'gold' } }),
          profile({ label: 'SD', tags: { tier: ['silver', 'bronze'] } }),
          profile({ label: 'HD' }),
          profile({}),
          profile({ label: 'UHD', tags: { tier: 'gold' } }),
        ];
        for (const p of made) await store.createProfile(p);
        const all = sorted(made.map((p) => p.id));
        const list = async (filter: Parameters<MetadataStore['listProfiles']>[0], limit = 100): Promise<string[]> =>
          (await allPages((after) => store.listProfiles(filter, { limit, after }))).map((p) => p.id);
        expect(await list({ tags: runTags() })).toEqual(all);
        for (const limit of [1, 2, 3]) expect(await list({ tags: runTags() }, limit)).toEqual(all);
        expect(await list({ label: 'HD', tags: runTags() })).toEqual(sorted([made[0]!.id, made[2]!.id]));
        expect(await list({ label: 'H', tags: runTags() })).toEqual([]);
        const tier = (values: string[]) => ({ values: { contract_run: [run], tier: values }, exists: {} });
        expect(await list({ tags: tier(['gold']) })).toEqual(sorted([made[0]!.id, made[4]!.id]));
        expect(await list({ tags: tier(['bronze']) })).toEqual([made[1]!.id]);
        expect(await list({ tags: { values: { contract_run: [run] }, exists: { tier: false } } })).toEqual(
          sorted([made[2]!.id, made[3]!.id]),
        );
        const everything = (await store.listProfiles({}, { limit: 100_000 })).items.map((p) => p.id);
        expect(everything).toEqual(sorted(everything));
        expect(await list({}, 3)).toEqual(everything);
      });

      it.each([...TAMPERED, { s: 'profiles:id', k: 'a', i: 'x' }])('refuses the tampered cursor %j', async (after) => {
        await store.createProfile(profile());
        await expectCode(store.listProfiles({}, { limit: 1, after }), 'bad_cursor');
      });
    });

    describe('webhooks', () => {
      function webhook(extra: Partial<Webhook> = {}): Webhook {
        return {
          id: randomUUID(),
          url: `https://hooks.example/${run}`,
          events: ['flows/created'],
          status: 'created',
          ...extra,
          tags: { contract_run: run, ...(extra.tags ?? {}) },
        };
      }

      it('stores, replaces and deletes a registration, keeping the key value', async () => {
        const w = webhook({
          api_key_name: 'X-Key',
          api_key_value: 'secret',
          flow_ids: [randomUUID()],
          presigned: true,
          owner: 'alice',
          created: at(1),
          error: { type: 'E', summary: 's', time: at(2) },
        });
        await store.putWebhook(w);
        const stored = await store.getWebhook(w.id);
        expect(stored).toEqual(w);
        expectNoEmptyMembers(stored!);
        const replaced = { ...w, url: `https://other.example/${run}`, status: 'disabled' as const, api_key_value: undefined };
        await store.putWebhook(replaced);
        const storedReplaced = await store.getWebhook(w.id);
        expect(storedReplaced).toEqual({ ...w, url: replaced.url, status: 'disabled', api_key_value: undefined });
        expect('api_key_value' in storedReplaced!).toBe(false);
        expect(await store.deleteWebhook(w.id)).toBe(true);
        expect(await store.getWebhook(w.id)).toBeUndefined();
        expect(await store.deleteWebhook(w.id)).toBe(false);
      });

      it('lists by url then id, filters on tags, and pages through every item once', async () => {
        const ids = sorted([randomUUID(), randomUUID(), randomUUID(), randomUUID()]);
        const [i0, i1, i2, i3] = ids as [string, string, string, string];
        await store.putWebhook(webhook({ id: i2, url: `https://a.example/${run}` }));
        await store.putWebhook(webhook({ id: i0, url: `https://b.example/${run}`, tags: { kind: 'x' } }));
        await store.putWebhook(webhook({ id: i3, url: `https://a.example/${run}`, tags: { kind: 'y' } }));
        await store.putWebhook(webhook({ id: i1, url: `https://c.example/${run}` }));
        const list = async (tags: { values: Record<string, string[]>; exists: Record<string, boolean> }, limit: number): Promise<string[]> =>
          (await allPages((after) => store.listWebhooks({ tags }, { limit, after }))).map((w) => w.id);
        for (const limit of [1, 2, 3, 100]) expect(await list(runTags(), limit)).toEqual([i2, i3, i0, i1]);
        expect(await list({ values: { contract_run: [run], kind: ['x', 'y'] }, exists: {} }, 1)).toEqual([i3, i0]);
        expect(await list({ values: { contract_run: [run] }, exists: { kind: false } }, 1)).toEqual([i2, i1]);
        const everything = (await store.listWebhooks({}, { limit: 100_000 })).items;
        const keys = everything.map((w) => [w.url, w.id] as const);
        expect(keys).toEqual([...keys].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)));
        expect((await allPages((after) => store.listWebhooks({}, { limit: 2, after }))).map((w) => w.id)).toEqual(everything.map((w) => w.id));
      });

      it.each([...TAMPERED, { s: 'webhooks:url', k: null, i: 'x' }])('refuses the tampered cursor %j', async (after) => {
        await store.putWebhook(webhook());
        await expectCode(store.listWebhooks({}, { limit: 1, after }), 'bad_cursor');
      });
    });

    describe('object instances', () => {
      it('adds an uncontrolled instance that every segment of the object lists', async () => {
        const f = await addFlow();
        const g = await addFlow();
        const obj = `ext-${run}`;
        const first = { url: 'https://one.example/o', label: 'one' };
        await addSegments(store, f.id, [seg(obj, '[0:0_1:0)', { get_urls: [first], ts_offset: '0:0' })], at(1));
        await addSegments(store, g.id, [seg(obj, '[5:0_6:0)')], at(1));
        const other = `other-${run}`;
        await addSegments(store, f.id, [seg(other, '[1:0_2:0)')], at(1));

        const added = { url: 'https://two.example/o', label: 'two' };
        await store.addObjectInstance(obj, added);
        expect((await store.getObject(obj))?.uncontrolled_urls).toEqual([first, added]);
        const [sf, so] = await segments(f.id);
        expect(sf!.get_urls).toEqual([first, added]);
        expect(sf!.ts_offset).toBe('0:0');
        expect(so!.get_urls).toBeUndefined();
        const [sg] = await segments(g.id);
        expect(sg!.get_urls).toEqual([added]);

        await expectCode(store.addObjectInstance(obj, { url: 'https://three.example/o', label: 'one' }), 'instance_conflict');
        await expectCode(store.addObjectInstance(`nope-${run}`, { url: 'https://x.example', label: 'x' }), 'not_found');
        expect((await store.getObject(obj))?.uncontrolled_urls).toEqual([first, added]);
      });

      it('refuses instances of an allocated but unregistered object', async () => {
        const f = await addFlow();
        const obj = `alloc-${run}`;
        await store.allocateObjects(f.id, [{ id: obj, storage_id: 'st', key: 'k' }], at(1));
        await expectCode(store.addObjectInstance(obj, { url: 'https://x.example', label: 'x' }), 'not_found');
        await expectCode(store.removeObjectInstance(obj, { storage_id: 'st' }), 'not_found');
        expect((await store.getObject(obj))?.instances).toEqual([{ storage_id: 'st', key: 'k' }]);
      });

      it('removes an uncontrolled instance, but never the last one', async () => {
        const f = await addFlow();
        const obj = `ext-${run}`;
        const one = { url: 'https://one.example/o', label: 'one' };
        const two = { url: 'https://two.example/o', label: 'two' };
        await addSegments(store, f.id, [seg(obj, '[0:0_1:0)', { get_urls: [one] })], at(1));
        await store.addObjectInstance(obj, two);
        await expectCode(store.removeObjectInstance(obj, { label: 'three' }), 'not_found');
        await expectCode(store.removeObjectInstance(obj, { storage_id: 'st' }), 'not_found');
        await expectCode(store.removeObjectInstance(`nope-${run}`, { label: 'one' }), 'not_found');
        await store.removeObjectInstance(obj, { label: 'one' });
        expect((await store.getObject(obj))?.uncontrolled_urls).toEqual([two]);
        expect((await segments(f.id))[0]!.get_urls).toEqual([two]);
        await expectCode(store.removeObjectInstance(obj, { label: 'two' }), 'last_instance');
        expect((await store.getObject(obj))?.uncontrolled_urls).toEqual([two]);
        expect((await segments(f.id))[0]!.get_urls).toEqual([two]);
      });

      it('removes the controlled instance from the object and its segments when another remains', async () => {
        const f = await addFlow(INIT_SEGMENTS);
        const media = `m-${run}`;
        const init = `i-${run}`;
        await store.allocateObjects(f.id, [
          { id: media, storage_id: 'st', key: 'k/m' },
          { id: init, storage_id: 'st', key: 'k/i' },
        ], at(1));
        await addSegments(store, f.id, [seg(media, '[0:0_1:0)', { init_object_id: init })], at(2));

        await expectCode(store.removeObjectInstance(media, { storage_id: 'st' }), 'last_instance');
        await expectCode(store.removeObjectInstance(media, { storage_id: 'elsewhere' }), 'not_found');
        const copy = { url: 'https://copy.example/m', label: 'copy' };
        await store.addObjectInstance(media, copy);
        let [s] = await segments(f.id);
        expect(s!.object_instances).toEqual([{ storage_id: 'st', key: 'k/m' }]);
        expect(s!.get_urls).toEqual([copy]);

        await store.removeObjectInstance(media, { storage_id: 'st' });
        expect(await store.getObject(media)).toMatchObject({ instances: [], uncontrolled_urls: [copy], registered: true });
        expect(await store.pendingObjectDeletions(10)).toContainEqual({ storage_id: 'st', key: 'k/m' });
        [s] = await segments(f.id);
        expect(s!.object_instances).toBeUndefined();
        expect(s!.init_object_instances).toEqual([{ storage_id: 'st', key: 'k/i' }]);
        expect(s!.get_urls).toEqual([copy]);
        await expectCode(store.removeObjectInstance(media, { storage_id: 'st' }), 'not_found');
        await expectCode(store.removeObjectInstance(media, { label: 'copy' }), 'last_instance');

        await store.addObjectInstance(init, { url: 'https://copy.example/i', label: 'copy' });
        await store.removeObjectInstance(init, { storage_id: 'st' });
        [s] = await segments(f.id);
        expect(s!.init_object_instances).toBeUndefined();
        expect(s!.get_urls).toEqual([copy]);
      });
    });

    describe('deletion requests', () => {
      function request(extra: Partial<DeletionRequest> = {}): DeletionRequest {
        return {
          id: randomUUID(),
          flow_id: randomUUID(),
          timerange_to_delete: '[0:0_10:0)',
          delete_flow: false,
          status: 'created',
          ...extra,
        };
      }

      it('stores and replaces a request', async () => {
        const r = request({ created: at(1), created_by: 'me', expiry: at(100), timerange_remaining: '[5:0_10:0)' });
        await store.putDeletionRequest(r);
        expect(await store.getDeletionRequest(r.id)).toEqual(r);
        expectNoEmptyMembers((await store.getDeletionRequest(r.id))!);
        const done = { ...r, status: 'done' as const, updated: at(2), timerange_remaining: undefined };
        await store.putDeletionRequest(done);
        const stored = await store.getDeletionRequest(r.id);
        expect(stored).toEqual({ ...r, status: 'done', updated: at(2), timerange_remaining: undefined });
        expect('timerange_remaining' in stored!).toBe(false);
        expect(await store.getDeletionRequest(randomUUID())).toBeUndefined();
      });

      it('lists newest created first, then by id, and pages through every item once', async () => {
        const ids = sorted([randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()]);
        const [i0, i1, i2, i3, i4] = ids as [string, string, string, string, string];
        await store.putDeletionRequest(request({ id: i3, created: at(10) }));
        await store.putDeletionRequest(request({ id: i1, created: at(20) }));
        await store.putDeletionRequest(request({ id: i0, created: at(10) }));
        await store.putDeletionRequest(request({ id: i4 }));
        await store.putDeletionRequest(request({ id: i2, created: at(30) }));
        const everything = (await store.listDeletionRequests({ limit: 100_000 })).items;
        const mine = everything.map((r) => r.id).filter((id) => ids.includes(id));
        expect(mine).toEqual([i2, i1, i0, i3, i4]);
        for (let i = 1; i < everything.length; i++) {
          const a = everything[i - 1]!;
          const b = everything[i]!;
          if (a.created !== undefined && b.created !== undefined) {
            expect(a.created > b.created || (a.created === b.created && a.id < b.id)).toBe(true);
          } else if (a.created === undefined) {
            expect(b.created).toBeUndefined();
            expect(a.id < b.id).toBe(true);
          }
        }
        for (const limit of [1, 2, 3]) {
          const paged = await allPages((after) => store.listDeletionRequests({ limit, after }));
          expect(paged.map((r) => r.id)).toEqual(everything.map((r) => r.id));
        }
      });

      it.each(TAMPERED)('refuses the tampered cursor %j', async (after) => {
        await store.putDeletionRequest(request({ created: at(1) }));
        await expectCode(store.listDeletionRequests({ limit: 1, after }), 'bad_cursor');
      });
    });
  });
}
