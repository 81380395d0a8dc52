/**
 * What replicas share through Redis (REDIS_URL) besides rate-limit counters (rate-limit.test.ts):
 * automatic persisted queries registered on one gateway are known to another; and Redis going
 * away at run time (a TCP proxy in front of it, stopped): REST and GraphQL keep answering,
 * readiness stays green unless REDIS_REQUIRED=true, and everything is shared again once Redis
 * is back.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startHarness, type Harness } from '../support/gateway-harness';
import { describeNeeding, redisRequirement } from '../support/service-lanes';
import { checkedFetch } from '../support/checked-fetch';
import { TcpProxy } from '../support/tcp-proxy';
import { videoFlow } from '../fixtures/flows';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const ENV = { TAMS_AUTH: 'off', LOG_LEVEL: 'silent' };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

async function graphql(h: Harness, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await checkedFetch(`${h.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Json };
}

/** A query of its own for this run (so an earlier run's registration is not found). */
function uniqueQuery(): { query: string; extensions: { persistedQuery: { version: number; sha256Hash: string } } } {
  const query = `query Flows_${randomUUID().replace(/-/g, '')} { flows(first: 1) { nodes { id } } }`;
  return { query, extensions: { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } } };
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const redisUrlVia = (proxy: TcpProxy): string => {
  const url = new URL(REDIS_URL);
  url.host = `127.0.0.1:${proxy.port}`;
  return url.href;
};

describeNeeding(redisRequirement(REDIS_URL), 'Redis shared by replicas (REDIS_URL)', () => {
  it('an operation registered by automatic persisted queries on one gateway is run by its hash on another', async () => {
    const a = await startHarness({ ...ENV, REDIS_URL });
    const b = await startHarness({ ...ENV, REDIS_URL });
    const alone = await startHarness(ENV);
    try {
      const op = uniqueQuery();
      expect((await graphql(a, op)).body.errors).toBeUndefined();
      const byHash = await graphql(b, { extensions: op.extensions });
      expect(byHash.status).toBe(200);
      expect(byHash.body.errors).toBeUndefined();
      expect(byHash.body.data.flows.nodes).toEqual(expect.any(Array));
      // A gateway without Redis does not know it (what B would answer without the shared store).
      const miss = await graphql(alone, { extensions: op.extensions });
      expect(miss.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
      // What Redis holds is checked against its hash: a text planted under another hash is not run.
      const redis = new Redis(REDIS_URL);
      try {
        const planted = uniqueQuery();
        await redis.set(`tams:apq:${planted.extensions.persistedQuery.sha256Hash}`, '{ __typename }');
        const refused = await graphql(b, { extensions: planted.extensions });
        expect(refused.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
      } finally {
        redis.disconnect();
      }
    } finally {
      await a.close();
      await b.close();
      await alone.close();
    }
  });

  it('Redis going away at run time: REST and GraphQL keep answering, readiness fails only with REDIS_REQUIRED=true, and sharing resumes when it is back', async () => {
    const target = new URL(REDIS_URL);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    await proxy.start();
    const lenient = await startHarness({ ...ENV, REDIS_URL: redisUrlVia(proxy) });
    const strict = await startHarness({ ...ENV, REDIS_URL: redisUrlVia(proxy), REDIS_REQUIRED: 'true' });
    const direct = await startHarness({ ...ENV, REDIS_URL });
    try {
      for (const h of [lenient, strict]) expect((await h.request('GET', '/readyz')).status).toBe(200);
      await proxy.stop();
      await until(async () => (await strict.request('GET', '/readyz')).status === 503);
      expect((await lenient.request('GET', '/readyz')).status).toBe(200);
      for (const h of [lenient, strict]) {
        const flow = videoFlow();
        expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
        expect((await h.request('GET', `/flows/${flow.id as string}`)).status).toBe(200);
        const op = uniqueQuery();
        // Registered here only (Redis is away), and run by its hash on this gateway.
        expect((await graphql(h, op)).body.errors).toBeUndefined();
        expect((await graphql(h, { extensions: op.extensions })).body.errors).toBeUndefined();
      }
      await proxy.start();
      await until(async () => (await strict.request('GET', '/readyz')).status === 200, 20_000);
      // Shared again: registered through the proxied connection, found by a gateway on Redis directly.
      const op = uniqueQuery();
      await until(async () => {
        await graphql(lenient, op);
        return (await graphql(direct, { extensions: op.extensions })).body.errors === undefined;
      }, 20_000);
    } finally {
      await lenient.close();
      await strict.close();
      await direct.close();
      await proxy.stop();
    }
  }, 60_000);
});
