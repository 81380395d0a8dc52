/**
 * Graceful shutdown under load: the real entry point in its own process, SIGTERM while
 * keep-alive clients send reads, GraphQL operations and batches of segment registrations, a
 * subscriber is connected and a prober asks /readyz.
 *
 * "Accepted" is what the gateway read: each request carries its own X-Request-Id, and the
 * gateway logs `incoming request` for every request it reads. Every one of those must be
 * answered, with the status the client saw and never a 5xx. Requests sent after the signal
 * may find the listener closed (a connection error, never an HTTP error).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { startGatewayProcess, type GatewayProcess } from '../ops/support/gateway-process';
import { startHarness } from '../support/gateway-harness';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

const GRACE_MS = 10_000;
const LOAD_BEFORE_SIGTERM_MS = 2000;
/** A request sent this long before the signal has reached the gateway, whatever the scheduling. */
const MARGIN_MS = 500;
const WRITERS = 4;
const SEGMENTS_PER_BATCH = 300;

interface Outcome {
  id: string;
  kind: string;
  startedAt: number;
  endedAt: number;
  status?: number;
  error?: string;
}

type Request = [kind: string, path: string, init?: RequestInit];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

function json(method: string, body: unknown): RequestInit {
  return { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

describe('graceful shutdown', () => {
  let gateway: GatewayProcess | undefined;

  afterAll(async () => {
    await gateway?.stop();
  });

  it('on SIGTERM under load answers every accepted request, closes subscriptions with 1001 and exits 0 within SHUTDOWN_GRACE_MS', async () => {
    gateway = await startGatewayProcess({ TAMS_AUTH: 'off', LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    const gw = gateway;
    const base = `http://127.0.0.1:${gw.port}`;
    const flows = Array.from({ length: WRITERS }, () => videoFlow());
    for (const flow of flows) expect((await checkedFetch(`${base}/flows/${flow.id as string}`, json('PUT', flow))).status).toBe(201);

    // A subscriber, open for sure once it has seen an event.
    const closes: number[] = [];
    const subscriber = createClient({
      url: `${base.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: { closed: (event) => void closes.push((event as { code: number }).code) },
    });
    let events = 0;
    subscriber.subscribe({ query: 'subscription { flowCreated { id } }' }, { next: () => void events++, error: () => undefined, complete: () => undefined });
    for (let tries = 0; events === 0; tries++) {
      if (tries > 100) throw new Error('the subscription never received an event');
      const flow = videoFlow();
      expect((await checkedFetch(`${base}/flows/${flow.id as string}`, json('PUT', flow))).status).toBe(201);
      await sleep(20);
    }

    const outcomes: Outcome[] = [];
    let exited = false;
    const send = async ([kind, path, init]: Request): Promise<void> => {
      const id = `${kind}-${randomUUID()}`;
      const startedAt = performance.now();
      try {
        const res = await checkedFetch(`${base}${path}`, { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-request-id': id }, signal: AbortSignal.timeout(GRACE_MS) });
        await res.arrayBuffer();
        outcomes.push({ id, kind, startedAt, endedAt: performance.now(), status: res.status });
      } catch (err) {
        outcomes.push({ id, kind, startedAt, endedAt: performance.now(), error: causeOf(err) });
        // Refused connections fail at once: no need to spin on them.
        await sleep(5);
      }
    };
    const worker = async (next: (n: number) => Request, pauseMs = 0): Promise<void> => {
      for (let n = 0; !exited; n++) {
        await send(next(n));
        if (pauseMs > 0) await sleep(pauseMs);
      }
    };
    const segmentBatch = (flowId: string, batch: number): Record<string, unknown>[] =>
      Array.from({ length: SEGMENTS_PER_BATCH }, (_, i) => {
        const t = batch * SEGMENTS_PER_BATCH + i;
        return { object_id: randomUUID(), timerange: `[${t}:0_${t + 1}:0)` };
      });
    const flowId = (n: number): string => flows[n % flows.length]!.id as string;
    const workers = [
      ...flows.map((flow) => worker((n) => ['segments', `/flows/${flow.id as string}/segments`, json('POST', segmentBatch(flow.id as string, n))])),
      worker((n) => ['flow', `/flows/${flowId(n)}`]),
      worker((n) => ['flow', `/flows/${flowId(n)}`]),
      worker((n) => ['segment-list', `/flows/${flowId(n)}/segments?limit=50`]),
      worker(() => ['flow-list', '/flows?limit=10']),
      worker(() => ['graphql', '/graphql', json('POST', { query: 'query FlowList { flows(first: 5) { nodes { id source { id } } } }' })]),
      worker(() => ['graphql', '/graphql', json('POST', { query: 'query Service { service { name } }' })]),
      worker(() => ['readyz', '/readyz'], 2),
    ];

    await sleep(LOAD_BEFORE_SIGTERM_MS);
    const sigtermAt = performance.now();
    gw.kill('SIGTERM');
    const code = await gw.exited;
    const exitedAt = performance.now();
    exited = true;
    await Promise.all(workers);

    expect(code).toBe(0);
    expect(exitedAt - sigtermAt).toBeLessThan(GRACE_MS);
    expect(closes).toContain(1001);

    const byId = new Map(outcomes.map((o) => [o.id, o]));
    const logs = gw.logs();
    const completed = new Map(logs.filter((l) => l.msg === 'request completed').map((l) => [l.reqId, (l.res as { statusCode: number }).statusCode]));
    const accepted = logs.filter((l) => l.msg === 'incoming request' && byId.has(l.reqId as string)).map((l) => l.reqId as string);
    expect(accepted.length).toBeGreaterThan(20);
    const unanswered = accepted.filter((id) => {
      const client = byId.get(id)!;
      const status = completed.get(id);
      const expected = client.kind === 'readyz' ? [200, 503] : [200, 201, 204];
      return status === undefined || client.status !== status || !expected.includes(status);
    });
    expect(unanswered.map((id) => ({ ...byId.get(id), logged: completed.get(id) }))).toEqual([]);

    // Everything sent well before the signal succeeded; nothing at all got a 5xx but /readyz.
    const before = outcomes.filter((o) => o.startedAt < sigtermAt - MARGIN_MS);
    expect(before.filter((o) => o.status === undefined || o.status >= 500)).toEqual([]);
    expect(outcomes.filter((o) => o.kind !== 'readyz' && o.status !== undefined && o.status >= 500)).toEqual([]);
    // The drain had work to finish: requests under way at the signal were answered after it.
    expect(outcomes.some((o) => o.startedAt < sigtermAt && o.endedAt > sigtermAt && o.status !== undefined)).toBe(true);

    // Readiness: ready under load, and never ready again once it has said it is not.
    const probes = outcomes.filter((o) => o.kind === 'readyz' && o.status !== undefined).sort((a, b) => a.endedAt - b.endedAt);
    expect(probes[0]?.status).toBe(200);
    const firstNotReady = probes.findIndex((o) => o.status === 503);
    if (firstNotReady >= 0) expect(probes.slice(firstNotReady).every((o) => o.status === 503)).toBe(true);

    const messages = logs.map((l) => l.msg);
    expect(messages).toContain('shutting down');
    expect(messages).toContain('shut down');
  });

  it('lets a background deletion request finish before the store closes', async () => {
    const h = await startHarness({ TAMS_DELETE_ASYNC_THRESHOLD: '10' });
    let requestId: string;
    try {
      const flow = videoFlow();
      expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      const segments = Array.from({ length: 400 }, (_, t) => ({ object_id: randomUUID(), timerange: `[${t}:0_${t + 1}:0)` }));
      expect((await h.request('POST', `/flows/${flow.id as string}/segments`, segments)).status).toBe(201);
      // 40 batches of 10, each its own transaction: still running when the shutdown begins.
      const res = await h.request('DELETE', `/flows/${flow.id as string}`);
      expect(res.status).toBe(202);
      requestId = res.body.id as string;
    } finally {
      await h.gateway.close();
    }
    const store = new SqliteMetadataStore({ filename: path.join(h.dataDir, 'tams.db') });
    await store.init();
    try {
      expect(await store.getDeletionRequest(requestId)).toMatchObject({ status: 'done' });
    } finally {
      await store.close();
      fs.rmSync(h.dataDir, { recursive: true, force: true });
    }
  });

  it('exits 1 with a log line when the drain outlasts SHUTDOWN_GRACE_MS', async () => {
    const slow = await startGatewayProcess({ TAMS_AUTH: 'off', LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '1000' });
    let upload: http.ClientRequest | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const base = `http://127.0.0.1:${slow.port}`;
      const flow = videoFlow();
      expect((await checkedFetch(`${base}/flows/${flow.id as string}`, json('PUT', flow))).status).toBe(201);
      const storage = (await (await checkedFetch(`${base}/flows/${flow.id as string}/storage`, json('POST', { limit: 1 }))).json()) as {
        media_objects: { put_url: { url: string } }[];
      };
      // A media upload that trickles in far longer than the grace period.
      const req = http.request(storage.media_objects[0]!.put_url.url, { method: 'PUT', headers: { 'content-type': 'video/mp2t', 'content-length': '100000' } });
      upload = req;
      req.on('error', () => undefined);
      req.write(Buffer.alloc(1000));
      timer = setInterval(() => req.write(Buffer.alloc(100)), 100);
      await sleep(300);
      const sigtermAt = performance.now();
      slow.kill('SIGTERM');
      expect(await slow.exited).toBe(1);
      const took = performance.now() - sigtermAt;
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(5000);
      expect(slow.logs().map((l) => l.msg)).toContain('shutdown outlasted SHUTDOWN_GRACE_MS: exiting with work still open');
    } finally {
      clearInterval(timer);
      upload?.destroy();
      await slow.stop();
    }
  });
});
