/**
 * Hostile review of issue 18: the SSRF guard of webhook delivery, attacked at send time.
 *
 * The gateway resolves webhook hosts through node:dns/promises `lookup` (dnsHostResolver, at
 * registration and again at each send). This file replaces that one function with a table the
 * test controls, so a name can resolve to a public address when it is registered and to a
 * forbidden one when an event is sent (DNS rebinding), exactly as an attacker's DNS server
 * would make it. The connection itself never goes through `lookup` (the sender pins it), so
 * a guard that let an address through would reach the loopback receiver, which records it.
 *
 * The sender is also attacked directly (webhookHttpSender with an injected resolver): one
 * resolution per attempt, the connection pinned to the address checked, and receivers that
 * trickle their headers, send enormous headers, or never finish a 200 answer.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startHarness, type Harness } from '../support/gateway-harness';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { videoFlow } from '../fixtures/flows';
import { webhookHttpSender } from '../../src/adapters/webhook-http/webhook-http-sender';

/** name -> the addresses `lookup` answers now (names not listed resolve for real). */
const mockDns = new Map<string, string[]>();
const mockDnsCalls: string[] = [];

jest.mock('node:dns/promises', () => {
  const actual = jest.requireActual<typeof import('node:dns/promises')>('node:dns/promises');
  const { isIP } = jest.requireActual<typeof import('node:net')>('node:net');
  return {
    ...actual,
    lookup: async (hostname: string, options?: unknown) => {
      mockDnsCalls.push(hostname);
      const answer = mockDns.get(hostname);
      if (answer === undefined) return (actual.lookup as (h: string, o?: unknown) => Promise<unknown>)(hostname, options);
      return answer.map((address) => ({ address, family: isIP(address) }));
    },
  };
});

const PUBLIC = '93.184.216.34';
const ENV = {
  TAMS_WEBHOOK_ALLOW_PRIVATE: 'false',
  TAMS_WEBHOOK_MAX_ATTEMPTS: '1',
  TAMS_WEBHOOK_RETRY_BASE_MS: '20',
  TAMS_WEBHOOK_RETRY_MAX_MS: '50',
  TAMS_WEBHOOK_TIMEOUT_MS: '600',
  TAMS_WEBHOOK_LEASE_MS: '2000',
};

async function until(check: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('hostile webhooks: DNS rebinding between registration and send', () => {
  let h: Harness;
  let r: WebhookReceiver;
  let port: number;

  beforeAll(async () => {
    h = await startHarness(ENV);
    r = await startReceiver();
    port = Number(new URL(r.url).port);
  });
  afterAll(async () => {
    await h.close();
    await r.close();
  });

  async function registerPublic(name: string, extra: Record<string, unknown> = {}): Promise<string> {
    mockDns.set(name, [PUBLIC]);
    const res = await h.request('POST', '/service/webhooks', { url: `http://${name}:${port}/hook`, events: ['flows/created'], ...extra });
    expect({ name, status: res.status, body: res.status === 201 ? undefined : res.body }).toEqual({ name, status: 201, body: undefined });
    return res.body.id as string;
  }

  it('registration itself refuses names that resolve to forbidden addresses now', async () => {
    for (const address of ['127.0.0.1', '169.254.169.254', '::ffff:127.0.0.1', 'fe80::1', '::1']) {
      const name = `now-${address.replace(/[^0-9a-f]/gi, '-')}.attacker.test`;
      mockDns.set(name, [PUBLIC, address]);
      const res = await h.request('POST', '/service/webhooks', { url: `http://${name}:${port}/hook`, events: ['flows/created'] });
      expect({ address, status: res.status }).toEqual({ address, status: 400 });
    }
  });

  it('a name re-pointed after registration at loopback, metadata, IPv4-mapped, NAT64 or link-local addresses is refused at send time, nothing reaches the receiver, each refusal audited', async () => {
    const forbidden = ['127.0.0.1', '169.254.169.254', '::ffff:127.0.0.1', '::ffff:7f00:1', 'fe80::1', '::1', '0.0.0.0', '64:ff9b::7f00:1', 'fd00:ec2::254', '100.100.100.200', '2002:7f00:1::1'];
    const hooks: { id: string; address: string }[] = [];
    for (const [i, address] of forbidden.entries()) {
      const name = `rebind-${i}.attacker.test`;
      hooks.push({ id: await registerPublic(name), address });
      // The attacker's DNS now answers with the forbidden address (first, or hidden behind a public one).
      mockDns.set(name, i % 2 === 0 ? [address] : [PUBLIC, address]);
    }
    const flow = videoFlow();
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    await until(async () => {
      for (const hook of hooks) if ((await h.request('GET', `/service/webhooks/${hook.id}`)).body.status !== 'error') return false;
      return true;
    });
    expect(r.received).toEqual([]);
    for (const hook of hooks) {
      const got = (await h.request('GET', `/service/webhooks/${hook.id}`)).body;
      expect({ address: hook.address, status: got.status, summary: got.error?.summary as string }).toEqual({
        address: hook.address,
        status: 'error',
        summary: expect.stringContaining('may not reach'),
      });
    }
    const audited = new Set(h.auditLines().filter((l) => l.action === 'webhook.deliver').map((l) => l.resource.webhook as string));
    expect(hooks.filter((x) => !audited.has(x.id)).map((x) => x.address)).toEqual([]);
  });

  it('an IDN host (punycode) and a URL with userinfo and an odd port are resolved and refused the same way', async () => {
    const ascii = new URL('http://bücher.attacker.test/').hostname;
    expect(ascii).toBe('xn--bcher-kva.attacker.test');
    mockDns.set(ascii, [PUBLIC]);
    const res = await h.request('POST', '/service/webhooks', { url: `http://user:pa55w0rd@bücher.attacker.test:${port}/hook`, events: ['flows/created'] });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    mockDns.set(ascii, ['127.0.0.1']);
    const before = r.received.length;
    const flow = videoFlow();
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    await until(async () => (await h.request('GET', `/service/webhooks/${id}`)).body.status === 'error');
    expect(r.received.length).toBe(before);
    // The userinfo is the owner's secret: it must not come back in the error the API shows.
    expect(JSON.stringify((await h.request('GET', `/service/webhooks/${id}`)).body.error)).not.toContain('pa55w0rd');
  });

  it('names Unicode folds to a loopback name are refused at registration (ⓛⓞⓒⓐⓛⓗⓞⓢⓣ, full-width digits, trailing dot)', async () => {
    for (const url of [`http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:${port}/`, `http://１２７.０.０.１:${port}/`, `http://localhost.:${port}/`, `http://0x7f.1:${port}/`, `http://[::ffff:7f00:1]:${port}/`, `http://metadata.google.internal./`]) {
      const res = await h.request('POST', '/service/webhooks', { url, events: ['flows/created'] });
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
    }
  });
});

describe('hostile webhooks: the sender itself (injected resolver)', () => {
  it('resolves once per attempt and connects to exactly the address it checked (a second answer is never used)', async () => {
    const r = await startReceiver();
    try {
      const port = new URL(r.url).port;
      const calls: string[] = [];
      // First answer loopback (allowed here), any later one a blackhole: a second resolution would hang or fail.
      const send = webhookHttpSender({
        allowPrivate: true,
        resolve: async (host) => {
          calls.push(host);
          return calls.length === 1 ? ['127.0.0.1'] : ['10.255.255.1'];
        },
        timeoutMs: 1000,
        maxResponseBytes: 1024,
      });
      const before = mockDnsCalls.length;
      const out = await send({ url: `http://pinned.attacker.test:${port}/hook`, body: '{}', headers: {} });
      expect(out).toEqual({ ok: true, status: 200 });
      expect(calls).toEqual(['pinned.attacker.test']);
      // node's own lookup (what an unpinned connect would use) was never asked.
      expect(mockDnsCalls.slice(before)).toEqual([]);
      expect(r.received.length).toBe(1);
      expect(r.received[0]!.headers.host).toBe(`pinned.attacker.test:${port}`);
    } finally {
      await r.close();
    }
  });

  it('a refused answer anywhere in the list refuses the send, with nothing connected', async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as AddressInfo).port;
    try {
      for (const answer of [[PUBLIC, '127.0.0.1'], ['::ffff:127.0.0.1'], ['169.254.169.254', PUBLIC], ['not-an-address'], []]) {
        const send = webhookHttpSender({ allowPrivate: false, resolve: async () => answer, timeoutMs: 500, maxResponseBytes: 1024 });
        const out = await send({ url: `http://x.attacker.test:${port}/`, body: '{}', headers: {} });
        expect({ answer, ok: out.ok, kind: out.ok ? undefined : out.kind }).toEqual({ answer, ok: false, kind: answer.length === 0 ? 'unresolved' : 'refused' });
      }
      // A literal forbidden address in the URL, in every spelling WHATWG parsing leaves.
      for (const host of ['127.0.0.1', '[::ffff:7f00:1]', '[::1]', '[::]', '0.0.0.0', '2130706433', '0x7f.1', '[::ffff:a9fe:a9fe]']) {
        const send = webhookHttpSender({ allowPrivate: false, resolve: async () => [PUBLIC], timeoutMs: 500, maxResponseBytes: 1024 });
        const out = await send({ url: `http://${host}:${port}/`, body: '{}', headers: {} });
        expect({ host, kind: out.ok ? 'sent' : out.kind }).toEqual({ host, kind: 'refused' });
      }
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  /** A raw TCP receiver that answers as `answer` says. */
  async function rawServer(answer: (socket: net.Socket) => void): Promise<{ port: number; close: () => void }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('data', () => answer(s));
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    return {
      port: (server.address() as AddressInfo).port,
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    };
  }

  it('a receiver that trickles its status line and headers forever, one that sends 1 MiB of headers, and one that never finishes a 200 are each cut off within the timeout without stalling the event loop', async () => {
    const timers: NodeJS.Timeout[] = [];
    const trickle = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\n');
      const t = setInterval(() => s.write('X-Slow: a\r\n'), 20);
      timers.push(t);
    });
    const huge = await rawServer((s) => {
      s.write(`HTTP/1.1 200 OK\r\nX-Huge: ${'a'.repeat(1024 * 1024)}\r\n\r\n`);
    });
    const endless = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      const t = setInterval(() => s.write('1\r\nx\r\n'), 10);
      timers.push(t);
    });
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    try {
      const send = webhookHttpSender({ allowPrivate: true, resolve: async () => ['127.0.0.1'], timeoutMs: 800, maxResponseBytes: 64 * 1024 });
      const started = Date.now();
      const outcomes = await Promise.all(
        [trickle, huge, endless].map((x) => send({ url: `http://slow.attacker.test:${x.port}/`, body: '{}', headers: {} })),
      );
      const took = Date.now() - started;
      expect(outcomes.map((o) => (o.ok ? 'ok' : o.kind))).toEqual(['timeout', 'network', 'timeout']);
      expect(took).toBeLessThan(1500);
      expect(lag.max / 1e6).toBeLessThan(200);
    } finally {
      lag.disable();
      for (const t of timers) clearInterval(t);
      trickle.close();
      huge.close();
      endless.close();
    }
  });
});
