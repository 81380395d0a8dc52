/**
 * Crash safety of asynchronous deletions, with real processes killed by SIGKILL (no shutdown
 * code runs):
 *
 * - The built gateway (dist/src/main.js) on a data directory seeded with a flow of 100,000
 *   segments (straight into the SQLite file, src/adapters/sqlite/seed.ts) deletes the flow
 *   (202); it is killed half way. What the file holds then is checked (request `started`, the
 *   segments left a suffix of the flow inside `timerange_remaining`, the events so far covering
 *   exactly what went); a new process on the same directory takes the request over once the dead
 *   process's lease (60 s, src/workers/deletion-worker.ts) has expired and finishes it: `done`,
 *   nothing left, every segment reported deleted by exactly one `flows/segments_deleted`, one
 *   `flows/deleted`, every freed object queued for garbage collection.
 * - A process running the deletion worker kills itself at the one point a crash can be worst:
 *   right after a chunk has committed, before the request's progress is saved.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { seedSegments } from '../../src/adapters/sqlite/seed';
import type { DeletionRequest, Flow } from '../../src/domain/entities';
import { covers, parseTimeRange, range, type TimeRange } from '../../src/domain/timerange';
import { DeletionWorker } from '../../src/workers/deletion-worker';
import { buildIfStale, startChildGateway, type ChildGateway } from '../support/child-gateway';
import { checkedFetch } from '../support/checked-fetch';
import { videoFlow } from '../fixtures/flows';

const ROOT = path.resolve(__dirname, '../..');
const SECOND = 1_000_000_000n;
/** The worker's lease on a request (DeletionWorker's default; main.ts sets no other). */
const LEASE_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
async function call(gw: ChildGateway, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: any; location: string | null }> {
  const res = await checkedFetch(`${gw.base}${urlPath}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), location: res.headers.get('location') };
}

/** A flow of `count` back-to-back segments of `duration` from 0, written into `file` before any gateway runs on it. */
async function seededFlow(file: string, count: number, duration: bigint): Promise<string> {
  const store = new SqliteMetadataStore({ filename: file });
  await store.init();
  try {
    const flow = videoFlow() as unknown as Flow;
    await store.putFlow(flow, new Date().toISOString());
    await seedSegments(store, flow.id, count, duration, { startNs: 0n });
    return flow.id;
  } finally {
    await store.close();
  }
}

/** What the SQLite file says about a flow and a request (opened and closed around the reads). */
interface FileState {
  request: DeletionRequest | undefined;
  /** Start of every segment of the flow, ascending. */
  starts: bigint[];
  /** The flow's `flows/segments_deleted` timeranges, in commit order. */
  deletedEvents: TimeRange[];
  /** How many `flows/deleted` events the flow has. */
  flowDeletedEvents: number;
  flowRows: number;
  /** Objects of the flow (seeded, first referenced by it) queued for garbage collection. */
  gcCandidates: number;
}

function readFile(file: string, flowId: string, requestId: string): FileState {
  const db = new Database(file);
  try {
    const row = db.prepare('SELECT doc FROM deletion_requests WHERE id = ?').get(requestId) as { doc: string } | undefined;
    const starts = db.prepare('SELECT start_ns FROM segments WHERE flow_id = ? ORDER BY start_ns').safeIntegers(true).pluck(true).all(flowId) as bigint[];
    const events = db.prepare('SELECT event_type, payload FROM outbox WHERE flow_id = ? ORDER BY seq').all(flowId) as { event_type: string; payload: string }[];
    return {
      request: row === undefined ? undefined : (JSON.parse(row.doc) as DeletionRequest),
      starts,
      deletedEvents: events
        .filter((e) => e.event_type === 'flows/segments_deleted')
        .map((e) => parseTimeRange((JSON.parse(e.payload) as { timerange: string }).timerange)),
      flowDeletedEvents: events.filter((e) => e.event_type === 'flows/deleted').length,
      flowRows: db.prepare('SELECT count(*) FROM flows WHERE id = ?').pluck(true).get(flowId) as number,
      gcCandidates: db
        .prepare('SELECT count(*) FROM object_gc_candidates c JOIN objects o ON o.id = c.object_id WHERE o.first_referenced_by_flow = ?')
        .pluck(true)
        .get(flowId) as number,
    };
  } finally {
    db.close();
  }
}

/**
 * The events of a flow of back-to-back segments of `duration` from 0 tell exactly that the
 * segments in [0, `upTo`) were deleted, each once: every event starts and ends on a segment
 * boundary, and sorted by start they tile [0, upTo) with neither gap nor overlap.
 */
function expectEventsTile(events: TimeRange[], duration: bigint, upTo: bigint): void {
  const sorted = [...events].sort((a, b) => (a.start! < b.start! ? -1 : a.start! > b.start! ? 1 : 0));
  let at = 0n;
  for (const e of sorted) {
    expect(e.empty).toBe(false);
    expect(e.start).not.toBeNull();
    expect(e.end).not.toBeNull();
    expect({ start: e.start, onBoundary: e.start! % duration === 0n }).toEqual({ start: at, onBoundary: true });
    expect(e.end! % duration).toBe(0n);
    expect(e.end! > e.start!).toBe(true);
    at = e.end!;
  }
  expect(at).toBe(upTo);
}

describe('a deletion of 100,000 segments killed with SIGKILL half way', () => {
  const COUNT = 100_000;
  const DURATION = SECOND;
  /** The synchronous threshold, and so the chunk size: 400 chunks, each its own transaction. */
  const BATCH = 250;
  const env = { TAMS_AUTH: 'off', LOG_LEVEL: 'warn', TAMS_DELETE_ASYNC_THRESHOLD: String(BATCH), TAMS_GC: 'off' };
  let dataDir: string;
  const started: ChildGateway[] = [];

  beforeAll(() => {
    buildIfStale();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-deletion-kill-'));
  }, 360_000);

  afterAll(async () => {
    for (const gw of started) await gw.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('is taken over after a restart once the dead process lease expires, and ends done with every segment deleted exactly once', async () => {
    const file = path.join(dataDir, 'tams.db');
    const flowId = await seededFlow(file, COUNT, DURATION);
    const end = BigInt(COUNT) * DURATION;

    const first = await startChildGateway(env, { dataDir });
    started.push(first);
    const accepted = await call(first, 'DELETE', `/flows/${flowId}`);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ flow_id: flowId, delete_flow: true, status: 'created', timerange_to_delete: '_' });
    const requestId = accepted.body.id as string;
    const requestPath = `/flow-delete-requests/${requestId}`;
    expect(accepted.location).toBe(`${first.base}${requestPath}`);

    // Killed once a third of the flow is gone, while chunks are still being deleted.
    let seen: DeletionRequest | undefined;
    for (;;) {
      const got = await call(first, 'GET', requestPath);
      expect(got.status).toBe(200);
      seen = got.body as DeletionRequest;
      if (seen.status === 'done') throw new Error('the deletion finished before the process could be killed: make the flow larger');
      const remaining = parseTimeRange(seen.timerange_remaining ?? '_');
      if (remaining.start !== null && remaining.start >= end / 3n) break;
      await sleep(2);
    }
    first.kill('SIGKILL');
    expect(await first.closed).toMatchObject({ signal: 'SIGKILL' });

    const killed = readFile(file, flowId, requestId);
    expect(killed.request?.status).toBe('started');
    const remaining = parseTimeRange(killed.request!.timerange_remaining!);
    const left = killed.starts;
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(COUNT);
    const firstLeft = left[0]!;
    // Deleted from the start, chunk by chunk: what is left is every segment from firstLeft on.
    expect(BigInt(left.length) * DURATION).toBe(end - firstLeft);
    expect(left[left.length - 1]).toBe(end - DURATION);
    // The recorded progress is committed with each chunk: exactly what is left, wherever the kill fell.
    expect(covers(remaining, range(firstLeft, end))).toBe(true);
    expect(remaining.end).toBeNull();
    expect(remaining.start).toBe(firstLeft);
    // Each chunk's event was committed with it: the events so far cover exactly what went.
    expectEventsTile(killed.deletedEvents, DURATION, firstLeft);
    expect(killed.flowDeletedEvents).toBe(0);
    expect(killed.flowRows).toBe(1);

    const second = await startChildGateway(env, { dataDir });
    started.push(second);
    const restartedAt = Date.now();
    // The dead process still holds the request's lease: nobody works it, and it still refuses segments.
    const refused = await call(second, 'POST', `/flows/${flowId}/segments`, { object_id: 'late-object', timerange: `[${COUNT}:0_${COUNT + 1}:0)` });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ type: 'FlowBeingDeleted' });
    expect((await call(second, 'GET', requestPath)).body).toMatchObject({ status: 'started', timerange_remaining: killed.request!.timerange_remaining });

    let done: DeletionRequest | undefined;
    while (Date.now() - restartedAt < LEASE_MS + 30_000) {
      const got = (await call(second, 'GET', requestPath)).body as DeletionRequest;
      if (got.status === 'done' || got.status === 'error') {
        done = got;
        break;
      }
      await sleep(250);
    }
    expect(done).toMatchObject({ id: requestId, status: 'done', timerange_remaining: '()', delete_flow: true });
    expect((await call(second, 'GET', `/flows/${flowId}`)).status).toBe(404);
    await second.stop();

    const after = readFile(file, flowId, requestId);
    expect(after.starts).toEqual([]);
    expect(after.flowRows).toBe(0);
    // Nothing deleted twice, nothing skipped: the events before and after the kill tile the whole flow.
    expectEventsTile(after.deletedEvents, DURATION, end);
    expect(after.flowDeletedEvents).toBe(1);
    expect(after.gcCandidates).toBe(COUNT);
  }, 180_000);
});

describe('a crash right after a chunk has committed, before the request progress is saved', () => {
  const COUNT = 5_000;
  const DURATION = SECOND;
  const BATCH = 500;
  /** The process kills itself as soon as this many chunks have committed. */
  const KILLED_AFTER_CHUNKS = 3;
  let dir: string;
  let file: string;
  let flowId: string;
  const requestId = 'b1c2d3e4-0000-4000-8000-00000000d00d';
  let killed: FileState;

  /**
   * The built worker in its own process, on `file`: it works the request and sends itself
   * SIGKILL when told of its KILLED_AFTER_CHUNKS-th chunk (observer.chunk runs once the chunk's
   * transaction has committed, before the progress is written).
   */
  function runDoomedWorker(): Promise<NodeJS.Signals | null> {
    const script = `
      const { SqliteMetadataStore } = require(${JSON.stringify(path.join(ROOT, 'dist/src/adapters/sqlite/sqlite-metadata-store'))});
      const { DeletionWorker } = require(${JSON.stringify(path.join(ROOT, 'dist/src/workers/deletion-worker'))});
      const [file, batch, killAfter] = process.argv.slice(1);
      const store = new SqliteMetadataStore({ filename: file });
      let chunks = 0;
      const worker = new DeletionWorker(store, { nowMs: () => Date.now() }, { holder: 'doomed-process', batch: Number(batch) }, {
        chunk: () => { if (++chunks === Number(killAfter)) process.kill(process.pid, 'SIGKILL'); },
      });
      store.init().then(() => worker.runOnce()).then(() => process.exit(3), () => process.exit(4));
    `;
    const child = spawn(process.execPath, ['-e', script, file, String(BATCH), String(KILLED_AFTER_CHUNKS)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    return new Promise((resolve, reject) =>
      child.once('close', (code, signal) => (signal !== null ? resolve(signal) : reject(new Error(`the worker process exited ${String(code)}:\n${stderr}`)))),
    );
  }

  beforeAll(async () => {
    buildIfStale();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-deletion-chunk-kill-'));
    file = path.join(dir, 'tams.db');
    flowId = await seededFlow(file, COUNT, DURATION);
    // The request as DELETE /flows/{id} stores it (deletion-service.ts startRequest).
    const store = new SqliteMetadataStore({ filename: file });
    await store.init();
    const now = new Date().toISOString();
    await store.putDeletionRequest({
      id: requestId,
      flow_id: flowId,
      timerange_to_delete: '_',
      timerange_remaining: '_',
      delete_flow: true,
      status: 'created',
      created: now,
      updated: now,
      expiry: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await store.close();
    expect(await runDoomedWorker()).toBe('SIGKILL');
    killed = readFile(file, flowId, requestId);
  }, 360_000);

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses no chunk: the committed chunks and their events are there, and another worker finishes without deleting or reporting anything twice', async () => {
    const gone = BigInt(KILLED_AFTER_CHUNKS * BATCH) * DURATION;
    expect(killed.request?.status).toBe('started');
    expect(killed.starts[0]).toBe(gone);
    expect(killed.starts).toHaveLength(COUNT - KILLED_AFTER_CHUNKS * BATCH);
    expectEventsTile(killed.deletedEvents, DURATION, gone);

    // Another process, once the dead one's lease has expired (its clock a lease later).
    const store = new SqliteMetadataStore({ filename: file });
    await store.init();
    const chunks: TimeRange[] = [];
    try {
      const later = Date.now() + LEASE_MS + 1000;
      const successor = new DeletionWorker(store, { nowMs: () => later }, { holder: 'successor', batch: BATCH }, { chunk: (_id, deleted) => chunks.push(deleted) });
      await successor.runOnce();
      expect(await store.getDeletionRequest(requestId)).toMatchObject({ status: 'done', timerange_remaining: '()' });
    } finally {
      await store.close();
    }
    // It starts at the first segment left: nothing is deleted, nor reported deleted, twice.
    expect(chunks[0]?.start).toBe(gone);
    const after = readFile(file, flowId, requestId);
    expect(after.starts).toEqual([]);
    expectEventsTile(after.deletedEvents, DURATION, BigInt(COUNT) * DURATION);
    expect(after.flowDeletedEvents).toBe(1);
  });

  it('leaves timerange_remaining starting at the first segment left (progress committed with its chunk)', () => {
    // What GET /flow-delete-requests/{id} shows until a worker takes the request over: it
    // should start at the first segment left, as it does after any chunk the process lived past.
    expect(killed.request?.timerange_remaining).toBe(`[${KILLED_AFTER_CHUNKS * BATCH}:0_`);
  });
});
