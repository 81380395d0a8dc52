/**
 * `subscriptions-fanout`: many graphql-ws subscribers to flowSegmentsAdded on one flow while
 * segments are registered over REST at a steady rate. Every event must reach every
 * subscriber; latency runs from the event's commit (its `eventTimestamp`, taken by the
 * gateway before the commit, so a slight overestimate) to its arrival at the subscriber.
 * The object ids the registrations name are allocated first (POST /flows/{id}/storage), before
 * the subscribers connect, as a client allocates before it registers; the schedule registers
 * only. A registration not answered 201 fails the scenario.
 *
 * Standalone: `node dist/bench/subscriptions-fanout.js` starts a gateway in a child process
 * (bench/server-process.ts) on a fresh data dir. Environment: BENCH_FANOUT_DURATION (seconds,
 * default 30), BENCH_SUBSCRIBERS (default 1000), BENCH_RATE (registrations/s, default 5).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { Client, createClient } from 'graphql-ws';
import { startServer, stopServer } from './server-launch';

export interface FanoutOptions {
  /** Default 1000. */
  subscribers?: number;
  /** Segment registrations per second (default 5). */
  ratePerSec?: number;
  /** Seconds of registrations (default BENCH_FANOUT_DURATION, else 30). */
  durationSec?: number;
  /** How long to wait for late deliveries after the last registration (default 10 s). */
  drainMs?: number;
  /** An `Authorization` value (e.g. `Bearer <jwt>`) for the REST writes and the WebSocket connections, when the gateway authenticates. */
  authorization?: string;
  log?: (line: string) => void;
}

export interface FanoutResult {
  subscribers: number;
  registrations: number;
  expected: number;
  delivered: number;
  /** Deliveries of the same event more than once to one subscriber (must be 0). */
  duplicates: number;
  failedPosts: number;
  /** The first few refused registrations, with status and answer. */
  refusals: string[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Wall time to connect and subscribe every subscriber. */
  connectMs: number;
}

const QUERY = 'subscription ($flow: [ID!]) { flowSegmentsAdded(flowIds: $flow) { eventTimestamp segments { objectId } } }';
/** Subscribers connected at once: well inside the server's listen backlog. */
const CONNECT_BATCH = 100;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Subscriber {
  client: Client;
  /** object_id -> arrival (ms since epoch). */
  arrivals: Map<string, number>;
  duplicates: number;
}

interface SegmentsAdded {
  flowSegmentsAdded: { eventTimestamp: string; segments: { objectId: string }[] };
}

/** Registers one segment; undefined when answered 201, else the status and answer. */
export async function post(base: string, headers: Record<string, string>, flowId: string, objectId: string, second: number): Promise<string | undefined> {
  const res = await fetch(`${base}/flows/${flowId}/segments`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ object_id: objectId, timerange: `[${second}:0_${second + 1}:0)` }),
  });
  const text = await res.text();
  return res.status === 201 ? undefined : `${objectId}: ${res.status} ${text.slice(0, 300)}`;
}

/** POST /flows/{id}/storage with `object_ids` (at most 10,000 a request): the ids segments will name. */
/** A new H.264 / MPEG-TS video flow for the events scenarios; its id. */
export async function putVideoFlow(base: string, headers: Record<string, string>): Promise<string> {
  const flowId = randomUUID();
  const flow = {
    id: flowId,
    source_id: randomUUID(),
    format: 'urn:x-nmos:format:video',
    codec: 'video/h264',
    container: 'video/mp2t',
    essence_parameters: { frame_rate: { numerator: 50, denominator: 1 }, frame_width: 1920, frame_height: 1080 },
  };
  const put = await fetch(`${base}/flows/${flowId}`, { method: 'PUT', headers, body: JSON.stringify(flow) });
  if (put.status !== 201) throw new Error(`flow PUT answered ${put.status}: ${await put.text()}`);
  return flowId;
}

export async function allocate(base: string, headers: Record<string, string>, flowId: string, objectIds: string[]): Promise<void> {
  for (let i = 0; i < objectIds.length; i += 10_000) {
    const chunk = objectIds.slice(i, i + 10_000);
    const res = await fetch(`${base}/flows/${flowId}/storage`, { method: 'POST', headers, body: JSON.stringify({ object_ids: chunk }) });
    const text = await res.text();
    const got = res.status === 201 ? ((JSON.parse(text) as { media_objects?: unknown[] }).media_objects?.length ?? 0) : 0;
    if (got !== chunk.length) throw new Error(`allocating ${chunk.length} object ids for flow ${flowId}: ${res.status} ${text.slice(0, 300)}`);
  }
}

export async function subscriptionsFanout(base: string, opts: FanoutOptions = {}): Promise<FanoutResult> {
  const count = opts.subscribers ?? 1000;
  const rate = opts.ratePerSec ?? 5;
  const durationSec = opts.durationSec ?? Number(process.env.BENCH_FANOUT_DURATION ?? 30);
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...(opts.authorization === undefined ? {} : { authorization: opts.authorization }),
  };
  const connectionParams = opts.authorization === undefined ? {} : { connectionParams: { authorization: opts.authorization } };

  const flowId = await putVideoFlow(base, headers);
  const registrations = Math.round(rate * durationSec);
  /** Warm-up registrations until every subscriber has one; at most this many. */
  const warmups = 11;
  await allocate(base, headers, flowId, [
    ...Array.from({ length: warmups }, (_, i) => `warmup-${i}`),
    ...Array.from({ length: registrations }, (_, i) => `fanout-${i}`),
  ]);

  const wsUrl = `${base.replace(/^http/, 'ws')}/graphql`;
  const subscribers: Subscriber[] = [];
  /** object_id -> commit time (the event's eventTimestamp), from the first copy to arrive. */
  const commits = new Map<string, number>();
  let failures = 0;
  let second = 0;
  const t0 = Date.now();
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, async () => {
      const subscriber: Subscriber = { client: undefined as unknown as Client, arrivals: new Map(), duplicates: 0 };
      await new Promise<void>((resolve, reject) => {
        subscriber.client = createClient({
          url: wsUrl,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          ...connectionParams,
          on: { connected: () => resolve(), error: reject },
        });
        subscriber.client.subscribe(
          { query: QUERY, variables: { flow: [flowId] } },
          {
            next: (result) => {
              const now = Date.now();
              const event = (result.data as SegmentsAdded | null | undefined)?.flowSegmentsAdded;
              for (const { objectId } of event?.segments ?? []) {
                if (subscriber.arrivals.has(objectId)) subscriber.duplicates += 1;
                else subscriber.arrivals.set(objectId, now);
                if (!commits.has(objectId)) commits.set(objectId, Date.parse(event!.eventTimestamp));
              }
            },
            error: () => {
              failures += 1;
            },
            complete: () => undefined,
          },
        );
      });
      subscribers.push(subscriber);
    });
    await Promise.all(batch);
  }
  // The server has the subscriptions once a registration reaches every subscriber.
  for (let attempt = 0; ; attempt++) {
    const warmup = `warmup-${attempt}`;
    const refused = await post(base, headers, flowId, warmup, second++);
    if (refused !== undefined) throw new Error(`warm-up registration not answered 201: ${refused}`);
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && !subscribers.every((s) => s.arrivals.has(warmup))) await sleep(20);
    if (subscribers.every((s) => s.arrivals.has(warmup))) break;
    if (attempt === warmups - 1) throw new Error('subscribers never all received the warm-up registration');
  }
  const connectMs = Date.now() - t0;
  log(`  ${count} subscribers connected and subscribed in ${(connectMs / 1000).toFixed(1)} s`);

  // Registrations on a fixed schedule (not back to back), whatever each POST takes.
  const committed: string[] = [];
  const refusals: string[] = [];
  const start = Date.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < registrations; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const objectId = `fanout-${i}`;
    pending.push(
      post(base, headers, flowId, objectId, second++).then((refused) => {
        if (refused === undefined) committed.push(objectId);
        else refusals.push(refused);
      }),
    );
  }
  await Promise.all(pending);
  const expected = committed.length * subscribers.length;
  const deliveredCount = (): number => subscribers.reduce((n, s) => n + committed.filter((id) => s.arrivals.has(id)).length, 0);
  const drainUntil = Date.now() + (opts.drainMs ?? 10_000);
  while (Date.now() < drainUntil && deliveredCount() < expected) await sleep(100);

  const latencies: number[] = [];
  for (const objectId of committed) {
    const commitAt = commits.get(objectId);
    if (commitAt === undefined) continue;
    for (const subscriber of subscribers) {
      const arrival = subscriber.arrivals.get(objectId);
      if (arrival !== undefined) latencies.push(arrival - commitAt);
    }
  }
  latencies.sort((a, b) => a - b);
  await Promise.all(subscribers.map(async (s) => s.client.dispose()));
  if (failures > 0) log(`  warning: ${failures} subscriptions failed`);
  return {
    subscribers: subscribers.length,
    registrations,
    expected,
    delivered: latencies.length,
    duplicates: subscribers.reduce((n, s) => n + s.duplicates, 0),
    failedPosts: refusals.length,
    refusals: refusals.slice(0, 5),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    connectMs,
  };
}

/** The `subscriptions-fanout` scenario of `npm run bench`: its own gateway on a fresh data dir. */
export async function subscriptionsFanoutScenario(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-fanout-'));
  // As deployed, like the other scenarios: subscribers and the writer send the server's token.
  const server = await startServer(['gateway', dataDir]);
  try {
    const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
    const ratePerSec = Number(process.env.BENCH_RATE ?? 5);
    const durationSec = Number(process.env.BENCH_FANOUT_DURATION ?? 30);
    process.stdout.write(`subscriptions-fanout: ${subscribers} graphql-ws subscribers to flowSegmentsAdded, ${ratePerSec} registrations/s for ${durationSec} s\n`);
    const r = await subscriptionsFanout(`http://127.0.0.1:${server.port}`, {
      subscribers,
      ratePerSec,
      durationSec,
      ...(server.headers.authorization === undefined ? {} : { authorization: server.headers.authorization }),
    });
    process.stdout.write(
      `  delivered ${r.delivered}/${r.expected} (${r.registrations} registrations, ${r.failedPosts} failed, ${r.duplicates} duplicates)\n` +
        `  latency from commit: p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  max ${r.maxMs} ms (target: all delivered, p99 < 100 ms)\n`,
    );
    // Deliveries are counted over the registrations answered 201 only: with any refused the
    // scenario did not measure what it says.
    if (r.failedPosts > 0) throw new Error(`subscriptions-fanout: ${r.failedPosts} registrations not answered 201, e.g. ${r.refusals.join('; ')}`);
  } finally {
    await stopServer(server.child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  subscriptionsFanoutScenario().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
