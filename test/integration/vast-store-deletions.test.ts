/**
 * The VAST store's deletions (deletions.ts, deletion-requests.ts) against the fake VAST server,
 * each call made on an in-memory SqliteMetadataStore too and compared: results, errors (code and
 * message), documents, every event with its context (the deleted flow's and source's too), and
 * the rows left. Concurrent writers: a deletion request created while a registration, an
 * allocation or a flow update is open on the same flow (the writer is refused once the request
 * has committed), two new requests for one flow at once, two workers advancing one request.
 */
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import type { VastClient } from '../../src/adapters/vast/client/vast-client';
import {
  deleteExpiredDeletionRequests,
  deleteFlow,
  deleteSegments,
  getDeletionRequest,
  listDeletionRequests,
  listUnfinishedDeletionRequests,
  putDeletionRequest,
} from '../../src/adapters/vast/store/deletions';
import { getFlow, getSource, putFlow, updateFlow } from '../../src/adapters/vast/store/documents';
import { allocateObjects } from '../../src/adapters/vast/store/objects';
import { readEvents } from '../../src/adapters/vast/store/outbox';
import { registerSegments } from '../../src/adapters/vast/store/segment-registration';
import type { DeletionRequest, Flow, NewSegment } from '../../src/domain/entities';
import { TamsError } from '../../src/domain/errors';
import { parseTimeRange } from '../../src/domain/timerange';
import type { ContextualEvent } from '../../src/ports/webhook-delivery';
import type { FakeVastOptions } from '../support/vast-fake-server';
import { allPages, startVastBesideSqlite, type VastBesideSqlite } from '../support/vast-fake-client';

const SCHEMA = 'gateway';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

type Setup = VastBesideSqlite;

async function setup(fakeOptions: FakeVastOptions = {}): Promise<Setup> {
  return startVastBesideSqlite(SCHEMA, closers, fakeOptions);
}

function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === 'metadata_version' && typeof v === 'string' ? 'version' : normalise(v);
  return out;
}

async function outcome<T>(work: () => Promise<T>): Promise<unknown> {
  try {
    return normalise(await work());
  } catch (error) {
    if (error instanceof TamsError) return { error: error.code, message: error.message };
    throw error;
  }
}

/** Runs a call on both stores and expects the same outcome. */
async function both<T>(vast: () => Promise<T>, sqlite: () => Promise<T>): Promise<unknown> {
  const a = await outcome(vast);
  expect(a).toEqual(await outcome(sqlite));
  return a;
}

function withoutSeq(events: ContextualEvent[]): unknown {
  return normalise(events.map(({ seq: _seq, ...rest }) => rest));
}

/** The events after seq `after` (both stores number them alike from 1), with their contexts. */
async function expectSameEvents(s: Setup, after: number): Promise<ContextualEvent[]> {
  const vast = await s.client.withTransaction((tx) => readEvents(tx, s.tables, BigInt(after), 10_000));
  expect(withoutSeq(vast)).toEqual(withoutSeq(await s.sqlite.readEventsWithContext(after, 10_000)));
  expect(vast.map((e) => e.seq)).toEqual(vast.map((_, i) => after + i + 1));
  return vast;
}

const VIDEO = 'urn:x-nmos:format:video';

function flow(id: string, sourceId: string, extra: Partial<Flow> = {}): Flow {
  return { id, source_id: sourceId, format: VIDEO, ...extra };
}

function seg(objectId: string, timerange: string): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, get_urls: [{ label: 'origin', url: `https://media.example/${objectId}` }] };
}

function request(id: string, flowId: string, extra: Partial<DeletionRequest> = {}): DeletionRequest {
  return { id, flow_id: flowId, timerange_to_delete: '_', delete_flow: false, status: 'created', ...extra };
}

/** Both stores, one call each. */
function stores(s: Setup) {
  return {
    put: (f: Flow, now: string) => both(() => putFlow(s.client, s.tables, f, now), () => s.sqlite.putFlow(f, now)),
    update: (id: string, change: (f: Flow) => Flow, now: string) => both(() => updateFlow(s.client, s.tables, id, change, now), () => s.sqlite.updateFlow(id, change, now)),
    add: (flowId: string, segments: NewSegment[], now: string) =>
      both(
        () => registerSegments(s.client, s.tables, flowId, segments.map((x) => ({ ...x })), now),
        () => s.sqlite.addSegments(flowId, segments.map((x) => ({ ...x })), now),
      ),
    allocate: (flowId: string, id: string) =>
      both(
        () => allocateObjects(s.client, s.tables, flowId, [{ id, storage_id: 'st', key: id }], 'T'),
        () => s.sqlite.allocateObjects(flowId, [{ id, storage_id: 'st', key: id }], 'T'),
      ),
    deleteSegments: (flowId: string, tr: string, objectId: string | undefined, now: string, progress?: Parameters<SqliteMetadataStore['deleteSegments']>[4]) =>
      both(
        () => deleteSegments(s.client, s.tables, flowId, parseTimeRange(tr), objectId, now, progress),
        () => s.sqlite.deleteSegments(flowId, parseTimeRange(tr), objectId, now, progress),
      ),
    deleteFlow: (id: string, now: string, progress?: Parameters<SqliteMetadataStore['deleteFlow']>[2]) =>
      both(
        () => deleteFlow(s.client, s.tables, id, now, progress),
        () => s.sqlite.deleteFlow(id, now, progress),
      ),
    putRequest: (r: DeletionRequest) => both(() => putDeletionRequest(s.client, s.tables, r), () => s.sqlite.putDeletionRequest(r)),
  };
}

describe('deletions, against SQLite', () => {
  it('deleteSegments and deleteFlow: counts, documents, events and their contexts, rows left', async () => {
    const s = await setup();
    const x = stores(s);
    await x.put(flow('n', 'sn'), '2024-01-01T00:00:01Z');
    await x.put(flow('m', 'sm', { tags: { auth_classes: 'news' }, flow_collection: [{ id: 'n', role: 'inner' }] }), '2024-01-01T00:00:02Z');
    await x.put(flow('m2', 'sm'), '2024-01-01T00:00:03Z');
    await x.put(flow('c', 'sc', { tags: { auth_classes: ['a', 'b'] }, flow_collection: [{ id: 'm', role: 'video' }, { id: 'n', role: 'other' }] }), '2024-01-01T00:00:04Z');
    await x.add('m', [seg('o0', '[0:0_1:0)'), seg('o1', '[1:0_2:0)'), seg('o2', '[3:0_4:0)'), seg('o3', '[4:0_5:0)'), seg('o4', '[5:0_6:0)'), seg('o5', '[7:0_8:0)')], '2024-01-01T00:00:05Z');
    await x.add('m2', [seg('p0', '[0:0_1:0)')], '2024-01-01T00:00:05Z');
    // Events before the deletions are putFlow's (documents.ts), not compared here.
    const mark = await s.sqlite.lastEventSeq();

    expect(await x.deleteSegments('m', '[3:0_5:0)', 'o3', '2024-01-01T00:00:06Z')).toBe(1);
    expect(await x.deleteSegments('m', '[4:0_5:0)', undefined, '2024-01-01T00:00:07Z')).toBe(0);
    expect(await x.deleteSegments('m', '[0:500000000_1:500000000)', undefined, '2024-01-01T00:00:07Z')).toBe(0);
    expect(await x.deleteSegments('m', '()', undefined, '2024-01-01T00:00:07Z')).toBe(0);
    expect(await x.deleteSegments('nope', '_', undefined, '2024-01-01T00:00:07Z')).toBe(0);
    expect(await x.deleteSegments('m', '[3:0_5:0]', undefined, '2024-01-01T00:00:08Z')).toBe(1);
    expect(await x.deleteSegments('m', '_1:0]', undefined, '2024-01-01T00:00:09Z')).toBe(1);
    await both(() => getFlow(s.client, s.tables, 'm'), () => s.sqlite.getFlow('m'));
    const guard = s.server.committedRows(SCHEMA, 'flow_guards').find((g) => g.flow_id === 'm');
    expect(guard?.segment_count).toBe(3n);

    // m goes: its segments, its row and guard; c loses it from its collection; n loses m as a collector; sm stays (m2)
    expect(await x.deleteFlow('m', '2024-01-01T00:00:10Z')).toBe(true);
    expect(await x.deleteFlow('m', '2024-01-01T00:00:11Z')).toBe(false);
    for (const id of ['c', 'n', 'm', 'm2']) await both(() => getFlow(s.client, s.tables, id), () => s.sqlite.getFlow(id));
    for (const id of ['sm', 'sn', 'sc']) await both(() => getSource(s.client, s.tables, id), () => s.sqlite.getSource(id));
    // m2, the source's last flow, takes the source with it
    expect(await x.deleteFlow('m2', '2024-01-01T00:00:12Z')).toBe(true);
    await both(() => getSource(s.client, s.tables, 'sm'), () => s.sqlite.getSource('sm'));
    // a collector deleted: its members' collected_by and the source collections follow
    expect(await x.deleteFlow('c', '2024-01-01T00:00:13Z')).toBe(true);
    for (const id of ['n']) await both(() => getFlow(s.client, s.tables, id), () => s.sqlite.getFlow(id));
    for (const id of ['sn', 'sc']) await both(() => getSource(s.client, s.tables, id), () => s.sqlite.getSource(id));

    const events = await expectSameEvents(s, mark);
    const gone = events.filter((e) => e.event_type === 'flows/deleted' || e.event_type === 'sources/deleted' || e.event_type === 'flows/segments_deleted');
    expect(gone.every((e) => e.context !== undefined)).toBe(true);
    expect(s.server.committedRows(SCHEMA, 'segments').map((r) => r.flow_id)).toEqual([]);
    expect(s.server.committedRows(SCHEMA, 'flow_guards').map((r) => r.flow_id)).toEqual(['n']);
    const candidates = new Set(s.server.committedRows(SCHEMA, 'object_gc_candidates').map((r) => r.object_id));
    expect([...candidates].sort()).toEqual(['o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'p0']);
  }, 60_000);

  it('deletion requests: storing, refusals (flow_being_deleted), progress, listings and expiry as SQLite', async () => {
    const s = await setup();
    const x = stores(s);
    await x.put(flow('f', 'sf'), '2024-01-01T00:00:01Z');
    await x.put(flow('g', 'sg'), '2024-01-01T00:00:01Z');
    await x.add('f', [seg('a0', '[0:0_1:0)'), seg('a1', '[1:0_2:0)'), seg('a2', '[2:0_3:0)')], '2024-01-01T00:00:02Z');
    const mark = await s.sqlite.lastEventSeq();

    // a segments-only request: segments and storage refused, metadata not
    const segs = request('r1', 'f', { created: '2024-01-01T00:00:03Z', expiry: '2024-01-02T00:00:00Z' });
    await x.putRequest(segs);
    expect(await x.add('f', [seg('a3', '[3:0_4:0)')], 'T')).toMatchObject({ error: 'flow_being_deleted' });
    expect(await x.allocate('f', 'new')).toMatchObject({ error: 'flow_being_deleted' });
    expect(await x.deleteSegments('f', '_', undefined, 'T')).toMatchObject({ error: 'flow_being_deleted' });
    expect(await x.deleteFlow('f', 'T')).toMatchObject({ error: 'flow_being_deleted' });
    expect(await x.putRequest(request('r2', 'f'))).toMatchObject({ error: 'flow_being_deleted' });
    await x.put(flow('f', 'sf', { label: 'still writable' }), '2024-01-01T00:00:04Z');
    await x.update('f', (v) => ({ ...v, description: 'too' }), '2024-01-01T00:00:05Z');
    // replacing the same request is not a new one
    await x.putRequest({ ...segs, status: 'started', updated: 'u1' });

    // progress: only over the version it follows
    const stale = { request: { ...segs, status: 'started' as const, updated: 'u2' }, replaces: 'u0' };
    expect(await x.deleteSegments('f', '_1:0)', undefined, '2024-01-01T00:00:06Z', stale)).toBe(0);
    const chunk = { request: { ...segs, status: 'started' as const, updated: 'u2', timerange_remaining: '[1:0_' }, replaces: 'u1' };
    expect(await x.deleteSegments('f', '_1:0)', undefined, '2024-01-01T00:00:06Z', chunk)).toBe(1);
    await both(() => getDeletionRequest(s.client, s.tables, 'r1'), () => s.sqlite.getDeletionRequest('r1'));
    const finish = { request: { ...segs, status: 'done' as const, updated: 'u3' }, replaces: 'u2' };
    expect(await x.deleteSegments('f', '()', undefined, '2024-01-01T00:00:07Z', finish)).toBe(0);
    expect(await x.add('f', [seg('a3', '[3:0_4:0)')], '2024-01-01T00:00:08Z')).toEqual([expect.objectContaining({ segment: expect.anything() })]);

    // a request deleting the flow: metadata refused too; the worker's deleteFlow with progress goes through
    const whole = request('r3', 'f', { delete_flow: true, created: '2024-01-01T00:00:09Z', expiry: '2024-01-01T12:00:00Z' });
    await x.putRequest(whole);
    expect(await x.put(flow('f', 'sf', { label: 'no' }), 'T')).toMatchObject({ error: 'flow_being_deleted' });
    expect(await x.update('f', (v) => v, 'T')).toMatchObject({ error: 'flow_being_deleted' });
    expect(await x.put(flow('other', 'sf'), '2024-01-01T00:00:10Z')).toMatchObject({ created: true });
    expect(await x.deleteFlow('f', '2024-01-01T00:00:11Z', { request: { ...whole, updated: 'v1' }, replaces: 'wrong' })).toBe(false);
    expect(await x.deleteFlow('f', '2024-01-01T00:00:11Z', { request: { ...whole, status: 'done', updated: 'v1' }, replaces: undefined })).toBe(true);

    // listings and expiry
    await x.putRequest(request('r4', 'g', { created: '2024-01-01T00:00:09Z' }));
    await x.putRequest(request('r0', 'g2'));
    await x.putRequest(request('r5', 'g3', { status: 'error', created: '2024-01-01T00:00:02Z', expiry: '2024-01-01T06:00:00Z' }));
    await both(() => listUnfinishedDeletionRequests(s.client, s.tables, 10), () => s.sqlite.listUnfinishedDeletionRequests(10));
    await both(() => listUnfinishedDeletionRequests(s.client, s.tables, 1), () => s.sqlite.listUnfinishedDeletionRequests(1));
    for (const limit of [1, 2, 10]) {
      const vast = await allPages((after) => listDeletionRequests(s.client, s.tables, after === undefined ? { limit } : { limit, after }));
      expect(vast).toEqual(await allPages((after) => s.sqlite.listDeletionRequests(after === undefined ? { limit } : { limit, after })));
    }
    // a SQLite cursor pages VAST
    const first = await s.sqlite.listDeletionRequests({ limit: 2 });
    await both(() => listDeletionRequests(s.client, s.tables, { limit: 2, after: first.next }), () => s.sqlite.listDeletionRequests({ limit: 2, after: first.next }));
    for (const now of ['2024-01-01T06:00:00Z', '2024-01-01T12:00:01Z', '2024-01-03T00:00:00Z']) {
      await both(() => deleteExpiredDeletionRequests(s.client, s.tables, now), () => s.sqlite.deleteExpiredDeletionRequests(now));
    }
    expect(s.server.committedRows(SCHEMA, 'deletion_requests').map((r) => r.id).sort()).toEqual(['r0', 'r4']);
    await expectSameEvents(s, mark);
  }, 60_000);
});

/**
 * A client whose first transaction (run) waits, once its work is done and before it commits,
 * until `release` is called; `reached` resolves when it waits.
 */
function gated(client: VastClient): { client: VastClient; reached: Promise<void>; release: () => void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const gate = new Promise<void>((resolve) => (release = resolve));
  let first = true;
  const wrapper = new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'withTransaction') return Reflect.get(target, prop, receiver) as unknown;
      return <T>(work: Parameters<VastClient['withTransaction']>[0], options?: Parameters<VastClient['withTransaction']>[1]) =>
        target.withTransaction(async (tx) => {
          const result = (await work(tx)) as T;
          if (first) {
            first = false;
            arrive();
            await gate;
          }
          return result;
        }, options);
    },
  });
  return { client: wrapper, reached, release };
}

describe('a new deletion request racing a writer of the same flow', () => {
  const writers: Record<string, (client: VastClient, s: Setup) => Promise<unknown>> = {
    registration: (client, s) => registerSegments(client, s.tables, 'f', [seg('late', '[9:0_10:0)')], '2024-01-01T00:00:09Z'),
    allocation: (client, s) => allocateObjects(client, s.tables, 'f', [{ id: 'late', storage_id: 'st', key: 'late' }], '2024-01-01T00:00:09Z'),
    'flow update': (client, s) => updateFlow(client, s.tables, 'f', (v) => ({ ...v, label: 'late' }), '2024-01-01T00:00:09Z'),
  };

  for (const [name, write] of Object.entries(writers)) {
    it(`${name}: the request commits first, so the writer (open since before) is run again and refused (conflicts at-commit)`, async () => {
      const s = await setup({ conflictDetection: 'at-commit' });
      await putFlow(s.client, s.tables, flow('f', 'sf'), '2024-01-01T00:00:01Z');
      const g = gated(s.client);
      const writing = outcome(() => write(g.client, s));
      await g.reached;
      await putDeletionRequest(s.client, s.tables, request('r', 'f', { delete_flow: true }));
      g.release();
      expect(await writing).toMatchObject({ error: 'flow_being_deleted' });
      expect(s.server.committedRows(SCHEMA, 'segments')).toEqual([]);
      expect(s.server.committedRows(SCHEMA, 'objects')).toEqual([]);
      expect(s.server.committedRows(SCHEMA, 'flows').map((r) => r.label)).toEqual([null]);
    });

    it(`${name}: the writer is open first, so the request cannot commit before it (conflicts at-write)`, async () => {
      const s = await setup({ conflictDetection: 'at-write' });
      await putFlow(s.client, s.tables, flow('f', 'sf'), '2024-01-01T00:00:01Z');
      const g = gated(s.client);
      const writing = outcome(() => write(g.client, s));
      await g.reached;
      const before = s.server.log.length;
      const requesting = putDeletionRequest(s.client, s.tables, request('r', 'f', { delete_flow: true })).then(() => 'request committed');
      const refused = (async () => {
        while (!s.server.log.slice(before).some((r) => r.status === 409)) await new Promise((resolve) => setTimeout(resolve, 2));
        return 'request refused while the writer is open';
      })();
      expect(await Promise.race([requesting, refused])).toBe('request refused while the writer is open');
      g.release();
      expect(await writing).not.toEqual(expect.objectContaining({ error: expect.anything() }));
      await requesting;
      expect(await getDeletionRequest(s.client, s.tables, 'r')).toMatchObject({ id: 'r' });
    });
  }

  for (const mode of ['at-write', 'at-commit'] as const) {
    it(`two new requests for one flow at once: one is stored, the other is told flow_being_deleted (conflicts ${mode})`, async () => {
      const s = await setup({ conflictDetection: mode });
      await putFlow(s.client, s.tables, flow('f', 'sf'), '2024-01-01T00:00:01Z');
      for (let i = 0; i < 3; i += 1) {
        const settled = await Promise.allSettled(['a', 'b'].map((id) => putDeletionRequest(s.client, s.tables, request(`${id}${i}`, 'f'))));
        expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(settled.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'flow_being_deleted' } });
        const stored = s.server.committedRows(SCHEMA, 'deletion_requests').filter((r) => r.status === 'created');
        expect(stored).toHaveLength(1);
        await putDeletionRequest(s.client, s.tables, { ...(JSON.parse(stored[0]?.doc as string) as DeletionRequest), status: 'done' });
      }
    });

    it(`two workers advancing one request over the same version at once: one deletes, the other nothing (conflicts ${mode})`, async () => {
      const s = await setup({ conflictDetection: mode });
      await putFlow(s.client, s.tables, flow('f', 'sf'), '2024-01-01T00:00:01Z');
      await registerSegments(s.client, s.tables, 'f', [seg('a', '[0:0_1:0)'), seg('b', '[1:0_2:0)')], '2024-01-01T00:00:02Z');
      const r = request('r', 'f', { status: 'started', updated: 'v0' });
      await putDeletionRequest(s.client, s.tables, r);
      const counts = await Promise.all(
        ['w1', 'w2'].map((w) => deleteSegments(s.client, s.tables, 'f', parseTimeRange(w === 'w1' ? '_1:0)' : '_'), undefined, '2024-01-01T00:00:03Z', { request: { ...r, updated: w }, replaces: 'v0' })),
      );
      expect(counts.filter((n) => n > 0)).toHaveLength(1);
      const winner = counts[0]! > 0 ? 'w1' : 'w2';
      expect(await getDeletionRequest(s.client, s.tables, 'r')).toMatchObject({ updated: winner });
      expect(s.server.committedRows(SCHEMA, 'segments')).toHaveLength(winner === 'w1' ? 1 : 0);
      const events = await s.client.withTransaction((tx) => readEvents(tx, s.tables, 0n, 100));
      expect(events.filter((e) => e.event_type === 'flows/segments_deleted')).toHaveLength(1);
    });
  }
});
