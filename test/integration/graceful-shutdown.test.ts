/**
 * Graceful shutdown under load: the built entry point (dist/src/main.js) in its own process,
 * SIGTERM while keep-alive clients send reads, GraphQL operations and batches of segment
 * registrations, a subscriber is connected and a prober asks /readyz.
 *
 * "Accepted" is what the gateway read: each request carries its own X-Request-Id, and the
 * gateway logs `incoming request` for every request it reads. Every one of those must be
 * answered, with the status the client saw and never a 5xx. Requests sent after the signal
 * may find the listener closed (a connection error, never an HTTP error).
 *
 * The drain is observed deterministically, not by luck of timing: before the signal, three
 * requests are left in flight (a media upload half sent, and a /readyz and a flow read whose
 * heads lack their last CRLF, so the gateway holds their connections as busy, not idle). Once
 * the gateway has logged `shutting down` they are completed: readiness must answer 503, the
 * read 200 and the upload 200, each with `Connection: close`.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { buildIfStale, startChildGateway, type ChildGateway } from '../support/child-gateway';
import { startHarness } from '../support/gateway-harness';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { videoFlow } from '../fixtures/flows';
import { parseTimeRange } from '../../src/domain/timerange';
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
  /** The response's Connection header. */
  connection?: string | null;
  /** One of the requests left in flight across the signal. */
  held?: true;
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

interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

/** A whole HTTP/1.1 response at the start of `bytes` (with Content-Length), or undefined. */
function parseResponse(bytes: Buffer, closed: boolean): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  const body = bytes.subarray(end + 4);
  if (length === undefined ? !closed : body.length < length) return undefined;
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine!)?.[1]), headers, body: body.subarray(0, length).toString('utf8') };
}

interface HeldRequest {
  /** Sends the last CRLF of the head and reads the whole response. */
  finish(): Promise<RawResponse>;
  destroy(): void;
}

/**
 * A GET whose head is sent but for its final CRLF: the gateway has begun reading a request on
 * the connection (so it is busy, not idle, and the drain keeps it open) but cannot handle it
 * before `finish`.
 */
async function holdRequest(port: number, path: string, headers: Record<string, string>): Promise<HeldRequest> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  const head = [`GET ${path} HTTP/1.1`, 'host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${head.join('\r\n')}\r\n`);
  return {
    async finish() {
      socket.write('\r\n');
      const deadline = Date.now() + 10_000;
      for (;;) {
        const response = parseResponse(received, closed);
        if (response !== undefined) return response;
        if (closed || Date.now() > deadline) throw new Error(`GET ${path}: no whole response (${closed ? 'connection closed' : 'timed out'}):\n${received.toString('latin1')}`);
        await sleep(5);
      }
    },
    destroy: () => socket.destroy(),
  };
}

interface HeldUpload {
  /** Sends the rest of the body and reads the response. */
  finish(): Promise<{ status: number; connection: string | undefined }>;
  destroy(): void;
}

/** A media upload (PUT to a put_url) with the first half of its body sent. */
function holdUpload(url: string, body: Buffer, headers: Record<string, string>): HeldUpload {
  const req = http.request(url, { method: 'PUT', agent: false, headers: { ...headers, 'content-length': String(body.length) } });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  response.catch(() => undefined);
  const half = Math.floor(body.length / 2);
  req.write(body.subarray(0, half));
  return {
    async finish() {
      req.end(body.subarray(half));
      const res = await response;
      res.resume();
      await new Promise((resolve) => res.once('end', resolve));
      return { status: res.statusCode!, connection: res.headers.connection };
    },
    destroy: () => req.destroy(),
  };
}

describe('graceful shutdown', () => {
  let gateway: ChildGateway | undefined;
  const held: { destroy(): void }[] = [];

  beforeAll(() => buildIfStale(), 360_000);

  afterAll(async () => {
    for (const h of held) h.destroy();
    await gateway?.stop();
  });

  it('on SIGTERM under load turns not ready, answers every accepted request with Connection: close, closes subscriptions with 1001 and exits 0 within SHUTDOWN_GRACE_MS', async () => {
    gateway = await startChildGateway({ TAMS_AUTH: 'off', LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    const gw = gateway;
    const base = gw.base;
    const port = Number(new URL(base).port);
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

    // Before the signal, readiness says ready and keeps the connection open.
    const ready = await checkedFetch(`${base}/readyz`);
    expect({ status: ready.status, connection: ready.headers.get('connection') }).toEqual({ status: 200, connection: 'keep-alive' });
    await ready.arrayBuffer();

    // Left in flight across the signal (see the file comment), each with its own request id.
    const heldIds = { readyz: `held-readyz-${randomUUID()}`, flow: `held-flow-${randomUUID()}`, upload: `held-upload-${randomUUID()}` };
    const storage = (await (await checkedFetch(`${base}/flows/${flows[0]!.id as string}/storage`, json('POST', { limit: 1 }))).json()) as {
      media_objects: { put_url: { url: string; 'content-type': string } }[];
    };
    const putUrl = storage.media_objects[0]!.put_url;
    const upload = holdUpload(putUrl.url, Buffer.alloc(64 * 1024, 7), { 'content-type': putUrl['content-type'], 'x-request-id': heldIds.upload });
    held.push(upload);
    const heldReadyz = await holdRequest(port, '/readyz', { 'x-request-id': heldIds.readyz });
    held.push(heldReadyz);
    const heldFlow = await holdRequest(port, `/flows/${flows[1]!.id as string}`, { 'x-request-id': heldIds.flow });
    held.push(heldFlow);
    const heldStartedAt = performance.now();

    const outcomes: Outcome[] = [];
    let exited = false;
    /** Sends one request; answers its JSON body when it succeeded with one. */
    const send = async ([kind, path, init]: Request): Promise<unknown> => {
      const id = `${kind}-${randomUUID()}`;
      const startedAt = performance.now();
      try {
        const res = await checkedFetch(`${base}${path}`, { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-request-id': id }, signal: AbortSignal.timeout(GRACE_MS) });
        const text = await res.text();
        outcomes.push({ id, kind, startedAt, endedAt: performance.now(), status: res.status, connection: res.headers.get('connection') });
        return res.ok && (res.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as unknown) : undefined;
      } catch (err) {
        outcomes.push({ id, kind, startedAt, endedAt: performance.now(), error: causeOf(err) });
        // Refused connections fail at once: no need to spin on them.
        await sleep(5);
        return undefined;
      }
    };
    const worker = async (next: (n: number) => Request, pauseMs = 0): Promise<void> => {
      for (let n = 0; !exited; n++) {
        await send(next(n));
        if (pauseMs > 0) await sleep(pauseMs);
      }
    };
    /** Batches of segments on objects allocated by POST /flows/{id}/storage just before. */
    const writer = async (flowId: string): Promise<void> => {
      for (let batch = 0; !exited; batch++) {
        const allocated = (await send(['storage', `/flows/${flowId}/storage`, json('POST', { limit: SEGMENTS_PER_BATCH })])) as { media_objects: { object_id: string }[] } | undefined;
        if (allocated === undefined) continue;
        const segments = allocated.media_objects.map(({ object_id }, i) => {
          const t = batch * SEGMENTS_PER_BATCH + i;
          return { object_id, timerange: `[${t}:0_${t + 1}:0)` };
        });
        await send(['segments', `/flows/${flowId}/segments`, json('POST', segments)]);
      }
    };
    const flowId = (n: number): string => flows[n % flows.length]!.id as string;
    const workers = [
      ...flows.map((flow) => writer(flow.id as string)),
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
    // Logged in the same turn of the event loop that sets the shutdown flag: from here every
    // request the gateway reads is read while it drains.
    await gw.waitForStdout(/"msg":"shutting down"/);
    const drainingAt = performance.now();
    const heldFlowResponse = await heldFlow.finish();
    const heldReadyzResponse = await heldReadyz.finish();
    const uploadResponse = await upload.finish();
    const heldEndedAt = performance.now();
    const { code } = await gw.closed;
    const exitedAt = performance.now();
    exited = true;
    await Promise.all(workers);

    expect(code).toBe(0);
    expect(exitedAt - sigtermAt).toBeLessThan(GRACE_MS);
    expect(closes).toContain(1001);

    // The requests in flight at the signal, answered during the drain: not ready, and every
    // answer closes its connection.
    expect({ status: heldReadyzResponse.status, connection: heldReadyzResponse.headers.connection, body: JSON.parse(heldReadyzResponse.body) as unknown }).toEqual({
      status: 503,
      connection: 'close',
      body: { status: 'not ready' },
    });
    expect({ status: heldFlowResponse.status, connection: heldFlowResponse.headers.connection, id: (JSON.parse(heldFlowResponse.body) as { id?: string }).id }).toEqual({
      status: 200,
      connection: 'close',
      id: flows[1]!.id,
    });
    expect(uploadResponse).toEqual({ status: 200, connection: 'close' });
    outcomes.push(
      { id: heldIds.readyz, kind: 'readyz', held: true, startedAt: heldStartedAt, endedAt: heldEndedAt, status: heldReadyzResponse.status, connection: heldReadyzResponse.headers.connection },
      { id: heldIds.flow, kind: 'flow', held: true, startedAt: heldStartedAt, endedAt: heldEndedAt, status: heldFlowResponse.status, connection: heldFlowResponse.headers.connection },
      { id: heldIds.upload, kind: 'upload', held: true, startedAt: heldStartedAt, endedAt: heldEndedAt, status: uploadResponse.status, connection: uploadResponse.connection },
    );

    const byId = new Map(outcomes.map((o) => [o.id, o]));
    // Read after 'close': every line the process printed is here.
    const logs = gw.logLines();
    const completed = new Map(logs.filter((l) => l.msg === 'request completed').map((l) => [l.reqId, (l.res as { statusCode: number }).statusCode]));
    const accepted = logs.filter((l) => l.msg === 'incoming request' && byId.has(l.reqId as string)).map((l) => l.reqId as string);
    expect(accepted.length).toBeGreaterThan(20);
    expect(accepted).toEqual(expect.arrayContaining(Object.values(heldIds)));
    const unanswered = accepted.filter((id) => {
      const client = byId.get(id)!;
      const status = completed.get(id);
      const expected = client.kind === 'readyz' ? [200, 503] : [200, 201, 204];
      return status === undefined || client.status !== status || !expected.includes(status);
    });
    expect(unanswered.map((id) => ({ ...byId.get(id), logged: completed.get(id) }))).toEqual([]);

    // Everything sent well before the signal succeeded (but the requests held until the
    // drain); nothing at all got a 5xx but /readyz.
    const before = outcomes.filter((o) => o.held !== true && o.startedAt < sigtermAt - MARGIN_MS);
    expect(before.filter((o) => o.status === undefined || o.status >= 500)).toEqual([]);
    expect(outcomes.filter((o) => o.kind !== 'readyz' && o.status !== undefined && o.status >= 500)).toEqual([]);

    // Connection: close on every answer given while draining, on none given before the signal.
    const answered = outcomes.filter((o) => o.status !== undefined);
    expect(answered.filter((o) => o.endedAt < sigtermAt && o.connection === 'close')).toEqual([]);
    expect(answered.filter((o) => o.startedAt > drainingAt && o.connection !== 'close')).toEqual([]);
    expect(answered.filter((o) => o.status === 503 && o.connection !== 'close')).toEqual([]);

    // Readiness: ready under load, not ready once draining, and never ready again after that.
    const probes = answered.filter((o) => o.kind === 'readyz').sort((a, b) => a.endedAt - b.endedAt);
    expect(probes[0]?.status).toBe(200);
    const firstNotReady = probes.findIndex((o) => o.status === 503);
    expect(firstNotReady).toBeGreaterThan(0);
    expect(probes.slice(firstNotReady).filter((o) => o.status !== 503)).toEqual([]);

    const messages = logs.map((l) => l.msg);
    expect(messages).toContain('shutting down');
    expect(messages).toContain('shut down');
  });

  it('lets the deletion chunk in progress finish, and the next start resumes the request to done', async () => {
    const h = await startHarness({ TAMS_DELETE_ASYNC_THRESHOLD: '10' });
    let requestId: string;
    const flow = videoFlow();
    const flowId = flow.id as string;
    try {
      expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
      const allocated = await h.request('POST', `/flows/${flowId}/storage`, { limit: 400 });
      expect(allocated.status).toBe(201);
      const objects = (allocated.body as { media_objects: { object_id: string }[] }).media_objects;
      const segments = objects.map(({ object_id }, t) => ({ object_id, timerange: `[${t}:0_${t + 1}:0)` }));
      expect((await h.request('POST', `/flows/${flowId}/segments`, segments)).status).toBe(201);
      // 40 chunks of 10, each its own transaction: still running when the shutdown begins.
      const res = await h.request('DELETE', `/flows/${flowId}`);
      expect(res.status).toBe(202);
      requestId = res.body.id as string;
    } finally {
      await h.gateway.close();
    }
    const store = new SqliteMetadataStore({ filename: path.join(h.dataDir, 'tams.db') });
    await store.init();
    try {
      // Stopped between chunks: what is recorded as remaining is exactly what is left.
      const stopped = (await store.getDeletionRequest(requestId))!;
      expect(['started', 'done']).toContain(stopped.status);
      const left = await store.listSegments(flowId, { timerange: parseTimeRange(stopped.timerange_remaining ?? '_') }, { limit: 1000 });
      expect(await store.countSegments(flowId)).toBe(left.items.length);
    } finally {
      await store.close();
    }
    const again = await startHarness({ TAMS_DELETE_ASYNC_THRESHOLD: '10', TAMS_DATA_DIR: h.dataDir });
    try {
      for (let i = 0; i < 200; i++) {
        const got = await again.request('GET', `/flow-delete-requests/${requestId}`);
        if (got.body.status === 'done') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect((await again.request('GET', `/flow-delete-requests/${requestId}`)).body).toMatchObject({ status: 'done', timerange_remaining: '()' });
      expect((await again.request('GET', `/flows/${flowId}`)).status).toBe(404);
    } finally {
      await again.close();
      fs.rmSync(h.dataDir, { recursive: true, force: true });
    }
  });

  it('exits 1 with a log line when the drain outlasts SHUTDOWN_GRACE_MS', async () => {
    const slow = await startChildGateway({ TAMS_AUTH: 'off', LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '1000' });
    let upload: http.ClientRequest | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const base = slow.base;
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
      expect(await slow.closed).toEqual({ code: 1, signal: null });
      const took = performance.now() - sigtermAt;
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(5000);
      expect(slow.logLines().map((l) => l.msg)).toContain('shutdown outlasted SHUTDOWN_GRACE_MS: exiting with work still open');
    } finally {
      clearInterval(timer);
      upload?.destroy();
      await slow.stop();
    }
  });
});
