/**
 * Hostile review of pipelined webhook delivery (TAMS_WEBHOOK_PIPELINE, default 8): the worker
 * (deliverClaimed, DeliveryPipeline, batched cursor writes) with the real undici sender
 * (webhookHttpSender: one connection per webhook lane, pipelining) against receivers on
 * loopback that misbehave the way real HTTP/1.1 servers do.
 *
 * Most receivers here are raw TCP servers that handle the requests of a connection one after
 * the other (the next is read once the previous is answered), as HTTP/1.1 servers commonly
 * treat pipelined requests; they also note when each request's bytes reached their socket,
 * read or not. The worker runs over a real gateway's store (delivery off in the gateway), with
 * payloads reduced to `{seq}` so each POST names its outbox event.
 *
 * Tests named "was a defect, fixed:" failed on the code first reviewed (commit 0ce23c5) and pass since the fixes; the others
 * document properties that hold.
 */
import net, { type AddressInfo } from 'node:net';
import type { Webhook } from '../../src/domain/entities';
import type { ContextualEvent } from '../../src/ports/webhook-delivery';
import type { WebhookResponse, WebhookSender } from '../../src/ports/webhook-sender';
import type { WebhookPayloads } from '../../src/services/webhook-payloads';
import { WebhookDeliveryWorker, type WebhookDeliveryOptions } from '../../src/workers/webhook-delivery-worker';
import { webhookHttpSender } from '../../src/adapters/webhook-http/webhook-http-sender';
import { startHarness, type Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** What a raw receiver does with one request: answer (bytes written as they are), then maybe end or drop the connection. */
type RawReply = { delayMs?: number; bytes: string; then?: 'end' | 'destroy' } | 'hang' | 'destroy';

interface Arrival {
  seq: number;
  conn: number;
  atMs: number;
}

interface RawReceiver {
  url: string;
  arrivals: Arrival[];
  /** When each complete request reached the receiver's socket (read or not). */
  wire: number[];
  seqs(): number[];
  /** How the next request is answered (`n`: its index among all arrivals). */
  reply: (seq: number, n: number) => RawReply;
  connections: number;
  close(): void;
}

const ok = (extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: 0\r\n${extra}\r\n`;
const status = (code: number): string => `HTTP/1.1 ${code} X\r\nContent-Length: 0\r\n\r\n`;

/**
 * A receiver on raw TCP that handles the requests of a connection one after the other, as
 * HTTP/1.1 servers commonly do with pipelined requests: the next is read only once the previous
 * is answered, so a delay per request adds up along a pipeline.
 */
async function rawReceiver(host = '127.0.0.1'): Promise<RawReceiver> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const conn = ++receiver.connections;
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    let busy = false;
    let ended = false;
    let stream = Buffer.alloc(0);
    const onWire = (): void => {
      for (;;) {
        const end = stream.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(stream.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (stream.length < end + 4 + length) return;
        stream = stream.subarray(end + 4 + length);
        receiver.wire.push(Date.now());
      }
    };
    const next = (): void => {
      if (busy || ended || socket.destroyed) return;
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(buffered.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      const body = buffered.subarray(end + 4, end + 4 + length).toString('utf8');
      buffered = buffered.subarray(end + 4 + length);
      const seq = (JSON.parse(body) as { seq: number }).seq;
      const n = receiver.arrivals.push({ seq, conn, atMs: Date.now() }) - 1;
      const reply = receiver.reply(seq, n);
      if (reply === 'hang') {
        busy = true;
        return;
      }
      if (reply === 'destroy') {
        socket.destroy();
        return;
      }
      busy = true;
      setTimeout(() => {
        if (socket.destroyed) return;
        socket.write(reply.bytes);
        if (reply.then === 'end') {
          ended = true;
          socket.end();
        }
        else if (reply.then === 'destroy') setTimeout(() => socket.destroy(), 10);
        busy = false;
        next();
      }, reply.delayMs ?? 0);
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      stream = Buffer.concat([stream, chunk]);
      onWire();
      next();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const receiver: RawReceiver = {
    url: `http://${host}:${(server.address() as AddressInfo).port}/hook`,
    arrivals: [],
    wire: [],
    seqs: () => receiver.arrivals.map((a) => a.seq),
    reply: () => ({ bytes: ok() }),
    connections: 0,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
  return receiver;
}

/** Payloads without objects or permissions: the body names the event's seq. */
const payloads = {
  batch: () => ({ visibleTo: async () => true }),
  body: async (_w: Webhook, _o: unknown, e: ContextualEvent) => JSON.stringify({ seq: e.seq, event_type: e.event_type }),
} as unknown as WebhookPayloads;

interface Rig {
  h: Harness;
  errors: unknown[];
  failures: { seq: number; kind: string; retry: boolean }[];
  sent: number[];
  worker(options?: Partial<WebhookDeliveryOptions>, send?: WebhookSender): WebhookDeliveryWorker;
  /** A webhook for every flows/updated of `flowId`, and `count` such events committed: their seqs. */
  register(url: string, flowId: string): Promise<string>;
  relabel(flowId: string, count: number): Promise<number[]>;
  newFlow(): Promise<string>;
  close(): Promise<void>;
}

/** TAMS_WEBHOOK_TIMEOUT_MS of the sender (the lease, 5 s, is more than twice it). */
const TIMEOUT_MS = 1_000;

const BASE: Omit<WebhookDeliveryOptions, 'holder'> = {
  maxAttempts: 10,
  leaseMs: 5_000,
  retryBaseMs: 20,
  retryMaxMs: 40,
  pollMs: 50,
  batch: 200,
  concurrency: 4,
  pipeline: 8,
  retentionMs: 86_400_000,
  retentionIntervalMs: 3_600_000,
};

async function rig(): Promise<Rig> {
  const h = await startHarness({ TAMS_WEBHOOK_DELIVERY: 'off' });
  const workers: WebhookDeliveryWorker[] = [];
  const errors: unknown[] = [];
  const failures: Rig['failures'] = [];
  const sent: number[] = [];
  let n = 0;
  return {
    h,
    errors,
    failures,
    sent,
    worker(options = {}, send) {
      const sender = send ?? webhookHttpSender({ allowPrivate: true, resolve: async () => ['127.0.0.1'], timeoutMs: TIMEOUT_MS, maxResponseBytes: 1024, pipelining: options.pipeline ?? 8 });
      const observer = {
        sent: (_w: Webhook, e: ContextualEvent) => sent.push(e.seq),
        failed: (_w: Webhook, e: ContextualEvent, f: { kind: string }, retry: boolean) => failures.push({ seq: e.seq, kind: f.kind, retry }),
        skipped: () => undefined,
        pruned: () => undefined,
      };
      const w = new WebhookDeliveryWorker(h.gateway.store, payloads, sender, { nowMs: () => Date.now() }, { ...BASE, holder: `w${++n}`, ...options }, observer, (e) => errors.push(e));
      workers.push(w);
      return w;
    },
    async register(url, flowId) {
      const res = await h.request('POST', '/service/webhooks', { url, events: ['flows/updated'], flow_ids: [flowId] });
      expect(res.status).toBe(201);
      return res.body.id as string;
    },
    async newFlow() {
      const flow = videoFlow();
      expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      return flow.id as string;
    },
    async relabel(flowId, count) {
      const from = await h.gateway.store.lastEventSeq();
      for (let i = 0; i < count; i++) expect((await h.request('PUT', `/flows/${flowId}/label`, JSON.stringify(`n-${i}`))).status).toBeLessThan(300);
      return (await h.gateway.store.readEvents(from, 1000)).filter((e) => e.event_type === 'flows/updated').map((e) => e.seq);
    },
    async close() {
      for (const w of workers) await w.stop();
      await h.close();
    },
  };
}


const first = <T>(xs: readonly T[]): T[] => [...new Set(xs)];

describe('pipelined webhook delivery: properties that hold', () => {
  it('103 Early Hints before every answer: each event delivered once, in order, no failed attempt', async () => {
    const r = await rig();
    const rx = await rawReceiver();
    try {
      const flowId = await r.newFlow();
      await r.register(rx.url, flowId);
      const seqs = await r.relabel(flowId, 12);
      rx.reply = () => ({ bytes: 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' + ok(), delayMs: 5 });
      const w = r.worker();
      w.start();
      await until(() => r.sent.length >= 12);
      await w.idle();
      expect({ seqs: rx.seqs(), failures: r.failures, errors: r.errors }).toEqual({ seqs, failures: [], errors: [] });
    } finally {
      rx.close();
      await r.close();
    }
  });

  it('stop() with a full pipeline: waits for the answers, sends nothing after it resolves, leaves the cursor on the last acknowledged event and gives the lease back; the next worker resumes there (nothing lost, first arrivals in order)', async () => {
    const r = await rig();
    const rx = await rawReceiver();
    try {
      const flowId = await r.newFlow();
      const id = await r.register(rx.url, flowId);
      const seqs = await r.relabel(flowId, 30);
      rx.reply = () => ({ bytes: ok(), delayMs: 40 });
      const a = r.worker();
      a.start();
      await until(() => rx.arrivals.length >= 3);
      await a.stop();
      const wireAtStop = rx.wire.length;
      const cursor = (await r.h.gateway.store.getWebhookDelivery(id))!.cursor;
      await sleep(400);
      // Everything written was answered and acknowledged: the cursor is on the last one sent.
      expect(rx.wire.length).toBe(wireAtStop);
      expect(cursor).toBe(r.sent[r.sent.length - 1]);
      expect(rx.seqs()).toEqual(seqs.slice(0, rx.seqs().length));
      // The lease was given back: another holder takes the webhook at once.
      expect(await r.h.gateway.store.acquireLease(`webhook:${id}`, 'probe', 1_000, Date.now())).toBe(true);
      await r.h.gateway.store.releaseLease(`webhook:${id}`, 'probe');
      const b = r.worker();
      b.start();
      await until(() => first(rx.seqs()).length >= 30);
      await b.idle();
      expect(first(rx.seqs())).toEqual(seqs);
      expect(rx.seqs().length - 30).toBeLessThanOrEqual(8);
      expect(r.errors).toEqual([]);
    } finally {
      rx.close();
      await r.close();
    }
  });

  it('a name that resolves elsewhere between attempts: the lane\'s kept-alive connection is not reused, the new address is checked and connected to (pinning holds with per-lane connections)', async () => {
    const rx = await rawReceiver('127.0.0.1');
    let address = '127.0.0.1';
    const resolved: string[] = [];
    const send = webhookHttpSender({
      allowPrivate: true,
      resolve: async (host) => {
        resolved.push(host);
        return [address];
      },
      timeoutMs: 2_000,
      maxResponseBytes: 1024,
      pipelining: 8,
    });
    try {
      rx.reply = () => ({ bytes: ok(), delayMs: 30 });
      const url = `http://rebind.test:${new URL(rx.url).port}/hook`;
      const post = (seq: number): Promise<WebhookResponse> => send({ url, body: JSON.stringify({ seq }), headers: {}, lane: 'webhook-1' });
      const before = [1, 2, 3].map(post);
      // While those are pipelined on the open connection, the name moves (nobody listens there).
      address = '127.0.0.3';
      const after = [4, 5, 6].map(post);
      expect(await Promise.all(before)).toEqual([1, 2, 3].map(() => ({ ok: true, status: 200 })));
      expect((await Promise.all(after)).map((x) => (x.ok ? 'ok' : `${x.kind} ${x.address ?? ''}`))).toEqual([4, 5, 6].map(() => 'network 127.0.0.3'));
      expect(rx.seqs()).toEqual([1, 2, 3]);
      expect(resolved.length).toBe(6);
      // And refused outright when it now resolves to a refused address.
      const guarded = webhookHttpSender({ allowPrivate: false, resolve: async () => ['127.0.0.1'], timeoutMs: 2_000, maxResponseBytes: 1024, pipelining: 8 });
      expect(await guarded({ url, body: JSON.stringify({ seq: 7 }), headers: {}, lane: 'webhook-1' })).toMatchObject({ ok: false, kind: 'refused' });
      await guarded.close?.();
      expect(rx.seqs()).toEqual([1, 2, 3]);
    } finally {
      await send.close?.();
      rx.close();
    }
  });

  it('a receiver that drops the connection at one event every time (after answering those before it): the event is retried a bounded number of times, attempts counted, then error; no spin without backoff', async () => {
    const r = await rig();
    const rx = await rawReceiver();
    try {
      const flowId = await r.newFlow();
      const id = await r.register(rx.url, flowId);
      const seqs = await r.relabel(flowId, 6);
      const k = seqs[3]!;
      rx.reply = (seq) => (seq === k ? 'destroy' : { bytes: ok(), delayMs: 30 });
      const w = r.worker({ maxAttempts: 3 });
      w.start();
      await until(async () => (await r.h.gateway.store.getWebhookDelivery(id))!.webhook.status === 'error', 20_000);
      await sleep(300);
      const arrivalsOfK = rx.seqs().filter((s) => s === k).length;
      // maxAttempts counted attempts, plus at most 3 immediate resends of an `unanswered` one.
      expect(arrivalsOfK).toBeGreaterThanOrEqual(3);
      expect(arrivalsOfK).toBeLessThanOrEqual(3 + 3);
      expect(r.failures.filter((f) => f.seq === k).length).toBe(3);
      // Nothing after k was acknowledged: the cursor stays before it.
      expect((await r.h.gateway.store.getWebhookDelivery(id))!.cursor).toBe(seqs[2]);
      expect(r.errors).toEqual([]);
    } finally {
      rx.close();
      await r.close();
    }
  });

  it('two workers (two holders) over one store, pipelined, events committed while both run: every event once per webhook, in order', async () => {
    const r = await rig();
    const rxs = [await rawReceiver(), await rawReceiver(), await rawReceiver()];
    try {
      const flowId = await r.newFlow();
      for (const rx of rxs) {
        await r.register(rx.url, flowId);
        rx.reply = () => ({ bytes: ok(), delayMs: 3 });
      }
      const a = r.worker();
      const b = r.worker();
      a.start();
      b.start();
      const seqs = await r.relabel(flowId, 60);
      await until(() => rxs.every((rx) => rx.arrivals.length >= 60), 30_000);
      await sleep(200);
      await a.idle();
      await b.idle();
      for (const rx of rxs) expect(rx.seqs()).toEqual(seqs);
      expect({ failures: r.failures, errors: r.errors }).toEqual({ failures: [], errors: [] });
    } finally {
      for (const rx of rxs) rx.close();
      await r.close();
    }
  });

  it('DELETE of a webhook with a full pipeline: nothing is written to the receiver after the requests already on the connection, the lease is given back, no error', async () => {
    const r = await rig();
    const rx = await rawReceiver();
    try {
      const flowId = await r.newFlow();
      const id = await r.register(rx.url, flowId);
      await r.relabel(flowId, 40);
      rx.reply = () => ({ bytes: ok(), delayMs: 40 });
      const w = r.worker();
      w.start();
      await until(() => rx.arrivals.length >= 2);
      expect((await r.h.request('DELETE', `/service/webhooks/${id}`)).status).toBe(204);
      const wireAtDelete = rx.wire.length;
      await sleep(1_000);
      await w.idle();
      // At most what was in flight when the DELETE was answered (one pipeline, one more POST being prepared).
      expect(rx.wire.length - wireAtDelete).toBeLessThanOrEqual(1);
      expect(rx.wire.length).toBeLessThanOrEqual(2 + 8 + 1);
      expect(await r.h.gateway.store.acquireLease(`webhook:${id}`, 'probe', 1_000, Date.now())).toBe(true);
      expect(r.errors).toEqual([]);
    } finally {
      rx.close();
      await r.close();
    }
  });
});

describe('pipelined webhook delivery: what the hostile review found, fixed', () => {
  it('was a defect, fixed: while a failed event is retried, later events are pipelined behind every retry (docs: "nothing later is sent before it succeeds"): each later event reaches the receiver once per failure, not at most twice', async () => {
    const r = await rig();
    const rx = await rawReceiver();
    try {
      const flowId = await r.newFlow();
      await r.register(rx.url, flowId);
      const seqs = await r.relabel(flowId, 12);
      const k = seqs[2]!;
      let failuresLeft = 4;
      rx.reply = (seq) => {
        if (seq === k && failuresLeft > 0) {
          failuresLeft--;
          return { bytes: status(500), delayMs: 30 };
        }
        return { bytes: ok(), delayMs: 5 };
      };
      const w = r.worker();
      w.start();
      await until(() => r.sent.length >= 12);
      await w.idle();
      expect(r.failures.map((f) => f.seq)).toEqual([k, k, k, k]);
      // First arrivals in order, nothing lost.
      expect(first(rx.seqs())).toEqual(seqs);
      const got = rx.seqs();
      const firstOk = got.lastIndexOf(k);
      // Between k's first failure and its success, only what was already pipelined behind the
      // first failure may have gone out (at most TAMS_WEBHOOK_PIPELINE - 1 later events, once).
      const laterBeforeSuccess = got.slice(got.indexOf(k), firstOk).filter((s) => s > k);
      // (k itself goes once per attempt: 4 failures and the success.)
      expect(got.filter((x) => x === k).length).toBe(5);
      const maxCopies = Math.max(...seqs.filter((s) => s !== k).map((s) => got.filter((x) => x === s).length));
      expect({ laterBeforeSuccess: laterBeforeSuccess.length, maxCopies }).toEqual({ laterBeforeSuccess: Math.min(laterBeforeSuccess.length, 7), maxCopies: Math.min(maxCopies, 2) });
    } finally {
      rx.close();
      await r.close();
    }
  });

  it('was a defect, fixed: a receiver that answers every POST in 450 ms (timeout 1000 ms) but handles pipelined requests one at a time gets timeouts charged as failed attempts (the timeout runs while a request waits behind the others); with TAMS_WEBHOOK_MAX_ATTEMPTS=1 the webhook goes to error', async () => {
    const r = await rig();
    const rx = await rawReceiver();
    try {
      const flowId = await r.newFlow();
      const id = await r.register(rx.url, flowId);
      const seqs = await r.relabel(flowId, 8);
      rx.reply = () => ({ bytes: ok(), delayMs: 450 });
      const w = r.worker({ maxAttempts: 1 });
      w.start();
      await until(async () => r.sent.length >= 8 || (await r.h.gateway.store.getWebhookDelivery(id))!.webhook.status === 'error', 30_000);
      await w.idle();
      // No answer took more than 450 ms once the receiver read the request.
      const status = (await r.h.gateway.store.getWebhookDelivery(id))!.webhook.status;
      expect({ status, failures: r.failures, delivered: r.sent }).toEqual({ status: 'started', failures: [], delivered: seqs });
    } finally {
      rx.close();
      await r.close();
    }
  });

  it('was a defect, fixed: a receiver that sends an interim "100 Continue" before each 200 (RFC 9110 15.2: a client must parse unsolicited 1xx) never gets an event: every attempt fails and the webhook goes to error', async () => {
    const r = await rig();
    const rx = await rawReceiver();
    try {
      const flowId = await r.newFlow();
      const id = await r.register(rx.url, flowId);
      const seqs = await r.relabel(flowId, 4);
      rx.reply = () => ({ bytes: 'HTTP/1.1 100 Continue\r\n\r\n' + ok() });
      const w = r.worker({ maxAttempts: 3 });
      w.start();
      await until(async () => r.sent.length >= 4 || (await r.h.gateway.store.getWebhookDelivery(id))!.webhook.status === 'error', 20_000);
      await w.idle();
      const status = (await r.h.gateway.store.getWebhookDelivery(id))!.webhook.status;
      expect({ status, failures: r.failures.map((f) => f.kind), delivered: r.sent }).toEqual({ status: 'started', failures: [], delivered: seqs });
    } finally {
      rx.close();
      await r.close();
    }
  });

  it('was a defect, fixed: PUT status disabled during a retry: POSTs are still written to the receiver after the PUT was answered (the retry\'s pipeline queued in undici behind abandoned requests)', async () => {
    const r = await rig();
    const rx = await rawReceiver();
    try {
      const flowId = await r.newFlow();
      const id = await r.register(rx.url, flowId);
      const seqs = await r.relabel(flowId, 12);
      const k = seqs[0]!;
      let failed = false;
      rx.reply = (seq) => {
        if (seq === k && !failed) {
          failed = true;
          return { bytes: status(500), delayMs: 10 };
        }
        return { bytes: ok(), delayMs: 100 };
      };
      const w = r.worker();
      w.start();
      await until(() => r.failures.length === 1);
      // The retry of k is on the wire (behind the 7 abandoned): the worker has sent its pipeline.
      await until(() => rx.wire.length >= 9, 5_000);
      await sleep(20);
      const put = await r.h.request('PUT', `/service/webhooks/${id}`, { id, url: rx.url, events: ['flows/updated'], flow_ids: [flowId], status: 'disabled' });
      expect(put.status).toBe(201);
      const answeredAt = Date.now();
      await sleep(2_500);
      await w.idle();
      // "disabled sends nothing": nothing may reach the receiver's socket once the PUT is answered.
      const writtenAfterDisable = rx.wire.filter((t) => t > answeredAt).length;
      expect(writtenAfterDisable).toBe(0);
    } finally {
      rx.close();
      await r.close();
    }
  });
});
