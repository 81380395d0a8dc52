/**
 * Webhook delivery when receivers misbehave (500, slow, never answering, redirecting, an
 * enormous answer), the status transitions that follow (created -> started -> error, PUT back
 * to created), and re-enabling inside and past the outbox retention (TAMS_OUTBOX_RETENTION)
 * with a test clock.
 */
import net, { type AddressInfo } from 'node:net';
import { startHarness, type Harness } from '../support/gateway-harness';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { TestClock } from '../support/test-clock';
import { videoFlow } from '../fixtures/flows';

// One event in flight per webhook here (the strict order of attempts is what these tests count);
// the pipelined case has its own test at the end.
const ENV = { TAMS_WEBHOOK_PIPELINE: '1', TAMS_WEBHOOK_RETRY_BASE_MS: '50', TAMS_WEBHOOK_RETRY_MAX_MS: '200', TAMS_WEBHOOK_MAX_ATTEMPTS: '3', TAMS_WEBHOOK_TIMEOUT_MS: '700', TAMS_WEBHOOK_LEASE_MS: '2000', METRICS_TOKEN: 'metrics-token-0123456789' };

async function register(h: Harness, r: WebhookReceiver, flowId?: string): Promise<string> {
  const res = await h.request('POST', '/service/webhooks', { url: r.url, events: ['flows/created', 'flows/updated'], ...(flowId === undefined ? {} : { flow_ids: [flowId] }) });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function relabel(h: Harness, flowId: string, label: string): Promise<void> {
  expect((await h.request('PUT', `/flows/${flowId}/label`, JSON.stringify(label))).status).toBeLessThan(300);
}

async function webhook(h: Harness, id: string): Promise<Record<string, unknown>> {
  return (await h.request('GET', `/service/webhooks/${id}`)).body as Record<string, unknown>;
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function reenable(h: Harness, id: string, r: WebhookReceiver, flowId: string): Promise<void> {
  const res = await h.request('PUT', `/service/webhooks/${id}`, { id, url: r.url, events: ['flows/created', 'flows/updated'], flow_ids: [flowId], status: 'created' });
  expect(res.status).toBe(201);
}

async function metric(h: Harness, pattern: RegExp): Promise<number> {
  const text = (await h.request('GET', '/metrics', undefined, { authorization: 'Bearer metrics-token-0123456789' })).text;
  return Number(pattern.exec(text)?.[1] ?? 'NaN');
}

describe('webhook delivery failures and status', () => {
  let h: Harness;
  const receivers: WebhookReceiver[] = [];
  async function receiver(): Promise<WebhookReceiver> {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  }
  beforeAll(async () => {
    h = await startHarness(ENV);
  });
  afterAll(async () => {
    await h.close();
    for (const r of receivers) await r.close();
  });

  it('retries a 500 with backoff, goes started, then error after the attempt limit, and resumes from the cursor when re-enabled', async () => {
    const r = await receiver();
    const flow = videoFlow();
    const flowId = flow.id as string;
    const id = await register(h, r, flowId);
    expect((await webhook(h, id)).status).toBe('created');
    r.respond = (_x, i) => ({ status: i < 2 ? 500 : 200 });
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    await r.waitFor(3);
    await until(async () => (await webhook(h, id)).status === 'started');
    expect(r.received.map((x) => x.body.event_type)).toEqual(['flows/created', 'flows/created', 'flows/created']);
    // The backoff spaced the attempts out (base 50 ms, half of it random).
    expect(r.received[1]!.atMs - r.received[0]!.atMs).toBeGreaterThanOrEqual(20);
    expect(await metric(h, /tams_webhook_retries_total (\d+)/)).toBeGreaterThanOrEqual(2);

    r.respond = () => ({ status: 503 });
    await relabel(h, flowId, 'one');
    await relabel(h, flowId, 'two');
    await until(async () => (await webhook(h, id)).status === 'error');
    const failed = await webhook(h, id);
    expect(failed.error).toMatchObject({ type: 'delivery_failed', summary: expect.stringContaining('503'), time: expect.any(String) });
    expect(r.received.length).toBe(6);
    // An error webhook cannot be disabled (webhook-get.json), and it sends nothing more.
    expect((await h.request('PUT', `/service/webhooks/${id}`, { id, url: r.url, events: ['flows/updated'], status: 'disabled' })).status).toBe(400);
    await relabel(h, flowId, 'three');
    await new Promise((x) => setTimeout(x, 300));
    expect(r.received.length).toBe(6);

    r.respond = () => ({ status: 200 });
    await reenable(h, id, r, flowId);
    await r.waitFor(9);
    expect(r.received.slice(5).map((x) => x.body.event.flow.label)).toEqual(['one', 'one', 'two', 'three']);
    await until(async () => (await webhook(h, id)).status === 'started');
    expect((await webhook(h, id)).error).toBeUndefined();
  });

  it('sends nothing while disabled and resumes from the cursor on re-enable', async () => {
    const r = await receiver();
    const flow = videoFlow();
    const flowId = flow.id as string;
    const id = await register(h, r, flowId);
    expect((await h.request('PUT', `/service/webhooks/${id}`, { id, url: r.url, events: ['flows/created', 'flows/updated'], flow_ids: [flowId], status: 'disabled' })).status).toBe(201);
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    await relabel(h, flowId, 'x');
    await new Promise((x) => setTimeout(x, 300));
    expect(r.received).toEqual([]);
    await reenable(h, id, r, flowId);
    expect((await r.waitFor(2)).map((x) => x.body.event_type)).toEqual(['flows/created', 'flows/updated']);
  });

  it('delivers to a slow receiver within the timeout, and fails one that never answers', async () => {
    const slow = await receiver();
    slow.respond = () => ({ status: 200, delayMs: 300 });
    const silent = await receiver();
    silent.respond = () => 'hang';
    const flow = videoFlow();
    const slowId = await register(h, slow, flow.id as string);
    const silentId = await register(h, silent, flow.id as string);
    const started = Date.now();
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    await slow.waitFor(1);
    await until(async () => (await webhook(h, slowId)).status === 'started');
    await until(async () => (await webhook(h, silentId)).status === 'error');
    expect(silent.received.length).toBe(3);
    // Three attempts of 700 ms each, not a hang.
    expect(Date.now() - started).toBeLessThan(6000);
    expect((await h.gateway.store.getWebhookDelivery(silentId))?.last_error).toMatch(/no complete answer within \d+ ms/);
  });

  it('never follows a redirect (here to a metadata address), and reads at most a bounded answer', async () => {
    const redirecting = await receiver();
    redirecting.respond = () => ({ status: 302, location: 'http://169.254.169.254/latest/meta-data/' });
    const enormous = await receiver();
    enormous.respond = () => ({ status: 200, bodyBytes: 512 * 1024 * 1024 });
    const flow = videoFlow();
    const redirectId = await register(h, redirecting, flow.id as string);
    const enormousId = await register(h, enormous, flow.id as string);
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    await until(async () => (await webhook(h, redirectId)).status === 'error');
    expect((await webhook(h, redirectId)).error).toMatchObject({ summary: expect.stringContaining('redirects are not followed') });
    await until(async () => (await webhook(h, enormousId)).status === 'started');
    expect(enormous.received.length).toBe(1);
    // The gateway dropped the connection after 64 KiB: far from the 512 MiB offered.
    await new Promise((x) => setTimeout(x, 200));
    expect(enormous.bytesWritten).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('outbox retention and re-enabling past it', () => {
  it('prunes events older than TAMS_OUTBOX_RETENTION whatever the cursors, and a re-enabled webhook reports the skipped span', async () => {
    const clock = new TestClock();
    const h = await startHarness({ ...ENV, TAMS_OUTBOX_RETENTION: '60s' }, { clock });
    const r = await startReceiver();
    try {
      const flow = videoFlow();
      const flowId = flow.id as string;
      const id = await register(h, r, flowId);
      expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
      await r.waitFor(1);
      const disable = { id, url: r.url, events: ['flows/created', 'flows/updated'], flow_ids: [flowId], status: 'disabled' };
      expect((await h.request('PUT', `/service/webhooks/${id}`, disable)).status).toBe(201);
      await relabel(h, flowId, 'inside');
      clock.advance(30_000);
      expect(await h.gateway.webhooks!.pruneOnce()).toBe(0);
      await reenable(h, id, r, flowId);
      expect((await r.waitFor(2))[1]!.body.event.flow.label).toBe('inside');

      expect((await h.request('PUT', `/service/webhooks/${id}`, disable)).status).toBe(201);
      await relabel(h, flowId, 'lost 1');
      await relabel(h, flowId, 'lost 2');
      clock.advance(120_000);
      const before = await h.gateway.store.lastEventSeq();
      expect(await h.gateway.webhooks!.pruneOnce()).toBeGreaterThanOrEqual(2);
      expect(await h.gateway.store.readEvents(0, 10)).toEqual([]);
      await relabel(h, flowId, 'after');
      await reenable(h, id, r, flowId);
      await r.waitFor(3);
      await new Promise((x) => setTimeout(x, 200));
      expect(r.received.map((x) => x.body.event.flow.label)).toEqual([flow.label, 'inside', 'after']);
      const shown = await webhook(h, id);
      expect(shown.status).toBe('started');
      expect(shown.error).toMatchObject({ type: 'events_skipped', summary: expect.stringContaining(`to ${before}`) });
      expect(await metric(h, /tams_webhook_events_skipped_total (\d+)/)).toBeGreaterThanOrEqual(2);
      expect(await metric(h, /tams_outbox_pruned_total (\d+)/)).toBeGreaterThanOrEqual(2);
    } finally {
      await h.close();
      await r.close();
    }
  });
});

describe('webhook delivery failures, pipelined', () => {
  it('pipelined (TAMS_WEBHOOK_PIPELINE=4): a failure in the middle of a pipeline sends everything again from the first event not acknowledged, in order', async () => {
    const p = await startHarness({ ...ENV, TAMS_WEBHOOK_PIPELINE: '4' });
    const r = await startReceiver();
    try {
      const flow = videoFlow({ label: 'start' });
      const flowId = flow.id as string;
      const id = await register(p, r, flowId);
      expect((await p.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
      await r.waitFor(1);
      // Slow answers, so the events pile up in the pipeline; the first n3 fails.
      let failedOnce = false;
      r.respond = (x) => {
        if (x.body.event.flow.label === 'n3' && !failedOnce) {
          failedOnce = true;
          return { status: 500, delayMs: 150 };
        }
        return { status: 200, delayMs: 30 };
      };
      const expected = Array.from({ length: 10 }, (_, i) => `n${i}`);
      for (const label of expected) await relabel(p, flowId, label);
      await until(async () => r.received.filter((x) => x.body.event.flow.label === 'n9').length >= 1 && r.received.slice(-1)[0]!.body.event.flow.label === 'n9');
      await new Promise((x) => setTimeout(x, 300));
      const got = r.received.slice(1).map((x) => x.body.event.flow.label as string);
      const failedAt = got.indexOf('n3');
      // Before the failure: each event once, in order.
      expect(got.slice(0, failedAt)).toEqual(['n0', 'n1', 'n2']);
      // Then at most depth - 1 events sent behind it before its answer (abandoned, in order)...
      const retriedAt = got.indexOf('n3', failedAt + 1);
      const abandoned = got.slice(failedAt + 1, retriedAt);
      // (some there were: the events were pipelined, not sent one per round trip)
      expect(abandoned.length).toBeGreaterThan(0);
      expect(abandoned.length).toBeLessThanOrEqual(3);
      expect(abandoned).toEqual(expected.slice(4, 4 + abandoned.length));
      // ...and from the retry on, everything again, once each, in order.
      expect(got.slice(retriedAt)).toEqual(expected.slice(3));
      expect((await webhook(p, id)).status).toBe('started');
    } finally {
      await p.close();
      await r.close();
    }
  });

  /**
   * A receiver on raw TCP that handles one request per connection: it answers it (after
   * `delayMs`) as HTTP/1.1 would keep the connection, then drops the connection without saying
   * so; requests written behind the first are never read.
   */
  async function droppingReceiver(delayMs: number): Promise<{ url: string; labels: string[]; close: () => void }> {
    const labels: string[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buffered.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        socket.off('data', onData);
        const body = JSON.parse(buffered.subarray(end + 4, end + 4 + length).toString('utf8')) as { event: { flow: { label: string } } };
        labels.push(body.event.flow.label);
        setTimeout(() => {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
          setTimeout(() => socket.destroy(), 20);
        }, delayMs);
      };
      socket.on('data', onData);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
      labels,
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    };
  }

  it('pipelined to receivers that end connections (Connection: close on every answer; dropped after each answer without notice): every event once in order, no failed attempt', async () => {
    const p = await startHarness({ ...ENV, TAMS_WEBHOOK_PIPELINE: '8' });
    const closing = await startReceiver();
    // Answers come after 50 ms, long enough for the requests behind to be written on the connection.
    closing.respond = () => ({ status: 200, close: true, delayMs: 50 });
    const old = await droppingReceiver(50);
    try {
      const flow = videoFlow({ label: 'start' });
      const flowId = flow.id as string;
      // Registered disabled, the events committed, then enabled: the first read holds them all,
      // so they are pipelined (8 at a time) behind answers that close the connection.
      const registration = (url: string) => ({ url, events: ['flows/created', 'flows/updated'], flow_ids: [flowId] });
      const closingRes = await p.request('POST', '/service/webhooks', { ...registration(closing.url), status: 'disabled' });
      const oldRes = await p.request('POST', '/service/webhooks', { ...registration(old.url), status: 'disabled' });
      expect([closingRes.status, oldRes.status]).toEqual([201, 201]);
      const closingId = closingRes.body.id as string;
      const oldId = oldRes.body.id as string;
      expect((await p.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
      const expected = Array.from({ length: 30 }, (_, i) => `n${i}`);
      for (const label of expected) await relabel(p, flowId, label);
      for (const [id, url] of [[closingId, closing.url], [oldId, old.url]] as const) {
        expect((await p.request('PUT', `/service/webhooks/${id}`, { id, ...registration(url), status: 'created' })).status).toBe(201);
      }
      const committed = ['start', ...expected];
      await until(async () => old.labels.length >= committed.length && new Set(closing.received.map((x) => x.body.event.flow.label as string)).size >= committed.length, 15_000);
      // The dropping receiver reads one request per connection: each event exactly once, in order
      // (the requests written behind an answer were never read, and went again after it).
      expect(new Set(old.labels).size).toBe(old.labels.length);
      // undici sends what was written behind a `Connection: close` answer again on a new
      // connection (the receiver must not have read it, RFC 9112 9.6): first arrivals in order.
      const firsts = [...new Set(closing.received.map((x) => x.body.event.flow.label as string))];
      expect(firsts.length).toBe(committed.length);
      expect((await webhook(p, closingId)).status).toBe('started');
      expect((await webhook(p, oldId)).status).toBe('started');
      // A closed connection behind an answer is not a failed attempt: nothing was retried with a backoff.
      expect(await metric(p, /tams_webhook_retries_total (\d+)/)).toBe(0);
      expect(firsts).toEqual(committed);
      expect(old.labels).toEqual(committed);
    } finally {
      await p.close();
      await closing.close();
      old.close();
    }
  });
});
