import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { startHarness, Harness } from '../support/gateway-harness';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';
import { parse } from 'graphql';
import { checkDocument } from '../../src/graphql/limits/query-limits';
import { checkedFetch } from '../support/checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function post(base: string, body: unknown, url = '/graphql', headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const res = await checkedFetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** Starts one subscription over a real WebSocket and returns the first error code it gets. */
async function subscriptionErrorCode(base: string, query: string): Promise<unknown> {
  const client = createClient({ url: `${base.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to the subscription')), 5000);
      client.subscribe(
        { query },
        {
          next: () => undefined,
          error: (err: unknown) => {
            clearTimeout(timer);
            resolve(Array.isArray(err) ? (err[0])?.extensions?.code : err);
          },
          complete: () => {
            clearTimeout(timer);
            resolve('completed');
          },
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

function codeOf(body: Json): unknown {
  return body.errors?.[0]?.extensions?.code;
}

describe('GraphQL limits (defaults: depth 15, 30 aliases, 5000 tokens; cost lowered to 5000)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ GRAPHQL_MAX_COST: '5000' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('refuses an operation over each limit before any resolver runs, with QUERY_TOO_COMPLEX and 400', async () => {
    const spy = jest.spyOn(h.gateway.store, 'listFlows');
    try {
      const nested = 'flows(first: 1) { nodes { source { '.repeat(5) + 'id' + ' } } }'.repeat(5);
      const cases = [
        `{ ${nested} }`,
        '{ flows(first: 100) { nodes { segments(first: 100) { nodes { objectId } } } } }',
        `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: service { name }`).join(' ')} }`,
        `{ service { ${'name '.repeat(6000)} } }`,
        '{ flows(first: 1001) { nodes { id } } }',
      ];
      for (const query of cases) {
        const res = await post(h.base, { query });
        expect({ query: query.slice(0, 60), code: codeOf(res.body), status: res.status }).toEqual({
          query: query.slice(0, 60),
          code: 'QUERY_TOO_COMPLEX',
          status: 400,
        });
        expect(res.body.data).toBeUndefined();
      }
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('applies the same limits to subscriptions over WebSocket', async () => {
    const deep = `subscription { flowCreated { ${'source { flows(first: 1) { nodes { '.repeat(5)}id${' } } }'.repeat(5)} } }`;
    expect(await subscriptionErrorCode(h.base, deep)).toBe('QUERY_TOO_COMPLEX');
    const wide = `subscription { flowCreated { ${'id '.repeat(6000)} } }`;
    expect(await subscriptionErrorCode(h.base, wide)).toBe('QUERY_TOO_COMPLEX');
    const page = 'subscription { flowCreated { source { flows(first: 5000) { nodes { id } } } } }';
    expect(await subscriptionErrorCode(h.base, page)).toBe('QUERY_TOO_COMPLEX');
  });

  it('runs operations inside the limits', async () => {
    const res = await post(h.base, { query: '{ flows(first: 10) { nodes { segments(first: 100) { nodes { objectId } } } } }' });
    expect(res.body.errors).toBeUndefined();
    expect(res.status).toBe(200);
  });

  it('refuses bad arguments with BAD_USER_INPUT, never INTERNAL_SERVER_ERROR', async () => {
    const bad = [
      '{ flow(id: "x") { id } }',
      '{ segments(flowId: "00000000-0000-4000-8000-000000000000", timerange: "[1:0_x") { nodes { objectId } } }',
      '{ flows(first: 0) { nodes { id } } }',
      '{ profiles(codec: "not a mime type") { nodes { id } } }',
      '{ profile(id: "nope") { id } }',
      '{ webhook(id: "nope") { id } }',
      '{ deletionRequest(id: "nope") { id } }',
      `{ object(id: "${'x'.repeat(1025)}") { id } }`,
    ];
    for (const query of bad) {
      const res = await post(h.base, { query });
      expect({ query, code: codeOf(res.body) }).toEqual({ query, code: 'BAD_USER_INPUT' });
    }
  });

  it('answers automatic persisted queries: unknown hash, registration, then the hash alone', async () => {
    const query = '{ service { name } }';
    const persistedQuery = { version: 1, sha256Hash: sha256(query) };
    const miss = await post(h.base, { extensions: { persistedQuery } });
    expect(codeOf(miss.body)).toBe('PERSISTED_QUERY_NOT_FOUND');
    const register = await post(h.base, { query, extensions: { persistedQuery } });
    expect(register.body.data.service.name).toBeDefined();
    const hit = await post(h.base, { extensions: { persistedQuery } });
    expect(hit.body).toEqual(register.body);
    // A text that is not its hash's is the client's mistake: 400 with a code of its own, not a
    // masked internal error (nor an error-level log line).
    const logged = jest.spyOn(h.gateway.app.log, 'error');
    try {
      const wrong = await post(h.base, { query: '{ me { subject } }', extensions: { persistedQuery } });
      expect({ status: wrong.status, body: wrong.body }).toEqual({
        status: 400,
        body: { errors: [{ message: 'extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent with it', extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH' } }] },
      });
      expect(logged).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
    }
    // The hash still answers its own text.
    expect((await post(h.base, { extensions: { persistedQuery } })).body).toEqual(register.body);
  });

  it('does not register an operation that breaks a limit', async () => {
    const query = `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: service { name }`).join(' ')} }`;
    const persistedQuery = { version: 1, sha256Hash: sha256(query) };
    expect(codeOf((await post(h.base, { query, extensions: { persistedQuery } })).body)).toBe('QUERY_TOO_COMPLEX');
    expect(codeOf((await post(h.base, { extensions: { persistedQuery } })).body)).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('answers me with the caller (the development principal while authentication is off)', async () => {
    const res = await post(h.base, { query: '{ me { subject scopes authClasses method authenticated } }' });
    expect(res.body.data.me).toEqual({
      subject: 'development',
      scopes: ['read', 'write', 'delete', 'admin'],
      authClasses: [],
      method: 'none',
      authenticated: false,
    });
  });
});

describe('GraphQL cost limit at the default settings (no GRAPHQL_* variable set)', () => {
  /** The default docs/graphql-limits.md gives GRAPHQL_MAX_COST in its table of the guard's settings. */
  const documentedDefault = Number(
    /^\| `GRAPHQL_MAX_COST` \| `(\d+)` \|/m.exec(fs.readFileSync(path.resolve(__dirname, '../../docs/graphql-limits.md'), 'utf8'))?.[1],
  );
  /**
   * By the documented rule (each field 1, times the page sizes of the lists around it):
   * 1000 flows x (flows 1 + nodes 1 + 66 segments x (segments 1 + nodes 1 + objectId 1)) =
   * 1000 x (2 + 198) = 200,000: exactly the default.
   */
  const AT_LIMIT = '{ flows(first: 1000) { nodes { segments(first: 66) { nodes { objectId } } } } }';
  /** The same and one `__typename` (every field costs 1): 200,001. */
  const OVER_LIMIT = '{ __typename flows(first: 1000) { nodes { segments(first: 66) { nodes { objectId } } } } }';
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  /** The estimate the gateway's own cost rule gives a text, with no limit in the way. */
  function estimate(query: string): number | undefined {
    const guard = h.gateway.app.graphql.guard!;
    const checked = checkDocument(guard['options'].schema, parse(query), undefined, undefined, { ...guard.limits, maxCost: Number.MAX_SAFE_INTEGER });
    return checked.costs?.get('');
  }

  it('runs with the documented default, 200,000, and costs the two operations at it and one over it', () => {
    expect(documentedDefault).toBe(200_000);
    expect(h.gateway.config.graphql.maxCost).toBe(documentedDefault);
    expect({ at: estimate(AT_LIMIT), over: estimate(OVER_LIMIT) }).toEqual({ at: 200_000, over: 200_001 });
  });

  it('refuses an operation costing one more than the default with 400 QUERY_TOO_COMPLEX (cost), over POST and GET, before any store read', async () => {
    const spy = jest.spyOn(h.gateway.store, 'listFlows');
    try {
      const viaPost = await post(h.base, { query: OVER_LIMIT });
      const viaGet = await checkedFetch(`${h.base}/graphql?query=${encodeURIComponent(OVER_LIMIT)}`, { headers: { 'apollo-require-preflight': 'true' } });
      const getBody = (await viaGet.json()) as Json;
      for (const answer of [viaPost, { status: viaGet.status, body: getBody }]) {
        expect({ status: answer.status, code: codeOf(answer.body), data: answer.body.data }).toEqual({ status: 400, code: 'QUERY_TOO_COMPLEX', data: undefined });
        expect(answer.body.errors[0].message).toBe('Query cost exceeds 200000 (each list costs its page size)');
      }
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('runs the operation costing exactly the default, over POST and GET', async () => {
    const viaPost = await post(h.base, { query: AT_LIMIT });
    expect({ status: viaPost.status, errors: viaPost.body.errors }).toEqual({ status: 200, errors: undefined });
    expect(viaPost.body.data.flows.nodes).toEqual([]);
    const viaGet = await checkedFetch(`${h.base}/graphql?query=${encodeURIComponent(AT_LIMIT)}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(viaGet.status).toBe(200);
    expect(await viaGet.json()).toEqual(viaPost.body);
  });
});

describe('GraphQL persisted-only mode', () => {
  let h: Harness;
  let dir: string;
  const allowed = '{ service { name } }';
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-persisted-'));
    const file = path.join(dir, 'operations.json');
    fs.writeFileSync(file, JSON.stringify([allowed]));
    h = await startHarness({ GRAPHQL_PERSISTED_ONLY: 'true', GRAPHQL_PERSISTED_QUERIES_FILE: file });
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a listed operation by its hash, over POST and GET', async () => {
    const persistedQuery = { version: 1, sha256Hash: sha256(allowed) };
    const res = await post(h.base, { extensions: { persistedQuery } });
    expect(res.body.data.service.name).toBeDefined();
    const get = await checkedFetch(`${h.base}/graphql?extensions=${encodeURIComponent(JSON.stringify({ persistedQuery }))}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(((await get.json()) as Json).data.service.name).toBeDefined();
  });

  it('refuses operation text, even of a listed operation, and unknown hashes', async () => {
    for (const query of [allowed, '{ me { subject } }']) {
      const res = await post(h.base, { query, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } } });
      expect(res.status).toBe(400);
      expect(codeOf(res.body)).toBe('PERSISTED_QUERY_REQUIRED');
    }
    const get = await checkedFetch(`${h.base}/graphql?query=${encodeURIComponent(allowed)}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(400);
    const unknown = await post(h.base, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ me { subject } }') } } });
    expect(codeOf(unknown.body)).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('refuses subscriptions that are not in the file', async () => {
    expect(await subscriptionErrorCode(h.base, 'subscription { flowCreated { id } }')).toBe('PERSISTED_QUERY_REQUIRED');
  });
});

/** An authorization header with a read token signed by the gateway's own key. */
async function bearer(h: Harness): Promise<Record<string, string>> {
  const config = h.gateway.config;
  const token = await issueToken(tokenSigner(config), { subject: 'limits-test', scopes: ['read'], ttlSec: 300 }, config);
  return { authorization: `Bearer ${token}` };
}

describe('GraphQL configuration', () => {
  const introspection = '{ __schema { queryType { name } } }';

  it('turns introspection and the landing page off in production, and either back on by its own switch', async () => {
    const prod = await startHarness({ NODE_ENV: 'production', TAMS_AUTH: 'on' });
    try {
      const auth = await bearer(prod);
      expect(codeOf((await post(prod.base, { query: introspection }, '/graphql', auth)).body)).toBe('GRAPHQL_VALIDATION_FAILED');
      const page = await checkedFetch(`${prod.base}/graphql`, { headers: { accept: 'text/html', ...auth } });
      expect(await page.text()).not.toMatch(/<html/i);
    } finally {
      await prod.close();
    }
    const on = await startHarness({ NODE_ENV: 'production', TAMS_AUTH: 'on', GRAPHQL_INTROSPECTION: 'true', GRAPHQL_LANDING_PAGE: 'true' });
    try {
      const auth = await bearer(on);
      expect((await post(on.base, { query: introspection }, '/graphql', auth)).body.data.__schema.queryType.name).toBe('Query');
      const page = await checkedFetch(`${on.base}/graphql`, { headers: { accept: 'text/html', ...auth } });
      expect(await page.text()).toMatch(/<html/i);
    } finally {
      await on.close();
    }
    const dev = await startHarness({ GRAPHQL_INTROSPECTION: 'false' });
    try {
      expect(codeOf((await post(dev.base, { query: introspection })).body)).toBe('GRAPHQL_VALIDATION_FAILED');
    } finally {
      await dev.close();
    }
  });

  it('serves GraphQL under TAMS_BASE_PATH only when GRAPHQL_UNDER_BASE_PATH is true', async () => {
    const outside = await startHarness({ TAMS_BASE_PATH: '/tams/v8.2' });
    try {
      expect((await post(outside.base, { query: '{ service { name } }' })).status).toBe(200);
      expect((await checkedFetch(`${outside.base}/tams/v8.2/graphql`, { method: 'POST' })).status).toBe(404);
    } finally {
      await outside.close();
    }
    const under = await startHarness({ TAMS_BASE_PATH: '/tams/v8.2', GRAPHQL_UNDER_BASE_PATH: 'true' });
    try {
      const res = await post(under.base, { query: '{ service { name } }' }, '/tams/v8.2/graphql');
      expect(res.body.data.service.name).toBeDefined();
      expect((await checkedFetch(`${under.base}/graphql`, { method: 'POST' })).status).toBe(404);
    } finally {
      await under.close();
    }
  });
});
