/**
 * `webhook-throughput`: BENCH_WEBHOOKS (default 10) webhooks registered for
 * `flows/segments_added` on one flow, pointing at a node:http receiver on loopback in this
 * process, while segments are registered over REST at BENCH_WEBHOOK_RATE (default 200) a second
 * for BENCH_WEBHOOK_SECONDS (default 30): 2,000 deliveries/s offered. Beside them
 * BENCH_WEBHOOK_SUBSCRIBERS (default 10) graphql-ws subscribers to flowSegmentsAdded on the same
 * flow receive the same events in the same run.
 *
 * Checked: every registration answered 201; each webhook receives every registered segment
 * exactly once, in the order the outbox holds them (the order the subscribers receive them,
 * which must be the same for every subscriber and every webhook). Reported: p50/p99/max from
 * the event's commit (its event_timestamp, taken by the gateway before the commit, so a slight
 * overestimate) to its receipt, for the webhooks and the subscribers; the delivery rate
 * reached; the gateway's CPU time (all threads, /proc) from the first registration to the last
 * delivery, per webhook delivery (it includes the registrations and the subscriber pushes).
 *
 * The gateway runs with TAMS_WEBHOOK_ALLOW_PRIVATE=true (the receiver is on 127.0.0.1). Object
 * ids are allocated first (POST /flows/{id}/storage), outside the timed part. Before the measured
 * run, a warm-up run at the same rate for BENCH_WEBHOOK_WARMUP_SECONDS (default 5; JIT warm,
 * connections open), checked like the measured one, its latencies printed apart.
 * BENCH_WEBHOOK_TIMELINE=<file> writes the worst latencies per 100 ms of commits.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { type Client, createClient } from 'graphql-ws';
import { startServer, stopServer } from './server-launch';
import { allocate, post, putVideoFlow } from './subscriptions-fanout';
import { serverCpuNs } from './graphql-hostile';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function positiveNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not ${process.env[name]}`);
  return value;
}

/** What one receiver (a webhook or a subscriber) got: object ids in arrival order, arrival and commit times. */
interface Receipts {
  order: string[];
  arrivals: Map<string, number>;
  commits: Map<string, number>;
  duplicates: number;
  /** Events of another type or flow (must be 0). */
  stray: number;
}

function receipts(): Receipts {
  return { order: [], arrivals: new Map(), commits: new Map(), duplicates: 0, stray: 0 };
}

function record(r: Receipts, objectId: string, commitMs: number, now: number): void {
  if (r.arrivals.has(objectId)) {
    r.duplicates += 1;
    return;
  }
  r.order.push(objectId);
  r.arrivals.set(objectId, now);
  r.commits.set(objectId, commitMs);
}

const QUERY = 'subscription ($flow: [ID!]) { flowSegmentsAdded(flowIds: $flow) { eventTimestamp segments { objectId } } }';

interface SegmentsAdded {
  flowSegmentsAdded: { eventTimestamp: string; segments: { objectId: string }[] };
}

function latencies(all: Receipts[], ids: string[]): number[] {
  const out: number[] = [];
  for (const r of all) {
    for (const id of ids) {
      const arrival = r.arrivals.get(id);
      const commit = r.commits.get(id);
      if (arrival !== undefined && commit !== undefined) out.push(arrival - commit);
    }
  }
  return out.sort((a, b) => a - b);
}

/** BENCH_WEBHOOK_TIMELINE=<file>: per 100 ms of commits, the worst webhook and subscriber latency (where the tail comes from). */
function timeline(hooks: Receipts[], subscribers: Receipts[], ids: string[]): string {
  const worst = (all: Receipts[], id: string): number => Math.max(...all.map((r) => (r.arrivals.get(id) ?? NaN) - (r.commits.get(id) ?? NaN)));
  const first = hooks[0]?.commits.get(ids[0] ?? '') ?? 0;
  const slots = new Map<number, { hook: number; sub: number }>();
  for (const id of ids) {
    const slot = Math.floor(((hooks[0]?.commits.get(id) ?? first) - first) / 100);
    const entry = slots.get(slot) ?? { hook: 0, sub: 0 };
    entry.hook = Math.max(entry.hook, worst(hooks, id));
    entry.sub = Math.max(entry.sub, worst(subscribers, id));
    slots.set(slot, entry);
  }
  return [...slots].map(([slot, { hook, sub }]) => `${(slot / 10).toFixed(1)} s  webhook ${hook} ms  subscriber ${sub} ms`).join('\n') + '\n';
}

function latencyText(sorted: number[]): string {
  return `p50 ${percentile(sorted, 50)} ms  p99 ${percentile(sorted, 99)} ms  max ${sorted[sorted.length - 1] ?? NaN} ms`;
}

/** The scenario; throws (the bench then exits 1) when a delivery is missing, repeated or out of order. */
export async function webhookThroughputScenario(): Promise<void> {
  const webhookCount = positiveNumber('BENCH_WEBHOOKS', 10);
  const subscriberCount = positiveNumber('BENCH_WEBHOOK_SUBSCRIBERS', 10);
  const rate = positiveNumber('BENCH_WEBHOOK_RATE', 200);
  const seconds = positiveNumber('BENCH_WEBHOOK_SECONDS', 30);
  const drainMs = positiveNumber('BENCH_WEBHOOK_DRAIN_MS', 60_000);
  const warmSeconds = positiveNumber('BENCH_WEBHOOK_WARMUP_SECONDS', 5);
  const receiverCount = positiveNumber('BENCH_WEBHOOK_RECEIVERS', 1);
  const registrations = Math.round(rate * seconds);
  process.stdout.write(
    `\nwebhook-throughput: ${webhookCount} webhooks (flows/segments_added) to a loopback receiver + ${subscriberCount} graphql-ws subscribers, ` +
      `${rate} segment registrations/s for ${seconds} s (${rate * webhookCount} deliveries/s offered), receiver on ${receiverCount} port(s)\n`,
  );

  // The receiver: /hook/<n> records each flows/segments_added event's segments for webhook n.
  const hooks: Receipts[] = Array.from({ length: webhookCount }, receipts);
  let flowId = '';
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      const n = Number(/^\/hook\/(\d+)$/.exec(req.url ?? '')?.[1] ?? -1);
      const target = hooks[n];
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { event_timestamp: string; event_type: string; event: { flow_id?: string; segments?: { object_id: string }[] } };
        if (target === undefined || body.event_type !== 'flows/segments_added' || body.event.flow_id !== flowId) {
          if (target !== undefined) target.stray += 1;
        } else {
          const commit = Date.parse(body.event_timestamp);
          for (const s of body.event.segments ?? []) record(target, s.object_id, commit, now);
        }
      } catch {
        if (target !== undefined) target.stray += 1;
      }
      res.writeHead(204).end();
    });
  };
  // BENCH_WEBHOOK_RECEIVERS listening ports (default 1: every webhook posts to one host:port);
  // webhook i posts to port i mod that.
  const receivers = Array.from({ length: receiverCount }, () => http.createServer(handler));
  const receiverPorts: number[] = [];
  for (const receiver of receivers) {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverPorts.push((receiver.address() as AddressInfo).port);
  }

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-webhooks-'));
  const server = await startServer(['gateway', dataDir], { TAMS_WEBHOOK_ALLOW_PRIVATE: 'true' });
  const pid = server.child.pid as number;
  const base = `http://127.0.0.1:${server.port}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...server.headers };
  const clients: Client[] = [];
  try {
    flowId = await putVideoFlow(base, headers);
    const warmups = 11;
    const warmRun = Math.round(rate * warmSeconds);
    await allocate(base, headers, flowId, [
      ...Array.from({ length: warmups }, (_, i) => `warmup-${i}`),
      ...Array.from({ length: warmRun }, (_, i) => `warm-${i}`),
      ...Array.from({ length: registrations }, (_, i) => `wh-${i}`),
    ]);
    for (let i = 0; i < webhookCount; i++) {
      const res = await fetch(`${base}/service/webhooks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ url: `http://127.0.0.1:${receiverPorts[i % receiverPorts.length]}/hook/${i}`, events: ['flows/segments_added'], flow_ids: [flowId] }),
      });
      if (res.status !== 201) throw new Error(`webhook registration answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    }

    const subscribers: Receipts[] = [];
    let subscriptionFailures = 0;
    for (let i = 0; i < subscriberCount; i++) {
      const r = receipts();
      await new Promise<void>((resolve, reject) => {
        const client = createClient({
          url: `${base.replace(/^http/, 'ws')}/graphql`,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          ...(server.headers.authorization === undefined ? {} : { connectionParams: { authorization: server.headers.authorization } }),
          on: { connected: () => resolve(), error: reject },
        });
        clients.push(client);
        client.subscribe(
          { query: QUERY, variables: { flow: [flowId] } },
          {
            next: (result) => {
              const now = Date.now();
              const event = (result.data as SegmentsAdded | null | undefined)?.flowSegmentsAdded;
              if (event === undefined) return;
              const commit = Date.parse(event.eventTimestamp);
              for (const { objectId } of event.segments) record(r, objectId, commit, now);
            },
            error: () => {
              subscriptionFailures += 1;
            },
            complete: () => undefined,
          },
        );
      });
      subscribers.push(r);
    }
    const everyone = [...hooks, ...subscribers];

    // Warm-up: registrations until every webhook and subscriber has one (subscriptions are live,
    // webhooks started, JIT warm).
    let second = 0;
    let warmedUp = false;
    for (let attempt = 0; attempt < warmups && !warmedUp; attempt++) {
      const id = `warmup-${attempt}`;
      const refused = await post(base, headers, flowId, id, second++);
      if (refused !== undefined) throw new Error(`warm-up registration not answered 201: ${refused}`);
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && !everyone.every((r) => r.arrivals.has(id))) await sleep(20);
      warmedUp = everyone.every((r) => r.arrivals.has(id));
    }
    if (!warmedUp) throw new Error('the webhooks and subscribers never all received a warm-up registration');
    const warmupIds = new Set(hooks[0]!.order);

    /** Registrations on a fixed schedule, whatever each POST takes. */
    const registerAtRate = async (ids: string[]): Promise<{ committed: string[]; refusals: string[]; lateMs: number; postedMs: number; start: number }> => {
      const start = Date.now();
      const committed: string[] = [];
      const refusals: string[] = [];
      const pending: Promise<void>[] = [];
      let lateMs = 0;
      for (let i = 0; i < ids.length; i++) {
        const due = start + (i * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        else lateMs = Math.max(lateMs, -wait);
        const objectId = ids[i]!;
        pending.push(
          post(base, headers, flowId, objectId, second++).then((refused) => {
            if (refused === undefined) committed.push(objectId);
            else refusals.push(refused);
          }),
        );
      }
      await Promise.all(pending);
      return { committed, refusals, lateMs, postedMs: Date.now() - start, start };
    };
    const drained = async (ids: string[]): Promise<void> => {
      const done = (r: Receipts): boolean => ids.every((id) => r.arrivals.has(id));
      const drainUntil = Date.now() + drainMs;
      while (Date.now() < drainUntil && !everyone.every(done)) await sleep(50);
    };

    // A warm-up run at the same rate (BENCH_WEBHOOK_WARMUP_SECONDS; JIT, connections, caches), its
    // deliveries checked like the others' and its latencies reported apart, then the measured run.
    const warm = await registerAtRate(Array.from({ length: warmRun }, (_, i) => `warm-${i}`));
    await drained(warm.committed);
    for (const id of warm.committed) warmupIds.add(id);
    const warmHooks = latencies(hooks, warm.committed);
    const warmSubs = latencies(subscribers, warm.committed);

    const cpu0 = serverCpuNs(pid);
    const ownCpu0 = process.cpuUsage();
    const { committed, refusals, lateMs, postedMs, start } = await registerAtRate(Array.from({ length: registrations }, (_, i) => `wh-${i}`));
    refusals.push(...warm.refusals);
    await drained(committed);
    const cpu1 = serverCpuNs(pid);
    const ownCpu = process.cpuUsage(ownCpu0);
    // The last delivery's arrival ends the run (not the end of the polling above).
    const lastArrival = Math.max(...hooks.flatMap((h) => committed.map((id) => h.arrivals.get(id) ?? 0)));
    const runMs = Math.max(1, lastArrival - start);

    const committedSet = new Set(committed);
    const inRun = (r: Receipts): string[] => r.order.filter((id) => committedSet.has(id));
    const reference = inRun(subscribers[0] ?? hooks[0]!);
    const problems: string[] = [];
    if (refusals.length > 0) problems.push(`${refusals.length} registrations not answered 201, e.g. ${refusals.slice(0, 3).join('; ')}`);
    if (subscriptionFailures > 0) problems.push(`${subscriptionFailures} subscriptions failed`);
    hooks.forEach((h, i) => {
      const got = inRun(h);
      const extra = h.order.filter((id) => !committedSet.has(id) && !warmupIds.has(id) && !id.startsWith('warmup-'));
      const warmGot = h.order.filter((id) => id.startsWith('warm-'));
      if (warmGot.length !== warm.committed.length) problems.push(`webhook ${i}: ${warmGot.length}/${warm.committed.length} warm-up events delivered`);
      if (got.length !== committed.length) problems.push(`webhook ${i}: ${got.length}/${committed.length} delivered`);
      else if (got.some((id, k) => id !== reference[k])) problems.push(`webhook ${i}: delivered out of order (first difference at ${got.findIndex((id, k) => id !== reference[k])})`);
      if (h.duplicates > 0) problems.push(`webhook ${i}: ${h.duplicates} repeated deliveries`);
      if (h.stray > 0 || extra.length > 0) problems.push(`webhook ${i}: ${h.stray + extra.length} unexpected events`);
    });
    subscribers.forEach((s, i) => {
      const got = inRun(s);
      if (got.length !== committed.length) problems.push(`subscriber ${i}: ${got.length}/${committed.length} delivered`);
      else if (got.some((id, k) => id !== reference[k])) problems.push(`subscriber ${i}: events out of order`);
      if (s.duplicates > 0) problems.push(`subscriber ${i}: ${s.duplicates} repeated events`);
    });

    const dump = process.env.BENCH_WEBHOOK_TIMELINE;
    if (dump !== undefined && dump !== '') fs.writeFileSync(dump, timeline(hooks, subscribers, committed));
    const hookLatency = latencies(hooks, committed);
    const subLatency = latencies(subscribers, committed);
    const delivered = hookLatency.length;
    const cpuPerDeliveryUs = (cpu1 - cpu0) / 1000 / Math.max(1, delivered);
    const ratio = percentile(hookLatency, 99) / Math.max(1, percentile(subLatency, 99));
    process.stdout.write(
      `  registrations: ${committed.length}/${registrations} answered 201 in ${(postedMs / 1000).toFixed(1)} s (schedule at most ${lateMs.toFixed(0)} ms late)\n` +
        `  webhooks: delivered ${delivered}/${committed.length * webhookCount} (every webhook every segment, in outbox order: ${problems.some((p) => p.startsWith('webhook')) ? 'NO' : 'yes'}), ` +
        `${((1000 * delivered) / runMs).toFixed(0)} deliveries/s from the first registration to the last delivery (${(runMs / 1000).toFixed(1)} s)\n` +
        `  webhook latency from commit:    ${latencyText(hookLatency)}\n` +
        `  subscriber latency from commit: ${latencyText(subLatency)} (${subLatency.length}/${committed.length * subscriberCount} received)\n` +
        `  webhook p99 / subscriber p99: ${ratio.toFixed(2)}x (target <= 3x)\n` +
        `  warm-up before it (${warm.committed.length} registrations in ${(warm.postedMs / 1000).toFixed(1)} s, from a cold start): webhook ${latencyText(warmHooks)}; subscriber ${latencyText(warmSubs)}\n` +
        `  gateway CPU: ${((cpu1 - cpu0) / 1e9).toFixed(2)} s over the run, ${cpuPerDeliveryUs.toFixed(0)} us per webhook delivery ` +
        `(registrations and subscriber pushes included; ${(((cpu1 - cpu0) / 1e6) / runMs * 100).toFixed(0)}% of a core; ` +
        `the bench process, registering, receiving and subscribing, ${(((ownCpu.user + ownCpu.system) / 1000 / runMs) * 100).toFixed(0)}% of a core)\n`,
    );
    if (problems.length > 0) throw new Error(`webhook-throughput: ${problems.slice(0, 12).join('; ')}${problems.length > 12 ? ` (+${problems.length - 12} more)` : ''}`);
  } finally {
    await Promise.all(clients.map(async (c) => c.dispose()));
    await stopServer(server.child);
    for (const receiver of receivers) {
      await new Promise<void>((resolve) => {
        receiver.close(() => resolve());
        receiver.closeAllConnections();
      });
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  webhookThroughputScenario().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
