/**
 * HTTP hardening over real HTTP: helmet's security headers exactly once on every kind of
 * answer (REST, GraphQL, media, errors, 404, HEAD, preflight), HSTS only over TLS, the landing
 * page's CSP, CORS for allowed and refused origins (API and media URLs, preflights, Range),
 * request ids, JSON depth and slow-client limits, and webhook URLs refused by address class.
 */
import http from 'node:http';
import net from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

interface RawResponse {
  status: number;
  /** Header names (lower case) -> every value sent under that name, in order. */
  headers: Map<string, string[]>;
  body: string;
}

/** One request through node:http, which keeps repeated headers apart (fetch joins them). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const map = new Map<string, string[]>();
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i]!.toLowerCase();
          map.set(name, [...(map.get(name) ?? []), res.rawHeaders[i + 1]!]);
        }
        resolve({ status: res.statusCode ?? 0, headers: map, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const one = (res: RawResponse, name: string): string | undefined => {
  const values = res.headers.get(name);
  if (values === undefined) return undefined;
  expect({ name, values }).toEqual({ name, values: [values[0]] });
  return values[0];
};

/** helmet's set as the gateway sends it on API answers (HSTS apart: only over TLS). */
const API_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};
const HSTS = 'max-age=31536000; includeSubDomains';

function expectSecurityHeaders(res: RawResponse, overrides: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries({ ...API_HEADERS, ...overrides })) {
    expect({ name, value: one(res, name) }).toEqual({ name, value });
  }
  expect(res.headers.has('x-powered-by')).toBe(false);
  expect(one(res, 'x-request-id')).toMatch(/^\S+$/);
}

const ALLOWED = 'https://tools.example.com';
const ALSO_ALLOWED = 'http://localhost:3000';
const REFUSED = 'https://evil.example.com';

/** A flow with one uploaded segment: its put and get URLs on the gateway. */
async function uploadedSegment(h: Harness): Promise<{ putUrl: string; getUrl: string; bytes: Buffer }> {
  const flow = videoFlow();
  expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
  const storage = await h.request('POST', `/flows/${flow.id as string}/storage`, { limit: 1 });
  const object = storage.body.media_objects[0] as { object_id: string; put_url: { url: string } };
  const bytes = randomBytes(1000);
  expect((await checkedFetch(object.put_url.url, { method: 'PUT', body: bytes })).status).toBe(200);
  expect((await h.request('POST', `/flows/${flow.id as string}/segments`, { object_id: object.object_id, timerange: '[0:0_1:0)' })).status).toBe(201);
  const segments = await h.request('GET', `/flows/${flow.id as string}/segments`);
  return { putUrl: object.put_url.url, getUrl: segments.body[0].get_urls[0].url as string, bytes };
}

describe('HTTP hardening', () => {
  let h: Harness;
  let media: { putUrl: string; getUrl: string; bytes: Buffer };
  const pathOf = (url: string): string => url.slice(h.base.length);

  beforeAll(async () => {
    h = await startHarness({ CORS_ORIGINS: `${ALLOWED}, ${ALSO_ALLOWED}`, TRUST_PROXY: 'true' });
    media = await uploadedSegment(h);
  });
  afterAll(async () => {
    await h.close();
  });

  describe('security headers', () => {
    it('are on every kind of answer, each exactly once, with no X-Powered-By', async () => {
      const cases: [string, string, Record<string, string>?, string?][] = [
        ['GET', '/service'],
        ['HEAD', '/service'],
        ['GET', '/flows?limit=1'],
        ['GET', `/flows/${randomUUID()}`],
        ['GET', '/no/such/route'],
        ['POST', '/flows/x/segments', { 'content-type': 'application/json' }, '{not json'],
        ['PUT', '/service', { 'content-type': 'text/plain' }, 'x'],
        ['POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify({ query: '{ service { name } }' })],
        ['POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify({ query: '{ nope }' })],
        ['GET', '/livez'],
        ['OPTIONS', '/flows', { origin: REFUSED, 'access-control-request-method': 'GET' }],
        ['OPTIONS', '/flows', { origin: ALLOWED, 'access-control-request-method': 'GET' }],
      ];
      for (const [method, path, headers, body] of cases) {
        const res = await raw(h.base, method, path, headers, body);
        expect({ method, path, status: res.status >= 100 }).toEqual({ method, path, status: true });
        expectSecurityHeaders(res);
        expect(res.headers.has('strict-transport-security')).toBe(false);
      }
    });

    it('let other origins embed media (CORP cross-origin) on GET, HEAD, PUT and refusals alike', async () => {
      const path = pathOf(media.getUrl);
      for (const res of [
        await raw(h.base, 'GET', path),
        await raw(h.base, 'HEAD', path),
        await raw(h.base, 'GET', path, { range: 'bytes=0-9' }),
        await raw(h.base, 'GET', path.replace(/sig=[^&]+/, 'sig=AAAA')),
        await raw(h.base, 'PUT', pathOf(media.putUrl), { 'content-type': 'application/octet-stream' }, media.bytes),
      ]) {
        expectSecurityHeaders(res, { 'cross-origin-resource-policy': 'cross-origin' });
      }
    });

    it('add HSTS only when the request came over TLS, as a trusted proxy says', async () => {
      const viaTls = await raw(h.base, 'GET', '/service', { 'x-forwarded-proto': 'https' });
      expect(one(viaTls, 'strict-transport-security')).toBe(HSTS);
      const notFound = await raw(h.base, 'GET', '/nowhere', { 'x-forwarded-proto': 'https' });
      expect(one(notFound, 'strict-transport-security')).toBe(HSTS);
      expect((await raw(h.base, 'GET', '/service', { 'x-forwarded-proto': 'http' })).headers.has('strict-transport-security')).toBe(false);
      expect((await raw(h.base, 'GET', '/service')).headers.has('strict-transport-security')).toBe(false);

      // Without TRUST_PROXY the header is the client's word, not the proxy's: no HSTS.
      const untrusting = await startHarness();
      try {
        expect((await raw(untrusting.base, 'GET', '/service', { 'x-forwarded-proto': 'https' })).headers.has('strict-transport-security')).toBe(false);
      } finally {
        await untrusting.close();
      }
    });

    it("give the GraphQL IDE page a CSP of the gateway's own origin, and nothing looser elsewhere", async () => {
      const page = await raw(h.base, 'GET', '/graphql', { accept: 'text/html' });
      expect(page.status).toBe(200);
      expect(one(page, 'content-type')).toMatch(/^text\/html/);
      const csp = one(page, 'content-security-policy')!;
      const directives = new Map(csp.split(';').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1)]));
      expect(directives.get('default-src')).toEqual(["'none'"]);
      expect(directives.get('script-src')).toEqual(["'self'"]);
      expect(directives.get('style-src')).toEqual(["'self'"]);
      expect(directives.get('connect-src')).toEqual(["'self'"]);
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(csp).not.toMatch(/unsafe|https?:/);
      expect(one(page, 'x-frame-options')).toBe('DENY');
      // JSON from the same route keeps the strict policy.
      const json = await raw(h.base, 'GET', `/graphql?query=${encodeURIComponent('{ service { name } }')}`, { 'apollo-require-preflight': 'true' });
      expect(json.status).toBe(200);
      expectSecurityHeaders(json);
    });

    it('keep the strict policy on GET /graphql when the landing page is off', async () => {
      const off = await startHarness({ GRAPHQL_LANDING_PAGE: 'false' });
      try {
        const res = await raw(off.base, 'GET', '/graphql', { accept: 'text/html' });
        expectSecurityHeaders(res);
      } finally {
        await off.close();
      }
    });
  });

  describe('CORS', () => {
    const exposed = (res: RawResponse): string[] => (one(res, 'access-control-expose-headers') ?? '').split(',').map((s) => s.trim());

    it('lets allowed origins read the API with credentials and the paging, Location and request-id headers', async () => {
      for (const origin of [ALLOWED, ALSO_ALLOWED]) {
        const res = await raw(h.base, 'GET', '/flows?limit=1', { origin });
        expect(res.status).toBe(200);
        expect(one(res, 'access-control-allow-origin')).toBe(origin);
        expect(one(res, 'access-control-allow-credentials')).toBe('true');
        expect(exposed(res)).toEqual(
          expect.arrayContaining(['Link', 'Location', 'X-Paging-Count', 'X-Paging-Limit', 'X-Paging-NextKey', 'X-Paging-Reverse-Order', 'X-Paging-Timerange', 'X-Request-Id']),
        );
        expect(one(res, 'vary')).toContain('Origin');
      }
      // Errors too: a browser tool must be able to read why.
      const missing = await raw(h.base, 'GET', `/flows/${randomUUID()}`, { origin: ALLOWED });
      expect(missing.status).toBe(404);
      expect(one(missing, 'access-control-allow-origin')).toBe(ALLOWED);
    });

    it('gives other origins none of the CORS headers, and still varies by Origin', async () => {
      for (const origin of [REFUSED, 'null', `${ALLOWED}.evil.com`, 'https://TOOLS.example.com', `${ALLOWED}:443`]) {
        const res = await raw(h.base, 'GET', '/flows?limit=1', { origin });
        expect(res.status).toBe(200);
        for (const name of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers', 'access-control-allow-methods']) {
          expect({ origin, name, present: res.headers.has(name) }).toEqual({ origin, name, present: false });
        }
        expect(one(res, 'vary')).toBe('Origin');
      }
    });

    it('answers preflights of allowed origins (REST and GraphQL) and not of others', async () => {
      for (const path of ['/flows/abc', '/graphql']) {
        const res = await raw(h.base, 'OPTIONS', path, {
          origin: ALLOWED,
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'authorization, content-type, x-request-id',
        });
        expect(res.status).toBe(204);
        expect(one(res, 'access-control-allow-origin')).toBe(ALLOWED);
        expect(one(res, 'access-control-allow-credentials')).toBe('true');
        expect(one(res, 'access-control-allow-methods')).toBe('GET, HEAD, POST, PUT, DELETE');
        expect(one(res, 'access-control-allow-headers')).toBe('authorization, content-type, x-request-id');
        expect(Number(one(res, 'access-control-max-age'))).toBeGreaterThan(0);
      }
      const refused = await raw(h.base, 'OPTIONS', '/flows/abc', { origin: REFUSED, 'access-control-request-method': 'PUT' });
      expect(refused.headers.has('access-control-allow-origin')).toBe(false);
      expect(refused.headers.has('access-control-allow-methods')).toBe(false);
      // A header list that is not one is not echoed.
      const odd = await raw(h.base, 'OPTIONS', '/flows/abc', { origin: ALLOWED, 'access-control-request-method': 'GET', 'access-control-request-headers': 'a b; c' });
      expect(odd.headers.has('access-control-allow-headers')).toBe(false);
    });

    it('covers the media URLs: preflight for PUT and Range, ranged GET readable by allowed origins only', async () => {
      const preflight = await raw(h.base, 'OPTIONS', pathOf(media.putUrl), {
        origin: ALLOWED,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      });
      expect(preflight.status).toBe(204);
      expect(one(preflight, 'access-control-allow-origin')).toBe(ALLOWED);
      expect(one(preflight, 'access-control-allow-methods')).toBe('GET, HEAD, PUT');
      const rangePreflight = await raw(h.base, 'OPTIONS', pathOf(media.getUrl), { origin: ALLOWED, 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' });
      expect(one(rangePreflight, 'access-control-allow-headers')).toBe('range');

      const ranged = await raw(h.base, 'GET', pathOf(media.getUrl), { origin: ALLOWED, range: 'bytes=10-19' });
      expect(ranged.status).toBe(206);
      expect(one(ranged, 'content-range')).toBe(`bytes 10-19/${media.bytes.length}`);
      expect(one(ranged, 'access-control-allow-origin')).toBe(ALLOWED);
      expect(exposed(ranged)).toEqual(expect.arrayContaining(['Content-Range', 'Accept-Ranges', 'Content-Length']));

      // Media objects are write-once: the uploaded object refuses a second PUT, readably for allowed origins.
      const put = await raw(h.base, 'PUT', pathOf(media.putUrl), { origin: ALLOWED, 'content-type': 'application/octet-stream' }, media.bytes);
      expect(put.status).toBe(409);
      expect(one(put, 'access-control-allow-origin')).toBe(ALLOWED);

      const other = await raw(h.base, 'GET', pathOf(media.getUrl), { origin: REFUSED, range: 'bytes=10-19' });
      expect(other.status).toBe(206);
      expect(other.headers.has('access-control-allow-origin')).toBe(false);
      const otherPreflight = await raw(h.base, 'OPTIONS', pathOf(media.putUrl), { origin: REFUSED, 'access-control-request-method': 'PUT' });
      expect(otherPreflight.headers.has('access-control-allow-origin')).toBe(false);
    });

    it('is off when CORS_ORIGINS is empty', async () => {
      const plain = await startHarness();
      try {
        const res = await raw(plain.base, 'GET', '/service', { origin: ALLOWED });
        expect(res.headers.has('access-control-allow-origin')).toBe(false);
        expect(res.headers.has('vary')).toBe(false);
      } finally {
        await plain.close();
      }
    });
  });

  describe('request ids', () => {
    it('echoes a sane X-Request-Id and makes a fresh one otherwise, on successes and errors', async () => {
      const echoed = await raw(h.base, 'GET', '/service', { 'x-request-id': 'edge-7f3a.42:1' });
      expect(one(echoed, 'x-request-id')).toBe('edge-7f3a.42:1');
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
      const seen = new Set<string>();
      for (const headers of [{} as Record<string, string>, { 'x-request-id': 'has spaces in it' }, { 'x-request-id': 'x'.repeat(200) }, { 'x-request-id': '<script>' }]) {
        const res = await raw(h.base, 'GET', '/no/such/route', headers);
        const id = one(res, 'x-request-id')!;
        expect(id).toMatch(uuid);
        seen.add(id);
      }
      expect(seen.size).toBe(4);
    });
  });

  describe('body and connection limits', () => {
    const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

    it('refuses JSON nested deeper than TAMS_MAX_JSON_DEPTH with 400, on REST and GraphQL', async () => {
      const shallow = await startHarness({ TAMS_MAX_JSON_DEPTH: '8' });
      try {
        const rest = await shallow.request('POST', '/service/webhooks', nested(9));
        expect(rest.status).toBe(400);
        expect(rest.body).toMatchObject({ type: 'BadRequest', summary: 'JSON body nests deeper than 8 levels' });
        // Brackets inside strings do not count.
        const inStrings = await shallow.request('POST', '/service/webhooks', { url: 'https://h.example.com', events: [], tags: { x: '[[[[[[[[[[{{{{{{{{{"\\"[[[[[[' } });
        expect(inStrings.status).toBe(201);
        const query = '{ service { name } }';
        const ok = await raw(shallow.base, 'POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify({ query, variables: { a: JSON.parse(nested(6)) } }));
        expect(ok.status).toBe(200);
        const deep = await raw(shallow.base, 'POST', '/graphql', { 'content-type': 'application/json' }, JSON.stringify({ query, variables: { a: JSON.parse(nested(8)) } }));
        expect(deep.status).toBe(400);
        expect(JSON.parse(deep.body)).toMatchObject({ type: 'BadRequest' });
        expectSecurityHeaders(deep);
      } finally {
        await shallow.close();
      }
      // The default (64) takes ordinary bodies and refuses an attack-sized nesting.
      expect((await h.request('POST', '/service/webhooks', nested(10_000))).status).toBe(400);
    });

    it('applies the head, request and keep-alive timeouts to the server, and cuts a client that sends its head too slowly', async () => {
      const slow = await startHarness({ TAMS_HEADERS_TIMEOUT_MS: '1000', TAMS_REQUEST_TIMEOUT_MS: '2000', TAMS_KEEP_ALIVE_TIMEOUT_MS: '1500' });
      try {
        const server = slow.gateway.app.server;
        expect(server.headersTimeout).toBe(1000);
        expect(server.requestTimeout).toBe(2000);
        expect(server.keepAliveTimeout).toBe(1500);
        const port = Number(new URL(slow.base).port);
        const cut = async (written: string): Promise<{ ms: number; answer: string }> => {
          const socket = net.connect(port, '127.0.0.1');
          const started = Date.now();
          let answer = '';
          socket.setEncoding('utf8');
          socket.on('data', (d: string) => (answer += d));
          socket.write(written);
          await new Promise<void>((resolve) => socket.on('close', () => resolve()));
          return { ms: Date.now() - started, answer };
        };
        const head = await cut('GET /service HTTP/1.1\r\nHost: x\r\n');
        expect(head.answer).toMatch(/^HTTP\/1\.1 408/);
        expect(head.ms).toBeLessThan(4000);
        const body = await cut('PUT /service HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na');
        expect(body.answer).toMatch(/^HTTP\/1\.1 408/);
        expect(body.ms).toBeGreaterThanOrEqual(1500);
        expect(body.ms).toBeLessThan(6000);
      } finally {
        await slow.close();
      }
    });

    it('refuses a head timeout longer than the request timeout at start', async () => {
      await expect(startHarness({ TAMS_HEADERS_TIMEOUT_MS: '60000', TAMS_REQUEST_TIMEOUT_MS: '30000' })).rejects.toThrow(/TAMS_HEADERS_TIMEOUT_MS/);
    });
  });

  describe('webhook URLs (server-side request forgery)', () => {
    let strict: Harness;
    beforeAll(async () => {
      strict = await startHarness({ TAMS_WEBHOOK_ALLOW_PRIVATE: 'false' });
    });
    afterAll(async () => {
      await strict.close();
    });

    const REFUSED_URLS: [string, string][] = [
      ['loopback', 'http://127.0.0.1:8080/hook'],
      ['loopback, other address', 'http://127.45.6.7/'],
      ['loopback, short form', 'http://127.1/'],
      ['loopback, decimal', 'http://2130706433/'],
      ['loopback, hex', 'http://0x7f.0.0.1/'],
      ['localhost', 'http://localhost:3000/hook'],
      ['localhost, upper case with trailing dot', 'http://LOCALHOST./'],
      ['*.localhost', 'https://receiver.localhost/'],
      ['IPv6 loopback', 'http://[::1]/'],
      ['unspecified', 'http://0.0.0.0/'],
      ['IPv6 unspecified', 'http://[::]/'],
      ['10/8', 'http://10.1.2.3/'],
      ['172.16/12', 'http://172.16.0.1/'],
      ['172.16/12, top', 'http://172.31.255.254/'],
      ['192.168/16', 'https://192.168.1.10/'],
      ['carrier-grade NAT', 'http://100.64.0.1/'],
      ['link-local', 'http://169.254.10.20/'],
      ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
      ['GCP metadata name', 'http://metadata.google.internal/computeMetadata/v1/'],
      ['Alibaba metadata', 'http://100.100.100.200/latest/meta-data/'],
      ['Azure wire server', 'http://168.63.129.16/'],
      ['*.internal', 'https://hooks.corp.internal/'],
      ['IPv6 unique local (fd00::/8)', 'http://[fd00::1]/'],
      ['AWS IPv6 metadata', 'http://[fd00:ec2::254]/'],
      ['IPv6 unique local (fc00::/7)', 'http://[fc12::1]/'],
      ['IPv6 link-local', 'http://[fe80::1]/'],
      ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/'],
      ['IPv4-mapped metadata', 'http://[::ffff:169.254.169.254]/'],
      ['IPv4-mapped private, hex', 'http://[::ffff:a00:1]/'],
      ['NAT64 of a private address', 'http://[64:ff9b::a00:1]/'],
      ['6to4 of loopback', 'http://[2002:7f00:1::1]/'],
      ['multicast', 'http://224.0.0.1/'],
      ['broadcast', 'http://255.255.255.255/'],
      ['a name that does not resolve', 'https://no-such-host.invalid/hook'],
    ];

    it.each(REFUSED_URLS)('refuses %s (%s) on create, replace and GraphQL', async (_what, url) => {
      const created = await strict.request('POST', '/service/webhooks', { url, events: ['flows/created'] });
      expect(created.status).toBe(400);
      expect(created.body.type).toBe('ValidationError');
      expect(created.body.summary).toMatch(/^Webhook url host /);
      const gql = await strict.request(
        'POST',
        '/graphql',
        { query: 'mutation($input: WebhookInput!) { createWebhook(input: $input) { id } }', variables: { input: { url, events: ['flows/created'] } } },
      );
      expect(gql.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('accepts public addresses, and refuses replacing a webhook URL with a private one', async () => {
      for (const url of ['https://93.184.216.34/hook', 'http://8.8.8.8:8080/x', 'https://[2606:4700:4700::1111]/hook', 'https://[::ffff:5db8:d822]/']) {
        const res = await strict.request('POST', '/service/webhooks', { url, events: ['flows/created'] });
        expect({ url, status: res.status }).toEqual({ url, status: 201 });
      }
      const hook = await strict.request('POST', '/service/webhooks', { url: 'https://93.184.216.34/a', events: ['flows/created'] });
      const id = hook.body.id as string;
      const replaced = await strict.request('PUT', `/service/webhooks/${id}`, { id, url: 'http://169.254.169.254/', events: ['flows/created'], status: 'created' });
      expect(replaced.status).toBe(400);
      expect((await strict.request('GET', `/service/webhooks/${id}`)).body.url).toBe('https://93.184.216.34/a');
    });

    it('accepts every address with TAMS_WEBHOOK_ALLOW_PRIVATE=true (development, tests)', async () => {
      for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/', 'http://[::1]/', 'http://169.254.169.254/', 'http://10.0.0.1/']) {
        const res = await h.request('POST', '/service/webhooks', { url, events: ['flows/created'] });
        expect({ url, status: res.status }).toEqual({ url, status: 201 });
      }
      // Only http(s), whatever the setting.
      expect((await h.request('POST', '/service/webhooks', { url: 'file:///etc/passwd', events: [] })).status).toBe(400);
    });
  });
});
