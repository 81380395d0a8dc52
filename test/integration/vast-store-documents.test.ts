/**
 * The VAST store's sources, flows and objects (documents.ts, source-collections.ts, objects.ts,
 * segment-registration.ts) against the fake VAST server over loopback sockets, each call made on
 * an in-memory SqliteMetadataStore too and compared: results, errors (code and message),
 * documents read back, every page of listings (filters, sorts, reverse, cursors), object records,
 * segment pages and the events. metadata_version values are random UUIDs in both stores: they are
 * compared as "present" only. Concurrent writers: one flow created twice at once, one object id
 * allocated twice at once, one unknown object registered by two flows at once.
 */
import { getFlow, getFlows, getSource, getSources, listFlows, listSources, putFlow, updateFlow } from '../../src/adapters/vast/store/documents';
import { allocateObjects, getObjects } from '../../src/adapters/vast/store/objects';
import { readEvents } from '../../src/adapters/vast/store/outbox';
import { registerSegments } from '../../src/adapters/vast/store/segment-registration';
import { listSegmentsPage } from '../../src/adapters/vast/store/segment-window';
import type { Flow, NewSegment } from '../../src/domain/entities';
import type { ContextualEvent } from '../../src/ports/webhook-delivery';
import { TamsError } from '../../src/domain/errors';
import { parseTimeRange } from '../../src/domain/timerange';
import type { FlowFilter, NewObjectAllocation, Page, PageRequest, SourceFilter } from '../../src/ports/metadata-store';
import type { FakeVastOptions } from '../support/vast-fake-server';
import { allPages as allPagesOf, startVastBesideSqlite, type VastBesideSqlite } from '../support/vast-fake-client';

const SCHEMA = 'gateway';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

type Setup = VastBesideSqlite;

async function setup(fakeOptions: FakeVastOptions = {}): Promise<Setup> {
  return startVastBesideSqlite(SCHEMA, closers, fakeOptions);
}

/** A result or the TamsError it failed with (code and message), with metadata_version values reduced to "present". */
async function outcome<T>(work: () => Promise<T>): Promise<unknown> {
  try {
    return normalise(await work());
  } catch (error) {
    if (error instanceof TamsError) return { error: error.code, message: error.message };
    throw error;
  }
}

function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === 'metadata_version' && typeof v === 'string' ? 'version' : normalise(v);
  return out;
}

/** Runs a call on both stores and expects the same outcome. */
async function both<T>(s: Setup, vast: () => Promise<T>, sqlite: () => Promise<T>): Promise<unknown> {
  const a = await outcome(vast);
  expect(a).toEqual(await outcome(sqlite));
  return a;
}

function withoutSeq(events: ContextualEvent[]): unknown {
  return normalise(events.map(({ seq: _seq, ...rest }) => rest));
}

/** The same events as SQLite's, each with the same context (what its flow or source was as it committed). */
async function expectSameEvents(s: Setup): Promise<void> {
  const vast = await s.client.withTransaction((tx) => readEvents(tx, s.tables, 0n, 10_000));
  const sqlite = await s.sqlite.readEventsWithContext(0, 10_000);
  expect(withoutSeq(vast)).toEqual(withoutSeq(sqlite));
  expect(vast.map((e) => e.seq)).toEqual(vast.map((_, i) => i + 1));
}

async function allPages<T>(readPage: (after: unknown) => Promise<Page<T>>): Promise<unknown[]> {
  return (await allPagesOf(readPage)).map((page) => normalise(page));
}

function pageRequest(limit: number, after: unknown): PageRequest {
  return after === undefined ? { limit } : { limit, after };
}

const VIDEO = 'urn:x-nmos:format:video';
const AUDIO = 'urn:x-nmos:format:audio';

function flow(id: string, sourceId: string, extra: Partial<Flow> = {}): Flow {
  return { id, source_id: sourceId, format: VIDEO, ...extra };
}

function seg(objectId: string, timerange: string, extra: Partial<NewSegment> = {}): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, ...extra };
}

const urls = (id: string): NewSegment['get_urls'] => [{ label: 'origin', url: `https://media.example/${id}` }];

describe('sources and flows, against SQLite', () => {
  it('putFlow / updateFlow: results, errors, documents and events as SQLite', async () => {
    const s = await setup();
    const put = (f: Flow, now: string): Promise<unknown> =>
      both(
        s,
        () => putFlow(s.client, s.tables, f, now),
        () => s.sqlite.putFlow(f, now),
      );
    const update = (id: string, change: (f: Flow) => Flow, now: string): Promise<unknown> =>
      both(
        s,
        () => updateFlow(s.client, s.tables, id, change, now),
        () => s.sqlite.updateFlow(id, change, now),
      );
    await put(flow('f1', 's1', { label: 'One', description: 'first', tags: { auth_classes: ['news'], genre: 'x' }, created_by: 'alice', updated_by: 'alice' }), '2024-01-01T00:00:01Z');
    await put(flow('f2', 's1', { label: 'Two', codec: 'video/h264', essence_parameters: { frame_width: 1920, frame_height: 1080 } }), '2024-01-01T00:00:02Z');
    expect(await put(flow('f3', 's1', { format: AUDIO }), '2024-01-01T00:00:03Z')).toMatchObject({ error: 'source_conflict' });
    await put(flow('f1', 's1', { label: 'One again', metadata_version: 'mine' }), '2024-01-01T00:00:04Z');
    // a move to a new source: the old one stays (f2 uses it); then f2 moves too and s1 goes
    await put(flow('f1', 's2', { label: 'moved' }), '2024-01-01T00:00:05Z');
    await update('f2', (f) => ({ ...f, source_id: 's2', label: 'Two moved' }), '2024-01-01T00:00:06Z');
    await update('f2', (f) => ({ ...f, id: 'other' }), '2024-01-01T00:00:07Z');
    expect(await update('nope', (f) => f, '2024-01-01T00:00:08Z')).toBeUndefined();
    // flow collections: collected_by, source collections and sources/updated
    await put(flow('m1', 'sm1', { format: AUDIO }), '2024-01-01T00:00:09Z');
    await put(flow('m2', 'sm2'), '2024-01-01T00:00:10Z');
    await put(flow('c1', 'sc', { flow_collection: [{ id: 'm1', role: 'audio' }, { id: 'm2', role: 'video' }, { id: 'ghost', role: 'x' }] }), '2024-01-01T00:00:11Z');
    // a sibling of the same source contradicting it is refused
    expect(await put(flow('c2', 'sc', { flow_collection: [{ id: 'm1', role: 'other' }] }), '2024-01-01T00:00:12Z')).toMatchObject({ error: 'validation_failed' });
    await update('c1', (f) => ({ ...f, flow_collection: [{ id: 'm2', role: 'video' }, { id: 'c1', role: 'self' }] }), '2024-01-01T00:00:13Z');
    // init_segments: turning it on while a segment has no init object is refused
    await put(flow('g', 'sg'), '2024-01-01T00:00:14Z');
    const batch = [seg('go1', '[0:0_1:0)', { get_urls: urls('go1') })];
    await both(
      s,
      () => registerSegments(s.client, s.tables, 'g', batch, '2024-01-01T00:00:15Z'),
      () => s.sqlite.addSegments('g', batch, '2024-01-01T00:00:15Z'),
    );
    expect(await put(flow('g', 'sg', { essence_parameters: { init_segments: true } }), '2024-01-01T00:00:16Z')).toMatchObject({ error: 'validation_failed' });
    await put(flow('g', 'sg', { label: 'segments_updated kept' }), '2024-01-01T00:00:17Z');

    const flowIds = ['f1', 'f2', 'f3', 'm1', 'm2', 'c1', 'c2', 'g', 'nope'];
    const sourceIds = ['s1', 's2', 'sm1', 'sm2', 'sc', 'sg', 'nope'];
    for (const id of flowIds) expect(normalise(await getFlow(s.client, s.tables, id))).toEqual(normalise(await s.sqlite.getFlow(id)));
    for (const id of sourceIds) expect(await getSource(s.client, s.tables, id)).toEqual(await s.sqlite.getSource(id));
    expect(normalise(await getFlows(s.client, s.tables, [...flowIds, 'f1']))).toEqual(normalise(await s.sqlite.getFlows([...flowIds, 'f1'])));
    expect(await getSources(s.client, s.tables, sourceIds)).toEqual(await s.sqlite.getSources(sourceIds));
    await expectSameEvents(s);
    // one row per flow and source, one guard row per flow
    expect(s.server.committedRows(SCHEMA, 'flows')).toHaveLength(6);
    expect(s.server.committedRows(SCHEMA, 'flow_guards')).toHaveLength(6);
  }, 60_000);

  it('lists sources and flows page by page as SQLite, for every filter, sort, direction and page size', async () => {
    const s = await setup();
    const labels = ['b', 'a', 'B', 'é', '😀', '\uffff', undefined, 'a', 'Z', undefined, 'ab', 'a'];
    const docs: Flow[] = labels.map((label, i) =>
      flow(`f${String(i).padStart(2, '0')}`, `s${i % 5}`, {
        ...(label === undefined ? {} : { label }),
        format: i % 5 === 3 ? AUDIO : VIDEO,
        ...(i % 3 === 0 ? { codec: 'video/h264' } : {}),
        ...(i % 4 === 0 ? { tags: { genre: i % 8 === 0 ? 'news' : ['sport', 'news'], kind: 'x' } } : i % 4 === 1 ? { tags: { genre: 'drama' } } : {}),
        essence_parameters: { frame_width: i % 2 === 0 ? 1920 : 1280, ...(i === 7 ? { init_segments: true } : {}) },
        ...(i === 9 ? { status: 'ingesting' } : {}),
      }),
    );
    // created in an order other than the ids', two flows at one instant
    const times = [5, 3, 3, 9, 1, 7, 2, 8, 6, 4, 10, 11];
    for (const [i, f] of docs.entries()) {
      const now = `2024-01-01T00:00:${String(times[i]).padStart(2, '0')}Z`;
      expect(normalise(await putFlow(s.client, s.tables, f, now))).toEqual(normalise(await s.sqlite.putFlow(f, now)));
    }
    // segments on two flows, for the timerange filter
    for (const [id, tr] of [
      ['f01', '[0:0_10:0)'],
      ['f02', '[20:0_30:0)'],
    ] as const) {
      const batch = [seg(`${id}-o`, tr, { get_urls: urls(id) })];
      await registerSegments(s.client, s.tables, id, batch, '2024-01-02T00:00:00Z');
      await s.sqlite.addSegments(id, batch, '2024-01-02T00:00:00Z');
    }
    // a later metadata update, for the metadata_updated sort
    await updateFlow(s.client, s.tables, 'f04', (f) => ({ ...f, description: 'later' }), '2024-01-03T00:00:00Z');
    await s.sqlite.updateFlow('f04', (f) => ({ ...f, description: 'later' }), '2024-01-03T00:00:00Z');

    const tags = (values: Record<string, string[]>, exists: Record<string, boolean> = {}): { values: Record<string, string[]>; exists: Record<string, boolean> } => ({ values, exists });
    const flowFilters: FlowFilter[] = [
      {},
      { sort_by: 'label' },
      { sort_by: 'label', reverse: true },
      { sort_by: 'metadata_updated' },
      { reverse: true },
      { format: AUDIO },
      { codec: 'video/h264' },
      { label: 'a' },
      { source_id: 's1' },
      { status: 'ingesting' },
      { frame_width: 1920 },
      { frame_height: 1080 },
      { init_segments: true },
      { init_segments: false, sort_by: 'label' },
      { tags: tags({ genre: ['news'] }) },
      { tags: tags({ genre: ['drama', 'sport'] }, { kind: false }) },
      { tags: tags({}, { kind: true }) },
      { timerange: parseTimeRange('[5:0_25:0)') },
      { timerange: parseTimeRange('[10:0_20:0)') },
      { timerange: parseTimeRange('()') },
      { timerange: parseTimeRange('_') },
      { collected_by_ids: [] },
      { collected_by_ids: ['x'] },
    ];
    for (const filter of flowFilters) {
      for (const limit of [1, 3, 5, 100]) {
        const vast = await allPages((after) => listFlows(s.client, s.tables, filter, pageRequest(limit, after)));
        const sqlite = await allPages((after) => s.sqlite.listFlows(filter, pageRequest(limit, after)));
        expect({ filter, limit, pages: vast }).toEqual({ filter, limit, pages: sqlite });
      }
    }
    const sourceFilters: SourceFilter[] = [{}, { sort_by: 'label' }, { sort_by: 'updated', reverse: true }, { format: AUDIO }, { label: 'a' }, { tags: tags({}, { auth_classes: false }) }, { collected_by_ids: [] }];
    for (const filter of sourceFilters) {
      for (const limit of [1, 2, 100]) {
        const vast = await allPages((after) => listSources(s.client, s.tables, filter, pageRequest(limit, after)));
        const sqlite = await allPages((after) => s.sqlite.listSources(filter, pageRequest(limit, after)));
        expect({ filter, limit, pages: vast }).toEqual({ filter, limit, pages: sqlite });
      }
    }
    // a SQLite cursor pages the VAST store
    const first = await s.sqlite.listFlows({ sort_by: 'label' }, { limit: 4 });
    expect(normalise(await listFlows(s.client, s.tables, { sort_by: 'label' }, pageRequest(4, first.next)))).toEqual(normalise(await s.sqlite.listFlows({ sort_by: 'label' }, pageRequest(4, first.next))));
    // bad input: the same errors
    for (const [filter, after] of [
      [{ sort_by: 'label' }, { s: 'created', k: null, i: 'f01' }],
      [{}, { s: 'created', k: 1, i: 'f01' }],
      [{}, 'junk'],
      [{ sort_by: 'nonsense' }, undefined],
    ] as [FlowFilter, unknown][]) {
      await both(
        s,
        () => listFlows(s.client, s.tables, filter, pageRequest(2, after)),
        () => s.sqlite.listFlows(filter, pageRequest(2, after)),
      );
      await both(
        s,
        () => listSources(s.client, s.tables, filter as SourceFilter, pageRequest(2, after)),
        () => s.sqlite.listSources(filter as SourceFilter, pageRequest(2, after)),
      );
    }
    await expectSameEvents(s);
  }, 120_000);
});

describe('objects and registration, against SQLite', () => {
  it('allocation, the object rules, init objects and init_segments give the same outcomes, records, pages and events', async () => {
    const s = await setup();
    const NOW = '2024-01-01T00:00:00Z';
    const put = async (f: Flow): Promise<void> => {
      await putFlow(s.client, s.tables, f, NOW);
      await s.sqlite.putFlow(f, NOW);
    };
    await put(flow('a', 'sa'));
    await put(flow('b', 'sb'));
    await put(flow('i', 'si', { essence_parameters: { init_segments: true } }));
    const allocate = (flowId: string, objects: NewObjectAllocation[]): Promise<unknown> =>
      both(
        s,
        () => allocateObjects(s.client, s.tables, flowId, objects, NOW),
        () => s.sqlite.allocateObjects(flowId, objects, NOW),
      );
    const alloc = (id: string, extra: Partial<NewObjectAllocation> = {}): NewObjectAllocation => ({ id, storage_id: 'store-1', key: `keys/${id}`, ...extra });
    await allocate('a', [alloc('m1', { content_type: 'video/mp2t' }), alloc('m2'), alloc('init1'), alloc('m3'), alloc('m4')]);
    await allocate('b', [alloc('mb')]);
    expect(await allocate('a', [alloc('m9'), alloc('m1')])).toMatchObject({ error: 'object_exists' });
    expect(await allocate('a', [alloc('dup'), alloc('dup')])).toMatchObject({ error: 'object_exists' });
    await allocate('i', [alloc('ii1'), alloc('im1'), alloc('im2')]);

    const register = (flowId: string, batch: NewSegment[]): Promise<unknown> =>
      both(
        s,
        () => registerSegments(s.client, s.tables, flowId, batch.map((b) => ({ ...b })), NOW),
        () => s.sqlite.addSegments(flowId, batch.map((b) => ({ ...b })), NOW),
      );
    await register('a', [
      seg('m1', '[0:0_1:0)', { key_frame_count: 2 }),
      seg('m2', '[1:0_2:0)', { object_timerange: '[1:0_3:0)' }),
      seg('unknown', '[2:0_3:0)'),
      seg('ext', '[3:0_4:0)', { get_urls: urls('ext'), key_frame_count: 1 }),
      seg('mb', '[4:0_5:0)'),
      seg('init1', '[5:0_6:0)'),
      seg('m3', '[6:0_7:0)', { init_object_id: 'init1' }),
    ]);
    // re-use: same object again (fine), different key_frame_count / object_timerange (conflicts), from another flow
    await register('a', [seg('m1', '[10:0_11:0)'), seg('m1', '[11:0_12:0)', { key_frame_count: 3 }), seg('m2', '[12:0_13:0)', { object_timerange: '[9:0_10:0)' }), seg('m2', '[13:0_14:0)', { object_timerange: '[1:0_3:0]' })]);
    await register('b', [seg('ext', '[0:0_1:0)', { key_frame_count: 1 }), seg('m1', '[1:0_2:0)'), seg('m4', '[2:0_3:0)'), seg('ext', '[3:0_4:0)', { key_frame_count: 7 })]);
    // init_segments: true: every segment needs an init object; a re-used object brings its own
    await register('i', [
      seg('im1', '[0:0_1:0)'),
      seg('im1', '[1:0_2:0)', { init_object_id: 'ii1' }),
      seg('im2', '[2:0_3:0)', { init_object_id: 'ii1' }),
      seg('im2', '[3:0_4:0)'),
      seg('im2', '[4:0_5:0)', { init_object_id: 'im2' }),
      seg('ii1', '[5:0_6:0)', { init_object_id: 'im1' }),
      seg('im1', '[6:0_7:0)', { init_object_id: 'nobody' }),
    ]);
    await register('a', [seg('x', '[50:0_51:0)', { init_object_id: 'ii1', get_urls: urls('x') })]);
    expect(await register('nope', [seg('m1', '[0:0_1:0)')])).toMatchObject({ error: 'not_found' });

    const objectIds = ['m1', 'm2', 'm3', 'm4', 'mb', 'init1', 'ext', 'unknown', 'ii1', 'im1', 'im2', 'dup', 'm9', 'x'];
    expect(await getObjects(s.client, s.tables, objectIds)).toEqual(await s.sqlite.getObjects(objectIds));
    for (const flowId of ['a', 'b', 'i']) {
      for (const reverse of [false, true]) {
        const query = { timerange: parseTimeRange('_'), reverse };
        const vast = await allPages((after) => listSegmentsPage(s.client, s.tables, flowId, query, pageRequest(2, after)).then(({ cost: _cost, ...page }) => page));
        expect(vast).toEqual(await allPages((after) => s.sqlite.listSegments(flowId, query, pageRequest(2, after))));
      }
    }
    for (const id of ['a', 'b', 'i']) expect(normalise(await getFlow(s.client, s.tables, id))).toEqual(normalise(await s.sqlite.getFlow(id)));
    // turning init_segments off on a flow whose segments have init objects is refused alike
    await both(
      s,
      () => putFlow(s.client, s.tables, flow('i', 'si'), NOW),
      () => s.sqlite.putFlow(flow('i', 'si'), NOW),
    );
    await expectSameEvents(s);
  }, 60_000);
});

describe('concurrent writers', () => {
  for (const mode of ['at-write', 'at-commit'] as const) {
    it(`one flow created by three writers at once: one creation, two updates, one row each (conflicts ${mode})`, async () => {
      const s = await setup({ conflictDetection: mode });
      const results = await Promise.all([1, 2, 3].map((n) => putFlow(s.client, s.tables, flow('race', 'race-source', { label: `writer ${n}` }), `2024-01-01T00:00:0${n}Z`)));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(s.server.committedRows(SCHEMA, 'flows')).toHaveLength(1);
      expect(s.server.committedRows(SCHEMA, 'flow_guards')).toHaveLength(1);
      expect(s.server.committedRows(SCHEMA, 'sources')).toHaveLength(1);
      const events = await s.client.withTransaction((tx) => readEvents(tx, s.tables, 0n, 100));
      expect(events.map((e) => e.event_type).sort()).toEqual(['flows/created', 'flows/updated', 'flows/updated', 'sources/created']);
    });

    it(`one object id allocated by two flows at once: exactly one wins, the other is told object_exists (conflicts ${mode})`, async () => {
      const s = await setup({ conflictDetection: mode });
      for (const f of ['p', 'q']) await putFlow(s.client, s.tables, flow(f, `${f}-source`), '2024-01-01T00:00:00Z');
      for (let i = 0; i < 5; i += 1) {
        const settled = await Promise.allSettled(['p', 'q'].map((f) => allocateObjects(s.client, s.tables, f, [{ id: `o${i}`, storage_id: 'st', key: `${f}/${i}` }], '2024-01-01T00:00:00Z')));
        expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(settled.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'object_exists' } });
      }
      expect(s.server.committedRows(SCHEMA, 'objects')).toHaveLength(5);
    });
  }

  it('one unknown object registered by two flows at once with different key_frame_counts: one registers it, the other conflicts', async () => {
    const s = await setup();
    for (const f of ['p', 'q']) await putFlow(s.client, s.tables, flow(f, `${f}-source`), '2024-01-01T00:00:00Z');
    for (let i = 0; i < 5; i += 1) {
      const [p, q] = await Promise.all(
        (['p', 'q'] as const).map((f, k) => registerSegments(s.client, s.tables, f, [seg(`shared${i}`, `[${i}:0_${i + 1}:0)`, { get_urls: urls(`shared${i}`), key_frame_count: k + 1 })], '2024-01-01T00:00:00Z')),
      );
      const codes = [p?.[0]?.error?.code, q?.[0]?.error?.code];
      expect(codes.filter((c) => c === undefined)).toHaveLength(1);
      expect(codes).toContain('object_reuse_conflict');
    }
    const objects = s.server.committedRows(SCHEMA, 'objects');
    expect(objects).toHaveLength(5);
    expect(objects.every((o) => o.registered === true)).toBe(true);
  });
});
