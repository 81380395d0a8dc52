/**
 * Scripts send JSON bodies without a `Content-Type`. Such a body is read as JSON only when the
 * request names no `Origin` or one of CORS_ORIGINS: a body without a type is a CORS "simple"
 * request, which any web page can make a browser send with the Basic credentials it holds, so
 * from any other origin it is refused with 415 before it is read, and nothing is written. An
 * explicit non-JSON type stays 415 from anywhere. GraphQL follows the same rule, and Apollo's
 * CSRF prevention still applies on top of it.
 *
 * Bodies go through node:http: fetch would add `text/plain` to a string body.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';
import { runCli } from '../../src/cli';

const ALLOWED = 'https://tools.example.com';
const FOREIGN = 'https://evil.example';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
}

/**
 * One request with exactly the headers given (node adds Host and, for a string body,
 * Content-Length; with `chunked` it streams the body with Transfer-Encoding: chunked instead).
 */
function send(base: string, method: string, path: string, body?: string, headers: Record<string, string> = {}, chunked = false): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const all: Record<string, string> = { ...headers };
    if (body !== undefined && !chunked) all['content-length'] = String(Buffer.byteLength(body));
    if (chunked) all['transfer-encoding'] = 'chunked';
    const req = http.request(`${base}${path}`, { method, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = (res.headers['content-type'] ?? '').includes('json') && text !== '';
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: json ? JSON.parse(text) : text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expectTamsError(res: Raw, status: number): void {
  expect(res.status).toBe(status);
  expect(res.body).toEqual(expect.objectContaining({ type: expect.any(String), summary: expect.any(String), time: expect.any(String) }));
}

const basicAuth = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('a JSON body without Content-Type', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ CORS_ORIGINS: ALLOWED, TAMS_MAX_BODY_BYTES: '65536' });
  });

  afterAll(async () => {
    await h.close();
  });

  const stored = async (flowId: string): Promise<number> => (await h.request('GET', `/flows/${flowId}`)).status;

  it('is read as JSON from a request naming no Origin', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    const res = await send(h.base, 'PUT', `/flows/${id}`, JSON.stringify(flow));
    expect(res.status).toBe(201);
    const got = await h.request('GET', `/flows/${id}`);
    expect(got.status).toBe(200);
    expect(got.body.label).toBe(flow.label);
    expect(got.body.container).toBe('video/mp2t');
  });

  it('is read as JSON from an origin in CORS_ORIGINS, which gets its CORS headers', async () => {
    const flow = videoFlow();
    const res = await send(h.base, 'PUT', `/flows/${flow.id as string}`, JSON.stringify(flow), { origin: ALLOWED });
    expect(res.status).toBe(201);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(await stored(flow.id as string)).toBe(200);
  });

  it.each([FOREIGN, 'null', `${ALLOWED}:8443`, 'http://tools.example.com'])('is refused with 415 and a TAMS error from Origin %s, and nothing is stored', async (origin) => {
    const flow = videoFlow();
    const res = await send(h.base, 'PUT', `/flows/${flow.id as string}`, JSON.stringify(flow), { origin });
    expectTamsError(res, 415);
    expect(res.body.summary).toMatch(/CORS_ORIGINS/);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(await stored(flow.id as string)).toBe(404);
  });

  it('is refused from a foreign origin before the body is read: even an oversized one is a 415, not a 413', async () => {
    const flow = videoFlow();
    const res = await send(h.base, 'PUT', `/flows/${flow.id as string}`, JSON.stringify({ ...flow, description: 'x'.repeat(100_000) }), { origin: FOREIGN });
    expectTamsError(res, 415);
    expect(await stored(flow.id as string)).toBe(404);
  });

  it('registers segments and sets properties too (every JSON route)', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    expect((await send(h.base, 'PUT', `/flows/${id}`, JSON.stringify(flow))).status).toBe(201);
    const alloc = await send(h.base, 'POST', `/flows/${id}/storage`, JSON.stringify({ limit: 1 }));
    expect(alloc.status).toBe(201);
    const objectId = alloc.body.media_objects[0].object_id as string;
    expect((await send(h.base, 'POST', `/flows/${id}/segments`, JSON.stringify({ object_id: objectId, timerange: '[0:0_1:0)' }))).status).toBe(201);
    expect((await send(h.base, 'PUT', `/flows/${id}/label`, JSON.stringify('untyped label'))).status).toBe(204);
    expect((await h.request('GET', `/flows/${id}/label`)).body).toBe('untyped label');
    expect((await h.request('GET', `/flows/${id}/segments`)).body).toEqual([expect.objectContaining({ object_id: objectId, timerange: '[0:0_1:0)' })]);
    // From a foreign origin, neither.
    expectTamsError(await send(h.base, 'PUT', `/flows/${id}/label`, JSON.stringify('evil'), { origin: FOREIGN }), 415);
    expectTamsError(await send(h.base, 'POST', `/flows/${id}/segments`, JSON.stringify({ object_id: objectId, timerange: '[5:0_6:0)' }), { origin: FOREIGN }), 415);
    expect((await h.request('GET', `/flows/${id}/label`)).body).toBe('untyped label');
    expect((await h.request('GET', `/flows/${id}/segments`)).body).toHaveLength(1);
  });

  it('is held to the JSON rules: malformed is 400, too deep is 400, over TAMS_MAX_BODY_BYTES is 413', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    expectTamsError(await send(h.base, 'PUT', `/flows/${id}`, '{"id": '), 400);
    expectTamsError(await send(h.base, 'PUT', `/flows/${id}`, `${'['.repeat(200)}${']'.repeat(200)}`), 400);
    expectTamsError(await send(h.base, 'PUT', `/flows/${id}`, JSON.stringify({ ...flow, description: 'x'.repeat(100_000) })), 413);
    expectTamsError(await send(h.base, 'PUT', `/flows/${id}`, JSON.stringify({ ...flow, description: 'x'.repeat(100_000) }), {}, true), 413);
    expectTamsError(await send(h.base, 'PUT', `/flows/${id}`, '{"__proto__": {"polluted": true}}'), 400);
    expect(await stored(id)).toBe(404);
    // Streamed (chunked, no Content-Length), it is read all the same.
    expect((await send(h.base, 'PUT', `/flows/${id}`, JSON.stringify(flow), {}, true)).status).toBe(201);
  });

  it.each([undefined, ALLOWED, FOREIGN])('an explicit text/plain stays 415 (Origin %s), and nothing is stored', async (origin) => {
    const flow = videoFlow();
    const headers: Record<string, string> = { 'content-type': 'text/plain', ...(origin === undefined ? {} : { origin }) };
    expectTamsError(await send(h.base, 'PUT', `/flows/${flow.id as string}`, JSON.stringify(flow), headers), 415);
    expectTamsError(await send(h.base, 'PUT', `/flows/${flow.id as string}`, JSON.stringify(flow), { ...headers, 'content-type': 'application/x-www-form-urlencoded' }), 415);
    expect(await stored(flow.id as string)).toBe(404);
  });

  it('an empty DELETE without a type answers as a DELETE without a body (Content-Length: 0 or an empty chunked body)', async () => {
    const flows = [videoFlow(), videoFlow(), videoFlow()];
    for (const f of flows) expect((await h.request('PUT', `/flows/${f.id as string}`, f)).status).toBe(201);
    const [a, b, c] = flows.map((f) => f.id as string) as [string, string, string];
    const without = await send(h.base, 'DELETE', `/flows/${a}`);
    const empty = await send(h.base, 'DELETE', `/flows/${b}`, '');
    const chunked = await send(h.base, 'DELETE', `/flows/${c}`, '', {}, true);
    expect(without.status).toBe(204);
    expect([empty.status, empty.text]).toEqual([without.status, without.text]);
    expect([chunked.status, chunked.text]).toEqual([without.status, without.text]);
    for (const id of [a, b, c]) expect(await stored(id)).toBe(404);
    // An unknown flow: the same 404 either way.
    const missing = randomUUID();
    const missingWithout = await send(h.base, 'DELETE', `/flows/${missing}`);
    const missingEmpty = await send(h.base, 'DELETE', `/flows/${missing}`, '');
    expect([missingEmpty.status, missingEmpty.body.type]).toEqual([missingWithout.status, missingWithout.body.type]);
  });

  it('leaves the 404 of an unknown path alone, whatever the body', async () => {
    for (const headers of [{}, { origin: FOREIGN }, { 'content-type': 'text/csv' }] as Record<string, string>[]) {
      expectTamsError(await send(h.base, 'POST', '/no-such-resource', '{"a":1}', headers), 404);
    }
  });

  describe('on /graphql', () => {
    const label = async (flowId: string): Promise<unknown> => (await h.request('GET', `/flows/${flowId}/label`)).body;
    const mutation = (flowId: string, text: string): string => JSON.stringify({ query: `mutation { setFlowLabel(flowId: "${flowId}", label: "${text}") { id label } }` });
    let flowId: string;

    beforeAll(async () => {
      const flow = videoFlow();
      flowId = flow.id as string;
      expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    });

    it('from no Origin, is parsed and then held to Apollo CSRF prevention (a preflight-forcing header is needed)', async () => {
      const refused = await send(h.base, 'POST', '/graphql', mutation(flowId, 'no header'));
      expect(refused.status).toBe(400);
      expect(refused.text).toMatch(/Cross-Site Request Forgery/);
      expect(await label(flowId)).toBe('camera 1');
      const done = await send(h.base, 'POST', '/graphql', mutation(flowId, 'from a script'), { 'apollo-require-preflight': 'true' });
      expect(done.status).toBe(200);
      expect(done.body).toEqual({ data: { setFlowLabel: { id: flowId, label: 'from a script' } } });
    });

    it('from an origin in CORS_ORIGINS, the same', async () => {
      const done = await send(h.base, 'POST', '/graphql', mutation(flowId, 'from a tool'), { origin: ALLOWED, 'apollo-require-preflight': 'true' });
      expect(done.status).toBe(200);
      expect(await label(flowId)).toBe('from a tool');
      expect((await send(h.base, 'POST', '/graphql', mutation(flowId, 'no header'), { origin: ALLOWED })).status).toBe(400);
    });

    it('from a foreign origin, 415 and nothing written, whatever headers it adds', async () => {
      const before = await label(flowId);
      for (const headers of [{}, { 'apollo-require-preflight': 'true' }, { 'x-apollo-operation-name': 'x' }] as Record<string, string>[]) {
        const res = await send(h.base, 'POST', '/graphql', mutation(flowId, 'evil'), { origin: FOREIGN, ...headers });
        expect(res.status).toBe(415);
      }
      expect(await label(flowId)).toBe(before);
    });

    it('text/plain is still Apollo’s CSRF refusal, from anywhere', async () => {
      for (const origin of [undefined, FOREIGN]) {
        const res = await send(h.base, 'POST', '/graphql', mutation(flowId, 'plain'), { 'content-type': 'text/plain', ...(origin === undefined ? {} : { origin }) });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
      expect(await label(flowId)).not.toBe('plain');
    });
  });
});

describe('a JSON body without Content-Type, with authentication on', () => {
  let h: Harness;
  const editor = basicAuth('editor', 'editor-password');

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', CORS_ORIGINS: ALLOWED, RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '100000' });
    const io = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => 'editor-password\n', env: { TAMS_DATA_DIR: h.dataDir } };
    expect(await runCli(['user', 'add', 'editor', '--scopes', 'read,write', '--password-stdin'], io)).toBe(0);
    // The gateway looks at the users file at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
  });

  afterAll(async () => {
    await h.close();
  });

  const stored = async (flowId: string): Promise<number> => (await send(h.base, 'GET', `/flows/${flowId}`, undefined, editor)).status;

  it('with Basic credentials a browser holds, from a foreign origin: 415, nothing written', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    const res = await send(h.base, 'PUT', `/flows/${id}`, JSON.stringify(flow), { ...editor, origin: FOREIGN });
    expectTamsError(res, 415);
    expect(await stored(id)).toBe(404);
    const graphql = await send(h.base, 'POST', '/graphql', JSON.stringify({ query: '{ me { subject } }' }), { ...editor, origin: FOREIGN, 'apollo-require-preflight': 'true' });
    expect(graphql.status).toBe(415);
  });

  it('without credentials from a foreign origin: 401 first', async () => {
    const flow = videoFlow();
    const res = await send(h.base, 'PUT', `/flows/${flow.id as string}`, JSON.stringify(flow), { origin: FOREIGN });
    expectTamsError(res, 401);
    expect(await stored(flow.id as string)).toBe(404);
  });

  it('with the same credentials from a script (no Origin) or an allowed origin: written', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    expect((await send(h.base, 'PUT', `/flows/${id}`, JSON.stringify(flow), editor)).status).toBe(201);
    expect(await stored(id)).toBe(200);
    const other = videoFlow();
    expect((await send(h.base, 'PUT', `/flows/${other.id as string}`, JSON.stringify(other), { ...editor, origin: ALLOWED })).status).toBe(201);
    expect(await stored(other.id as string)).toBe(200);
    const me = await send(h.base, 'POST', '/graphql', JSON.stringify({ query: '{ me { subject } }' }), { ...editor, 'apollo-require-preflight': 'true' });
    expect(me.body).toEqual({ data: { me: { subject: 'editor' } } });
  });
});
