/**
 * `npm run bench`: autocannon scenarios on loopback against the real gateway (in a child
 * process), each beside a bare node:http server serving the same bytes in the same run.
 *
 * Environment: BENCH_DURATION (seconds per run, default 20), BENCH_RUNS (default 3, the median
 * is reported), BENCH_SEGMENTS (default 1000000), BENCH_SCENARIOS (comma list, default all).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChildProcess, spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config';
import { createGateway } from '../src/main';
import { seedSegments } from '../src/adapters/sqlite/seed';
import type { Flow } from '../src/domain/entities';

const DURATION = Number(process.env.BENCH_DURATION ?? 20);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SEGMENTS = Number(process.env.BENCH_SEGMENTS ?? 1_000_000);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'rest-segments,rest-ingest').split(',');
const SEGMENT_NS = 2_000_000_000n;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function medianFigures(runs: Figures[]): Figures {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
  };
}

async function startServer(args: string[]): Promise<{ port: number; child: ChildProcess }> {
  const script = path.join(__dirname, 'server-process.js');
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { port, child };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function load(options: autocannon.Options): Promise<Figures> {
  const result = await autocannon({ ...options, duration: DURATION });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

function windowPath(flowId: string, segments: number): () => string {
  return () => {
    const first = BigInt(Math.floor(Math.random() * Math.max(1, segments - 30)));
    const start = first * SEGMENT_NS;
    const end = start + 30n * SEGMENT_NS;
    return `/flows/${flowId}/segments?timerange=${encodeURIComponent(`[${start / 1_000_000_000n}:0_${end / 1_000_000_000n}:0)`)}&limit=30`;
  };
}

async function prepareDataDir(segments: number): Promise<{ dataDir: string; flowId: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-'));
  const gateway = await createGateway(loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
  const flowId = crypto.randomUUID();
  const flow: Flow = {
    id: flowId,
    source_id: crypto.randomUUID(),
    format: 'urn:x-nmos:format:video',
    codec: 'video/h264',
    container: 'video/mp2t',
    essence_parameters: { frame_width: 1920, frame_height: 1080 },
  };
  await gateway.store.putFlow(flow, new Date().toISOString());
  const t0 = Date.now();
  await seedSegments(gateway.store, flowId, segments, SEGMENT_NS, {
    storageId: gateway.objects.backend.id,
    keyFor: (objectId) => gateway.objects.keyFor(objectId),
  });
  process.stdout.write(`  seeded ${segments} segments in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  await gateway.close();
  return { dataDir, flowId };
}

function fmt(f: Figures): string {
  return `${f.rps.toFixed(0).padStart(7)} req/s  p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(4)} ms  errors ${f.errors}  non-2xx ${f.non2xx}`;
}

async function segmentWindows(segments: number): Promise<{ gateway: Figures; bare: Figures; bodyBytes: number }> {
  const { dataDir, flowId } = await prepareDataDir(segments);
  const server = await startServer(['gateway', dataDir]);
  const nextPath = windowPath(flowId, segments);
  let bare: { port: number; child: ChildProcess } | undefined;
  const gatewayRuns: Figures[] = [];
  const bareRuns: Figures[] = [];
  let bodyBytes = 0;
  try {
    const sample = await fetch(`http://127.0.0.1:${server.port}${nextPath()}`);
    const body = Buffer.from(await sample.arrayBuffer());
    if (sample.status !== 200 || (JSON.parse(body.toString()) as unknown[]).length !== 30) {
      throw new Error(`window query did not return 30 segments: ${sample.status} ${body.toString().slice(0, 200)}`);
    }
    const bodyFile = path.join(dataDir, 'bare-body.json');
    fs.writeFileSync(bodyFile, body);
    bodyBytes = body.length;
    bare = await startServer(['bare', bodyFile]);
    for (let run = 0; run < RUNS; run++) {
      gatewayRuns.push(
        await load({
          url: `http://127.0.0.1:${server.port}`,
          connections: 32,
          requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: nextPath() }) }],
        }),
      );
      bareRuns.push(await load({ url: `http://127.0.0.1:${bare.port}/`, connections: 32 }));
    }
  } finally {
    await stopServer(server.child);
    if (bare) await stopServer(bare.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return { gateway: medianFigures(gatewayRuns), bare: medianFigures(bareRuns), bodyBytes };
}

async function restSegments(): Promise<void> {
  process.stdout.write(`\nrest-segments: GET /flows/{id}/segments?timerange=<random 30-segment window>&limit=30, 32 connections, ${DURATION} s x ${RUNS} runs (median)\n`);
  const big = await segmentWindows(SEGMENTS);
  process.stdout.write(`  gateway @ ${SEGMENTS} segments   ${fmt(big.gateway)}\n`);
  process.stdout.write(`  bare node:http (${big.bodyBytes} B)  ${fmt(big.bare)}\n`);
  process.stdout.write(`  ratio: ${((100 * big.gateway.rps) / big.bare.rps).toFixed(1)}% of bare (target >= 10%, moonshot 15%)\n`);
  const small = await segmentWindows(1000);
  process.stdout.write(`  gateway @ 1000 segments      ${fmt(small.gateway)}\n`);
  process.stdout.write(`  p99 growth ${SEGMENTS} vs 1000: ${(big.gateway.p99 / Math.max(1, small.gateway.p99)).toFixed(2)}x (target <= 1.5x; p99 target < 20 ms)\n`);
}

async function restIngest(): Promise<void> {
  const batch = 1000;
  process.stdout.write(`\nrest-ingest: POST /flows/{id}/segments with arrays of ${batch} segments, 4 connections, ${DURATION} s x ${RUNS} runs (median)\n`);
  const { dataDir, flowId } = await prepareDataDir(0);
  const server = await startServer(['gateway', dataDir]);
  const rates: number[] = [];
  let next = 0;
  const body = (): string => {
    const segs = [];
    for (let i = 0; i < batch; i++, next++) segs.push({ object_id: `ingest-${next}`, timerange: `[${next * 2}:0_${next * 2 + 2}:0)` });
    return JSON.stringify(segs);
  };
  try {
    for (let run = 0; run < RUNS; run++) {
      const f = await load({
        url: `http://127.0.0.1:${server.port}`,
        connections: 4,
        requests: [
          {
            method: 'POST',
            path: `/flows/${flowId}/segments`,
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, body: body() }),
          },
        ],
      });
      if (f.non2xx > 0 || f.errors > 0) process.stdout.write(`  warning: ${f.non2xx} non-2xx, ${f.errors} errors\n`);
      rates.push(f.rps * batch);
      process.stdout.write(`  run ${run + 1}: ${(f.rps * batch).toFixed(0)} segments/s (p50 ${f.p50} ms, p99 ${f.p99} ms per batch)\n`);
    }
  } finally {
    await stopServer(server.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`  median: ${median(rates).toFixed(0)} segments/s (target >= 50000)\n`);
}

async function main(): Promise<void> {
  process.stdout.write(`bench on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString()}\n`);
  if (SCENARIOS.includes('rest-segments')) await restSegments();
  if (SCENARIOS.includes('rest-ingest')) await restIngest();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
