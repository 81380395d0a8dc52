/**
 * Authentication over real HTTP with TAMS_AUTH=on: every REST operation of the OpenAPI and
 * every GraphQL root field refuses missing and bad credentials with 401, `WWW-Authenticate`
 * and a generic error (the reason never reaches the client), and lets a valid token through;
 * `?access_token=` and HTTP Basic work; probes and signed media URLs need no credentials.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { buildSchema } from 'graphql';
import { startHarness, type Harness } from '../support/gateway-harness';
import { describeWithSpec, listOperations, type OperationSummary } from '../support/tams-spec';
import { embeddedTokens, type BadTokenCase } from '../support/auth-tokens';
import { videoFlow } from '../fixtures/flows';
import { runCli } from '../../src/cli';
import { checkedFetch } from '../support/checked-fetch';

const ISSUER = 'https://tams.test';
const AUDIENCE = 'tams-gateway';
const LEAKY = /expired|issuer|audience|signature|algorithm|nbf|not yet|kid|malformed|password|unknown user|scheme/i;

interface Sent {
  status: number;
  headers: Headers;
  text: string;
}

/** The GraphQL root fields (query, mutation, subscription) of the checked-in schema. */
function rootFields(): { operation: string; field: string }[] {
  const schema = buildSchema(fs.readFileSync(path.resolve(__dirname, '../../schema/schema.graphql'), 'utf8'));
  const roots = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ] as const;
  return roots.flatMap(([operation, type]) => Object.keys(type?.getFields() ?? {}).map((field) => ({ operation, field })));
}

function concretePath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => (name === 'name' ? 'genre' : randomUUID()));
}

describeWithSpec('authentication over HTTP (TAMS_AUTH=on)', () => {
  let h: Harness;
  let tokens: Awaited<ReturnType<typeof embeddedTokens>>;
  let admin: string;
  const operations: OperationSummary[] = listOperations();
  const fields = rootFields();

  async function send(method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<Sent> {
    const res = await checkedFetch(`${h.base}${url}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body }),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  const bodyFor = (method: string): string | undefined => (method === 'POST' || method === 'PUT' ? '{}' : undefined);

  /** The refusals every case must produce, by credentials: label -> headers and query suffix. */
  function refusals(): { label: string; headers: Record<string, string>; query: string; bad?: BadTokenCase }[] {
    return [
      { label: 'no credentials', headers: {}, query: '' },
      { label: 'unsupported scheme', headers: { authorization: `Token ${admin}` }, query: '' },
      ...tokens.bad.map((bad) => ({ label: bad.name, headers: { authorization: `Bearer ${bad.token}` }, query: '', bad })),
      ...tokens.bad.slice(0, 2).map((bad) => ({ label: `${bad.name} in access_token`, headers: {}, query: `access_token=${encodeURIComponent(bad.token)}`, bad })),
    ];
  }

  function withQuery(url: string, query: string): string {
    return query === '' ? url : `${url}${url.includes('?') ? '&' : '?'}${query}`;
  }

  beforeAll(async () => {
    // Every case sends refused credentials from one address: more than the default failure limit.
    h = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '100000' });
    tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    admin = await tokens.sign();
  });
  afterAll(async () => {
    await h.close();
  });

  it('covers all 85 TAMS operations and the GraphQL root fields', () => {
    expect(operations).toHaveLength(85);
    expect(fields.length).toBeGreaterThan(40);
    expect(fields.map((f) => f.field)).toEqual(expect.arrayContaining(['flows', 'putFlow', 'flowCreated', 'me']));
  });

  it('refuses every REST operation without valid credentials: 401, WWW-Authenticate, a TAMS error body and no reason', async () => {
    for (const op of operations) {
      const url = concretePath(op.path);
      const results = await Promise.all(
        refusals().map(async (c) => ({ c, res: await send(op.method, withQuery(url, c.query), c.headers, bodyFor(op.method)) })),
      );
      for (const { c, res } of results) {
        const where = `${op.operationId} ${op.method} ${url} with ${c.label}`;
        expect({ where, status: res.status }).toEqual({ where, status: 401 });
        expect({ where, challenge: res.headers.get('www-authenticate') }).toEqual({ where, challenge: expect.stringContaining('Bearer realm="tams"') });
        if (c.bad !== undefined) expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
        if (op.method === 'HEAD') {
          expect({ where, body: res.text }).toEqual({ where, body: '' });
          continue;
        }
        const body = JSON.parse(res.text) as Record<string, unknown>;
        expect({ where, body }).toEqual({
          where,
          body: { type: 'Unauthorized', summary: 'Authentication required', message: 'Authentication required', time: expect.any(String) },
        });
        expect({ where, leaks: LEAKY.test(res.text) }).toEqual({ where, leaks: false });
      }
    }
  });

  it('lets a valid token through every REST operation', async () => {
    const statuses = await Promise.all(
      operations.map(async (op) => {
        const url = concretePath(op.path);
        return { op: `${op.operationId} ${url}`, status: (await send(op.method, url, { authorization: `Bearer ${admin}` }, bodyFor(op.method))).status };
      }),
    );
    for (const { op, status } of statuses) {
      expect({ op, unauthenticated: status === 401 || status >= 500 }).toEqual({ op, unauthenticated: false });
    }
  });

  it('refuses every GraphQL root field without valid credentials with 401 and UNAUTHENTICATED', async () => {
    for (const { operation, field } of fields) {
      const body = JSON.stringify({ query: `${operation} { ${field} }` });
      const results = await Promise.all(refusals().map(async (c) => ({ c, res: await send('POST', withQuery('/graphql', c.query), c.headers, body) })));
      for (const { c, res } of results) {
        const where = `${operation} ${field} with ${c.label}`;
        expect({ where, status: res.status }).toEqual({ where, status: 401 });
        expect(res.headers.get('www-authenticate')).toContain('Bearer realm="tams"');
        expect({ where, body: JSON.parse(res.text) }).toEqual({
          where,
          body: { errors: [{ message: 'Authentication required', extensions: { code: 'UNAUTHENTICATED' } }] },
        });
      }
    }
  });

  it('lets a valid token reach every GraphQL root field', async () => {
    const results = await Promise.all(
      fields.map(async ({ operation, field }) => {
        const res = await send('POST', '/graphql', { authorization: `Bearer ${admin}` }, JSON.stringify({ query: `${operation} { ${field} }` }));
        return { field, status: res.status, unauthenticated: res.text.includes('UNAUTHENTICATED') };
      }),
    );
    for (const r of results) {
      expect({ field: r.field, refused: r.status === 401 || r.unauthenticated }).toEqual({ field: r.field, refused: false });
    }

    const me = await send('POST', '/graphql', { authorization: `Bearer ${admin}` }, JSON.stringify({ query: '{ me { subject scopes method authenticated } }' }));
    expect(JSON.parse(me.text)).toEqual({
      data: { me: { subject: 'tester', scopes: ['read', 'write', 'delete', 'admin'], method: 'bearer', authenticated: true } },
    });
  });

  it('accepts the token as ?access_token= and never echoes it in a Link header', async () => {
    for (let i = 0; i < 2; i++) {
      const flow = videoFlow();
      expect((await send('PUT', `/flows/${flow.id as string}`, { authorization: `Bearer ${admin}` }, JSON.stringify(flow))).status).toBe(201);
    }
    const list = await send('GET', `/flows?limit=1&access_token=${admin}`);
    expect(list.status).toBe(200);
    const link = list.headers.get('link') ?? '';
    expect(link).toContain('rel="next"');
    expect(link).not.toContain('access_token');
    expect(link).not.toContain(admin);

    const me = await send('GET', `/graphql?query=${encodeURIComponent('{ me { method } }')}&access_token=${admin}`, { 'apollo-require-preflight': 'true' });
    expect(JSON.parse(me.text)).toEqual({ data: { me: { method: 'access_token' } } });

    expect((await send('GET', `/flows?access_token=${admin}&access_token=${admin}`)).status).toBe(401);
    expect((await send('GET', `/flows?access_token=${admin}`, { authorization: `Bearer ${admin}` })).status).toBe(401);
  });

  it('accepts HTTP Basic for a user added with the CLI, and refuses a wrong password', async () => {
    const io = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => 'editor-password\n', env: { TAMS_DATA_DIR: h.dataDir } };
    expect(await runCli(['user', 'add', 'editor', '--scopes', 'read,write', '--auth-classes', 'news', '--password-stdin'], io)).toBe(0);
    // The gateway looks at the users file at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const basic = (password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`editor:${password}`).toString('base64')}` });

    expect((await send('GET', '/flows', basic('editor-password'))).status).toBe(200);
    const me = await send('POST', '/graphql', basic('editor-password'), JSON.stringify({ query: '{ me { subject scopes authClasses method } }' }));
    expect(JSON.parse(me.text)).toEqual({ data: { me: { subject: 'editor', scopes: ['read', 'write'], authClasses: ['news'], method: 'basic' } } });

    const wrong = await send('GET', '/flows', basic('not-the-password'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="tams", Basic realm="tams", charset="UTF-8"');
    expect(LEAKY.test(wrong.text)).toBe(false);
  });

  it('needs no credentials for probes, signed media URLs, CORS preflights and the GraphQL landing page', async () => {
    expect((await send('GET', '/livez')).status).toBe(200);
    expect((await send('GET', '/readyz')).status).toBe(200);

    const flow = videoFlow();
    expect((await send('PUT', `/flows/${flow.id as string}`, { authorization: `Bearer ${admin}` }, JSON.stringify(flow))).status).toBe(201);
    const alloc = await send('POST', `/flows/${flow.id as string}/storage`, { authorization: `Bearer ${admin}` }, JSON.stringify({ limit: 1 }));
    const putUrl = (JSON.parse(alloc.text) as { media_objects: { put_url: { url: string } }[] }).media_objects[0]!.put_url.url;
    const upload = await checkedFetch(putUrl, { method: 'PUT', body: Buffer.from('bytes'), headers: { 'content-type': 'video/mp2t' } });
    expect(upload.status).toBe(200);
    // The media URL's own signature still guards it.
    expect((await checkedFetch(putUrl.replace(/sig=[^&]+/, 'sig=AAAA'), { method: 'PUT', body: 'x' })).status).toBe(403);

    const preflight = await send('OPTIONS', '/flows', { origin: 'https://app.example', 'access-control-request-method': 'GET' });
    expect(preflight.status).not.toBe(401);
    const landing = await send('GET', '/graphql', { accept: 'text/html' });
    expect(landing.status).toBe(200);
    expect(landing.text).toMatch(/<html/i);
    // A GET carrying an operation is no landing page.
    expect((await send('GET', `/graphql?query=${encodeURIComponent('{ me { subject } }')}`, { 'apollo-require-preflight': 'true' })).status).toBe(401);
  });
});

describe('authentication with an unreachable key set, GraphQL under TAMS_BASE_PATH', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json', TAMS_BASE_PATH: '/tams/v8.2', GRAPHQL_UNDER_BASE_PATH: 'true' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers 503 (not 401) while tokens cannot be checked, and 401 without credentials', async () => {
    const tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    const token = await tokens.sign();
    const rest = await checkedFetch(`${h.base}/tams/v8.2/flows`, { headers: { authorization: `Bearer ${token}` } });
    expect(rest.status).toBe(503);
    expect(await rest.json()).toMatchObject({ type: 'ServiceUnavailable', summary: 'Authentication is temporarily unavailable' });

    const gql = await checkedFetch(`${h.base}/tams/v8.2/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { subject } }' }),
    });
    expect(gql.status).toBe(503);
    expect(await gql.json()).toEqual({ errors: [{ message: 'Authentication is temporarily unavailable', extensions: { code: 'SERVICE_UNAVAILABLE' } }] });

    const anonymous = await checkedFetch(`${h.base}/tams/v8.2/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ me { subject } }"}' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ errors: [{ message: 'Authentication required', extensions: { code: 'UNAUTHENTICATED' } }] });
  });
});
