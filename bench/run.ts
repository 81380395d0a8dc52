/**
 * `npm run bench`: autocannon scenarios on loopback against the real gateway (in a child
 * process). rest-segments runs beside a bare node:http server serving the same bytes;
 * graphql-segments asks GraphQL for the same windows and is compared with rest-segments;
 * rest-ingest posts segment batches (on object ids allocated beforehand with POST
 * /flows/{id}/storage, outside the timed runs); graphql-graph lists 50 flows with their sources and first
 * segments, counting store calls; subscriptions-fanout (bench/subscriptions-fanout.ts) delivers
 * segment events to 1,000 graphql-ws subscribers (BENCH_FANOUT_DURATION, default 30 s);
 * graphql-hostile (bench/graphql-hostile.ts) measures the server CPU of hostile operation
 * shapes beside a one-field query, and the server's RSS after 10,000 distinct operation texts;
 * presign (bench/presign.ts) times one presigned S3 URL: the SDK, @smithy/signature-v4, ours;
 * rest-segments-s3 lists the rest-segments windows with every object on an S3 backend (an
 * s3rver in this process), so each get_url is presigned on every request, alternating with
 * rest-segments' local-URL gateway. On PostgreSQL, run only when named in BENCH_SCENARIOS:
 * rest-segments-pg, graphql-segments-pg, rest-ingest-pg, two-replicas and explain-pg (see
 * restSegmentsPg and after; bench/postgres-data.ts seeds BENCH_PG_SEGMENTS segments once into
 * their own schema of BENCH_PG_URL). webhook-throughput (bench/webhook-throughput.ts) delivers
 * 200 segment registrations/s to 10 loopback webhooks beside 10 graphql-ws subscribers
 * (BENCH_WEBHOOK_SECONDS, default 30); delete-throughput (bench/delete-throughput.ts) deletes a
 * flow of BENCH_DELETE_SEGMENTS (default 1,000,000) asynchronously alone and under the
 * rest-segments window load. rest-segments-vast, run only when named in BENCH_SCENARIOS (about
 * 8 minutes at 1,000,000 segments on 2 cores: the fake scans every row of the table for each
 * select), lists pages of 30 on TAMS_STORE=vast over the fake VAST server in this process
 * (bench/vast-data.ts seeds it) and reports VAST round trips, bytes and rows per page, not
 * requests/s (BENCH_VAST_PAGES forward pages, default 100; see restSegmentsVast).
 * explorer-paint (bench/explorer-paint.ts), run only when named in BENCH_SCENARIOS (it needs
 * Chromium): commit-to-paint latency of the live explorer page in headless Chromium.
 *
 * Environment: BENCH_DURATION (seconds per run, default 20), BENCH_RUNS (default 3, the median
 * is reported), BENCH_WARMUP (seconds of unreported load on each new server, default 5),
 * BENCH_SEGMENTS (default 1000000), BENCH_SCENARIOS (comma list, default all:
 * rest-segments,rest-segments-s3,rest-ingest,graphql-segments,graphql-graph,subscriptions-fanout,graphql-hostile,presign,
 * webhook-throughput,delete-throughput),
 * BENCH_INGEST_HEADROOM (object ids rest-ingest allocates before a run, as a multiple of the ids
 * the fastest run so far would use in BENCH_DURATION; default 1.5), BENCH_CPU_PROF (a directory:
 * gateway processes run with --cpu-prof and leave their profiles there).
 *
 * Every load checks its answers' statuses (and rest-ingest that each batch was answered 201, not a
 * 200 listing failed_segments; GraphQL loads that no answer carries errors): a load with errors,
 * timeouts or wrong answers is reported as a problem and the bench exits 1 after printing its
 * figures; rest-ingest stops at once, as its rate would count refusals.
 */
import { sqliteDatabase } from './sqlite-database';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config';
import { createGateway } from '../src/main';
import { seedSegments } from '../src/adapters/sqlite/seed';
import type { Flow } from '../src/domain/entities';
import { subscriptionsFanoutScenario } from './subscriptions-fanout';
import { graphqlHostileScenario, serverCpuNs } from './graphql-hostile';
import { presignScenario } from './presign';
import { webhookThroughputScenario } from './webhook-throughput';
import { deleteThroughputScenario } from './delete-throughput';
import { explorerPaintScenario } from './explorer-paint';
import { type BenchS3Server, S3RVER_CREDENTIALS, startS3rver } from './s3rver';
import { type Server, startServer, stopServer } from './server-launch';
import type { ChildProcess } from 'node:child_process';
import { backgroundRequestsSince, prepareVastSegmentData, vastCostSince, vastRequestsSince, VAST_DENORMALISED, type VastPageCost } from './vast-data';
import { benchSchema, countSegments, dropSchema, explainWindow, PG_URL, preparePgSegmentData, segmentsTableSize, sharedBuffers, type PgSegmentData } from './postgres-data';

const DURATION = Number(process.env.BENCH_DURATION ?? 20);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SEGMENTS = Number(process.env.BENCH_SEGMENTS ?? 1_000_000);
/**
 * Seconds of unreported load on each new server before its measured runs: a fresh process has
 * cold JIT code and, after seeding, unmapped database pages, which a gateway in service has not.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
if (!Number.isFinite(WARMUP) || WARMUP < 0) throw new Error(`BENCH_WARMUP must be a number of seconds >= 0, not ${process.env.BENCH_WARMUP}`);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'rest-segments,rest-segments-s3,rest-ingest,graphql-segments,graphql-graph,subscriptions-fanout,graphql-hostile,presign,webhook-throughput,delete-throughput').split(',');
const SEGMENT_NS = 2_000_000_000n;
// The AWS SDK's notice that its releases after January 2027 need Node 22, printed by every
// process that builds an S3 client (this one and each gateway with S3 backends): the SDK's own
// switch, inherited by the gateway processes, keeps it out of the figures.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Figures {
  rps: number;
  /** Requests answered (summed over runs in medianFigures). */
  requests: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** 2xx answers that are failures all the same (see load's `wrong`). */
  wrong: number;
  /** Share of the machine's CPU time the hypervisor gave to others during the run (Linux), or undefined. */
  steal?: number;
}

/** [steal, total] jiffies of all CPUs so far (/proc/stat), or undefined where there is none. */
function cpuJiffies(): [number, number] | undefined {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return [fields[7] ?? 0, fields.reduce((a, b) => a + b, 0)];
  } catch {
    return undefined;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function medianFigures(runs: Figures[]): Figures {
  return {
    rps: median(runs.map((r) => r.rps)),
    requests: runs.reduce((a, r) => a + r.requests, 0),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    wrong: runs.reduce((a, r) => a + r.wrong, 0),
    ...(runs.every((r) => r.steal !== undefined) ? { steal: Math.max(...runs.map((r) => r.steal as number)) } : {}),
  };
}

/** `  CPU steal 3.1%` (the most of any run a figure comes from), or '' off Linux. */
function stealText(steal: number | undefined): string {
  return steal === undefined ? '' : `  CPU steal ${(100 * steal).toFixed(1)}%`;
}

/** Loads whose answers were not all right: printed at the end, and the bench then exits 1. */
const problems: string[] = [];

/** A 2xx answer that is a failure all the same (a 200 with failed_segments, GraphQL errors). */
type WrongAnswer = (status: number, body: string) => boolean;

/**
 * One autocannon run. Connection errors, timeouts, non-2xx answers and answers `wrong` calls
 * wrong are recorded in `problems` under `what`.
 */
async function load(what: string, options: autocannon.Options, duration = DURATION, wrong?: WrongAnswer): Promise<Figures> {
  let wrongAnswers = 0;
  const requests = wrong === undefined || options.requests === undefined
    ? options.requests
    : options.requests.map((r): autocannon.Request => ({
        ...r,
        onResponse: (status, body, context, headers) => {
          if (typeof r.onResponse === 'function') r.onResponse(status, body, context, headers);
          if (status >= 200 && status < 300 && wrong(status, body)) wrongAnswers += 1;
        },
      }));
  const before = cpuJiffies();
  const result = await autocannon({ ...options, ...(requests === undefined ? {} : { requests }), duration });
  const after = cpuJiffies();
  // On a VM, time the hypervisor ran other guests on our cores: a run with much of it is slow
  // for reasons outside the code, whatever the code does.
  const steal = before && after && after[1] > before[1] ? (after[0] - before[0]) / (after[1] - before[1]) : undefined;
  const figures: Figures = {
    ...(steal === undefined ? {} : { steal }),
    rps: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    wrong: wrongAnswers,
  };
  if (figures.errors > 0 || figures.non2xx > 0 || figures.wrong > 0) {
    const line = `${what}: ${figures.errors} errors/timeouts, ${figures.non2xx} non-2xx, ${figures.wrong} wrong 2xx answers of ${result.requests.total}`;
    problems.push(line);
    process.stdout.write(`  PROBLEM ${line}\n`);
  }
  return figures;
}

/** A window of 30 whole segments at a random place in the flow, as TAMS timerange text. */
function randomWindow(segments: number): string {
  const first = BigInt(Math.floor(Math.random() * Math.max(1, segments - 30)));
  const start = first * SEGMENT_NS;
  const end = start + 30n * SEGMENT_NS;
  return `[${start / 1_000_000_000n}:0_${end / 1_000_000_000n}:0)`;
}

function windowPath(flowId: string, timerange: string): string {
  return `/flows/${flowId}/segments?timerange=${encodeURIComponent(timerange)}&limit=30`;
}

interface SegmentData {
  dataDir: string;
  flowId: string;
  segments: number;
  /** Environment of the gateway serving it (TAMS_STORAGE_BACKENDS_FILE for S3 media). */
  env: Record<string, string>;
}

/** An S3 backend for seeded media: an s3rver in this process and the backends-file entry naming it. */
interface S3Media {
  server: BenchS3Server;
  backend: Record<string, unknown> & { id: string; label: string; prefix: string };
}

const S3_BACKEND_LABEL = 'bench-s3';

async function startS3Media(): Promise<S3Media> {
  const server = await startS3rver('tams-bench');
  return {
    server,
    // As docs/storage.md's MinIO example, with inline credentials: the keys s3rver knows.
    backend: {
      id: crypto.randomUUID(),
      label: S3_BACKEND_LABEL,
      store_type: 'http_object_store',
      provider: 's3rver',
      store_product: 's3rver',
      endpoint: server.endpoint,
      path_style: true,
      bucket: server.bucket,
      prefix: 'media',
      credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: S3RVER_CREDENTIALS.secretAccessKey },
      default_storage: true,
    },
  };
}

/**
 * A data dir holding one flow of `segments` seeded segments, each with its own media object on
 * the local backend, or with `s3` on that S3 backend (keys minted by the gateway's S3 store,
 * `media/<hex2>/<hex2>/<uuid>`; the data dir then holds the backends file the gateway needs).
 */
async function prepareDataDir(segments: number, s3?: S3Media): Promise<SegmentData> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-'));
  const env: Record<string, string> = {};
  if (s3 !== undefined) {
    env.TAMS_STORAGE_BACKENDS_FILE = path.join(dataDir, 'storage-backends.json');
    fs.writeFileSync(env.TAMS_STORAGE_BACKENDS_FILE, JSON.stringify({ backends: [s3.backend] }, null, 2));
  }
  const gateway = await createGateway(loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env }));
  const media = s3 === undefined ? gateway.localObjects : gateway.objects.get(s3.backend.id);
  if (media === undefined) throw new Error(`the gateway did not configure the S3 backend ${s3?.backend.id}`);
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
    storageId: media.backend.id,
    keyFor: (objectId) => media.keyFor(objectId),
  });
  if (s3 !== undefined) {
    // The seeder writes the copies the listing reads (objects and segment rows), not the
    // instance list of migration 6; completed here, so the gateway's start-up check finds the
    // backend in use (and configured), as it would for objects clients had uploaded.
    sqliteDatabase(gateway.store)
      .prepare('INSERT INTO object_instances (object_id, storage_id, storage_key, created) SELECT id, storage_id, storage_key, created FROM objects WHERE storage_id = ?')
      .run(media.backend.id);
  }
  process.stdout.write(`  seeded ${segments} segments${s3 === undefined ? '' : ` on S3 backend ${s3.backend.label} (${s3.server.endpoint}, bucket ${s3.server.bucket})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  await gateway.close();
  return { dataDir, flowId, segments, env };
}

let sharedData: Promise<SegmentData> | undefined;

/** The BENCH_SEGMENTS flow, seeded once for rest-segments and graphql-segments alike. */
function bigSegmentData(): Promise<SegmentData> {
  sharedData ??= prepareDataDir(SEGMENTS);
  return sharedData;
}

function fmt(f: Figures): string {
  const wrong = f.wrong > 0 ? `  wrong 2xx ${f.wrong}` : '';
  return `${f.rps.toFixed(0).padStart(7)} req/s  p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(4)} ms  errors ${f.errors}  non-2xx ${f.non2xx}${wrong}${stealText(f.steal)}`;
}

function restWindowLoad(server: Server, { flowId, segments, env }: SegmentData, duration = DURATION): Promise<Figures> {
  return load(`REST windows @ ${segments} segments${env.TAMS_STORAGE_BACKENDS_FILE === undefined ? '' : ', S3 get_urls'}`, {
    url: `http://127.0.0.1:${server.port}`,
    headers: server.headers,
    connections: 32,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: windowPath(flowId, randomWindow(segments)) }) }],
  }, duration);
}

async function segmentWindows(data: SegmentData): Promise<{ gateway: Figures; bare: Figures; bodyBytes: number; pairedRatios: number[] }> {
  const { dataDir, flowId, segments } = data;
  const server = await startServer(['gateway', dataDir], data.env);
  let bare: Server | undefined;
  const gatewayRuns: Figures[] = [];
  const bareRuns: Figures[] = [];
  let bodyBytes = 0;
  try {
    const sample = await fetch(`http://127.0.0.1:${server.port}${windowPath(flowId, randomWindow(segments))}`, { headers: server.headers });
    const body = Buffer.from(await sample.arrayBuffer());
    if (sample.status !== 200 || (JSON.parse(body.toString()) as unknown[]).length !== 30) {
      throw new Error(`window query did not return 30 segments: ${sample.status} ${body.toString().slice(0, 200)}`);
    }
    const bodyFile = path.join(dataDir, 'bare-body.json');
    fs.writeFileSync(bodyFile, body);
    bodyBytes = body.length;
    bare = await startServer(['bare', bodyFile]);
    const bareUrl = `http://127.0.0.1:${bare.port}/`;
    if (WARMUP > 0) {
      await restWindowLoad(server, data, WARMUP);
      await load('bare node:http', { url: bareUrl, connections: 32 }, WARMUP);
    }
    for (let run = 0; run < RUNS; run++) {
      gatewayRuns.push(await restWindowLoad(server, data));
      bareRuns.push(await load('bare node:http', { url: bareUrl, connections: 32 }));
    }
  } finally {
    await stopServer(server.child);
    if (bare) await stopServer(bare.child);
  }
  const pairedRatios = gatewayRuns.map((g, i) => g.rps / (bareRuns[i] as Figures).rps);
  return { gateway: medianFigures(gatewayRuns), bare: medianFigures(bareRuns), bodyBytes, pairedRatios };
}

/** Runs rest-segments; returns the gateway's figures at BENCH_SEGMENTS, which graphql-segments and rest-segments-s3 are compared with. */
async function restSegments(): Promise<Figures> {
  process.stdout.write(`\nrest-segments: GET /flows/{id}/segments?timerange=<random 30-segment window>&limit=30, 32 connections, ${DURATION} s x ${RUNS} runs (median)\n`);
  const big = await segmentWindows(await bigSegmentData());
  process.stdout.write(`  gateway @ ${SEGMENTS} segments   ${fmt(big.gateway)}\n`);
  process.stdout.write(`  bare node:http (${big.bodyBytes} B)  ${fmt(big.bare)}\n`);
  process.stdout.write(`  ratio: ${((100 * big.gateway.rps) / big.bare.rps).toFixed(1)}% of bare (target >= 10%, moonshot 15%)\n`);
  // Each gateway run is followed by a bare run: on a VM whose speed drifts, the ratio within a
  // pair is steadier than the ratio of the medians.
  const runRatios = big.pairedRatios.map((r) => `${(100 * r).toFixed(1)}%`).join(' / ');
  process.stdout.write(`  paired ratio: ${(100 * median(big.pairedRatios)).toFixed(1)}% (median of the runs' gateway / bare req/s: ${runRatios})\n`);
  const smallData = await prepareDataDir(1000);
  try {
    const small = await segmentWindows(smallData);
    process.stdout.write(`  gateway @ 1000 segments      ${fmt(small.gateway)}\n`);
    process.stdout.write(`  p99 growth ${SEGMENTS} vs 1000: ${(big.gateway.p99 / Math.max(1, small.gateway.p99)).toFixed(2)}x (target <= 1.5x; p99 target < 20 ms)\n`);
  } finally {
    fs.rmSync(smallData.dataDir, { recursive: true, force: true });
  }
  return big.gateway;
}

/** Why a page of rest-segments-s3 is not 30 segments each with one presigned URL of the S3 backend, or undefined. */
function s3PageProblem(status: number, body: string, s3: S3Media): string | undefined {
  if (status !== 200) return `answered ${status}: ${body.slice(0, 200)}`;
  const page = JSON.parse(body) as Json[];
  if (page.length !== 30) return `${page.length} segments, not 30`;
  const base = `${s3.server.endpoint}/${s3.server.bucket}/${s3.backend.prefix}/`;
  for (const segment of page) {
    const urls = segment.get_urls as Json[] | undefined;
    const url = urls?.[0];
    if (urls?.length !== 1 || url.presigned !== true || url.label !== S3_BACKEND_LABEL || !String(url.url).startsWith(base) || !String(url.url).includes('&X-Amz-Signature=')) {
      return `segment ${segment.object_id}: get_urls ${JSON.stringify(urls)} are not one presigned URL under ${base}`;
    }
  }
  return undefined;
}

/** A random window of the S3 flow, checked (see s3PageProblem); its body. */
async function s3Window(server: Server, data: SegmentData, s3: S3Media): Promise<Buffer> {
  const res = await fetch(`http://127.0.0.1:${server.port}${windowPath(data.flowId, randomWindow(data.segments))}`, { headers: server.headers });
  const body = Buffer.from(await res.arrayBuffer());
  const problem = s3PageProblem(res.status, body.toString(), s3);
  if (problem !== undefined) throw new Error(`rest-segments-s3: window page: ${problem}`);
  return body;
}

/**
 * A window load on a gateway, with the gateway process's CPU time per answered request (all its
 * threads, /proc): on a shared machine the rate moves with what else runs, its CPU per request
 * much less.
 */
async function windowLoadWithCpu(server: Server, data: SegmentData): Promise<Figures & { cpuUs: number }> {
  const pid = server.child.pid as number;
  const before = serverCpuNs(pid);
  const figures = await restWindowLoad(server, data);
  return { ...figures, cpuUs: (serverCpuNs(pid) - before) / 1000 / Math.max(1, figures.requests) };
}

/**
 * rest-segments-s3: the rest-segments windows with every segment's object on an S3 backend, so
 * the gateway presigns 30 S3 GET URLs per request, beside rest-segments' local-URL gateway on
 * its own data (a second process, idle while the other is loaded). The two alternate run by run
 * (local first in even runs, S3 first in odd ones), each pair followed by a bare node:http run
 * serving an S3 page. Printed: the ratios of the medians, the medians of the pairs' ratios, the
 * gateways' CPU per request (whose ratio is the rate ratio each would have on a core of its
 * own), and with rest-segments in the run the ratios to its figures.
 */
async function restSegmentsS3(rest: Figures | undefined): Promise<void> {
  process.stdout.write(
    `\nrest-segments-s3: the rest-segments windows, every object on an S3 backend (s3rver, path-style, inline credentials; get_urls presigned per request), ` +
      `alternating with rest-segments' local-URL gateway, 32 connections, ${DURATION} s x ${RUNS} runs (median)\n`,
  );
  const local = await bigSegmentData();
  const s3 = await startS3Media();
  let data: SegmentData | undefined;
  const servers: Server[] = [];
  const s3Runs: (Figures & { cpuUs: number })[] = [];
  const localRuns: (Figures & { cpuUs: number })[] = [];
  const bareRuns: Figures[] = [];
  let s3Bytes = 0;
  let localBytes = 0;
  try {
    data = await prepareDataDir(SEGMENTS, s3);
    const s3Data = data;
    const s3Server = await startServer(['gateway', s3Data.dataDir], s3Data.env);
    servers.push(s3Server);
    const localServer = await startServer(['gateway', local.dataDir], local.env);
    servers.push(localServer);
    const body = await s3Window(s3Server, s3Data, s3);
    s3Bytes = body.length;
    localBytes = (await (await fetch(`http://127.0.0.1:${localServer.port}${windowPath(local.flowId, randomWindow(local.segments))}`, { headers: localServer.headers })).arrayBuffer()).byteLength;
    // The URL reaches the bucket: s3rver (which checks the access key, not signatures) knows it
    // and answers that the key holds nothing, as the seeded objects were never uploaded.
    const firstUrl = (JSON.parse(body.toString()) as Json[])[0].get_urls[0].url as string;
    const got = await fetch(firstUrl);
    const gotText = await got.text();
    if (got.status !== 404 || !gotText.includes('NoSuchKey')) throw new Error(`rest-segments-s3: GET ${firstUrl}: ${got.status} ${gotText.slice(0, 300)}, not 404 NoSuchKey`);
    const bodyFile = path.join(s3Data.dataDir, 'bare-body.json');
    fs.writeFileSync(bodyFile, body);
    const bare = await startServer(['bare', bodyFile]);
    servers.push(bare);
    const bareUrl = `http://127.0.0.1:${bare.port}/`;
    if (WARMUP > 0) {
      await restWindowLoad(localServer, local, WARMUP);
      await restWindowLoad(s3Server, s3Data, WARMUP);
      await load('bare node:http', { url: bareUrl, connections: 32 }, WARMUP);
    }
    for (let run = 0; run < RUNS; run++) {
      if (run % 2 === 0) localRuns.push(await windowLoadWithCpu(localServer, local));
      s3Runs.push(await windowLoadWithCpu(s3Server, s3Data));
      if (run % 2 === 1) localRuns.push(await windowLoadWithCpu(localServer, local));
      bareRuns.push(await load('bare node:http', { url: bareUrl, connections: 32 }));
    }
    // Load can only see statuses: a page still right afterwards shows the runs were answered alike.
    await s3Window(s3Server, s3Data, s3);
  } finally {
    for (const server of servers) await stopServer(server.child);
    if (data !== undefined) fs.rmSync(data.dataDir, { recursive: true, force: true });
    await s3.server.stop();
  }
  const s3Figures = medianFigures(s3Runs);
  const localFigures = medianFigures(localRuns);
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const times = (x: number): string => `${x.toFixed(2)}x`;
  const pairs = (f: (s3Run: Figures & { cpuUs: number }, localRun: Figures & { cpuUs: number }) => number): number[] =>
    s3Runs.map((r, i) => f(r, localRuns[i] as Figures & { cpuUs: number }));
  const rpsPairs = pairs((s, l) => s.rps / l.rps);
  const p99Pairs = pairs((s, l) => s.p99 / Math.max(1, l.p99));
  const cpuPairs = pairs((s, l) => l.cpuUs / s.cpuUs);
  const s3Cpu = median(s3Runs.map((r) => r.cpuUs));
  const localCpu = median(localRuns.map((r) => r.cpuUs));
  process.stdout.write(`  gateway, S3 get_urls @ ${SEGMENTS} segments (${s3Bytes} B)     ${fmt(s3Figures)}\n`);
  process.stdout.write(`  gateway, local get_urls @ ${SEGMENTS} segments (${localBytes} B)  ${fmt(localFigures)}\n`);
  process.stdout.write(`  bare node:http (the S3 page, ${s3Bytes} B)  ${fmt(medianFigures(bareRuns))}\n`);
  process.stdout.write(
    `  requests/s S3 / local: ${pct(s3Figures.rps / localFigures.rps)} (target >= 60%, moonshot 80%); paired: ${pct(median(rpsPairs))} (median of the runs' S3 / local: ${rpsPairs.map(pct).join(' / ')})\n`,
  );
  process.stdout.write(
    `  p99 S3 / local: ${times(s3Figures.p99 / Math.max(1, localFigures.p99))} (target <= 1.5x); paired: ${times(median(p99Pairs))} (${p99Pairs.map(times).join(' / ')})\n`,
  );
  process.stdout.write(
    `  gateway CPU per request: S3 ${s3Cpu.toFixed(0)} µs, local ${localCpu.toFixed(0)} µs: local / S3 ${pct(localCpu / s3Cpu)}; paired: ${pct(median(cpuPairs))} (${cpuPairs.map(pct).join(' / ')})\n`,
  );
  process.stdout.write(`  S3 gateway: ${pct(s3Figures.rps / medianFigures(bareRuns).rps)} of bare serving its page\n`);
  if (rest !== undefined) {
    process.stdout.write(
      `  against rest-segments above (this run): requests/s ${pct(s3Figures.rps / rest.rps)}, p99 ${times(s3Figures.p99 / Math.max(1, rest.p99))} (${rest.rps.toFixed(0)} req/s, p99 ${rest.p99} ms)\n`,
    );
  }
}

/** POST /flows/{id}/storage takes at most this many object_ids. */
const ALLOCATE_CHUNK = 10_000;
const INGEST_BATCH = 1000;
const INGEST_CONNECTIONS = 4;
const INGEST_HEADROOM = Number(process.env.BENCH_INGEST_HEADROOM ?? 1.5);
if (!Number.isFinite(INGEST_HEADROOM) || INGEST_HEADROOM < 1) throw new Error(`BENCH_INGEST_HEADROOM must be a number >= 1, not ${process.env.BENCH_INGEST_HEADROOM}`);
/** Segments/s assumed for sizing the warm-up's ids (the warm-up's own rate sizes the runs'). */
const INGEST_GUESS = 100_000;

/**
 * Allocates `ids` for the flow as a client does before registering segments on them
 * (POST /flows/{id}/storage with object_ids, 10,000 a request, two requests at a time): the
 * gateway refuses a segment whose object it does not know unless the segment brings get_urls.
 */
async function allocateObjectIds(server: Server, flowId: string, ids: readonly string[]): Promise<void> {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += ALLOCATE_CHUNK) chunks.push(ids.slice(i, i + ALLOCATE_CHUNK));
  const allocateNext = async (): Promise<void> => {
    for (let chunk = chunks.shift(); chunk !== undefined; chunk = chunks.shift()) {
      const res = await fetch(`http://127.0.0.1:${server.port}/flows/${flowId}/storage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...server.headers },
        body: JSON.stringify({ object_ids: chunk }),
      });
      const text = await res.text();
      const allocated = res.status === 201 ? ((JSON.parse(text) as { media_objects?: { object_id: string }[] }).media_objects ?? []) : [];
      if (allocated.length !== chunk.length || allocated[0]?.object_id !== chunk[0] || allocated.at(-1)?.object_id !== chunk.at(-1)) {
        throw new Error(`allocating ${chunk.length} object ids (${chunk[0]}..) for flow ${flowId}: ${res.status} ${text.slice(0, 300)}`);
      }
    }
  };
  await Promise.all([allocateNext(), allocateNext()]);
}

/** Where rest-ingest posts: a gateway over a flow of no segments, and how to count what it stored. */
interface IngestData {
  dataDir: string;
  flowId: string;
  env: Record<string, string>;
  /** Segments of the flow in the store, read directly (the gateway stopped). */
  stored: () => Promise<number>;
  cleanup: () => Promise<void>;
}

async function sqliteIngestData(): Promise<IngestData> {
  const { dataDir, flowId, env } = await prepareDataDir(0);
  return {
    dataDir,
    flowId,
    env,
    stored: async () => {
      const gateway = await createGateway(loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
      try {
        return (sqliteDatabase(gateway.store).prepare('SELECT count(*) AS n FROM segments WHERE flow_id = ?').get(flowId) as { n: number }).n;
      } finally {
        await gateway.close();
      }
    },
    cleanup: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
  };
}

const PG_INGEST_SCHEMA = 'bench_ingest';

async function postgresIngestData(): Promise<IngestData> {
  const data = await preparePgSegmentData(PG_INGEST_SCHEMA, 0, SEGMENT_NS, true);
  return {
    dataDir: data.dataDir,
    flowId: data.flowId,
    env: data.env,
    stored: () => countSegments(PG_INGEST_SCHEMA, data.flowId),
    cleanup: async () => {
      fs.rmSync(data.dataDir, { recursive: true, force: true });
      await dropSchema(PG_INGEST_SCHEMA);
    },
  };
}

/**
 * One gateway taking rest-ingest's batches: `run` is one load (object ids allocated before it,
 * outside its time; a load with any batch not answered 201 throws); `finish` stops the gateway
 * and checks every batch answered 201 was stored.
 */
interface IngestTarget {
  /** `warmUp`: this run's rate alone sizes the next runs' ids (later runs only raise it). */
  run(what: string, duration: number, warmUp?: boolean): Promise<Figures>;
  /** Stops the gateway (after a failed run: nothing is checked). */
  stop(): Promise<void>;
  finish(): Promise<number>;
}

async function startIngest(data: IngestData): Promise<IngestTarget> {
  const batch = INGEST_BATCH;
  const { flowId } = data;
  const server = await startServer(['gateway', data.dataDir], data.env);
  /** ids ingest-0 .. ingest-(allocated - 1) are allocated; ingest-next is the next a body uses. */
  let allocated = 0;
  let next = 0;
  let acknowledged = 0;
  let loads = 0;
  let fastest = INGEST_GUESS;
  /** Allocates ids until `count` beyond the next are, reporting the time taken (not a run's). */
  const provide = async (count: number): Promise<void> => {
    const want = next + count;
    if (want <= allocated) return;
    const ids = Array.from({ length: want - allocated }, (_, i) => `ingest-${allocated + i}`);
    const t0 = Date.now();
    await allocateObjectIds(server, flowId, ids);
    allocated = want;
    const seconds = (Date.now() - t0) / 1000;
    process.stdout.write(`  allocated ${ids.length} object ids in ${seconds.toFixed(1)} s (${(ids.length / seconds).toFixed(0)}/s; not timed)\n`);
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopServer(server.child);
  };
  const body = (): string => {
    // Past the allocated ids the segments would be refused: the run is then void (checked below).
    const segs = [];
    for (let i = 0; i < batch; i++, next++) segs.push({ object_id: `ingest-${next}`, timerange: `[${next * 2}:0_${next * 2 + 2}:0)` });
    return JSON.stringify(segs);
  };
  return {
    async run(what: string, duration: number, warmUp = false): Promise<Figures> {
      await provide(Math.ceil(fastest * duration * INGEST_HEADROOM) + INGEST_CONNECTIONS * batch);
      let created = 0;
      const f = await load(what, {
        url: `http://127.0.0.1:${server.port}`,
        connections: INGEST_CONNECTIONS,
        requests: [
          {
            method: 'POST',
            path: `/flows/${flowId}/segments`,
            headers: { 'content-type': 'application/json', ...server.headers },
            setupRequest: (req) => ({ ...req, body: body() }),
            onResponse: (status) => {
              if (status === 201) created += 1;
            },
          },
        ],
      }, duration, (status) => status !== 201);
      loads += 1;
      acknowledged += created;
      // A 200 is an array with failed_segments: counting it would measure refusals.
      if (f.wrong > 0 || f.non2xx > 0 || f.errors > 0) {
        const ranOut = next > allocated ? `; the load ran past the ${allocated} allocated object ids (raise BENCH_INGEST_HEADROOM, now ${INGEST_HEADROOM})` : '';
        throw new Error(`rest-ingest: ${what}: ${f.wrong} batches answered 200 (failed_segments), ${f.non2xx} non-2xx, ${f.errors} errors${ranOut}`);
      }
      fastest = warmUp ? f.rps * batch : Math.max(fastest, f.rps * batch);
      return f;
    },
    stop,
    async finish(): Promise<number> {
      await stop();
      // Every batch answered 201 must be stored; beyond them only the batches still in flight
      // when a load stopped (at most one per connection) may be.
      const stored = await data.stored();
      const least = acknowledged * batch;
      const most = (acknowledged + loads * INGEST_CONNECTIONS) * batch;
      if (stored < least || stored > most) throw new Error(`rest-ingest: ${stored} segments stored, ${acknowledged} batches of ${batch} answered 201 (expected ${least}..${most})`);
      process.stdout.write(`  stored ${stored} segments; ${acknowledged} batches answered 201, every one stored\n`);
      return stored;
    },
  };
}

async function restIngest(): Promise<void> {
  const batch = INGEST_BATCH;
  process.stdout.write(
    `\nrest-ingest: POST /flows/{id}/segments with arrays of ${batch} segments, ${INGEST_CONNECTIONS} connections, ${DURATION} s x ${RUNS} runs (median); ` +
      `object ids allocated with POST /flows/{id}/storage before each run, outside its time\n`,
  );
  const data = await sqliteIngestData();
  try {
    const target = await startIngest(data);
    const rates: number[] = [];
    try {
      if (WARMUP > 0) {
        const f = await target.run('rest-ingest warm-up', WARMUP, true);
        process.stdout.write(`  warm-up (${WARMUP} s, not reported): ${(f.rps * batch).toFixed(0)} segments/s\n`);
      }
      for (let run = 0; run < RUNS; run++) {
        const f = await target.run(`rest-ingest run ${run + 1}`, DURATION);
        rates.push(f.rps * batch);
        process.stdout.write(`  run ${run + 1}: ${(f.rps * batch).toFixed(0)} segments/s (p50 ${f.p50} ms, p99 ${f.p99} ms per batch)${stealText(f.steal)}\n`);
      }
    } catch (err) {
      await target.stop();
      throw err;
    }
    await target.finish();
    process.stdout.write(`  median: ${median(rates).toFixed(0)} segments/s (target >= 50000)\n`);
  } finally {
    await data.cleanup();
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the bench reads arbitrary JSON answers
type Json = any;

interface GraphqlResponse {
  data?: Json;
  errors?: unknown[];
}

function graphqlBody(query: string, variables: Record<string, unknown>): string {
  return JSON.stringify({ query, variables });
}

async function graphqlPost(server: Server, body: string): Promise<GraphqlResponse> {
  const res = await fetch(`http://127.0.0.1:${server.port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...server.headers }, body });
  const parsed = (await res.json()) as GraphqlResponse;
  if (res.status !== 200 || parsed.errors !== undefined) throw new Error(`GraphQL request failed: ${res.status} ${JSON.stringify(parsed).slice(0, 300)}`);
  return parsed;
}

/** Autocannon POSTing a fresh GraphQL body per request to /graphql. */
function graphqlLoad(what: string, server: Server, connections: number, nextBody: () => string, duration = DURATION): Promise<Figures> {
  return load(what, {
    url: `http://127.0.0.1:${server.port}`,
    connections,
    requests: [
      {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', ...server.headers },
        setupRequest: (req) => ({ ...req, body: nextBody() }),
      },
    ],
  }, duration, graphqlErrors);
}

/** A GraphQL answer with errors (a 200 all the same): error-free answers here never hold the text. */
const graphqlErrors: WrongAnswer = (_status, body) => body.includes('"errors":');

const WINDOW_QUERY = `query Window($flowId: ID!, $timerange: TimeRange) {
  flow(id: $flowId) { segments(timerange: $timerange, first: 30) { nodes { objectId timerange getUrls { url } } } }
}`;

/** GraphQL's page of a window must be REST's page of the same window, field for field. */
async function checkWindowAgainstRest(server: Server, { flowId, segments }: SegmentData): Promise<void> {
  const timerange = randomWindow(segments);
  const [gql, rest] = await Promise.all([
    graphqlPost(server, graphqlBody(WINDOW_QUERY, { flowId, timerange })),
    fetch(`http://127.0.0.1:${server.port}${windowPath(flowId, timerange)}`, { headers: server.headers }).then((r) => r.json()),
  ]);
  const asRest = (gql.data?.flow?.segments?.nodes as Json[] | undefined)?.map((n) => ({
    object_id: n.objectId,
    timerange: n.timerange,
    urls: n.getUrls.map((u: Json) => u.url),
  }));
  const expected = (rest as Json[]).map((s) => ({ object_id: s.object_id, timerange: s.timerange, urls: s.get_urls.map((u: Json) => u.url) }));
  // Signed URLs carry an expiry in seconds: a second boundary between the two requests changes them.
  const sameSegments = (a: typeof expected, b: typeof expected): boolean =>
    JSON.stringify(a.map((x) => [x.object_id, x.timerange, x.urls.length])) === JSON.stringify(b.map((x) => [x.object_id, x.timerange, x.urls.length]));
  if (asRest?.length !== 30 || !sameSegments(asRest, expected)) {
    throw new Error(`graphql-segments: GraphQL and REST disagree on ${timerange}: ${JSON.stringify(gql).slice(0, 300)}`);
  }
}

async function graphqlSegments(restRps: number | undefined): Promise<void> {
  process.stdout.write(
    `\ngraphql-segments: POST /graphql flow(id) { segments(timerange: <random 30-segment window>, first: 30) { nodes { objectId timerange getUrls { url } } } }, 32 connections, ${DURATION} s x ${RUNS} runs (median)\n`,
  );
  const data = await bigSegmentData();
  const server = await startServer(['gateway', data.dataDir], data.env);
  const runs: Figures[] = [];
  const restRuns: Figures[] = [];
  const graphqlRun = (): Promise<Figures> =>
    graphqlLoad('GraphQL windows', server, 32, () => graphqlBody(WINDOW_QUERY, { flowId: data.flowId, timerange: randomWindow(data.segments) }));
  try {
    await checkWindowAgainstRest(server, data);
    if (WARMUP > 0) {
      await restWindowLoad(server, data, WARMUP);
      await graphqlLoad('GraphQL windows (warm-up)', server, 32, () => graphqlBody(WINDOW_QUERY, { flowId: data.flowId, timerange: randomWindow(data.segments) }), WARMUP);
    }
    // Each GraphQL run is paired with a REST run on the same server, in alternating order: on a
    // shared machine the load of other work drifts between scenarios, much less within a pair.
    for (let run = 0; run < RUNS; run++) {
      if (run % 2 === 0) restRuns.push(await restWindowLoad(server, data));
      runs.push(await graphqlRun());
      if (run % 2 === 1) restRuns.push(await restWindowLoad(server, data));
    }
    // Load can only see statuses: a page still right afterwards shows the runs were not answered with errors.
    await checkWindowAgainstRest(server, data);
  } finally {
    await stopServer(server.child);
  }
  const figures = medianFigures(runs);
  const paired = median(runs.map((r, i) => r.rps / (restRuns[i] as Figures).rps));
  process.stdout.write(`  gateway @ ${data.segments} segments   ${fmt(figures)}\n`);
  process.stdout.write(`  paired REST windows, same server  ${fmt(medianFigures(restRuns))}\n`);
  if (restRps !== undefined) {
    process.stdout.write(`  ratio: ${((100 * figures.rps) / restRps).toFixed(1)}% of rest-segments req/s in this run (target >= 50%)\n`);
  }
  process.stdout.write(`  paired ratio: ${(100 * paired).toFixed(1)}% (median of the runs' GraphQL / REST req/s)\n`);
}

const GRAPH_FLOWS = 50;
const GRAPH_SEGMENTS = 12;
const GRAPH_QUERY = `query Graph($first: Int!) {
  flows(first: $first) {
    nodes { id label source { id label } segments(first: 10) { nodes { objectId timerange getUrls { url } } } }
  }
}`;

/** 50 video flows, each of its own source, each with 12 segments of registered media objects. */
async function prepareGraphData(): Promise<{ dataDir: string; sources: Map<string, string> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-graph-'));
  const gateway = await createGateway(loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
  const sources = new Map<string, string>();
  try {
    for (let i = 0; i < GRAPH_FLOWS; i++) {
      const flow: Flow = {
        id: crypto.randomUUID(),
        source_id: crypto.randomUUID(),
        label: `bench flow ${i}`,
        format: 'urn:x-nmos:format:video',
        codec: 'video/h264',
        container: 'video/mp2t',
        essence_parameters: { frame_width: 1920, frame_height: 1080 },
      };
      await gateway.store.putFlow(flow, new Date().toISOString());
      await seedSegments(gateway.store, flow.id, GRAPH_SEGMENTS, SEGMENT_NS, {
        storageId: gateway.localObjects.backend.id,
        keyFor: (objectId) => gateway.localObjects.keyFor(objectId),
      });
      sources.set(flow.id, flow.source_id);
    }
  } finally {
    await gateway.close();
  }
  return { dataDir, sources };
}

function storeCallCounts(child: ChildProcess): Promise<Record<string, number>> {
  return new Promise((resolve) => {
    child.once('message', (counts) => resolve(counts as Record<string, number>));
    child.send('counts');
  });
}

/** The event dispatcher reads the outbox once a second whatever the load: not a request's call. */
const TIMER_CALLS = new Set(['readEvents']);

async function graphqlGraph(): Promise<void> {
  process.stdout.write(
    `\ngraphql-graph: POST /graphql flows(first: ${GRAPH_FLOWS}) { nodes { id label source { id label } segments(first: 10) { nodes { objectId timerange getUrls { url } } } } }, 32 connections, ${DURATION} s x ${RUNS} runs (median)\n`,
  );
  const { dataDir, sources } = await prepareGraphData();
  const server = await startServer(['gateway-counted', dataDir]);
  const body = graphqlBody(GRAPH_QUERY, { first: GRAPH_FLOWS });
  const runs: Figures[] = [];
  try {
    const { data } = await graphqlPost(server, body);
    const nodes = (data?.flows?.nodes ?? []) as Json[];
    const complete = nodes.every((n) => n.source?.id === sources.get(n.id) && n.segments.nodes.length === 10 && n.segments.nodes[0].getUrls.length > 0);
    if (nodes.length !== GRAPH_FLOWS || !complete) throw new Error(`graphql-graph: unexpected answer ${JSON.stringify(data).slice(0, 300)}`);

    // Counted one request at a time, so every call in the window belongs to a counted request.
    const samples = 100;
    const before = await storeCallCounts(server.child);
    for (let i = 0; i < samples; i++) await graphqlPost(server, body);
    const after = await storeCallCounts(server.child);
    const perRequest = Object.entries(after)
      .filter(([name]) => !TIMER_CALLS.has(name))
      .map(([name, n]) => [name, (n - (before[name] ?? 0)) / samples] as const)
      .filter(([, n]) => n > 0);
    const total = perRequest.reduce((sum, [, n]) => sum + n, 0);
    process.stdout.write(
      `  store calls per request: ${total.toFixed(2)} (${perRequest.map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')}; mean of ${samples} sequential requests)\n`,
    );

    for (let run = 0; run < RUNS; run++) runs.push(await graphqlLoad('graphql-graph', server, 32, () => body));
  } finally {
    await stopServer(server.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`  gateway                      ${fmt(medianFigures(runs))}\n`);
}

// ---- PostgreSQL: rest-segments-pg, graphql-segments-pg, rest-ingest-pg, two-replicas, explain-pg ----

/** Segments of the big PostgreSQL flow (and of the SQLite flow it is compared with). */
const PG_SEGMENTS = Number(process.env.BENCH_PG_SEGMENTS ?? 10_000_000);
/** Segments of the small PostgreSQL flow the p99 at PG_SEGMENTS is compared with. */
const PG_SMALL_SEGMENTS = 10_000;

let sqliteAtPgSize: Promise<SegmentData> | undefined;
let pgBig: Promise<PgSegmentData> | undefined;

/** The SQLite flow of PG_SEGMENTS segments (rest-segments' own when BENCH_SEGMENTS is the same). */
function sqliteForPg(): Promise<SegmentData> {
  if (PG_SEGMENTS === SEGMENTS) return bigSegmentData();
  sqliteAtPgSize ??= prepareDataDir(PG_SEGMENTS);
  return sqliteAtPgSize;
}

/** The PostgreSQL flow of PG_SEGMENTS segments in its own schema, seeded once and kept for later runs. */
function pgBigData(): Promise<PgSegmentData> {
  pgBig ??= (async () => {
    const data = await preparePgSegmentData(benchSchema(PG_SEGMENTS), PG_SEGMENTS, SEGMENT_NS, false);
    process.stdout.write(`  PostgreSQL ${PG_URL.replace(/\/\/[^@/]*@/, '//')} schema ${data.schema}: segments table ${await segmentsTableSize(data.schema)} with its indexes; shared_buffers ${await sharedBuffers()}\n`);
    return data;
  })();
  return pgBig;
}

/** CPU time so far of every PostgreSQL server process on this host (ns; 0 when none is visible). */
function postgresCpuNs(): number {
  let total = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      total += serverCpuNs(Number(entry));
    } catch {
      // A process that ended between the listing and the read.
    }
  }
  return total;
}

type CpuFigures = Figures & { cpuUs: number; dbUs: number };

/** A load with the CPU per answered request of the gateway processes `servers` and of PostgreSQL (connections that end meanwhile are not counted). */
async function withCpu(servers: Server[], run: () => Promise<Figures>): Promise<CpuFigures> {
  const pids = servers.map((s) => s.child.pid as number);
  const before = pids.map((pid) => serverCpuNs(pid));
  const dbBefore = postgresCpuNs();
  const figures = await run();
  const gatewayNs = pids.reduce((sum, pid, i) => sum + serverCpuNs(pid) - (before[i] as number), 0);
  const requests = Math.max(1, figures.requests);
  return { ...figures, cpuUs: gatewayNs / 1000 / requests, dbUs: (postgresCpuNs() - dbBefore) / 1000 / requests };
}

function cpuText(runs: CpuFigures[], db: boolean): string {
  return `  CPU/request: gateway ${median(runs.map((r) => r.cpuUs)).toFixed(0)} µs${db ? `, PostgreSQL ${median(runs.map((r) => r.dbUs)).toFixed(0)} µs` : ''}`;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const times = (x: number): string => `${x.toFixed(2)}x`;

/**
 * Runs each target RUNS times, the order rotated run by run (on a shared machine the load of
 * other work drifts between scenarios, much less within one round).
 */
async function rotate(targets: (() => Promise<CpuFigures>)[]): Promise<CpuFigures[][]> {
  const runs: CpuFigures[][] = targets.map(() => []);
  for (let run = 0; run < RUNS; run++) {
    for (let k = 0; k < targets.length; k++) {
      const i = (k + run) % targets.length;
      (runs[i] as CpuFigures[]).push(await (targets[i] as () => Promise<CpuFigures>)());
    }
  }
  return runs;
}

/** The timeranges of one window page, which both stores must answer alike (their object ids differ: each names its flow). */
async function windowTimeranges(server: Server, data: { flowId: string }, timerange: string): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${server.port}${windowPath(data.flowId, timerange)}`, { headers: server.headers });
  const page = (await res.json()) as Json[];
  if (res.status !== 200 || page.length !== 30) throw new Error(`window page: ${res.status} ${JSON.stringify(page).slice(0, 200)}`);
  return page.map((s) => s.timerange as string);
}

async function sameWindows(servers: [Server, SegmentData][], segments: number): Promise<void> {
  const timerange = randomWindow(segments);
  const pages = await Promise.all(servers.map(([server, data]) => windowTimeranges(server, data, timerange)));
  if (!pages.every((p) => JSON.stringify(p) === JSON.stringify(pages[0]))) throw new Error(`the stores answer ${timerange} differently: ${JSON.stringify(pages).slice(0, 300)}`);
}

/**
 * rest-segments-pg: rest-segments' window query on PostgreSQL over PG_SEGMENTS segments, its
 * runs rotating with a SQLite gateway over as many and a PostgreSQL gateway over 10,000. Returns
 * the PostgreSQL figures at PG_SEGMENTS (graphql-segments-pg compares with them).
 */
async function restSegmentsPg(): Promise<Figures> {
  process.stdout.write(
    `\nrest-segments-pg: GET /flows/{id}/segments?timerange=<random 30-segment window>&limit=30, 32 connections, ${DURATION} s x ${RUNS} runs (median), ` +
      `PostgreSQL @ ${PG_SEGMENTS} and @ ${PG_SMALL_SEGMENTS} segments rotating with SQLite @ ${PG_SEGMENTS}\n`,
  );
  const sqlite = await sqliteForPg();
  const pg = await pgBigData();
  const small = await preparePgSegmentData(benchSchema(PG_SMALL_SEGMENTS), PG_SMALL_SEGMENTS, SEGMENT_NS, true);
  const servers: Server[] = [];
  let runs: CpuFigures[][];
  try {
    const sqliteServer = await startServer(['gateway', sqlite.dataDir], sqlite.env);
    servers.push(sqliteServer);
    const pgServer = await startServer(['gateway', pg.dataDir], pg.env);
    servers.push(pgServer);
    const smallServer = await startServer(['gateway', small.dataDir], small.env);
    servers.push(smallServer);
    await sameWindows([[sqliteServer, sqlite], [pgServer, pg]], PG_SEGMENTS);
    if (WARMUP > 0) {
      await restWindowLoad(sqliteServer, sqlite, WARMUP);
      await restWindowLoad(pgServer, pg, WARMUP);
      await restWindowLoad(smallServer, small, WARMUP);
    }
    runs = await rotate([
      () => withCpu([sqliteServer], () => restWindowLoad(sqliteServer, sqlite)),
      () => withCpu([pgServer], () => restWindowLoad(pgServer, pg)),
      () => withCpu([smallServer], () => restWindowLoad(smallServer, small)),
    ]);
    await sameWindows([[sqliteServer, sqlite], [pgServer, pg]], PG_SEGMENTS);
  } finally {
    for (const server of servers) await stopServer(server.child);
    fs.rmSync(small.dataDir, { recursive: true, force: true });
    await dropSchema(small.schema);
  }
  const [sqliteRuns, pgRuns, smallRuns] = runs as [CpuFigures[], CpuFigures[], CpuFigures[]];
  const [sq, big, sm] = [medianFigures(sqliteRuns), medianFigures(pgRuns), medianFigures(smallRuns)];
  const rpsPairs = pgRuns.map((r, i) => r.rps / (sqliteRuns[i] as Figures).rps);
  const growthPairs = pgRuns.map((r, i) => r.p99 / Math.max(1, (smallRuns[i] as Figures).p99));
  process.stdout.write(`  SQLite @ ${PG_SEGMENTS} segments       ${fmt(sq)}${cpuText(sqliteRuns, false)}\n`);
  process.stdout.write(`  PostgreSQL @ ${PG_SEGMENTS} segments   ${fmt(big)}${cpuText(pgRuns, true)}\n`);
  process.stdout.write(`  PostgreSQL @ ${PG_SMALL_SEGMENTS} segments      ${fmt(sm)}${cpuText(smallRuns, true)}\n`);
  process.stdout.write(`  requests/s PostgreSQL / SQLite @ ${PG_SEGMENTS}: ${pct(big.rps / sq.rps)} (target >= 60%); paired: ${pct(median(rpsPairs))} (${rpsPairs.map(pct).join(' / ')})\n`);
  process.stdout.write(
    `  p99 PostgreSQL @ ${PG_SEGMENTS} vs @ ${PG_SMALL_SEGMENTS}: ${times(big.p99 / Math.max(1, sm.p99))} (target <= 1.5x); paired: ${times(median(growthPairs))} (${growthPairs.map(times).join(' / ')})\n`,
  );
  process.stdout.write(`  p99 PostgreSQL / SQLite @ ${PG_SEGMENTS}: ${times(big.p99 / Math.max(1, sq.p99))}\n`);
  process.stdout.write(`  (${os.cpus().length} cores shared by the load generator, the gateway under load and PostgreSQL: PostgreSQL's own CPU per request comes out of the gateway's share)\n`);
  await explainPg();
  return big;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the window query the adapter runs, on the big flow. */
async function explainPg(): Promise<void> {
  const pg = await pgBigData();
  process.stdout.write(`\nexplain-pg: the window statement listSegments runs for the second page (keyset cursor) of a 60-segment window, limit 30 (31 rows asked), PostgreSQL @ ${pg.segments} segments\n`);
  process.stdout.write(`${(await explainWindow(pg, SEGMENT_NS)).replace(/^/gm, '  ')}\n`);
}

/** graphql-segments-pg: graphql-segments' query on PostgreSQL @ PG_SEGMENTS rotating with SQLite @ PG_SEGMENTS. */
async function graphqlSegmentsPg(pgRest: Figures | undefined): Promise<void> {
  process.stdout.write(
    `\ngraphql-segments-pg: graphql-segments' query (random 30-segment window, first: 30), 32 connections, ${DURATION} s x ${RUNS} runs (median), PostgreSQL rotating with SQLite, both @ ${PG_SEGMENTS} segments\n`,
  );
  const sqlite = await sqliteForPg();
  const pg = await pgBigData();
  const servers: Server[] = [];
  let runs: CpuFigures[][];
  const graphqlRun = (server: Server, data: SegmentData, duration = DURATION): Promise<Figures> =>
    graphqlLoad(`GraphQL windows (${data.env.TAMS_STORE ?? 'sqlite'})`, server, 32, () => graphqlBody(WINDOW_QUERY, { flowId: data.flowId, timerange: randomWindow(data.segments) }), duration);
  try {
    const sqliteServer = await startServer(['gateway', sqlite.dataDir], sqlite.env);
    servers.push(sqliteServer);
    const pgServer = await startServer(['gateway', pg.dataDir], pg.env);
    servers.push(pgServer);
    await checkWindowAgainstRest(pgServer, pg);
    await checkWindowAgainstRest(sqliteServer, sqlite);
    if (WARMUP > 0) {
      await graphqlRun(sqliteServer, sqlite, WARMUP);
      await graphqlRun(pgServer, pg, WARMUP);
    }
    runs = await rotate([() => withCpu([sqliteServer], () => graphqlRun(sqliteServer, sqlite)), () => withCpu([pgServer], () => graphqlRun(pgServer, pg))]);
    await checkWindowAgainstRest(pgServer, pg);
  } finally {
    for (const server of servers) await stopServer(server.child);
  }
  const [sqliteRuns, pgRuns] = runs as [CpuFigures[], CpuFigures[]];
  const [sq, big] = [medianFigures(sqliteRuns), medianFigures(pgRuns)];
  const pairs = pgRuns.map((r, i) => r.rps / (sqliteRuns[i] as Figures).rps);
  process.stdout.write(`  SQLite @ ${PG_SEGMENTS} segments       ${fmt(sq)}${cpuText(sqliteRuns, false)}\n`);
  process.stdout.write(`  PostgreSQL @ ${PG_SEGMENTS} segments   ${fmt(big)}${cpuText(pgRuns, true)}\n`);
  process.stdout.write(`  requests/s PostgreSQL / SQLite: ${pct(big.rps / sq.rps)} (target >= 60%); paired: ${pct(median(pairs))} (${pairs.map(pct).join(' / ')})\n`);
  process.stdout.write(`  p99 PostgreSQL / SQLite: ${times(big.p99 / Math.max(1, sq.p99))}\n`);
  if (pgRest !== undefined) process.stdout.write(`  PostgreSQL GraphQL / REST (rest-segments-pg above): ${pct(big.rps / pgRest.rps)}\n`);
}

/** rest-ingest-pg: rest-ingest on PostgreSQL and on SQLite, two gateways whose runs alternate. */
async function restIngestPg(): Promise<void> {
  const batch = INGEST_BATCH;
  process.stdout.write(
    `\nrest-ingest-pg: rest-ingest (arrays of ${batch} segments, ${INGEST_CONNECTIONS} connections, ${DURATION} s x ${RUNS} runs, median) on PostgreSQL (schema ${PG_INGEST_SCHEMA}, made afresh) ` +
      `alternating with SQLite; object ids allocated before each run, outside its time\n`,
  );
  const stores: [string, IngestData][] = [];
  const targets: IngestTarget[] = [];
  const rates: number[][] = [[], []];
  const p99s: number[][] = [[], []];
  try {
    stores.push(['SQLite', await sqliteIngestData()], ['PostgreSQL', await postgresIngestData()]);
    for (const [, data] of stores) targets.push(await startIngest(data));
    if (WARMUP > 0) {
      for (const [i, target] of targets.entries()) {
        const f = await target.run(`rest-ingest ${stores[i]?.[0]} warm-up`, WARMUP, true);
        process.stdout.write(`  ${stores[i]?.[0]} warm-up (${WARMUP} s, not reported): ${(f.rps * batch).toFixed(0)} segments/s\n`);
      }
    }
    for (let run = 0; run < RUNS; run++) {
      for (let k = 0; k < targets.length; k++) {
        const i = (k + run) % targets.length;
        const name = stores[i]?.[0] as string;
        const f = await (targets[i] as IngestTarget).run(`rest-ingest ${name} run ${run + 1}`, DURATION);
        (rates[i] as number[]).push(f.rps * batch);
        (p99s[i] as number[]).push(f.p99);
        process.stdout.write(`  ${name} run ${run + 1}: ${(f.rps * batch).toFixed(0)} segments/s (p50 ${f.p50} ms, p99 ${f.p99} ms per batch)${stealText(f.steal)}\n`);
      }
    }
    for (const target of targets) await target.finish();
  } finally {
    for (const target of targets) await target.stop();
    for (const [, data] of stores) await data.cleanup();
  }
  const [sq, pg] = [median(rates[0] as number[]), median(rates[1] as number[])];
  const pairs = (rates[1] as number[]).map((r, i) => r / ((rates[0] as number[])[i] as number));
  process.stdout.write(`  SQLite median:     ${sq.toFixed(0)} segments/s (p99 ${median(p99s[0] as number[])} ms per batch)\n`);
  process.stdout.write(`  PostgreSQL median: ${pg.toFixed(0)} segments/s (p99 ${median(p99s[1] as number[])} ms per batch)\n`);
  process.stdout.write(`  PostgreSQL / SQLite: ${pct(pg / sq)} (target >= 50%); paired: ${pct(median(pairs))} (${pairs.map(pct).join(' / ')})\n`);
}

/**
 * two-replicas: the rest-segments-pg window query over two gateway replicas on one PostgreSQL
 * schema (16 connections each, loaded at once) against one replica (32 connections), the two
 * alternating run by run; totals of requests/s, the worse replica's p99.
 */
async function twoReplicas(): Promise<void> {
  process.stdout.write(
    `\ntwo-replicas: the rest-segments-pg window query @ ${PG_SEGMENTS} segments (PostgreSQL), one replica with 32 connections against two replicas on the same schema with 16 each, ${DURATION} s x ${RUNS} runs (median)\n`,
  );
  const pg = await pgBigData();
  const servers: Server[] = [];
  let runs: CpuFigures[][];
  try {
    const a = await startServer(['gateway', pg.dataDir], pg.env);
    servers.push(a);
    const b = await startServer(['gateway', pg.dataDir], pg.env);
    servers.push(b);
    const half = (server: Server, duration = DURATION): Promise<Figures> =>
      load(`REST windows on one of two replicas`, {
        url: `http://127.0.0.1:${server.port}`,
        headers: server.headers,
        connections: 16,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: windowPath(pg.flowId, randomWindow(pg.segments)) }) }],
      }, duration);
    const both = async (duration = DURATION): Promise<Figures> => {
      const [fa, fb] = await Promise.all([half(a, duration), half(b, duration)]);
      return {
        rps: fa.rps + fb.rps,
        requests: fa.requests + fb.requests,
        p50: Math.max(fa.p50, fb.p50),
        p99: Math.max(fa.p99, fb.p99),
        errors: fa.errors + fb.errors,
        non2xx: fa.non2xx + fb.non2xx,
        wrong: fa.wrong + fb.wrong,
        ...(fa.steal === undefined || fb.steal === undefined ? {} : { steal: Math.max(fa.steal, fb.steal) }),
      };
    };
    // A token of one replica verifies on the other (one embedded key), and both list alike.
    await sameWindows([[a, pg], [{ ...b, headers: a.headers }, pg]], pg.segments);
    if (WARMUP > 0) {
      await restWindowLoad(a, pg, WARMUP);
      await both(WARMUP);
    }
    runs = await rotate([() => withCpu([a], () => restWindowLoad(a, pg)), () => withCpu([a, b], () => both())]);
  } finally {
    for (const server of servers) await stopServer(server.child);
  }
  const [oneRuns, twoRuns] = runs as [CpuFigures[], CpuFigures[]];
  const [one, two] = [medianFigures(oneRuns), medianFigures(twoRuns)];
  const pairs = twoRuns.map((r, i) => r.rps / (oneRuns[i] as Figures).rps);
  process.stdout.write(`  one replica, 32 connections        ${fmt(one)}${cpuText(oneRuns, true)}\n`);
  process.stdout.write(`  two replicas, 16 connections each  ${fmt(two)}${cpuText(twoRuns, true)} (requests/s summed; p50 and p99 the worse replica's)\n`);
  process.stdout.write(
    `  two / one: requests/s ${pct(two.rps / one.rps)}, paired ${pct(median(pairs))} (${pairs.map(pct).join(' / ')}); p99 ${times(two.p99 / Math.max(1, one.p99))}\n`,
  );
  process.stdout.write(
    `  NOTE: this host has ${os.cpus().length} cores, shared by the load generator, every replica and PostgreSQL: a second replica here adds a process competing for the same cores, ` +
      `so this measures the overhead of running two (more processes, connections and context switches), not the speed-up replicas give on hosts of their own\n`,
  );
}

/** Pages rest-segments-vast reads forward (and a quarter as many reversed, a twentieth as many 150-segment windows walked by their next keys). */
const VAST_PAGES = Number(process.env.BENCH_VAST_PAGES ?? 100);

/** Mean, p50, p99 and max of one figure over pages. */
function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return `mean ${(values.reduce((a, b) => a + b, 0) / values.length).toFixed(1)} p50 ${at(0.5)} p99 ${at(0.99)} max ${at(1)}`;
}

/**
 * rest-segments-vast: the rest-segments window listing on a gateway with TAMS_STORE=vast over the
 * fake VAST server in this process (bench/vast-data.ts seeds BENCH_SEGMENTS segments), sequential
 * pages; from the fake's request log, what each page cost in VAST requests, bytes and rows.
 */
async function restSegmentsVast(): Promise<void> {
  process.stdout.write(
    `\nrest-segments-vast: GET /flows/{id}/segments pages of 30 (limit=30), one at a time, on TAMS_STORE=vast over the fake VAST server (this process) @ ${SEGMENTS} segments: ` +
      `VAST round trips, bytes and rows per page; no requests/s (against the fake it would measure the fake, which scans every row of a table per select)\n`,
  );
  const data = await prepareVastSegmentData(SEGMENTS, SEGMENT_NS);
  process.stdout.write(`  seeded ${SEGMENTS} segments through the VAST client in ${data.seedSeconds.toFixed(1)} s (${(SEGMENTS / data.seedSeconds).toFixed(0)}/s)\n`);
  const kinds = new Map<string, { costs: VastPageCost[]; answerBytes: number[] }>();
  let example = '';
  let background = 0;
  try {
    const server = await startServer(['gateway', data.dataDir], data.env);
    try {
      const page = async (kind: string, query: string, expected: number, firstTimerange?: string): Promise<string | undefined> => {
        const from = data.fake.log.length;
        const res = await fetch(`http://127.0.0.1:${server.port}/flows/${data.flowId}/segments?${query}`, { headers: server.headers });
        const body = await res.text();
        const items = res.status === 200 ? (JSON.parse(body) as Json[]) : [];
        if (items.length !== expected || (firstTimerange !== undefined && items[0]?.timerange !== firstTimerange)) {
          throw new Error(`rest-segments-vast: ${query}: ${res.status}, ${items.length} segments (want ${expected}${firstTimerange === undefined ? '' : `, first ${firstTimerange}`}): ${body.slice(0, 200)}`);
        }
        const entry = kinds.get(kind) ?? { costs: [], answerBytes: [] };
        kinds.set(kind, entry);
        entry.costs.push(vastCostSince(data.fake, from));
        background += backgroundRequestsSince(data.fake, from);
        entry.answerBytes.push(Buffer.byteLength(body));
        if (example === '') example = vastRequestsSince(data.fake, from);
        return res.headers.get('x-paging-nextkey') ?? undefined;
      };
      const seconds = (segment: number): bigint => (BigInt(segment) * SEGMENT_NS) / 1_000_000_000n;
      const window = (first: number, count: number): string => `[${seconds(first)}:0_${seconds(first + count)}:0)`;
      const at = (count: number): number => Math.floor(Math.random() * (SEGMENTS - count));
      const tr = (timerange: string): string => `timerange=${encodeURIComponent(timerange)}&limit=30`;
      for (let i = 0; i < VAST_PAGES; i++) {
        const first = at(30);
        await page('forward, random 30-segment window', tr(window(first, 30)), 30, window(first, 1));
      }
      for (let i = 0; i < Math.ceil(VAST_PAGES / 4); i++) {
        const first = at(30);
        await page('reverse_order, random 30-segment window', `${tr(window(first, 30))}&reverse_order=true`, 30, window(first + 29, 1));
      }
      for (let w = 0; w < Math.ceil(VAST_PAGES / 20); w++) {
        const first = at(150);
        let next: string | undefined;
        for (let p = 0; p < 5; p++) {
          const query = `${tr(window(first, 150))}${next === undefined ? '' : `&page=${encodeURIComponent(next)}`}`;
          next = await page(p < 4 ? '150-segment window, pages 1-4 (next key followed)' : '150-segment window, last page', query, 30, window(first + 30 * p, 1));
          if ((next === undefined) !== (p === 4)) throw new Error(`rest-segments-vast: page ${p + 1} of 5 of ${window(first, 150)} ${next === undefined ? 'has no' : 'has a'} next key`);
        }
      }
      for (let i = 0; i < 5; i++) await page('reverse_order, no timerange (the flow\'s latest 30)', 'limit=30&reverse_order=true', 30, window(SEGMENTS - 1, 1));
    } finally {
      await stopServer(server.child);
    }
  } finally {
    await data.close();
  }
  process.stdout.write(`  one page's VAST requests: ${example}\n`);
  process.stdout.write(`  left out: ${background} VAST requests the gateway's pollers (outbox, retention, webhook deliveries, deletion requests) made in their own transactions meanwhile\n`);
  process.stdout.write(`  per page (request and answer BODIES to/from VAST; headers, signatures included, are not counted):\n`);
  for (const [kind, { costs, answerBytes }] of kinds) {
    process.stdout.write(
      `  ${kind}: ${costs.length} pages\n` +
        `    round trips ${spread(costs.map((c) => c.roundTrips))}; selects ${spread(costs.map((c) => c.selects))}; rows read ${spread(costs.map((c) => c.rowsRead))}\n` +
        `    bytes to VAST ${spread(costs.map((c) => c.requestBytes))}; from VAST ${spread(costs.map((c) => c.responseBytes))}; gateway's answer ${spread(answerBytes)}\n`,
    );
  }
  for (const line of VAST_DENORMALISED) process.stdout.write(`  ${line}\n`);
}

async function main(): Promise<void> {
  process.stdout.write(`bench on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString()}\n`);
  try {
    const rest = SCENARIOS.includes('rest-segments') ? await restSegments() : undefined;
    // Right after rest-segments, on the same data, so the two rates are comparable.
    if (SCENARIOS.includes('graphql-segments')) await graphqlSegments(rest?.rps);
    if (SCENARIOS.includes('rest-segments-s3')) await restSegmentsS3(rest);
    if (SCENARIOS.includes('rest-ingest')) await restIngest();
    const pgRest = SCENARIOS.includes('rest-segments-pg') ? await restSegmentsPg() : undefined;
    if (SCENARIOS.includes('graphql-segments-pg')) await graphqlSegmentsPg(pgRest);
    if (SCENARIOS.includes('rest-ingest-pg')) await restIngestPg();
    if (SCENARIOS.includes('two-replicas')) await twoReplicas();
    if (SCENARIOS.includes('explain-pg')) await explainPg();
    if (SCENARIOS.includes('rest-segments-vast')) await restSegmentsVast();
    if (SCENARIOS.includes('explorer-paint')) await explorerPaintScenario();
    if (SCENARIOS.includes('graphql-graph')) await graphqlGraph();
    if (SCENARIOS.includes('subscriptions-fanout')) await subscriptionsFanoutScenario();
    if (SCENARIOS.includes('graphql-hostile')) await graphqlHostileScenario();
    if (SCENARIOS.includes('presign')) await presignScenario();
    if (SCENARIOS.includes('webhook-throughput')) await webhookThroughputScenario();
    if (SCENARIOS.includes('delete-throughput')) await deleteThroughputScenario();
  } finally {
    if (sharedData) fs.rmSync((await sharedData).dataDir, { recursive: true, force: true });
    if (sqliteAtPgSize) fs.rmSync((await sqliteAtPgSize).dataDir, { recursive: true, force: true });
    // The big schema stays for later runs; its data dir (secrets, key) is this run's.
    if (pgBig) fs.rmSync((await pgBig).dataDir, { recursive: true, force: true });
  }
  if (problems.length > 0) {
    process.stderr.write(`bench failed: ${problems.length} load(s) had wrong answers, so their figures do not count:\n${problems.map((p) => `  ${p}\n`).join('')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
