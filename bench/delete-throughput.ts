/**
 * `delete-throughput`: asynchronous deletion of a flow of BENCH_DELETE_SEGMENTS (default
 * 1,000,000) segments while the REST window query (rest-segments' load: a random 30-segment
 * window, 32 connections) runs on another flow of BENCH_DELETE_WINDOW_SEGMENTS (default
 * 1,000,000) segments.
 *
 * One database, seeded before the gateway starts (src/adapters/sqlite/seed.ts): the window
 * flow and two flows of BENCH_DELETE_SEGMENTS segments each (every segment with its own
 * object). On one gateway, after a warm-up:
 *   1. the window query alone for BENCH_DURATION seconds;
 *   2. DELETE /flows/{first} (202) alone, GET /flow-delete-requests/{id} every 50 ms until
 *      `done`: segments / seconds from the DELETE to `done` is the deletion's own rate;
 *   3. the window query again, and DELETE /flows/{second} once it has run 2 s, polled the same
 *      way; the window load stops when the deletion is done;
 *   4. the window query alone again.
 * Reported: the window query's requests/s during the deletion (answers between the DELETE and
 * the poll that saw `done`, over that time; p99 and errors over the whole load) against the mean of 1 and 4
 * (target >= 70%), and the deletion's rate under load against 2 (target >= 25%), with the
 * gateway's CPU time (all threads, /proc) per deleted segment in 2 and 3. Afterwards both
 * deleted flows must answer 404 and hold no segment rows.
 */
import { sqliteDatabase } from './sqlite-database';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config';
import { createGateway } from '../src/main';
import { seedSegments } from '../src/adapters/sqlite/seed';
import type { Flow } from '../src/domain/entities';
import { type Server, startServer, stopServer } from './server-launch';
import { serverCpuNs } from './graphql-hostile';

const SEGMENT_NS = 2_000_000_000n;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function count(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number >= 0, not ${process.env[name]}`);
  return value;
}

function videoFlow(label: string): Flow {
  return {
    id: randomUUID(),
    source_id: randomUUID(),
    label,
    format: 'urn:x-nmos:format:video',
    codec: 'video/h264',
    container: 'video/mp2t',
    essence_parameters: { frame_width: 1920, frame_height: 1080 },
  };
}

function windowPath(flowId: string, segments: number): string {
  const first = BigInt(Math.floor(Math.random() * Math.max(1, segments - 30)));
  const start = first * SEGMENT_NS;
  const end = start + 30n * SEGMENT_NS;
  return `/flows/${flowId}/segments?timerange=${encodeURIComponent(`[${start / 1_000_000_000n}:0_${end / 1_000_000_000n}:0)`)}&limit=30`;
}

interface WindowFigures {
  rps: number;
  requests: number;
  seconds: number;
  p99: number;
  bad: number;
}

/**
 * The window load until `until` resolves (or for `seconds`): requests/s as answers / elapsed
 * seconds. Errors, timeouts and non-2xx answers are counted in `bad`.
 */
function windowLoad(server: Server, flowId: string, segments: number, seconds: number, until?: Promise<unknown>, onAnswer?: () => void): Promise<WindowFigures> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${server.port}`,
        headers: server.headers,
        connections: 32,
        duration: seconds,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: windowPath(flowId, segments) }) }],
      },
      (err, result) => {
        if (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        const elapsed = (Date.now() - t0) / 1000;
        resolve({ rps: result.requests.total / elapsed, requests: result.requests.total, seconds: elapsed, p99: result.latency.p99, bad: result.errors + result.timeouts + result.non2xx });
      },
    );
    if (onAnswer !== undefined) instance.on('response', onAnswer);
    if (until !== undefined) void until.then(() => instance.stop());
  });
}

interface Deletion {
  segments: number;
  seconds: number;
  rate: number;
  cpuNsPerSegment: number;
  polls: number;
}

/** DELETE /flows/{id} (must answer 202), then the request polled until `done`. */
async function deleteFlow(server: Server, flowId: string, segments: number): Promise<Deletion> {
  const base = `http://127.0.0.1:${server.port}`;
  const pid = server.child.pid as number;
  const cpu0 = serverCpuNs(pid);
  const t0 = Date.now();
  const res = await fetch(`${base}/flows/${flowId}`, { method: 'DELETE', headers: server.headers });
  const body = (await res.json()) as { id?: string; status?: string };
  if (res.status !== 202 || body.id === undefined) throw new Error(`delete-throughput: DELETE /flows/${flowId} answered ${res.status} ${JSON.stringify(body).slice(0, 300)} (expected 202 with a deletion request)`);
  let polls = 0;
  for (;;) {
    const poll = await fetch(`${base}/flow-delete-requests/${body.id}`, { headers: server.headers });
    const request = (await poll.json()) as { status?: string; error?: unknown };
    polls += 1;
    if (poll.status !== 200) throw new Error(`delete-throughput: GET /flow-delete-requests/${body.id} answered ${poll.status}`);
    if (request.status === 'done') break;
    if (request.status === 'error') throw new Error(`delete-throughput: deletion request ended in error: ${JSON.stringify(request.error)}`);
    await sleep(50);
  }
  const seconds = (Date.now() - t0) / 1000;
  const cpu = serverCpuNs(pid) - cpu0;
  return { segments, seconds, rate: segments / seconds, cpuNsPerSegment: cpu / Math.max(1, segments), polls };
}

function windowText(f: WindowFigures): string {
  return `${f.rps.toFixed(0).padStart(6)} req/s  p99 ${String(f.p99).padStart(4)} ms  (${f.requests} in ${f.seconds.toFixed(1)} s)`;
}

export async function deleteThroughputScenario(): Promise<void> {
  const deleteSegments = count('BENCH_DELETE_SEGMENTS', 1_000_000);
  const windowSegments = count('BENCH_DELETE_WINDOW_SEGMENTS', 1_000_000);
  const duration = count('BENCH_DURATION', 20);
  const warmup = count('BENCH_WARMUP', 5);
  process.stdout.write(
    `\ndelete-throughput: DELETE /flows/{id} of ${deleteSegments} segments (async, polled) alone, then under the REST window query ` +
      `(random 30-segment window over ${windowSegments} segments, 32 connections); window alone ${duration} s before and after\n`,
  );
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-delete-'));
  const problems: string[] = [];
  try {
    const windowFlow = videoFlow('window');
    const alone = videoFlow('deleted alone');
    const loaded = videoFlow('deleted under load');
    {
      const gateway = await createGateway(loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
      try {
        const t0 = Date.now();
        for (const [flow, n] of [[windowFlow, windowSegments], [alone, deleteSegments], [loaded, deleteSegments]] as const) {
          await gateway.store.putFlow(flow, new Date().toISOString());
          await seedSegments(gateway.store, flow.id, n, SEGMENT_NS, {
            storageId: gateway.localObjects.backend.id,
            keyFor: (objectId) => gateway.localObjects.keyFor(objectId),
          });
        }
        process.stdout.write(`  seeded ${windowSegments} + 2 x ${deleteSegments} segments in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      } finally {
        await gateway.close();
      }
    }
    const server = await startServer(['gateway', dataDir]);
    try {
      const sample = await fetch(`http://127.0.0.1:${server.port}${windowPath(windowFlow.id, windowSegments)}`, { headers: server.headers });
      const page = (await sample.json()) as unknown[];
      if (sample.status !== 200 || page.length !== Math.min(30, windowSegments)) throw new Error(`delete-throughput: window query answered ${sample.status} with ${page.length} segments`);
      if (warmup > 0) await windowLoad(server, windowFlow.id, windowSegments, warmup);
      const before = await windowLoad(server, windowFlow.id, windowSegments, duration);
      process.stdout.write(`  window query alone (before)       ${windowText(before)}\n`);
      const own = await deleteFlow(server, alone.id, deleteSegments);
      process.stdout.write(
        `  deletion alone                    ${own.rate.toFixed(0).padStart(6)} segments/s  (${own.segments} in ${own.seconds.toFixed(1)} s; gateway CPU ${(own.cpuNsPerSegment / 1000).toFixed(1)} us/segment)\n`,
      );
      // The window load runs 2 s before the DELETE (connections up) and stops when the deletion is
      // done; its rate is counted over the deletion only (answers between the DELETE and `done`).
      let finish!: () => void;
      const stop = new Promise<void>((resolve) => (finish = resolve));
      const span = { from: Infinity, to: Infinity, answers: 0 };
      const during = windowLoad(server, windowFlow.id, windowSegments, 3600, stop, () => {
        const now = Date.now();
        if (now >= span.from && now <= span.to) span.answers += 1;
      });
      await sleep(2000);
      span.from = Date.now();
      const deletion = await deleteFlow(server, loaded.id, deleteSegments).finally(() => {
        span.to = Date.now();
        finish();
      });
      const whole = await during;
      const window: WindowFigures = { ...whole, requests: span.answers, seconds: (span.to - span.from) / 1000, rps: span.answers / ((span.to - span.from) / 1000) };
      const after = await windowLoad(server, windowFlow.id, windowSegments, duration);
      const undisturbed = (before.rps + after.rps) / 2;
      process.stdout.write(
        `  window query during the deletion  ${windowText(window)}\n` +
          `  deletion under the window load    ${deletion.rate.toFixed(0).padStart(6)} segments/s  (${deletion.segments} in ${deletion.seconds.toFixed(1)} s; gateway CPU ${(deletion.cpuNsPerSegment / 1000).toFixed(1)} us/segment, window requests included)\n` +
          `  window query alone (after)        ${windowText(after)}\n` +
          `  window query during deletion / undisturbed (mean of before and after): ${((100 * window.rps) / undisturbed).toFixed(1)}% (target >= 70%)\n` +
          `  deletion rate under load / alone: ${((100 * deletion.rate) / own.rate).toFixed(1)}% (target >= 25%)\n`,
      );
      for (const [what, f] of [['before', before], ['during', window], ['after', after]] as const) {
        if (f.bad > 0) problems.push(`window query ${what}: ${f.bad} errors, timeouts or non-2xx answers`);
      }
      for (const flow of [alone, loaded]) {
        const gone = await fetch(`http://127.0.0.1:${server.port}/flows/${flow.id}`, { headers: server.headers });
        if (gone.status !== 404) problems.push(`deleted flow ${flow.label} answers ${gone.status}, not 404`);
      }
    } finally {
      await stopServer(server.child);
    }
    const gateway = await createGateway(loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
    try {
      const left = (sqliteDatabase(gateway.store).prepare('SELECT count(*) AS n FROM segments WHERE flow_id IN (?, ?)').get(alone.id, loaded.id) as { n: number }).n;
      const kept = (sqliteDatabase(gateway.store).prepare('SELECT count(*) AS n FROM segments WHERE flow_id = ?').get(windowFlow.id) as { n: number }).n;
      if (left !== 0) problems.push(`${left} segment rows of the deleted flows are left`);
      if (kept !== windowSegments) problems.push(`the window flow holds ${kept} segments, not ${windowSegments}`);
      if (problems.length === 0) process.stdout.write(`  checked: both deleted flows answer 404 and hold no segment rows; the window flow kept its ${kept}\n`);
    } finally {
      await gateway.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  if (problems.length > 0) throw new Error(`delete-throughput: ${problems.join('; ')}`);
}

if (require.main === module) {
  deleteThroughputScenario().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
