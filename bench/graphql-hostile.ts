/**
 * `graphql-hostile`: what hostile GraphQL operations cost the server. For each shape, the
 * server's CPU time per request (read from the server process: the first field of
 * /proc/<pid>/task/<tid>/schedstat, nanoseconds on CPU, summed over its threads, so GC and
 * libuv helper threads count; /proc/<pid>/stat ticks where schedstat is missing) beside the
 * CPU of the one-field query `{ service { name } }` measured just before on the same gateway;
 * then the server's RSS before and after 10,000 distinct operation texts.
 *
 * Every shape gets a fresh gateway process (on one small seeded store), warmed with the
 * one-field query, so what a shape leaves behind (a heap grown by its documents, caches full
 * of them) does not weigh on the next shape's figure. Every request of a shape sends a text
 * the server has not seen (a `# n` comment), so no cache helps: an accepted shape runs its
 * first run each time (parse, validation, graphql-js execution, never a graphql-jit compile),
 * a refused one is parsed and checked by the operation guard each time. The one-field query
 * repeats one text: the steady state (prepared-query path). Every answer is checked: refused
 * shapes must get 400 QUERY_TOO_COMPLEX, accepted ones 200 with data and no errors; anything
 * else fails the scenario once its figures are printed.
 *
 * Targets: a refused shape at most 3x the one-field query's CPU; an accepted shape's first run
 * at most 20x; RSS growth at most 100 MB.
 *
 * Standalone: `node dist/bench/graphql-hostile.js`. Environment: BENCH_HOSTILE_SECONDS (time
 * bound of each measured batch, default 5), BENCH_HOSTILE_REQUESTS (most requests in a batch,
 * default 1000), BENCH_HOSTILE_CONNECTIONS (requests at a time, default 4),
 * BENCH_HOSTILE_TEXTS (distinct texts of the RSS phase, default 10000).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { getIntrospectionQuery } from 'graphql';
import { loadConfig } from '../src/config';
import { createGateway } from '../src/main';
import { seedSegments } from '../src/adapters/sqlite/seed';
import type { Flow } from '../src/domain/entities';
import { type Server, startServer, stopServer } from './server-launch';

const SECONDS = Number(process.env.BENCH_HOSTILE_SECONDS ?? 5);
const REQUESTS = Number(process.env.BENCH_HOSTILE_REQUESTS ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_HOSTILE_CONNECTIONS ?? 4);
const TEXTS = Number(process.env.BENCH_HOSTILE_TEXTS ?? 10_000);
/** Unmeasured requests of each shape before its batch: the server's code for that path warmed up. */
const SHAPE_WARMUP = 20;
const REFUSED_TARGET = 3;
const ACCEPTED_TARGET = 20;
const RSS_TARGET_MB = 100;
const SEGMENT_NS = 2_000_000_000n;

// ---------------------------------------------------------------------------------------------
// The server's CPU time and memory, from /proc.

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`, normally 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Where the CPU figures come from, for the header line. */
let cpuSource = 'schedstat';

/**
 * Nanoseconds the process `pid` has been on CPU, all its threads: the sum of each thread's
 * /proc/<pid>/task/<tid>/schedstat first field (ns), or, where schedstat is missing,
 * utime + stime of /proc/<pid>/stat in clock ticks (10 ms steps at 100 Hz).
 */
export function serverCpuNs(pid: number): number {
  try {
    let total = 0;
    let read = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const first = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
        if (Number.isFinite(first)) {
          total += first;
          read++;
        }
      } catch {
        // A thread that ended between the listing and the read.
      }
    }
    if (read > 0 && total > 0) return total;
  } catch {
    // No per-thread schedstat: the coarser stat below.
  }
  cpuSource = `stat (utime+stime, ${ticksPerSecond()} ticks/s)`;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e9) / ticksPerSecond();
}

/** A field of /proc/<pid>/status in MB (VmRSS, VmHWM). */
function statusMb(pid: number, field: string): number {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  if (line === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(/(\d+)\s*kB/.exec(line)?.[1]) / 1024;
}

// ---------------------------------------------------------------------------------------------
// The shapes.

type Kind = 'refused' | 'accepted' | 'baseline';

interface Shape {
  kind: Kind;
  name: string;
  /** The operation text of the n-th request (distinct for each n, except the baseline's). */
  text: (n: number) => string;
  /** The answer every request must get, when not the kind's usual one (400 QUERY_TOO_COMPLEX, 200). */
  expect?: string;
}

/** A trailing comment: the same operation, a text no cache has seen. */
const distinct = (text: string, n: number): string => `${text}\n# hostile ${n}`;

/**
 * `flows -> nodes -> source -> flows` with `hops` source hops, `first` at every level, `leaf`
 * at the bottom: depth 3 + 3 * hops.
 */
function nestedFlows(hops: number, first: number, leaf: string, fields = 'id'): string {
  let inner = `flows(first: ${first}) { nodes { ${leaf} } }`;
  for (let k = 0; k < hops; k++) inner = `flows(first: ${first}) { nodes { ${fields} source { ${inner} } } }`;
  return inner;
}

/**
 * Inline fragments on all five Flow implementations, each going on through `source { flows }`
 * to the next level's fragment: `levels` such levels below `flows(first: top) { nodes { ... } }`,
 * depth 3 + 3 * levels. Named fragments keep the text linear (written out it would be 5^levels
 * copies); `suffix` renames them and `extra` varies the fields, for distinct texts.
 */
function interfaceFanOut(levels: number, top: number, nested: number, suffix = '', extra = ''): string {
  const fragments = [`fragment L0${suffix} on Flow { id label ${extra} }`];
  for (let k = 1; k <= levels; k++) {
    const next = `source { flows(first: ${nested}) { nodes { ...L${k - 1}${suffix} } } }`;
    fragments.push(
      `fragment L${k}${suffix} on Flow { id` +
        ` ... on VideoFlow { frameWidth frameHeight ${next} }` +
        ` ... on AudioFlow { sampleRate channels ${next} }` +
        ` ... on ImageFlow { frameWidth ${next} }` +
        ` ... on DataFlow { dataType ${next} }` +
        ` ... on MultiFlow { collection { role } ${next} } }`,
    );
  }
  return `query FanOut${suffix} { flows(first: ${top}) { nodes { ...L${levels}${suffix} } } }\n${fragments.join('\n')}`;
}

function aliases(count: number, field: (i: number) => string): string {
  return `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field(i)}`).join(' ')} }`;
}

/** Twelve fragments, each spreading the one before three times: exponential when expanded. */
function fragmentBomb(): string {
  const fragments = ['fragment F0 on Flow { id label }'];
  for (let k = 1; k <= 11; k++) {
    fragments.push(`fragment F${k} on Flow { ...F${k - 1} source { flows(first: 1) { nodes { ...F${k - 1} ...F${k - 1} } } } }`);
  }
  return `{ flows(first: 1) { nodes { ...F11 } } }\n${fragments.join('\n')}`;
}

const MEGABYTE_LITERAL = 'x'.repeat(1024 * 1024);
const LONG_LITERAL = 'x'.repeat(200_000);
/** How long the RSS phase waits, idle, for V8 to give back the heap the flood grew. */
const SETTLE_SECONDS = 45;
/** Bodies larger than this are sent on a connection of their own (see postOnce). */
const OWN_CONNECTION_BYTES = 512 * 1024;

const BASELINE: Shape = { kind: 'baseline', name: 'one-field { service { name } }', text: () => '{ service { name } }' };

function shapes(): Shape[] {
  const bomb = fragmentBomb();
  const deep = `{ ${nestedFlows(8, 1, 'id')} }`;
  const pages = 'query($f: Int = 1000) { flows(first: $f) { nodes { segments(first: $f) { nodes { objectId } } } } }';
  const introspectionDeep = '{ __type(name: "Query") { fields { type { fields { type { fields { type { fields { name } } } } } } } } }';
  const aliases31 = aliases(31, () => 'flows(first: 1000) { nodes { id } }');
  const sameField = `{ service { ${Array.from({ length: 3000 }, () => 'name').join(' ')} } }`;
  const fanOut = interfaceFanOut(4, 1, 2);
  const deepest = `{ ${nestedFlows(4, 2, 'id label')} }`;
  const aliases30 = aliases(30, () => 'flows(first: 10) { nodes { id label } }');
  const introspection = getIntrospectionQuery();
  return [
    { kind: 'refused', name: '(a) flows>nodes>source x8, depth 27', text: (n) => distinct(deep, n) },
    { kind: 'refused', name: '(b) fragments F0..F11, 3 spreads each', text: (n) => distinct(bomb, n) },
    { kind: 'refused', name: '(c) $f: Int = 1000 flows x segments', text: (n) => distinct(pages, n) },
    { kind: 'refused', name: '(d) __type fields>type x4 introspection', text: (n) => distinct(introspectionDeep, n) },
    { kind: 'refused', name: '(e) 31 aliases of flows(first: 1000)', text: (n) => distinct(aliases31, n) },
    { kind: 'refused', name: '(f) service { name x 3000 }', text: (n) => distinct(sameField, n) },
    // Over GRAPHQL_MAX_BODY_BYTES: 413 from the Content-Length, the body never read.
    { kind: 'refused', name: '(g) 1 MB string literal', text: (n) => `# hostile ${n}\n{ flow(id: "${MEGABYTE_LITERAL}") { id } }`, expect: '413' },
    // Under the body limit, over GRAPHQL_MAX_CHARACTERS: read and refused unparsed.
    { kind: 'refused', name: '(g2) 200 KB string literal', text: (n) => `# hostile ${n}\n{ flow(id: "${LONG_LITERAL}") { id } }` },
    { kind: 'accepted', name: '(h) 5-type inline fan-out, depth 15', text: (n) => distinct(fanOut, n) },
    { kind: 'accepted', name: '(i) flows>nodes>source x4, depth 15', text: (n) => distinct(deepest, n) },
    { kind: 'accepted', name: '(j) 30 aliases of flows(first: 10)', text: (n) => distinct(aliases30, n) },
    { kind: 'accepted', name: '(k) getIntrospectionQuery()', text: (n) => distinct(introspection, n) },
  ];
}

// ---------------------------------------------------------------------------------------------
// Texts of the RSS phase: 10,000 distinct operations of about 200-2,000 characters, accepted
// and refused, varied in names, aliases, field choice and order.

const FLOW_FIELDS = ['id', 'label', 'format', 'codec', 'container', 'sourceId', 'readOnly', 'created', 'description', 'tags', 'status', 'maxBitRate'];
const SOURCE_FIELDS = ['id', 'label', 'format', 'description', 'created', 'updated', 'tags'];

/** `count` of `from` starting at a place that depends on `i`, in an order that does too. */
function pick(from: readonly string[], i: number, count: number): string {
  const picked: string[] = [];
  for (let k = 0; k < count; k++) picked.push(from[(i * 7 + k * (1 + (i % 5))) % from.length] as string);
  return [...new Set(picked)].join(' ');
}

const flowFields = (i: number, count: number): string => pick(FLOW_FIELDS, i, count);

interface VariedText {
  text: string;
  refused: boolean;
}

function variedText(i: number): VariedText {
  switch (i % 10) {
    case 0: {
      const count = 3 + (i % 28);
      const body = Array.from({ length: count }, (_, j) => `f${i}_${j}: flows(first: ${1 + ((i + j) % 10)}) { nodes { ${flowFields(i + j, 2 + (j % 4))} } }`);
      return { text: `query A${i} { ${body.join(' ')} }`, refused: false };
    }
    case 1:
      return { text: `query N${i} { ${nestedFlows(1 + (i % 4), 1 + (i % 2), flowFields(i, 3), flowFields(i + 1, 2))} }`, refused: false };
    case 2:
      return { text: interfaceFanOut(2 + (i % 3), 1, 2, `_${i}`, flowFields(i, 2)), refused: false };
    case 3:
      return {
        text: `query S${i} { flows(first: ${1 + (i % 7)}) { nodes { ${flowFields(i, 4)} segments(first: ${1 + (i % 20)}) { nodes { objectId timerange ${i % 2 === 0 ? 'getUrls { url }' : 'keyFrameCount'} } } } } sources(first: 5) { nodes { ${pick(SOURCE_FIELDS, i, 4)} } } }`,
        refused: false,
      };
    case 4:
      return { text: `query P${i} { service { name description apiVersion } flow(id: "${randomUUID()}") { ${flowFields(i, 6)} source { id label format } } me { subject scopes } }`, refused: false };
    case 5: {
      const body = Array.from({ length: 31 }, (_, j) => `r${i}_${j}: flows(first: ${1 + (j % 10)}) { nodes { ${flowFields(i + j, 1)} } }`);
      return { text: `query R${i} { ${body.join(' ')} }`, refused: true };
    }
    case 6:
      return { text: `query D${i} { ${nestedFlows(5 + (i % 4), 1, flowFields(i, 3), flowFields(i + 3, 2))} }`, refused: true };
    case 7:
      return { text: `query G${i} { flows(first: ${1001 + i}) { nodes { ${flowFields(i, 12)} segments(first: 10) { nodes { objectId timerange keyFrameCount } } } pageInfo { hasNextPage } } }`, refused: true };
    case 8:
      return { text: `query M${i} { service { ${Array.from({ length: 51 + (i % 150) }, () => 'name').join(' ')} } }`, refused: true };
    default:
      return { text: `query Q${i} { flows(first: ${1 + (i % 50)}, reverse: ${i % 2 === 0}) { nodes { ${flowFields(i, 5)} source { ${pick(SOURCE_FIELDS, i + 2, 4)} } } pageInfo { hasNextPage } } service { name } }`, refused: false };
  }
}

// ---------------------------------------------------------------------------------------------
// Requests.

interface Outcomes {
  /** Requests answered, by what they got: `400 QUERY_TOO_COMPLEX`, `200`, `200 <error code>`... */
  seen: Map<string, number>;
  /** Answers that were not what the request should get (a few, for the error). */
  wrong: string[];
  done: number;
}

/** What an answer is: status, and the first error's code if it has errors. */
function outcomeOf(status: number, body: string): { label: string; ok200: boolean; code: string | undefined } {
  let parsed: { data?: unknown; errors?: { extensions?: { code?: string } }[] } | undefined;
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const code = parsed?.errors?.[0]?.extensions?.code ?? (parsed?.errors !== undefined ? 'error' : undefined);
  const ok200 = status === 200 && parsed !== undefined && parsed.errors === undefined && typeof parsed.data === 'object' && parsed.data !== null;
  return { label: code === undefined ? String(status) : `${status} ${code}`, ok200, code };
}

function expectedLabel(shape: Shape): string {
  return shape.expect ?? (shape.kind === 'refused' ? '400 QUERY_TOO_COMPLEX' : '200');
}

/** A response as the batch reads it. */
interface Answered {
  status: number;
  text: () => Promise<string>;
}

/**
 * One POST. A body over the server's limit (GRAPHQL_MAX_BODY_BYTES) is answered 413 from its
 * Content-Length and the connection closed with the rest unread, which fails a fetch() still
 * writing it; such bodies go on a connection of their own (`Connection: close`), and an error
 * after the answer arrived (the unread rest) is not a failure.
 */
async function postOnce(url: string, headers: Record<string, string>, body: string): Promise<Answered> {
  if (Buffer.byteLength(body) <= OWN_CONNECTION_BYTES) return fetch(url, { method: 'POST', headers, body });
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = http.request(url, { method: 'POST', agent: false, headers: { ...headers, connection: 'close', 'content-length': Buffer.byteLength(body) } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: async () => Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    request.on('error', (err) => {
      if (!answered) reject(err);
    });
    request.end(body);
  });
}

/**
 * Sends `count` requests (or as many as `seconds` allow) of `next(n)`'s texts, `CONNECTIONS`
 * at a time, checking each answer: 400 QUERY_TOO_COMPLEX when `next` says refused, else 200
 * with data and no errors.
 */
async function batch(server: Server, count: number, seconds: number, next: (n: number) => { text: string; refused: boolean; expect?: string | undefined }): Promise<Outcomes> {
  const url = `http://127.0.0.1:${server.port}/graphql`;
  const headers = { 'content-type': 'application/json', ...server.headers };
  const outcomes: Outcomes = { seen: new Map(), wrong: [], done: 0 };
  const deadline = Date.now() + seconds * 1000;
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < count && Date.now() < deadline) {
      const n = issued++;
      const { text, refused, expect } = next(n);
      const res = await postOnce(url, headers, JSON.stringify({ query: text }));
      const body = await res.text();
      const { label, ok200 } = outcomeOf(res.status, body);
      outcomes.seen.set(label, (outcomes.seen.get(label) ?? 0) + 1);
      outcomes.done++;
      const right = expect !== undefined ? label === expect : refused ? label === '400 QUERY_TOO_COMPLEX' : ok200;
      if (!right && outcomes.wrong.length < 2) outcomes.wrong.push(`${res.status} ${body.slice(0, 240).trim()} <- ${text.slice(0, 160).replace(/\s+/g, ' ')}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  return outcomes;
}

/** A global request number: no two requests of the run share a text (the baseline aside). */
let counter = 0;

interface Measured {
  shape: Shape;
  cpuUs: number;
  outcomes: Outcomes;
  seconds: number;
}

async function measure(server: Server, shape: Shape, count: number, seconds: number, warmup = SHAPE_WARMUP): Promise<Measured> {
  const pid = server.child.pid as number;
  const refused = shape.kind === 'refused';
  const next = (): { text: string; refused: boolean; expect?: string | undefined } => ({ text: shape.text(counter++), refused, expect: shape.expect });
  await batch(server, warmup, seconds, next);
  const t0 = Date.now();
  const before = serverCpuNs(pid);
  const outcomes = await batch(server, count, seconds, next);
  const after = serverCpuNs(pid);
  return { shape, outcomes, cpuUs: (after - before) / 1000 / Math.max(1, outcomes.done), seconds: (Date.now() - t0) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Data and the scenario.

/**
 * A source per format (a source has its flows' format): three video flows, two audio, one
 * image, one data, and one multi flow collecting the first video and audio ones; every flow
 * but the multi one with 20 segments of registered objects.
 */
async function prepareData(): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-hostile-'));
  const gateway = await createGateway(loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
  try {
    const now = new Date().toISOString();
    const kinds: Record<'video' | 'audio' | 'image' | 'data', Pick<Flow, 'source_id' | 'format' | 'codec' | 'container' | 'essence_parameters'>> = {
      video: { source_id: randomUUID(), format: 'urn:x-nmos:format:video', codec: 'video/h264', container: 'video/mp2t', essence_parameters: { frame_width: 1920, frame_height: 1080 } },
      audio: { source_id: randomUUID(), format: 'urn:x-nmos:format:audio', codec: 'audio/aac', container: 'video/mp2t', essence_parameters: { sample_rate: 48000, channels: 2 } },
      image: { source_id: randomUUID(), format: 'urn:x-tam:format:image', codec: 'image/jpeg', essence_parameters: { frame_width: 1920, frame_height: 1080 } },
      data: { source_id: randomUUID(), format: 'urn:x-nmos:format:data', codec: 'application/json', essence_parameters: { data_type: 'urn:x-tams:data:bench' } },
    };
    const flows: Flow[] = (['video', 'video', 'video', 'audio', 'audio', 'image', 'data'] as const).map((kind, i) => ({
      id: randomUUID(),
      label: `hostile ${kind} flow ${i}`,
      ...kinds[kind],
    }));
    flows.push({
      id: randomUUID(),
      source_id: randomUUID(),
      label: 'hostile multi flow',
      format: 'urn:x-nmos:format:multi',
      container: 'video/mp2t',
      flow_collection: [
        { id: flows[0]!.id, role: 'video' },
        { id: flows[3]!.id, role: 'audio' },
      ],
    });
    for (const flow of flows) {
      await gateway.store.putFlow(flow, now);
      if (flow.format === 'urn:x-nmos:format:multi') continue;
      await seedSegments(gateway.store, flow.id, 20, SEGMENT_NS, {
        storageId: gateway.localObjects.backend.id,
        keyFor: (objectId) => gateway.localObjects.keyFor(objectId),
      });
    }
  } finally {
    await gateway.close();
  }
  return dataDir;
}

function seenText(outcomes: Outcomes): string {
  return [...outcomes.seen].map(([label, n]) => (outcomes.seen.size === 1 ? label : `${label} x${n}`)).join(', ');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh gateway on `dataDir` whose one-field query has been warmed until it runs compiled on the prepared-query path. */
async function warmServer(dataDir: string): Promise<Server> {
  const server = await startServer(['gateway', dataDir]);
  await batch(server, REQUESTS, Math.min(3, SECONDS), () => ({ text: BASELINE.text(0), refused: false }));
  return server;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * The `graphql-hostile` scenario of `npm run bench`. Each shape runs on a gateway of its own
 * (a fresh process on the same small store), measured right after the one-field query on that
 * same gateway: what one shape leaves behind (a heap grown by its documents, caches full of
 * them) does not weigh on the next one's figure. The RSS phase has a fresh gateway too.
 */
export async function graphqlHostileScenario(): Promise<void> {
  process.stdout.write(
    `\ngraphql-hostile: server CPU per request of hostile operation shapes (each request a text never seen before, ${CONNECTIONS} connections, ` +
      `at most ${REQUESTS} requests or ${SECONDS} s) beside the one-field query on the same fresh gateway; then its RSS after ${TEXTS} distinct texts\n`,
  );
  const dataDir = await prepareData();
  const failures: string[] = [];
  const record = (m: Measured): void => {
    const expected = expectedLabel(m.shape);
    if (m.outcomes.wrong.length > 0 || m.outcomes.seen.size !== 1 || !m.outcomes.seen.has(expected)) {
      failures.push(`${m.shape.kind} ${m.shape.name}: expected ${expected}, saw ${seenText(m.outcomes)}; first wrong answers: ${m.outcomes.wrong.join(' | ')}`);
    }
  };
  const line = (kind: string, name: string, us: number, ratio: string, target: string, seen: string, tail: string): string =>
    `  ${kind.padEnd(9)} ${name.padEnd(42)} ${us.toFixed(0).padStart(6)} µs  ${ratio.padStart(7)}  ${target.padEnd(15)} ${seen}  ${tail}\n`;
  const misses: string[] = [];
  try {
    const results: { m: Measured; baseline: Measured; repeated?: Measured }[] = [];
    for (const shape of shapes()) {
      const server = await warmServer(dataDir);
      try {
        const baseline = await measure(server, BASELINE, REQUESTS, SECONDS, 0);
        record(baseline);
        const m = await measure(server, shape, REQUESTS, SECONDS);
        record(m);
        // For comparison, not a target: the same text sent again and again (parsed, validated
        // and compiled once, where it may be), which tells the first run's overhead from the
        // work the operation asks for.
        const repeated = shape.kind === 'accepted' ? await measure(server, { ...shape, text: () => shape.text(-1) }, REQUESTS, SECONDS) : undefined;
        if (repeated) record(repeated);
        results.push({ m, baseline, ...(repeated ? { repeated } : {}) });
      } finally {
        await stopServer(server.child);
      }
    }
    process.stdout.write(`  server CPU: ${cpuSource} of the gateway process, all its threads; per request, over the batch\n`);
    const baselines = results.map((r) => r.baseline.cpuUs);
    process.stdout.write(
      line('baseline', BASELINE.name, median(baselines), '1.00x', '', seenText(results[0]!.baseline.outcomes), `(median of ${baselines.length} gateways: ${Math.min(...baselines).toFixed(0)}-${Math.max(...baselines).toFixed(0)} µs)`),
    );
    for (const { m, baseline, repeated } of results) {
      const ratio = m.cpuUs / baseline.cpuUs;
      const target = m.shape.kind === 'refused' ? REFUSED_TARGET : ACCEPTED_TARGET;
      if (ratio > target) misses.push(`${m.shape.name.split(' ')[0]} ${ratio.toFixed(1)}x > ${target}x`);
      process.stdout.write(
        line(m.shape.kind, m.shape.name, m.cpuUs, `${ratio.toFixed(2)}x`, `(target <= ${target}x)`, seenText(m.outcomes), `(${m.outcomes.done} requests; one-field ${baseline.cpuUs.toFixed(0)} µs${repeated ? `; one text repeated ${repeated.cpuUs.toFixed(0)} µs` : ''})`),
      );
    }

    // RSS after many distinct texts: every cache keyed by text (the guard's, Apollo's documents,
    // the compiled-query tiers) filled and cycled, and whatever else each new text leaves.
    const server = await warmServer(dataDir);
    const pid = server.child.pid as number;
    try {
      await sleep(2000);
      const rssBefore = statusMb(pid, 'VmRSS');
      const t0 = Date.now();
      // In fifths, with the RSS after each: a plateau once the caches are full is bounded
      // memory, a steady climb is not.
      const rss: Outcomes = { seen: new Map(), wrong: [], done: 0 };
      const steps: string[] = [];
      for (let sent = 0; sent < TEXTS; ) {
        const part = Math.min(Math.ceil(TEXTS / 5), TEXTS - sent);
        const offset = sent;
        const o = await batch(server, part, 3600, (n) => variedText(offset + n));
        for (const [label, n] of o.seen) rss.seen.set(label, (rss.seen.get(label) ?? 0) + n);
        rss.wrong.push(...o.wrong);
        rss.done += o.done;
        sent += part;
        steps.push(`${sent}: ${statusMb(pid, 'VmRSS').toFixed(0)}`);
      }
      const sentSeconds = (Date.now() - t0) / 1000;
      const rssAtEnd = statusMb(pid, 'VmRSS');
      // What stays: V8 keeps the heap it grew to under the flood's garbage until its memory
      // reducer runs, some 20-30 s after the allocation rate drops. The lowest RSS within
      // SETTLE_SECONDS of idle is the memory retained; the figure right after is shown too.
      let rssAfter = rssAtEnd;
      let settledAfter = 0;
      for (let waited = 2; waited <= SETTLE_SECONDS; waited += 2) {
        await sleep(2000);
        const now = statusMb(pid, 'VmRSS');
        if (now < rssAfter) {
          rssAfter = now;
          settledAfter = waited;
        }
        if (rssAfter - rssBefore < RSS_TARGET_MB / 4) break;
      }
      const peak = statusMb(pid, 'VmHWM');
      const growth = rssAfter - rssBefore;
      if (rss.wrong.length > 0) failures.push(`RSS phase: ${rss.wrong.slice(0, 2).join(' | ')}`);
      process.stdout.write(
        `  RSS: ${rssBefore.toFixed(1)} MB before, ${rssAtEnd.toFixed(1)} MB right after ${rss.done} distinct texts (${sentSeconds.toFixed(1)} s; ${seenText(rss)}; +${(rssAtEnd - rssBefore).toFixed(1)} MB), ` +
          `${rssAfter.toFixed(1)} MB retained (lowest within ${SETTLE_SECONDS} s idle, reached after ${settledAfter} s; peak ${peak.toFixed(1)} MB)\n` +
          `  RSS growth retained: ${growth.toFixed(1)} MB (target <= ${RSS_TARGET_MB} MB); MB after each fifth of the texts: ${steps.join(', ')}\n`,
      );
      if (growth > RSS_TARGET_MB) misses.push(`RSS growth ${growth.toFixed(1)} MB > ${RSS_TARGET_MB} MB`);
    } finally {
      await stopServer(server.child);
    }
    process.stdout.write(
      `  verdict: ${misses.length === 0 ? 'all targets met' : `missed: ${misses.join('; ')}`}${failures.length === 0 ? '; every answer as expected' : '; WRONG ANSWERS (below)'}\n`,
    );
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  if (failures.length > 0) throw new Error(`graphql-hostile: answers not as the shapes should get:\n  ${failures.join('\n  ')}`);
}

if (require.main === module) {
  graphqlHostileScenario().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
