/**
 * End to end through the shipped NGINX configuration: a real nginx (nginx/nginx.conf, with a
 * certificate from nginx/generate_self_signed_cert.sh) on loopback in front of a real gateway
 * process (src/main.ts, configured by environment variables only). Every HTTPS request verifies
 * the server against the generated CA.
 *
 * Clients connect from 127.0.0.2 while nginx reaches the gateway from 127.0.0.1, so the client
 * address the gateway sees can be told apart from the proxy's.
 */
import { execFileSync } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { LookupFunction } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { videoFlow } from '../fixtures/flows';
import { edgeRequest, EdgeRequest, EdgeResponse } from './support/https-client';
import { GatewayProcess, startGatewayProcess } from './support/gateway-process';
import { CERT_SCRIPT, describeWithNginx, freePort, RunningNginx, startNginx } from './support/nginx';

const CLIENT_ADDRESS = '127.0.0.2';
/** A second client on loopback, for a bucket of its own. */
const OTHER_CLIENT_ADDRESS = '127.0.0.3';
const PROXY_ADDRESS = '127.0.0.1';
const CERT_HOST = 'tams.test';
const BASE_PATH = '/tams/v8.2';

/** Response headers helmet sets (and any proxy might add): the edge must neither add nor drop one. */
const SECURITY_HEADERS = [
  'strict-transport-security',
  'content-security-policy',
  'x-frame-options',
  'x-content-type-options',
  'referrer-policy',
  'permissions-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'cross-origin-embedder-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

/** Resolves every name to 127.0.0.1, standing in for DNS of the certificate's extra host. */
const toLoopback = ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as unknown as LookupFunction;

/** Log lines reach the pipe asynchronously: polls until `find` returns something (or 5 s pass). */
async function eventually<T>(find: () => T | undefined): Promise<T | undefined> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = find();
    if (found !== undefined || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The `req` object of the gateway's request log lines whose URL is `url`. */
function loggedRequests(gateway: GatewayProcess, url: string): { url: string; remoteAddress?: string; host?: string }[] {
  return gateway
    .logs()
    .map((line) => line.req as { url: string; remoteAddress?: string; host?: string } | undefined)
    .filter((req) => req?.url === url) as { url: string; remoteAddress?: string; host?: string }[];
}

interface FlowUpdatedEvent {
  errors?: unknown;
  data: { flowUpdated: { id: string; label: string; segments: { nodes: { getUrls: { url: string }[] }[] } } };
}

interface Stack {
  gateway: GatewayProcess;
  nginx: RunningNginx;
  /** The HTTPS origin clients use. */
  origin: string;
  /** The Authorization header every request carries (auth on), or undefined (auth off). */
  authorization: string | undefined;
  request(pathOrUrl: string, options?: EdgeRequest): Promise<EdgeResponse>;
  json(method: string, pathOrUrl: string, body?: unknown, headers?: Record<string, string>): Promise<EdgeResponse>;
}

describeWithNginx('NGINX in front of the gateway (TLS, URLs, WebSocket, client address)', (nginxBinary) => {
  let workDir: string;
  let certDir: string;
  let ca: Buffer;
  // Everything started is stopped, even when a later start fails.
  const cleanups: (() => Promise<void>)[] = [];
  let plain: Stack; // URLs from forwarded headers, REST at the root
  let prefixed: Stack; // TAMS_PUBLIC_URL on the certificate's extra host, REST under BASE_PATH, auth on

  async function startStack(name: string, env: (httpsPort: number) => Record<string, string>, host: string): Promise<Stack> {
    const httpsPort = await freePort();
    const httpPort = await freePort();
    const settings: Record<string, string> = { LOG_LEVEL: 'info', TRUST_PROXY: PROXY_ADDRESS, ...env(httpsPort) };
    const gateway = await startGatewayProcess(settings);
    cleanups.push(() => gateway.stop());
    // With authentication on, every request of the stack carries a token of the gateway's own.
    const authorization = settings.TAMS_AUTH === 'off' ? undefined : `Bearer ${gateway.token('read,write,delete,admin')}`;
    const nginxDir = fs.mkdtempSync(path.join(workDir, `${name}-`));
    const nginx = await startNginx(nginxBinary, {
      upstream: `127.0.0.1:${gateway.port}`,
      listenHost: '127.0.0.1',
      httpPort,
      httpsPort,
      certDir,
      workDir: nginxDir,
    });
    cleanups.unshift(() => nginx.stop());
    const origin = `https://${host}:${httpsPort}`;
    const request = (pathOrUrl: string, options: EdgeRequest = {}): Promise<EdgeResponse> =>
      edgeRequest(pathOrUrl.startsWith('/') ? `${origin}${pathOrUrl}` : pathOrUrl, {
        ca,
        localAddress: CLIENT_ADDRESS,
        ...(host === CERT_HOST ? { lookup: toLoopback } : {}),
        ...options,
        headers: { ...(authorization === undefined ? {} : { authorization }), ...options.headers },
      });
    const json = (method: string, pathOrUrl: string, body?: unknown, headers: Record<string, string> = {}): Promise<EdgeResponse> =>
      request(pathOrUrl, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    return { gateway, nginx, origin, authorization, request, json };
  }

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-nginx-'));
    certDir = path.join(workDir, 'certs');
    execFileSync('bash', [CERT_SCRIPT, CERT_HOST, certDir], { stdio: 'pipe' });
    ca = fs.readFileSync(path.join(certDir, 'ca.crt'));
    [plain, prefixed] = await Promise.all([
      // Authentication off: these requests go without credentials.
      startStack('plain', () => ({ TAMS_AUTH: 'off', TAMS_DELETE_ASYNC_THRESHOLD: '0' }), '127.0.0.1'),
      startStack(
        'prefixed',
        (httpsPort) => ({
          TAMS_AUTH: 'on',
          TAMS_PUBLIC_URL: `https://${CERT_HOST}:${httpsPort}`,
          TAMS_BASE_PATH: BASE_PATH,
          TAMS_DELETE_ASYNC_THRESHOLD: '0',
        }),
        CERT_HOST,
      ),
    ]);
  }, 180_000);

  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
    if (workDir !== undefined) fs.rmSync(workDir, { recursive: true, force: true });
  });

  /** A flow, an allocated object with bytes uploaded through its put_url, and its segment. */
  async function flowWithSegment(stack: Stack, prefix: string, bytes: Buffer): Promise<{ flowId: string; putUrl: string }> {
    const flow = videoFlow();
    const flowId = flow.id as string;
    expect((await stack.json('PUT', `${prefix}/flows/${flowId}`, flow)).status).toBe(201);
    const alloc = await stack.json('POST', `${prefix}/flows/${flowId}/storage`, { limit: 1 });
    expect(alloc.status).toBe(201);
    const media = alloc.json().media_objects[0];
    const putUrl = media.put_url.url as string;
    expect(putUrl.startsWith(`${stack.origin}/media/`)).toBe(true);
    const upload = await stack.request(putUrl, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    expect(upload.status).toBe(200);
    const registered = await stack.json('POST', `${prefix}/flows/${flowId}/segments`, { object_id: media.object_id, timerange: '[0:0_10:0)' });
    expect(registered.status).toBe(201);
    return { flowId, putUrl };
  }

  describe('TLS', () => {
    it('negotiates TLS 1.3 and TLS 1.2 with a certificate that verifies against the generated CA', async () => {
      const tls13 = await plain.request('/livez', { minVersion: 'TLSv1.3' });
      expect([tls13.status, tls13.tlsVersion]).toEqual([200, 'TLSv1.3']);
      const tls12 = await plain.request('/livez', { maxVersion: 'TLSv1.2' });
      expect([tls12.status, tls12.tlsVersion]).toEqual([200, 'TLSv1.2']);
      // The certificate's extra subjectAltName (the script's argument) verifies too.
      expect((await prefixed.request('/livez')).status).toBe(200);
    });

    it('fails verification without the CA, so the tests above really verify', async () => {
      await expect(edgeRequest(`${plain.origin}/livez`, { localAddress: CLIENT_ADDRESS })).rejects.toMatchObject({
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    });

    it('refuses TLS 1.1, and TLS 1.2 suites without forward secrecy or AEAD', async () => {
      // SECLEVEL=0 lets this client offer what OpenSSL would refuse by itself: the refusal must come from nginx.
      // The alerts come from the server: 70 (protocol_version), 40 (handshake_failure).
      await expect(
        plain.request('/livez', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
      ).rejects.toThrow(/tlsv1 alert protocol version.*SSL alert number 70/);
      for (const ciphers of ['AES128-GCM-SHA256:AES256-SHA', 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA']) {
        await expect(plain.request('/livez', { maxVersion: 'TLSv1.2', ciphers })).rejects.toThrow(/alert handshake failure.*SSL alert number 40/);
      }
    });

    it('redirects plain HTTP to the same path and query over HTTPS', async () => {
      const { httpPort, httpsPort } = plain.nginx.site;
      const res = await edgeRequest(`http://127.0.0.1:${httpPort}/objects/a%2Fb?verbose_storage=true`, { localAddress: CLIENT_ADDRESS });
      expect(res.status).toBe(301);
      expect(res.headers.location).toBe(`https://127.0.0.1:${httpsPort}/objects/a%2Fb?verbose_storage=true`);
      const post = await edgeRequest(`http://127.0.0.1:${httpPort}/flows`, { method: 'POST', body: '{}', localAddress: CLIENT_ADDRESS });
      expect(post.status).toBe(301);
    });
  });

  describe('REST through HTTPS, URLs from the forwarded headers', () => {
    it('writes and reads a flow', async () => {
      const flow = videoFlow();
      const put = await plain.json('PUT', `/flows/${flow.id as string}`, flow);
      expect(put.status).toBe(201);
      const got = await plain.json('GET', `/flows/${flow.id as string}`);
      expect(got.status).toBe(200);
      expect(got.json()).toMatchObject({ id: flow.id, source_id: flow.source_id, label: flow.label });
    });

    it('hands out Link, put_url, get_urls and Location on the HTTPS address, and media moves through them', async () => {
      const bytes = Buffer.alloc(2 * 1024 * 1024 + 7, 0x5a); // above nginx's default 1 MiB body limit
      const { flowId } = await flowWithSegment(plain, '', bytes);
      await flowWithSegment(plain, '', Buffer.from('second'));

      const list = await plain.json('GET', '/flows?limit=1');
      expect(list.headers.link).toMatch(new RegExp(`^<${plain.origin}/flows\\?limit=1&page=[^>]+>; rel="next"$`));
      const next = /^<([^>]+)>/.exec(list.headers.link as string)![1]!;
      expect((await plain.request(next)).status).toBe(200);

      const segments = await plain.json('GET', `/flows/${flowId}/segments`);
      const getUrl = segments.json()[0].get_urls[0].url as string;
      expect(getUrl.startsWith(`${plain.origin}/media/`)).toBe(true);
      const download = await plain.request(getUrl);
      expect(download.status).toBe(200);
      expect(download.body.equals(bytes)).toBe(true);
      const range = await plain.request(getUrl, { headers: { range: 'bytes=0-3' } });
      expect([range.status, range.text]).toEqual([206, 'ZZZZ']);

      const deletion = await plain.json('DELETE', `/flows/${flowId}/segments`);
      expect(deletion.status).toBe(202);
      const location = deletion.headers.location as string;
      expect(location).toMatch(new RegExp(`^${plain.origin}/flow-delete-requests/[0-9a-f-]{36}$`));
      expect((await plain.request(location)).status).toBe(200);
    });

    it('believes none of the forwarded headers a client sends', async () => {
      const flow = videoFlow();
      await plain.json('PUT', `/flows/${flow.id as string}`, flow);
      const alloc = await plain.json('POST', `/flows/${flow.id as string}/storage`, { limit: 1 }, {
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'http',
      });
      expect(alloc.status).toBe(201);
      expect(alloc.json().media_objects[0].put_url.url.startsWith(`${plain.origin}/media/`)).toBe(true);
    });

    it('accepts a segment batch above nginx’s default body limit', async () => {
      const flow = videoFlow();
      const flowId = flow.id as string;
      await plain.json('PUT', `/flows/${flowId}`, flow);
      const count = 1500;
      const alloc = await plain.json('POST', `/flows/${flowId}/storage`, { limit: count });
      expect(alloc.status).toBe(201);
      const cdn = `https://cdn.example.com/${'x'.repeat(1000)}`;
      const batch = (alloc.json().media_objects as { object_id: string }[]).map((o, i) => ({
        object_id: o.object_id,
        timerange: `[${i}:0_${i + 1}:0)`,
        get_urls: [{ url: `${cdn}/${i}`, label: 'cdn' }],
      }));
      const body = JSON.stringify(batch);
      expect(body.length).toBeGreaterThan(1024 * 1024);
      const res = await plain.request(`/flows/${flowId}/segments`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(201);
      const page = await plain.json('GET', `/flows/${flowId}/segments?limit=1&reverse_order=true`);
      expect(page.json()[0].timerange).toBe(`[${count - 1}:0_${count}:0)`);
    });

    it('passes an object id with an encoded slash (%2F) to the gateway intact', async () => {
      const flow = videoFlow();
      const flowId = flow.id as string;
      await plain.json('PUT', `/flows/${flowId}`, flow);
      const objectId = `clips/${randomUUID()}`;
      const alloc = await plain.json('POST', `/flows/${flowId}/storage`, { object_ids: [objectId] });
      expect(alloc.status).toBe(201);
      const media = alloc.json().media_objects[0];
      expect(media.object_id).toBe(objectId);
      expect((await plain.request(media.put_url.url as string, { method: 'PUT', body: 'bytes' })).status).toBe(200);
      expect((await plain.json('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).status).toBe(201);

      const encoded = `/objects/${encodeURIComponent(objectId)}`;
      expect(encoded).toContain('%2F');
      const object = await plain.json('GET', encoded);
      expect(object.status).toBe(200);
      expect(object.json()).toMatchObject({ id: objectId, referenced_by_flows: [flowId] });
      // Decoded, the slash would be a path separator: a different (unknown) route.
      expect((await plain.json('GET', `/objects/${objectId}`)).status).toBe(404);
      expect(await eventually(() => loggedRequests(plain.gateway, encoded)[0])).toMatchObject({ url: encoded });
    });

    it('answers GraphQL queries', async () => {
      const flow = videoFlow({ label: 'graphql over https' });
      await plain.json('PUT', `/flows/${flow.id as string}`, flow);
      const res = await plain.json('POST', '/graphql', { query: `{ flow(id: "${flow.id as string}") { id label source { id } } }` });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ data: { flow: { id: flow.id, label: 'graphql over https', source: { id: flow.source_id } } } });
    });
  });

  describe('GraphQL subscriptions over wss://', () => {
    /**
     * Subscribes over wss:// through nginx to updates of a flow with one uploaded segment, then
     * changes the flow's label and returns the event (with the segment's media URLs).
     */
    async function flowUpdateOverWss(stack: Stack, prefix: string): Promise<{ flowId: string; event: FlowUpdatedEvent }> {
      const { flowId } = await flowWithSegment(stack, prefix, Buffer.from('live'));
      const lookup = stack.origin.includes(CERT_HOST) ? { lookup: toLoopback } : {};
      class VerifyingWebSocket extends WebSocket {
        constructor(address: string | URL, protocols?: string | string[]) {
          super(address, protocols, { ca, localAddress: CLIENT_ADDRESS, ...lookup });
        }
      }
      let acknowledged!: () => void;
      const connected = new Promise<void>((resolve) => (acknowledged = resolve));
      const client = createClient({
        url: `${stack.origin.replace(/^https:/, 'wss:')}/graphql`,
        webSocketImpl: VerifyingWebSocket,
        ...(stack.authorization === undefined ? {} : { connectionParams: { authorization: stack.authorization } }),
        retryAttempts: 0,
        lazy: false,
        on: { connected: () => acknowledged() },
      });
      try {
        const event = new Promise<FlowUpdatedEvent>((resolve, reject) => {
          client.subscribe<FlowUpdatedEvent['data']>(
            {
              query: 'subscription ($ids: [ID!]) { flowUpdated(flowIds: $ids) { id label segments(first: 1) { nodes { getUrls { url } } } } }',
              variables: { ids: [flowId] },
            },
            { next: (result) => resolve(result as FlowUpdatedEvent), error: reject, complete: () => reject(new Error('completed without an event')) },
          );
        });
        await connected;
        // The subscribe message follows the acknowledgement on the same socket; give the
        // server a moment to register it before the change it waits for.
        await new Promise((r) => setTimeout(r, 200));
        expect((await stack.json('PUT', `${prefix}/flows/${flowId}/label`, 'relabelled')).status).toBe(204);
        return { flowId, event: await event };
      } finally {
        await client.dispose();
      }
    }

    it('delivers an event through nginx, with media URLs on TAMS_PUBLIC_URL', async () => {
      const { flowId, event } = await flowUpdateOverWss(prefixed, BASE_PATH);
      expect(event.errors).toBeUndefined();
      expect(event.data.flowUpdated).toMatchObject({ id: flowId, label: 'relabelled' });
      expect(event.data.flowUpdated.segments.nodes[0]!.getUrls[0]!.url.startsWith(`${prefixed.origin}/media/`)).toBe(true);
      const upgrade = await eventually(() =>
        prefixed.nginx.accessLog().find((line) => line.request === 'GET /graphql HTTP/1.1' && line.status === 101),
      );
      expect(upgrade).toMatchObject({ client: CLIENT_ADDRESS });
    });

    let forwardedEventUrl: string | undefined;

    it('delivers an event through nginx, with media URLs on the forwarded host', async () => {
      const { flowId, event } = await flowUpdateOverWss(plain, '');
      expect(event.errors).toBeUndefined();
      expect(event.data.flowUpdated).toMatchObject({ id: flowId, label: 'relabelled' });
      forwardedEventUrl = event.data.flowUpdated.segments.nodes[0]!.getUrls[0]!.url;
      expect(new URL(forwardedEventUrl).host).toBe(new URL(plain.origin).host);
    });

    // Upgrades honour the trusted X-Forwarded-Proto as HTTP requests do (src/http/forwarded-origin.ts).
    it('gives those subscription URLs the https scheme the client used', () => {
      expect(forwardedEventUrl).toMatch(/^https:/);
    });
  });

  describe('REST under TAMS_BASE_PATH with TAMS_PUBLIC_URL, authentication on', () => {
    it('passes credentials through: with a bearer token 200, without one 401', async () => {
      expect((await prefixed.json('GET', `${BASE_PATH}/flows`)).status).toBe(200);
      expect((await edgeRequest(`${prefixed.origin}${BASE_PATH}/flows`, { ca, lookup: toLoopback })).status).toBe(401);
    });

    it('serves REST under the prefix only, with every URL on the public HTTPS address', async () => {
      expect((await prefixed.json('GET', '/flows')).status).toBe(404);
      const bytes = Buffer.from('prefixed media bytes');
      const { flowId, putUrl } = await flowWithSegment(prefixed, BASE_PATH, bytes);
      expect(putUrl.startsWith(`https://${CERT_HOST}:${prefixed.nginx.site.httpsPort}/media/`)).toBe(true);
      await flowWithSegment(prefixed, BASE_PATH, Buffer.from('other'));

      const list = await prefixed.json('GET', `${BASE_PATH}/flows?limit=1`);
      expect(list.headers.link).toMatch(new RegExp(`^<${prefixed.origin}${BASE_PATH.replace(/\./g, '\\.')}/flows\\?limit=1&page=[^>]+>; rel="next"$`));

      const segments = await prefixed.json('GET', `${BASE_PATH}/flows/${flowId}/segments`);
      const getUrl = segments.json()[0].get_urls[0].url as string;
      expect(getUrl.startsWith(`${prefixed.origin}/media/`)).toBe(true);
      expect((await prefixed.request(getUrl)).body.equals(bytes)).toBe(true);

      const deletion = await prefixed.json('DELETE', `${BASE_PATH}/flows/${flowId}`);
      expect(deletion.status).toBe(202);
      expect(deletion.headers.location).toMatch(new RegExp(`^${prefixed.origin}${BASE_PATH.replace(/\./g, '\\.')}/flow-delete-requests/[0-9a-f-]{36}$`));

      const graphql = await prefixed.json('POST', '/graphql', { query: '{ service { type } }' });
      expect(graphql.status).toBe(200);
    });
  });

  describe('headers and client address', () => {
    it('shows each security header exactly once, HSTS included over TLS, all from the gateway', async () => {
      const direct = (p: string): Promise<EdgeResponse> => edgeRequest(`http://127.0.0.1:${plain.gateway.port}${p}`);
      for (const p of ['/service', '/flows/not-a-flow', '/graphql?query=%7B__typename%7D']) {
        const viaNginx = await plain.request(p, p.startsWith('/graphql') ? { headers: { 'apollo-require-preflight': 'true' } } : {});
        const fromGateway = await direct(p);
        const count = (res: EdgeResponse, name: string): number => res.headerNames.filter((n) => n === name).length;
        // nginx adds none and drops none: the same set as the gateway's own answer, except HSTS,
        // which the gateway sends only for requests that arrived over TLS (X-Forwarded-Proto from
        // the trusted nginx), never on its plain-HTTP port.
        for (const name of SECURITY_HEADERS) {
          const expected = name === 'strict-transport-security' ? 1 : count(fromGateway, name);
          expect([p, name, count(viaNginx, name)]).toEqual([p, name, expected]);
        }
        expect([p, count(fromGateway, 'strict-transport-security')]).toEqual([p, 0]);
        for (const name of ['strict-transport-security', 'content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy']) {
          expect([p, name, count(viaNginx, name)]).toEqual([p, name, 1]);
        }
      }
      const redirect = await edgeRequest(`http://127.0.0.1:${plain.nginx.site.httpPort}/service`, { localAddress: CLIENT_ADDRESS });
      expect(SECURITY_HEADERS.filter((name) => redirect.headerNames.includes(name))).toEqual([]);
    });

    it('gives the gateway the real client address even when the client forges X-Forwarded-For', async () => {
      const marker = randomUUID();
      const res = await plain.request(`/service?probe=${marker}`, {
        headers: { 'x-forwarded-for': '203.0.113.66', 'x-real-ip': '203.0.113.77' },
      });
      expect(res.status).toBe(200);
      const url = `/service?probe=${marker}`;
      expect(await eventually(() => loggedRequests(plain.gateway, url)[0])).toMatchObject({ remoteAddress: CLIENT_ADDRESS });
      expect(loggedRequests(plain.gateway, url)).toHaveLength(1);
      // nginx saw the same peer and kept the client's claim only as an untrusted list entry.
      const access = await eventually(() => plain.nginx.accessLog().find((line) => String(line.request).includes(marker)));
      expect(access).toMatchObject({ client: CLIENT_ADDRESS, x_forwarded_for: '203.0.113.66' });
    });

    it('rate-limits failed authentications by the real client address even when the client forges X-Forwarded-For', async () => {
      // A stack of its own, so the exhausted bucket cannot disturb the other tests: five refused
      // credentials per minute per client address.
      const limited = await startStack(
        'rate-limited',
        () => ({ TAMS_AUTH: 'on', RATE_LIMIT_WINDOW_SEC: '60', RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '5' }),
        '127.0.0.1',
      );
      try {
        const badToken = { authorization: 'Bearer not-a-valid-token' };
        const randomAddress = (): string => [randomInt(1, 224), randomInt(256), randomInt(256), randomInt(1, 255)].join('.');
        // Each failure claims a different origin: were the forged header believed, every request
        // would open a fresh bucket and 429 would never come.
        const statuses: number[] = [];
        const forged: string[] = [];
        for (let i = 0; i < 12 && !statuses.includes(429); i++) {
          const address = randomAddress();
          forged.push(address);
          statuses.push((await limited.request('/flows', { headers: { ...badToken, 'x-forwarded-for': address } })).status);
        }
        expect(new Set(forged).size).toBe(forged.length);
        expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
        // The address stays refused, before its credentials are even checked: valid ones too.
        const refused = await limited.request('/flows', { headers: { 'x-forwarded-for': randomAddress() } });
        expect(refused.status).toBe(429);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

        // Another client claiming to be the exhausted address keeps a bucket of its own: the key
        // is the peer nginx reports, not what the client says.
        const other = await limited.request('/flows', {
          localAddress: OTHER_CLIENT_ADDRESS,
          headers: { ...badToken, 'x-forwarded-for': CLIENT_ADDRESS },
        });
        expect(other.status).toBe(401);
        const otherValid = await limited.request('/flows', { localAddress: OTHER_CLIENT_ADDRESS, headers: { 'x-forwarded-for': CLIENT_ADDRESS } });
        expect(otherValid.status).toBe(200);

        // nginx saw both peers as they are, the forged claims kept only as untrusted list entries.
        const clients = await eventually(() => {
          const lines = limited.nginx.accessLog().filter((line) => line.request === 'GET /flows HTTP/1.1');
          return lines.length === statuses.length + 3 ? lines : undefined;
        });
        expect(clients?.map((line) => line.client)).toEqual([...statuses.map(() => CLIENT_ADDRESS), CLIENT_ADDRESS, OTHER_CLIENT_ADDRESS, OTHER_CLIENT_ADDRESS]);
      } finally {
        await limited.nginx.stop();
        await limited.gateway.stop();
      }
    }, 120_000);
  });
});
