/**
 * Rate limits over real HTTP and WebSocket, with small limits and a short window: REST per
 * principal and read/write class (429, Retry-After, the TAMS error body), GraphQL list fields
 * and mutations (RATE_LIMITED with retryAfter), failed authentications per client address
 * (refused before authentication, WebSocket included), recovery once the window ends, and
 * counters shared through Redis by two gateways on the same REDIS_URL.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { startHarness, type Harness } from '../support/gateway-harness';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';
import { loadConfig } from '../../src/config';
import { createGateway } from '../../src/main';
import type { Scope } from '../../src/domain/principal';
import { videoFlow } from '../fixtures/flows';
import { describeNeeding, redisRequirement } from '../support/service-lanes';
import { checkedFetch } from '../support/checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

const WINDOW_SEC = 2;
/** A limit of `n` per window, written per minute as the configuration takes it. */
const perWindow = (n: number): string => String((n * 60) / WINDOW_SEC);

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const METRICS_TOKEN = 'rate-limit-test-metrics-token';

interface Sent {
  status: number;
  headers: Headers;
  body: Json;
}

async function send(h: Harness, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Sent> {
  const res = await checkedFetch(`${h.base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

function bearer(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}

async function tokenFor(h: Harness, subject: string, scopes: Scope[] = ['read', 'write', 'delete']): Promise<string> {
  const config = h.gateway.config;
  return issueToken(tokenSigner(config), { subject, scopes, ttlSec: 600 }, config);
}

/** Waits out the window a 429 named. */
async function waitRetryAfter(seconds: number): Promise<void> {
  await new Promise((r) => setTimeout(r, seconds * 1000 + 100));
}

function expectTooManyRequests(res: Sent): number {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(WINDOW_SEC);
  expect(res.body).toEqual({ type: 'TooManyRequests', summary: expect.stringMatching(/^Too many .*: retry in \d+ s$/), message: expect.any(String), time: expect.any(String) });
  return retryAfter;
}

describe('rate limits (in-process counters)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      TAMS_AUTH: 'on',
      TRUST_PROXY: 'true',
      RATE_LIMIT_WINDOW_SEC: String(WINDOW_SEC),
      RATE_LIMIT_READ_PER_MINUTE: perWindow(3),
      RATE_LIMIT_WRITE_PER_MINUTE: perWindow(2),
      RATE_LIMIT_GRAPHQL_LISTS_PER_MINUTE: perWindow(2),
      RATE_LIMIT_GRAPHQL_MUTATIONS_PER_MINUTE: perWindow(2),
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: perWindow(3),
      METRICS_TOKEN,
    });
  });

  afterAll(async () => {
    await h.close();
  });

  it('limits REST reads per principal, apart from writes and other principals, and recovers after Retry-After', async () => {
    const alice = await tokenFor(h, `alice-${randomUUID()}`);
    const bob = await tokenFor(h, `bob-${randomUUID()}`);
    // GET and HEAD are reads.
    expect((await send(h, 'GET', '/flows', bearer(alice))).status).toBe(200);
    expect((await send(h, 'HEAD', '/service', bearer(alice))).status).toBe(200);
    expect((await send(h, 'GET', '/sources', bearer(alice))).status).toBe(200);
    const refused = await send(h, 'GET', '/flows', bearer(alice));
    const retryAfter = expectTooManyRequests(refused);
    expect(refused.body.summary).toBe(`Too many read requests: retry in ${retryAfter} s`);

    // Another principal, and alice's writes, have budgets of their own.
    expect((await send(h, 'GET', '/flows', bearer(bob))).status).toBe(200);
    const flow = videoFlow();
    expect((await send(h, 'PUT', `/flows/${flow.id as string}`, bearer(alice), flow)).status).toBe(201);
    // Probes and media are never limited.
    for (let i = 0; i < 5; i++) {
      expect((await send(h, 'GET', '/livez')).status).toBe(200);
      expect((await send(h, 'GET', '/readyz')).status).toBe(200);
      expect((await send(h, 'GET', '/media/unknown?sig=x')).status).not.toBe(429);
    }

    const metrics = await checkedFetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(await metrics.text()).toMatch(/^tams_rate_limit_rejections_total\{edge="rest",rule="read"\} [1-9]/m);

    await waitRetryAfter(retryAfter);
    expect((await send(h, 'GET', '/flows', bearer(alice))).status).toBe(200);
  });

  it('limits REST writes (deletes included) per principal', async () => {
    const carol = await tokenFor(h, `carol-${randomUUID()}`);
    const flow = videoFlow();
    expect((await send(h, 'PUT', `/flows/${flow.id as string}`, bearer(carol), flow)).status).toBe(201);
    expect((await send(h, 'DELETE', `/flows/${randomUUID()}`, bearer(carol))).status).toBe(404);
    const refused = await send(h, 'PUT', `/flows/${flow.id as string}/label`, bearer(carol), '"x"');
    expect(expectTooManyRequests(refused)).toBeGreaterThan(0);
    expect(refused.body.summary).toMatch(/^Too many write requests/);
    // Reads are still allowed.
    expect((await send(h, 'GET', `/flows/${flow.id as string}`, bearer(carol))).status).toBe(200);
  });

  it('limits GraphQL list fields and mutations per principal with RATE_LIMITED and retryAfter, each alias counting', async () => {
    const dave = await tokenFor(h, `dave-${randomUUID()}`);
    const gql = async (query: string, variables?: Json): Promise<Json> => (await send(h, 'POST', '/graphql', bearer(dave), { query, variables })).body;

    // The third listing of one operation goes over (and, its field being non-null, takes `data` with it).
    const three = await gql('{ a: flows { nodes { id } } b: sources { nodes { id } } c: flows { nodes { id } } service { name } }');
    expect(three.data).toBeNull();
    expect(three.errors).toEqual([
      { message: expect.stringMatching(/^Too many GraphQL list queries: retry in \d s$/), locations: expect.any(Array), path: ['c'], extensions: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) } },
    ]);
    const retryAfter = three.errors[0].extensions.retryAfter as number;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SEC);
    // Fields that are no listing are not limited.
    for (let i = 0; i < 4; i++) expect((await gql('{ service { name } me { subject } }')).errors).toBeUndefined();

    const label = 'mutation($f: ID!) { setFlowLabel(flowId: $f, label: "x") { id } }';
    const f = randomUUID();
    expect((await gql(label, { f })).errors[0].extensions.code).toBe('NOT_FOUND');
    expect((await gql(label, { f })).errors[0].extensions.code).toBe('NOT_FOUND');
    const limited = await gql(label, { f });
    expect(limited.errors).toEqual([expect.objectContaining({ extensions: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) } })]);
    expect(limited.errors[0].message).toMatch(/^Too many GraphQL mutations: retry in \d s$/);

    await waitRetryAfter(Math.max(retryAfter, limited.errors[0].extensions.retryAfter as number));
    expect((await gql('{ flows { nodes { id } } }')).errors).toBeUndefined();
    expect((await gql(label, { f })).errors[0].extensions.code).toBe('NOT_FOUND');
  });

  it('refuses an address with too many failed authentications before checking its credentials, over HTTP and WebSocket', async () => {
    const good = await tokenFor(h, `erin-${randomUUID()}`);
    const from = (address: string): Record<string, string> => ({ 'x-forwarded-for': address });
    const attacker = '198.51.100.7';
    // Requests without credentials are no guesses: they do not count.
    for (let i = 0; i < 5; i++) expect((await send(h, 'GET', '/flows', from(attacker))).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await send(h, 'GET', '/flows', bearer('not.a.jwt', from(attacker)))).status).toBe(401);
    // Valid credentials too are refused now, before they are checked.
    const refused = await send(h, 'GET', '/flows', bearer(good, from(attacker)));
    const retryAfter = expectTooManyRequests(refused);
    expect(refused.body.summary).toMatch(/^Too many failed authentications from this address/);
    const graphql = await send(h, 'POST', '/graphql', bearer(good, from(attacker)), { query: '{ me { subject } }' });
    expect(graphql.status).toBe(429);
    expect(graphql.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    // Probes still answer; other addresses are not affected.
    expect((await send(h, 'GET', '/livez', from(attacker))).status).toBe(200);
    expect((await send(h, 'GET', '/flows', bearer(good, from('198.51.100.8')))).status).toBe(200);

    // The WebSocket server counts and refuses the same way (4429).
    let client: ReturnType<typeof createClient> | undefined;
    const closeCode = await new Promise<number>((resolve) => {
      client = createClient({
        url: `${h.base.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers: from(attacker) });
          }
        },
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${good}` },
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      client.subscribe({ query: 'subscription { flowCreated { id } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    });
    await client?.dispose();
    expect(closeCode).toBe(4429);
    // ... and audits the refusal as REST audits a 429.
    const refusals = h.auditLines().filter((l: { route?: string; method?: string; status?: number }) => l.route === '/graphql' && l.method === 'GET' && l.status === 429);
    expect(refusals).toEqual([expect.objectContaining({ event: 'rate_limited', outcome: 'failure', client: attacker, principal: null })]);

    await waitRetryAfter(retryAfter);
    expect((await send(h, 'GET', '/flows', bearer(good, from(attacker)))).status).toBe(200);
  });

  it('can be switched off', async () => {
    const off = await startHarness({ RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_READ_PER_MINUTE: '1' });
    try {
      for (let i = 0; i < 5; i++) expect((await send(off, 'GET', '/flows')).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});

// Decided while jest collects the tests: without a Redis server this lane is reported skipped
// (failed when CI=true), never passed by tests that return early.
describeNeeding(redisRequirement(REDIS_URL), 'rate limits shared through Redis (REDIS_URL)', () => {
  it('counts one principal across two gateways on the same REDIS_URL', async () => {
    const secret = randomBytes(32).toString('hex');
    const env = {
      TAMS_AUTH: 'on',
      AUTH_HS256_SECRET: secret,
      REDIS_URL,
      RATE_LIMIT_WINDOW_SEC: '10',
      RATE_LIMIT_READ_PER_MINUTE: '18',
      RATE_LIMIT_GRAPHQL_LISTS_PER_MINUTE: '12',
    };
    const [one, two] = [await startHarness(env), await startHarness(env)];
    try {
      // 18 per minute is 3 per 10-second window, 12 is 2; the same key reaches both gateways.
      const token = await tokenFor(one, `shared-${randomUUID()}`);
      const other = await tokenFor(two, `other-${randomUUID()}`);
      expect((await send(one, 'GET', '/flows', bearer(token))).status).toBe(200);
      expect((await send(two, 'GET', '/flows', bearer(token))).status).toBe(200);
      expect((await send(one, 'GET', '/flows', bearer(token))).status).toBe(200);
      const refused = await send(two, 'GET', '/flows', bearer(token));
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(10);
      expect((await send(one, 'GET', '/flows', bearer(token))).status).toBe(429);
      expect((await send(two, 'GET', '/flows', bearer(other))).status).toBe(200);

      const list = { query: '{ flows { nodes { id } } }' };
      expect((await send(one, 'POST', '/graphql', bearer(token), list)).body.errors).toBeUndefined();
      expect((await send(two, 'POST', '/graphql', bearer(token), list)).body.errors).toBeUndefined();
      expect((await send(one, 'POST', '/graphql', bearer(token), list)).body.errors[0].extensions.code).toBe('RATE_LIMITED');
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('charges GraphQL operations their estimated cost in one Redis counter across two gateways', async () => {
    const secret = randomBytes(32).toString('hex');
    // 1,800 a minute is 300 per 10-second window; `flows(first: 50) { nodes { id } }` costs 50 x 3 = 150.
    const env = { TAMS_AUTH: 'on', AUTH_HS256_SECRET: secret, REDIS_URL, RATE_LIMIT_WINDOW_SEC: '10', RATE_LIMIT_GRAPHQL_COST_PER_MINUTE: '1800' };
    const [one, two] = [await startHarness(env), await startHarness(env)];
    const redis = new Redis(REDIS_URL);
    try {
      const subject = `cost-${randomUUID()}`;
      const token = await tokenFor(one, subject);
      const list = { query: '{ flows(first: 50) { nodes { id } } }' };
      expect((await send(one, 'POST', '/graphql', bearer(token), list)).body.errors).toBeUndefined();
      expect(await redis.get(`tams:ratelimit:graphql_cost:sub:${subject}`)).toBe('150');
      expect((await send(two, 'POST', '/graphql', bearer(token), list)).body.errors).toBeUndefined();
      expect(await redis.get(`tams:ratelimit:graphql_cost:sub:${subject}`)).toBe('300');
      const refused = await send(one, 'POST', '/graphql', bearer(token), list);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({ errors: [{ message: expect.stringMatching(/^Too many GraphQL operations for their cost: retry in \d+ s$/), extensions: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) } }] });
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(10);
      // A cheap operation is refused too: the budget is the principal's, spent.
      expect((await send(two, 'POST', '/graphql', bearer(token), { query: '{ service { name } }' })).status).toBe(429);
    } finally {
      redis.disconnect();
      await one.close();
      await two.close();
    }
  });
});

// Needs no Redis server: it checks the refusal when none answers.
describe('REDIS_URL unreachable', () => {
  it('refuses to start when REDIS_URL cannot be reached', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-redis-'));
    try {
      const config = loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent', TAMS_AUTH: 'off', REDIS_URL: 'redis://127.0.0.1:1' });
      await expect(createGateway(config)).rejects.toThrow(/cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
