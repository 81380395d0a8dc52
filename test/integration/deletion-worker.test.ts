/**
 * The deletion worker (src/workers/deletion-worker.ts) in process, over real SQLite files:
 *
 * - two workers with different holders over one file (what two gateway processes would be):
 *   they share the requests, each chunk is deleted once, one that stops or dies is taken over;
 * - through a running gateway (real HTTP): writes refused while a request is pending and
 *   accepted again after it, expired requests removed, chunk boundaries on a flow with gaps and
 *   a range that starts and ends inside segments, and a graceful shutdown mid-deletion resumed
 *   by the next start on the same data directory.
 *
 * What the outbox says is checked against the segments: every `flows/segments_deleted` starts
 * and ends on a segment it deleted (the YAML's rule for that event), the events never overlap,
 * and together they cover exactly the segments that went.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { seedSegments } from '../../src/adapters/sqlite/seed';
import type { DeletionRequest, Flow } from '../../src/domain/entities';
import { formatTimeRange, overlaps, parseTimeRange, range, type TimeRange } from '../../src/domain/timerange';
import type { Clock } from '../../src/ports/clock';
import { DeletionWorker } from '../../src/workers/deletion-worker';
import { checkedFetch } from '../support/checked-fetch';
import { startHarness, type Harness, type TamsResponse } from '../support/gateway-harness';
import { allocateObjects } from '../support/allocate-objects';
import { videoFlow } from '../fixtures/flows';
import { sqliteDatabase } from '../support/sqlite-database';

const SECOND = 1_000_000_000n;
const HOUR_MS = 3_600_000;
/** DeletionWorker's default lease on a request. */
const LEASE_MS = 60_000;
const enc = encodeURIComponent;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Time that moves only when the test says. */
class ManualClock implements Clock {
  constructor(private ms: number = Date.now()) {}
  nowMs(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

interface Seg {
  start: bigint;
  end: bigint;
}

const byStart = (a: { start: bigint | null }, b: { start: bigint | null }): number => (a.start! < b.start! ? -1 : a.start! > b.start! ? 1 : 0);

/** The segments of a flow as the SQLite file holds them, by start. */
function segmentsIn(db: Database.Database, flowId: string): Seg[] {
  return (db.prepare('SELECT start_ns AS start, end_ns AS end FROM segments WHERE flow_id = ? ORDER BY start_ns').safeIntegers(true).all(flowId) as Seg[]).map(
    (s) => ({ start: s.start, end: s.end }),
  );
}

/** The timeranges of a flow's `flows/segments_deleted` events, in commit order, and how many `flows/deleted` it has. */
function eventsIn(db: Database.Database, flowId: string): { deleted: TimeRange[]; flowDeleted: number } {
  const rows = db.prepare('SELECT event_type, payload FROM outbox WHERE flow_id = ? ORDER BY seq').all(flowId) as { event_type: string; payload: string }[];
  return {
    deleted: rows.filter((r) => r.event_type === 'flows/segments_deleted').map((r) => parseTimeRange((JSON.parse(r.payload) as { timerange: string }).timerange)),
    flowDeleted: rows.filter((r) => r.event_type === 'flows/deleted').length,
  };
}

/**
 * What is wrong with `events` as the account of deleting `before` down to `after` (empty: nothing):
 * each event starts on a deleted segment's start and ends on a deleted segment's end, no two
 * overlap, every deleted segment lies inside one, and no segment left overlaps any.
 */
function eventProblems(events: TimeRange[], before: Seg[], after: Seg[]): string[] {
  const problems: string[] = [];
  const left = new Set(after.map((s) => s.start));
  const deleted = before.filter((s) => !left.has(s.start));
  const starts = new Set(deleted.map((s) => s.start));
  const ends = new Set(deleted.map((s) => s.end));
  const sorted = [...events].sort(byStart);
  for (const e of sorted) {
    const text = formatTimeRange(e);
    if (e.empty || e.start === null || e.end === null) {
      problems.push(`${text} is not bounded by deleted segments`);
      continue;
    }
    if (!starts.has(e.start)) problems.push(`${text} does not start on a deleted segment`);
    if (!ends.has(e.end)) problems.push(`${text} does not end on a deleted segment`);
  }
  for (let i = 1; i < sorted.length; i++) {
    if (overlaps(sorted[i - 1]!, sorted[i]!)) problems.push(`${formatTimeRange(sorted[i - 1]!)} and ${formatTimeRange(sorted[i]!)} overlap`);
  }
  const bounded = sorted.filter((e) => e.start !== null && e.end !== null);
  for (const s of deleted) {
    if (!bounded.some((e) => e.start! <= s.start && s.end <= e.end!)) problems.push(`deleted segment ${formatTimeRange(range(s.start, s.end))} is in no event`);
  }
  for (const s of after) {
    const hit = events.find((e) => overlaps(e, range(s.start, s.end)));
    if (hit !== undefined) problems.push(`segment left ${formatTimeRange(range(s.start, s.end))} overlaps event ${formatTimeRange(hit)}`);
  }
  return problems;
}

/** Back-to-back segments of `duration` from `from`, as seedSegments writes them. */
function run(from: bigint, count: number, duration: bigint): Seg[] {
  return Array.from({ length: count }, (_, i) => ({ start: from + BigInt(i) * duration, end: from + BigInt(i + 1) * duration }));
}

describe('two deletion workers (two holders) over one SQLite file', () => {
  let dir: string;
  let file: string;
  let storeA: SqliteMetadataStore;
  let storeB: SqliteMetadataStore;
  let clock: ManualClock;

  interface Chunk {
    holder: string;
    requestId: string;
    deleted: TimeRange;
  }
  let chunks: Chunk[];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-deletion-workers-'));
    file = path.join(dir, 'tams.db');
    storeA = new SqliteMetadataStore({ filename: file });
    await storeA.init();
    storeB = new SqliteMetadataStore({ filename: file });
    await storeB.init();
    clock = new ManualClock();
    chunks = [];
  });

  afterEach(async () => {
    await storeA.close();
    await storeB.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function flowOf(count: number): Promise<string> {
    const flow = videoFlow() as unknown as Flow;
    await storeA.putFlow(flow, new Date(clock.nowMs()).toISOString());
    await seedSegments(storeA, flow.id, count, SECOND, { startNs: 0n });
    return flow.id;
  }

  /** A request as DELETE /flows/{id}(/segments) stores it, `created` `order` ms after the clock's now. */
  async function requestFor(flowId: string, timerange: string, deleteFlow: boolean, order = 0): Promise<string> {
    const id = randomUUID();
    const at = new Date(clock.nowMs() + order).toISOString();
    await storeA.putDeletionRequest({
      id,
      flow_id: flowId,
      timerange_to_delete: timerange,
      timerange_remaining: timerange,
      delete_flow: deleteFlow,
      status: 'created',
      created: at,
      updated: at,
      expiry: new Date(clock.nowMs() + 24 * HOUR_MS).toISOString(),
    });
    return id;
  }

  function worker(store: SqliteMetadataStore, holder: string, batch: number, after?: (chunkCount: number) => void): DeletionWorker {
    let count = 0;
    return new DeletionWorker(store, clock, { holder, batch }, {
      chunk: (requestId, deleted) => {
        chunks.push({ holder, requestId, deleted });
        after?.(++count);
      },
    });
  }

  function chunkProblems(requestId: string): string[] {
    const own = chunks.filter((c) => c.requestId === requestId).sort((a, b) => byStart(a.deleted, b.deleted));
    return own.slice(1).flatMap((c, i) => (overlaps(own[i]!.deleted, c.deleted) ? [`${formatTimeRange(own[i]!.deleted)} and ${formatTimeRange(c.deleted)}`] : []));
  }

  it('share the requests: each is worked by one of them to done, and every chunk is deleted once', async () => {
    const flows = [await flowOf(1000), await flowOf(1000), await flowOf(1000), await flowOf(1000)];
    const requests = [
      await requestFor(flows[0]!, '_', true, 0),
      await requestFor(flows[1]!, '[100:0_900:0)', false, 1),
      await requestFor(flows[2]!, '_', true, 2),
      await requestFor(flows[3]!, '[0:500000000_', false, 3),
    ];
    const a = worker(storeA, 'process-a', 50);
    const b = worker(storeB, 'process-b', 50);
    await Promise.all([a.runOnce(), b.runOnce()]);

    for (const id of requests) {
      expect(await storeA.getDeletionRequest(id)).toMatchObject({ status: 'done', timerange_remaining: '()' });
      expect(new Set(chunks.filter((c) => c.requestId === id).map((c) => c.holder)).size).toBe(1);
      expect(chunkProblems(id)).toEqual([]);
    }
    expect(new Set(chunks.map((c) => c.holder))).toEqual(new Set(['process-a', 'process-b']));

    const expectedLeft = [[], [...run(0n, 100, SECOND), ...run(900n * SECOND, 100, SECOND)], [], [run(0n, 1, SECOND)[0]!]];
    for (const [i, flowId] of flows.entries()) {
      const left = segmentsIn(storeA.database, flowId);
      expect(left).toEqual(expectedLeft[i]);
      const events = eventsIn(storeA.database, flowId);
      expect(eventProblems(events.deleted, run(0n, 1000, SECOND), left)).toEqual([]);
      expect(events.flowDeleted).toBe(i === 0 || i === 2 ? 1 : 0);
    }
    expect(await storeA.getFlow(flows[0]!)).toBeUndefined();
    expect(await storeA.getFlow(flows[1]!)).toBeDefined();
  });

  it('one stops between chunks: the other resumes at once from the recorded progress', async () => {
    const flowId = await flowOf(1000);
    const id = await requestFor(flowId, '_', true);
    const a: DeletionWorker = worker(storeA, 'process-a', 50, (n) => {
      if (n === 3) void a.stop();
    });
    await a.runOnce();
    // A stop lets the chunk in progress finish and saves its progress: exact.
    expect(await storeA.getDeletionRequest(id)).toMatchObject({ status: 'started', timerange_remaining: '[150:0_' });
    expect(segmentsIn(storeA.database, flowId)[0]).toEqual({ start: 150n * SECOND, end: 151n * SECOND });

    await worker(storeB, 'process-b', 50).runOnce();
    expect(await storeB.getDeletionRequest(id)).toMatchObject({ status: 'done', timerange_remaining: '()' });
    const taken = chunks.filter((c) => c.holder === 'process-b');
    expect(taken[0]?.deleted.start).toBe(150n * SECOND);
    expect(chunkProblems(id)).toEqual([]);
    expect(eventProblems(eventsIn(storeA.database, flowId).deleted, run(0n, 1000, SECOND), [])).toEqual([]);
    expect(eventsIn(storeA.database, flowId).flowDeleted).toBe(1);
  });

  it('one dies holding the lease: the other leaves the request alone until the lease expires, then finishes it', async () => {
    const flowId = await flowOf(1000);
    const id = await requestFor(flowId, '[100:0_', false);
    const dying = new SqliteMetadataStore({ filename: file });
    await dying.init();
    // Its connection goes right after its third chunk: nothing more it does reaches the file.
    const a = worker(dying, 'process-a', 50, (n) => {
      if (n === 3) void dying.close();
    });
    await expect(a.runOnce()).rejects.toThrow();
    expect(segmentsIn(storeA.database, flowId)[100]).toEqual({ start: 250n * SECOND, end: 251n * SECOND });

    const b = worker(storeB, 'process-b', 50);
    await b.runOnce();
    expect(chunks.filter((c) => c.holder === 'process-b')).toEqual([]);
    expect((await storeB.getDeletionRequest(id))?.status).toBe('started');

    clock.advance(LEASE_MS + 1);
    await b.runOnce();
    expect(await storeB.getDeletionRequest(id)).toMatchObject({ status: 'done', timerange_remaining: '()' });
    expect(chunks.filter((c) => c.holder === 'process-b')[0]?.deleted.start).toBe(250n * SECOND);
    expect(chunkProblems(id)).toEqual([]);
    expect(segmentsIn(storeA.database, flowId)).toEqual(run(0n, 100, SECOND));
    expect(eventProblems(eventsIn(storeA.database, flowId).deleted, run(0n, 1000, SECOND), run(0n, 100, SECOND))).toEqual([]);
  });

  it('a second request on a flow with an unfinished one is refused, so two workers never work one flow at once', async () => {
    // DELETE /flows/{id}/segments?timerange=[25:0_ then DELETE /flows/{id}: the store refuses the
    // second request (one unfinished request per flow), and the leases are per flow.
    const flowId = await flowOf(1000);
    await requestFor(flowId, '[25:0_', false, 0);
    await expect(requestFor(flowId, '_', true, 1)).rejects.toMatchObject({ code: 'flow_being_deleted' });
    await Promise.all([worker(storeA, 'process-a', 50).runOnce(), worker(storeB, 'process-b', 50).runOnce()]);
    expect(segmentsIn(storeA.database, flowId)).toEqual(run(0n, 25, SECOND));
    expect(eventProblems(eventsIn(storeA.database, flowId).deleted, run(0n, 1000, SECOND), run(0n, 25, SECOND))).toEqual([]);
  });
});

/** A gateway on a fresh data dir, with helpers over its REST API. */
function gatewayHelpers(get: () => Harness) {
  const req = (method: string, urlPath: string, body?: unknown): Promise<TamsResponse> => get().request(method, urlPath, body);

  /** A flow made over HTTP, with segments seeded into its store (`runs`: [start s, count, duration ns]). */
  async function flowWith(runs: [number, number, bigint][]): Promise<{ id: string; flow: Record<string, unknown>; segments: Seg[] }> {
    const flow = videoFlow();
    const id = flow.id as string;
    expect((await req('PUT', `/flows/${id}`, flow)).status).toBe(201);
    const segments: Seg[] = [];
    for (const [startSec, count, duration] of runs) {
      const from = BigInt(startSec) * SECOND;
      await seedSegments(get().gateway.store, id, count, duration, { startNs: from });
      segments.push(...run(from, count, duration));
    }
    return { id, flow, segments };
  }

  async function waitForEnd(id: string, timeoutMs = 20_000): Promise<DeletionRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await req('GET', `/flow-delete-requests/${id}`);
      expect(res.status).toBe(200);
      const body = res.body as DeletionRequest;
      if (body.status === 'done' || body.status === 'error') return body;
      if (Date.now() > deadline) throw new Error(`deletion request ${id} is still ${body.status}`);
      await sleep(10);
    }
  }

  async function gql(query: string, variables: Record<string, unknown>): Promise<{ data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }> {
    const res = await checkedFetch(`${get().base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
  }

  return { req, flowWith, waitForEnd, gql };
}

describe('writes to a flow while a deletion request on it is pending', () => {
  let h: Harness;
  const { req, flowWith, waitForEnd, gql } = gatewayHelpers(() => h);
  const workerErrors: unknown[] = [];

  beforeAll(async () => {
    h = await startHarness({ TAMS_DELETE_ASYNC_THRESHOLD: '5' });
  });
  afterAll(async () => {
    await h.close();
    expect(workerErrors).toEqual([]);
  });

  const REGISTER = 'mutation ($flowId: ID!, $segments: [FlowSegmentInput!]!) { registerSegments(flowId: $flowId, segments: $segments) { registeredCount } }';
  const ALLOCATE = 'mutation ($flowId: ID!) { allocateStorage(flowId: $flowId, limit: 1) { objectId } }';
  const SET_TAG = 'mutation ($flowId: ID!) { setFlowTag(flowId: $flowId, name: "during", value: "deletion") { id } }';

  function expectBeingDeleted(res: TamsResponse): void {
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: 'FlowBeingDeleted', summary: expect.any(String), time: expect.any(String) });
  }

  function expectGraphqlBeingDeleted(result: Awaited<ReturnType<typeof gql>>): void {
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({ extensions: { code: 'FLOW_BEING_DELETED' }, message: expect.stringMatching(/being deleted/) });
  }

  /**
   * A flow of 20 seeded segments, an object allocated for it beforehand, and a request made while
   * the worker is stopped, so that it stays pending for as long as the test needs.
   */
  async function pending(path: (id: string) => string): Promise<{ id: string; flow: Record<string, unknown>; objectId: string; requestId: string }> {
    const { id, flow } = await flowWith([[0, 20, SECOND]]);
    const objectId = `${id}/late`;
    await allocateObjects(req, id, [objectId]);
    await h.gateway.deletions.stop();
    const res = await req('DELETE', path(id));
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('created');
    return { id, flow, objectId, requestId: res.body.id as string };
  }

  it('refuses segments, storage and metadata changes while the flow itself is being deleted; reads work; then the flow is gone', async () => {
    const { id, flow, objectId, requestId } = await pending((flowId) => `/flows/${flowId}`);
    expectBeingDeleted(await req('POST', `/flows/${id}/segments`, { object_id: objectId, timerange: '[100:0_101:0)' }));
    expectBeingDeleted(await req('POST', `/flows/${id}/storage`, { limit: 1 }));
    expectBeingDeleted(await req('PUT', `/flows/${id}`, { ...flow, label: 'renamed while deleting' }));
    expectBeingDeleted(await req('PUT', `/flows/${id}/tags/during`, JSON.stringify('deletion')));
    expectBeingDeleted(await req('PUT', `/flows/${id}/label`, JSON.stringify('renamed')));
    expectGraphqlBeingDeleted(await gql(REGISTER, { flowId: id, segments: [{ objectId, timerange: '[100:0_101:0)' }] }));
    expectGraphqlBeingDeleted(await gql(ALLOCATE, { flowId: id }));
    expectGraphqlBeingDeleted(await gql(SET_TAG, { flowId: id }));

    const read = await req('GET', `/flows/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.label).toBe(flow.label);
    expect(read.body.tags).not.toHaveProperty('during');
    const segments = await req('GET', `/flows/${id}/segments?limit=100`);
    expect(segments.status).toBe(200);
    expect(segments.body).toHaveLength(20);
    expect((await req('GET', `/flow-delete-requests/${requestId}`)).body.status).toBe('created');

    h.gateway.deletions.start((err) => workerErrors.push(err));
    expect(await waitForEnd(requestId)).toMatchObject({ status: 'done', timerange_remaining: '()' });
    expect((await req('GET', `/flows/${id}`)).status).toBe(404);
    expect((await req('POST', `/flows/${id}/segments`, { object_id: objectId, timerange: '[100:0_101:0)' })).status).toBe(404);
  });

  it('refuses segments and storage while a range is being deleted, allows metadata changes, and takes segments again once done', async () => {
    const { id, flow, objectId, requestId } = await pending((flowId) => `/flows/${flowId}/segments?timerange=${enc('[0:0_10:0)')}`);
    expectBeingDeleted(await req('POST', `/flows/${id}/segments`, { object_id: objectId, timerange: '[100:0_101:0)' }));
    expectBeingDeleted(await req('POST', `/flows/${id}/storage`, { limit: 1 }));
    expectGraphqlBeingDeleted(await gql(REGISTER, { flowId: id, segments: [{ objectId, timerange: '[100:0_101:0)' }] }));
    expectGraphqlBeingDeleted(await gql(ALLOCATE, { flowId: id }));
    expect((await req('PUT', `/flows/${id}`, { ...flow, label: 'renamed while deleting' })).status).toBe(204);
    expect((await req('PUT', `/flows/${id}/tags/during`, JSON.stringify('deletion'))).status).toBe(204);
    const tagged = await gql(SET_TAG, { flowId: id });
    expect(tagged.errors).toBeUndefined();
    expect((await req('GET', `/flows/${id}`)).body).toMatchObject({ label: 'renamed while deleting', tags: { during: 'deletion' } });

    h.gateway.deletions.start((err) => workerErrors.push(err));
    expect(await waitForEnd(requestId)).toMatchObject({ status: 'done', timerange_remaining: '()' });
    const left = await req('GET', `/flows/${id}/segments?limit=100`);
    expect((left.body as { timerange: string }[]).map((s) => s.timerange)[0]).toBe('[10:0_11:0)');
    expect(left.body).toHaveLength(10);
    expect((await req('POST', `/flows/${id}/segments`, { object_id: objectId, timerange: '[100:0_101:0)' })).status).toBe(201);
    expect((await req('POST', `/flows/${id}/storage`, { limit: 1 })).status).toBe(201);
  });
});

describe('expired deletion requests', () => {
  let h: Harness;
  const clock = new ManualClock();
  const { req, flowWith, waitForEnd } = gatewayHelpers(() => h);
  const workerErrors: unknown[] = [];

  beforeAll(async () => {
    h = await startHarness({ TAMS_DELETE_ASYNC_THRESHOLD: '5' }, { clock });
  });
  afterAll(async () => {
    await h.close();
    expect(workerErrors).toEqual([]);
  });

  it('are removed by the next pass once past their expiry when finished; unfinished ones are kept and worked', async () => {
    const finishedFlow = await flowWith([[0, 10, SECOND]]);
    const finished = await req('DELETE', `/flows/${finishedFlow.id}`);
    expect(finished.status).toBe(202);
    const done = await waitForEnd(finished.body.id as string);
    expect(done.status).toBe('done');
    expect(Date.parse(done.expiry!)).toBe(clock.nowMs() + 24 * HOUR_MS);

    // An unfinished request whose lease another (live) process holds: no pass here may work it.
    await h.gateway.deletions.stop();
    const pendingFlow = await flowWith([[0, 10, SECOND]]);
    const pending = await req('DELETE', `/flows/${pendingFlow.id}/segments`);
    expect(pending.status).toBe(202);
    const pendingId = pending.body.id as string;
    const lease = `deletion:${pendingFlow.id}`;
    expect(await h.gateway.store.acquireLease(lease, 'another-process', 48 * HOUR_MS, clock.nowMs())).toBe(true);
    h.gateway.deletions.start((err) => workerErrors.push(err));

    clock.advance(24 * HOUR_MS - 1000);
    await h.gateway.deletions.runOnce();
    expect((await req('GET', `/flow-delete-requests/${done.id}`)).status).toBe(200);

    clock.advance(2000);
    await h.gateway.deletions.runOnce();
    expect((await req('GET', `/flow-delete-requests/${done.id}`)).status).toBe(404);
    expect((await req('HEAD', `/flow-delete-requests/${done.id}`)).status).toBe(404);
    const listed = (await req('GET', '/flow-delete-requests')).body as DeletionRequest[];
    expect(listed.map((r) => r.id)).toEqual([pendingId]);
    // Past its expiry too, but not finished: kept, still refusing segments to its flow.
    const kept = await req('GET', `/flow-delete-requests/${pendingId}`);
    expect(kept.body).toMatchObject({ status: 'created' });
    expect(Date.parse(kept.body.expiry as string)).toBeLessThan(clock.nowMs());
    expect((await req('POST', `/flows/${pendingFlow.id}/storage`, { limit: 1 })).status).toBe(403);

    await h.gateway.store.releaseLease(lease, 'another-process');
    await h.gateway.deletions.runOnce();
    const worked = await waitForEnd(pendingId);
    expect(worked.status).toBe('done');
    expect(Date.parse(worked.expiry!)).toBe(clock.nowMs() + 24 * HOUR_MS);
  });
});

describe('chunk boundaries', () => {
  let h: Harness;
  const { req, flowWith, waitForEnd } = gatewayHelpers(() => h);
  /** The synchronous threshold, and so the chunk size. */
  const BATCH = 5;

  beforeAll(async () => {
    h = await startHarness({ TAMS_DELETE_ASYNC_THRESHOLD: String(BATCH) });
    // Every version of every request the gateway writes, in commit order, seen by the
    // gateway's own connection (a temporary trigger belongs to the connection that made it).
    sqliteDatabase(h.gateway.store).exec(`
      CREATE TEMP TABLE request_versions (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, doc TEXT NOT NULL);
      CREATE TEMP TRIGGER request_inserted AFTER INSERT ON main.deletion_requests BEGIN INSERT INTO request_versions (id, doc) VALUES (new.id, new.doc); END;
      CREATE TEMP TRIGGER request_updated AFTER UPDATE ON main.deletion_requests BEGIN INSERT INTO request_versions (id, doc) VALUES (new.id, new.doc); END;
    `);
  });
  afterAll(async () => {
    await h.close();
  });

  function versions(requestId: string): DeletionRequest[] {
    return (sqliteDatabase(h.gateway.store).prepare('SELECT doc FROM temp.request_versions WHERE id = ? ORDER BY n').pluck(true).all(requestId) as string[]).map(
      (doc) => JSON.parse(doc) as DeletionRequest,
    );
  }

  /** Segments of 1 s on [0,10), a gap, of 2 s on [12,32), a gap, of 0.5 s on [33,38). */
  const GAPPED: [number, number, bigint][] = [
    [0, 10, SECOND],
    [12, 10, 2n * SECOND],
    [33, 10, SECOND / 2n],
  ];

  async function deleteAndCheck(pathOf: (id: string) => string, expectedLeft: (segments: Seg[]) => Seg[]): Promise<{ id: string; request: DeletionRequest }> {
    const { id, segments } = await flowWith(GAPPED);
    const res = await req('DELETE', pathOf(id));
    expect(res.status).toBe(202);
    const requestId = res.body.id as string;
    const request = await waitForEnd(requestId);
    expect(request).toMatchObject({ status: 'done', timerange_remaining: '()' });

    const db = sqliteDatabase(h.gateway.store);
    const left = segmentsIn(db, id);
    expect(left.map((s) => formatTimeRange(range(s.start, s.end)))).toEqual(expectedLeft(segments).map((s) => formatTimeRange(range(s.start, s.end))));
    expect(eventProblems(eventsIn(db, id).deleted, segments, left)).toEqual([]);

    // Progress only ever shrinks from its start, to a deleted segment's end each time.
    const remaining = versions(requestId)
      .map((v) => v.timerange_remaining!)
      .filter((text, i, all) => i === 0 || text !== all[i - 1]);
    expect(remaining[0]).toBe(request.timerange_to_delete);
    expect(remaining[remaining.length - 1]).toBe('()');
    expect(remaining.length).toBeGreaterThan(2);
    const deletedEnds = new Set(segments.filter((s) => !left.some((l) => l.start === s.start)).map((s) => s.end));
    const toDelete = parseTimeRange(request.timerange_to_delete);
    let previous = toDelete;
    for (const text of remaining.slice(1, -1)) {
      const r = parseTimeRange(text);
      expect({ text, end: r.end, shrank: previous.start === null || r.start! > previous.start }).toEqual({ text, end: toDelete.end, shrank: true });
      expect({ text, onDeletedEnd: deletedEnds.has(r.start!) }).toEqual({ text, onDeletedEnd: true });
      previous = r;
    }
    return { id, request };
  }

  const inside = (from: bigint, to: bigint) => (segments: Seg[]) => segments.filter((s) => !(s.start >= from && s.end <= to));

  it('a range starting and ending inside segments deletes only the segments it wholly covers, across the gaps', async () => {
    const from = 3n * SECOND + SECOND / 2n;
    const to = 35n * SECOND + SECOND / 4n;
    await deleteAndCheck((id) => `/flows/${id}/segments?timerange=${enc('[3:500000000_35:250000000)')}`, inside(from, to));
  });

  it('a range starting and ending in gaps', async () => {
    await deleteAndCheck((id) => `/flows/${id}/segments?timerange=${enc('[10:500000000_32:500000000)')}`, inside(10n * SECOND, 33n * SECOND));
  });

  it('a flow with gaps, deleted whole: one flows/deleted after the chunks', async () => {
    const { id } = await deleteAndCheck((flowId) => `/flows/${flowId}`, () => []);
    expect(eventsIn(sqliteDatabase(h.gateway.store), id).flowDeleted).toBe(1);
    expect((await req('GET', `/flows/${id}`)).status).toBe(404);
  });

  it('a deletion within the request (at or below the threshold) reports the timerange of the segments it deleted, not the range asked for', async () => {
    const { id, segments } = await flowWith([[0, BATCH, SECOND]]);
    expect((await req('DELETE', `/flows/${id}/segments?timerange=${enc('[0:500000000_4:500000000)')}`)).status).toBe(204);
    const db = sqliteDatabase(h.gateway.store);
    const left = segmentsIn(db, id);
    expect(left).toEqual([segments[0], segments[4]]);
    // Sent: [0:500000000_4:500000000) (the request's own timerange); the YAML wants [1:0_4:0).
    expect(eventProblems(eventsIn(db, id).deleted, segments, left)).toEqual([]);
  });
});

describe('graceful shutdown during a deletion', () => {
  it('leaves the request started with exactly what is left as remaining; the next start on the same directory finishes it', async () => {
    const env = { TAMS_DELETE_ASYNC_THRESHOLD: '100' };
    const COUNT = 30_000;
    const first = await startHarness(env);
    const dataDir = first.dataDir;
    const { req, flowWith } = gatewayHelpers(() => first);
    let requestId: string;
    let flowId: string;
    const toDelete = '[1000:0_29000:0)';
    try {
      flowId = (await flowWith([[0, COUNT, SECOND]])).id;
      const res = await req('DELETE', `/flows/${flowId}/segments?timerange=${enc(toDelete)}`);
      expect(res.status).toBe(202);
      requestId = res.body.id as string;
      for (;;) {
        const got = (await req('GET', `/flow-delete-requests/${requestId}`)).body as DeletionRequest;
        if (got.status === 'done') throw new Error('the deletion finished before the shutdown: make the flow larger');
        if (parseTimeRange(got.timerange_remaining!).start! >= 4000n * SECOND) break;
        await sleep(1);
      }
    } finally {
      await first.gateway.close();
    }

    const all = run(0n, COUNT, SECOND);
    const db = new Database(path.join(dataDir, 'tams.db'));
    try {
      const stopped = JSON.parse(db.prepare('SELECT doc FROM deletion_requests WHERE id = ?').pluck(true).get(requestId) as string) as DeletionRequest;
      expect(stopped.status).toBe('started');
      const left = segmentsIn(db, flowId);
      const firstInRange = left.find((s) => s.start >= 1000n * SECOND)!;
      expect(stopped.timerange_remaining).toBe(`[${firstInRange.start / SECOND}:0_29000:0)`);
      expect(left).toEqual([...run(0n, 1000, SECOND), ...run(firstInRange.start, Number(30_000n - firstInRange.start / SECOND), SECOND)]);
      expect(eventProblems(eventsIn(db, flowId).deleted, all, left)).toEqual([]);
    } finally {
      db.close();
    }

    const second = await startHarness({ ...env, TAMS_DATA_DIR: dataDir });
    try {
      const { waitForEnd, req: req2 } = gatewayHelpers(() => second);
      expect(await waitForEnd(requestId, 30_000)).toMatchObject({ status: 'done', timerange_remaining: '()' });
      expect((await req2('GET', `/flows/${flowId}`)).status).toBe(200);
      const left = segmentsIn(sqliteDatabase(second.gateway.store), flowId);
      expect(left).toEqual([...run(0n, 1000, SECOND), ...run(29_000n * SECOND, 1000, SECOND)]);
      expect(eventProblems(eventsIn(sqliteDatabase(second.gateway.store), flowId).deleted, all, left)).toEqual([]);
    } finally {
      await second.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
