/**
 * Two gateway processes (the built gateway, node dist/src/main.js) on different ports over one
 * PostgreSQL schema, as two replicas: one TAMS_SECRET, one TAMS_EMBEDDED_KEY_FILE, one shared
 * media directory. The schema is migrated by `npm run migrate` (cli.js), not at start. Checks:
 * - a gateway started on a schema nobody migrated refuses to start, saying how to migrate it;
 * - the admin token one process printed works on the other;
 * - a flow written through A is read through B;
 * - a segment listing paged alternately on A and B, each with the cursor the other gave;
 * - a GraphQL subscriber (graphql-ws) on B receives the segments registered through A, in order.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildIfStale, startChildGateway, type ChildGateway } from '../support/child-gateway';
import { checkedFetch } from '../support/checked-fetch';
import { describePostgres, TEST_DATABASE_URL, TestSchemas } from '../support/postgres';
import { Subscriber, waitFor } from '../support/ws-subscriber';
import { MIGRATIONS } from '../../src/adapters/postgres/migrations';
import { loadOrCreateEmbeddedKey, EMBEDDED_KEY_FILE } from '../../src/auth/embedded-keys';
import { videoFlow } from '../fixtures/flows';

const ROOT = path.resolve(__dirname, '../..');

/** The admin token a gateway printed in its start-up banner. */
function bannerToken(g: ChildGateway): string {
  const m = /admin token[^\n]*\n\s+(\S+)\n/.exec(g.stdout());
  if (m === null) throw new Error(`no admin token in the banner:\n${g.stdout()}`);
  return m[1] as string;
}

interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
}

async function call(g: ChildGateway, token: string, method: string, urlPath: string, body?: unknown): Promise<Answer> {
  const res = await checkedFetch(`${g.base}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

describePostgres('two gateway replicas over one PostgreSQL schema', () => {
  const schemas = new TestSchemas();
  const schema = schemas.next();
  let dataDir: string;
  let env: Record<string, string>;
  let a: ChildGateway;
  let b: ChildGateway;
  const subscribers: Subscriber[] = [];

  beforeAll(async () => {
    buildIfStale();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-replicas-'));
    loadOrCreateEmbeddedKey(dataDir);
    env = {
      TAMS_STORE: 'postgres',
      DATABASE_URL: TEST_DATABASE_URL,
      TAMS_PG_SCHEMA: schema,
      TAMS_PG_POOL_SIZE: '4',
      TAMS_SECRET: randomBytes(32).toString('hex'),
      TAMS_EMBEDDED_KEY_FILE: path.join(dataDir, EMBEDDED_KEY_FILE),
      TAMS_LOCAL_MEDIA_SHARED: 'true',
      TAMS_WEBHOOK_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'warn',
    };
    const migrated = execFileSync(process.execPath, ['dist/src/cli.js', 'migrate'], { cwd: ROOT, env: { PATH: process.env.PATH, TAMS_DATA_DIR: dataDir, ...env }, encoding: 'utf8', timeout: 60_000 });
    expect(migrated).toContain(`schema version 0 -> ${MIGRATIONS.length}`);
    a = await startChildGateway(env, { dataDir });
    b = await startChildGateway(env, { dataDir });
  }, 360_000);

  afterAll(async () => {
    await Promise.all(subscribers.splice(0).map(async (s) => s.client.dispose()));
    await a?.stop();
    await b?.stop();
    await schemas.dropAll();
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('refuses to start on a schema that was never migrated, naming npm run migrate; the banner names the store without credentials', async () => {
    await expect(startChildGateway({ ...env, TAMS_PG_SCHEMA: schemas.next() }, { dataDir })).rejects.toThrow(
      new RegExp(`TAMS_MIGRATE_ON_START: the PostgreSQL schema at postgres://[^ ]+ \\(schema \\w+\\) is at version 0, this gateway needs ${MIGRATIONS.length}: run \`npm run migrate\``),
    );
    expect(a.stdout()).toMatch(/ {2}store: {3}PostgreSQL postgres:\/\/[^@\s]+, schema \w+ \(pool 4\)\n/);
    expect(a.stdout()).not.toContain(env.TAMS_SECRET);
  }, 60_000);

  it('a token from A works on B, a flow written on A is read on B, and a segment listing pages across both', async () => {
    const tokenA = bannerToken(a);
    const tokenB = bannerToken(b);
    expect(tokenA).not.toBe(tokenB);
    expect((await call(b, tokenA, 'GET', '/service')).status).toBe(200);
    expect((await call(a, tokenB, 'GET', '/service')).status).toBe(200);

    const flow = videoFlow({ label: 'written on A' });
    const flowId = flow.id as string;
    expect((await call(a, tokenA, 'PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    const read = await call(b, tokenA, 'GET', `/flows/${flowId}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: flowId, label: 'written on A' });

    // 23 segments registered through A (objects allocated through B: one store).
    const alloc = await call(b, tokenA, 'POST', `/flows/${flowId}/storage`, { limit: 23 });
    expect(alloc.status).toBe(201);
    const objects = (alloc.body.media_objects as { object_id: string }[]).map((o) => o.object_id);
    const segments = objects.map((objectId, i) => ({ object_id: objectId, timerange: `[${i}:0_${i + 1}:0)` }));
    expect((await call(a, tokenA, 'POST', `/flows/${flowId}/segments`, segments)).status).toBe(201);

    const seen: string[] = [];
    let page: string | null = null;
    for (let n = 0; n < 10; n++) {
      const on = n % 2 === 0 ? a : b;
      const res: Answer = await call(on, tokenA, 'GET', `/flows/${flowId}/segments?limit=5${page === null ? '' : `&page=${encodeURIComponent(page)}`}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body as { timerange: string }[]).map((s) => s.timerange));
      page = res.headers.get('x-paging-nextkey');
      if (page === null) break;
    }
    expect(seen).toEqual(segments.map((s) => s.timerange));
  }, 60_000);

  it('a GraphQL subscriber on B receives the segments registered through A, in order', async () => {
    const token = bannerToken(a);
    const flow = videoFlow({ label: 'subscribed' });
    const flowId = flow.id as string;
    expect((await call(a, token, 'PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    const subscriber = new Subscriber(`${b.base.replace(/^http/, 'ws')}/graphql`, { authorization: `Bearer ${token}` });
    subscribers.push(subscriber);
    subscriber.subscribe(`subscription { flowSegmentsAdded(flowIds: ["${flowId}"]) { flowId segments { objectId timerange } } }`);
    await waitFor(() => subscriber.acknowledged, 'the subscription to be acknowledged', 10_000);
    // The subscription is registered once acknowledged and its first message processed: give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));

    const alloc = await call(a, token, 'POST', `/flows/${flowId}/storage`, { limit: 12 });
    const objects = (alloc.body.media_objects as { object_id: string }[]).map((o) => o.object_id);
    const expected: string[] = [];
    for (let i = 0; i < 12; i++) {
      // One registration per request: 12 events, each its own commit on A.
      const timerange = `[${i}:0_${i + 1}:0)`;
      expected.push(timerange);
      expect((await call(a, token, 'POST', `/flows/${flowId}/segments`, { object_id: objects[i], timerange })).status).toBe(201);
    }
    await waitFor(() => subscriber.data('flowSegmentsAdded').length >= 12, '12 flowSegmentsAdded events on B', 15_000);
    const events = subscriber.data('flowSegmentsAdded') as { flowId: string; segments: { objectId: string; timerange: string }[] }[];
    expect(events.every((e) => e.flowId === flowId)).toBe(true);
    expect(events.flatMap((e) => e.segments.map((s) => s.timerange))).toEqual(expected);
    expect(subscriber.errors).toEqual([]);
  }, 60_000);
});
