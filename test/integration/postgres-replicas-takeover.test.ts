/**
 * Two gateway processes (the built gateway, node dist/src/main.js) as replicas over one
 * PostgreSQL schema, one Redis and one S3-protocol server (s3rver, the default storage
 * backend): both migrate the schema at start together (advisory lock), and
 * - each webhook event is delivered once while both run, and when the replica holding the
 *   webhook's lease is killed with SIGKILL in the middle of a burst, the other takes the lease
 *   over and nothing is lost (first arrivals in order, repeats only of what was in flight);
 * - an asynchronous flow deletion whose lease holder is killed with SIGKILL half way is finished
 *   by the other replica: `done`, no segment left;
 * - a rate limit is shared: failed authentications sent alternately to both replicas are
 *   refused once their total, not each replica's count, passes the limit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { buildIfStale, startChildGateway, type ChildGateway } from '../support/child-gateway';
import { checkedFetch } from '../support/checked-fetch';
import { describePostgres, TEST_DATABASE_URL, TestSchemas } from '../support/postgres';
import { describeNeeding, redisRequirement } from '../support/service-lanes';
import { entryFor, startS3Server, writeBackendsFile, type S3BackendUnderTest, type S3TestServer } from '../support/s3-server';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { loadOrCreateEmbeddedKey, EMBEDDED_KEY_FILE } from '../../src/auth/embedded-keys';
import { videoFlow } from '../fixtures/flows';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const PIPELINE = 8;
const AUTH_FAILURES_PER_MINUTE = 6;

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
}

async function call(g: ChildGateway, token: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await checkedFetch(`${g.base}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`${what}: not in ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describePostgres('replicas over PostgreSQL, Redis and S3', () => {
  describeNeeding(redisRequirement(REDIS_URL), 'replicas taking over from each other', () => {
    const schemas = new TestSchemas();
    const schema = schemas.next();
    let dataDir: string;
    let s3: S3TestServer;
    let backends: { file: string; remove: () => Promise<void> };
    let env: Record<string, string>;
    let receiver: WebhookReceiver;
    let db: Client;
    const replicas: ChildGateway[] = [];
    let token = '';

    /** The process holding a lease now, by the pid in its holder name (`host:pid:uuid`). */
    async function holderOf(lease: string): Promise<ChildGateway | undefined> {
      const row = await db.query<{ holder: string }>(`SELECT holder FROM "${schema}".leases WHERE name = $1 AND expires_ms > $2`, [lease, Date.now()]);
      const holder = row.rows[0]?.holder;
      return replicas.find((g) => holder !== undefined && holder.split(':')[1] === String(g.child.pid));
    }

    async function restart(dead: ChildGateway): Promise<void> {
      const at = replicas.indexOf(dead);
      replicas[at] = await startChildGateway(env, { dataDir });
    }

    beforeAll(async () => {
      buildIfStale();
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-takeover-'));
      loadOrCreateEmbeddedKey(dataDir);
      s3 = await startS3Server();
      const backend: S3BackendUnderTest = { id: randomUUID(), label: 's3rver', bucket: s3.bucket, region: 'us-east-1', secret: 'secret', conditional: false, endpoint: s3.endpoint };
      backends = await writeBackendsFile([entryFor(backend, { default_storage: true })]);
      receiver = await startReceiver();
      db = new Client({ connectionString: TEST_DATABASE_URL });
      await db.connect();
      env = {
        TAMS_STORE: 'postgres',
        DATABASE_URL: TEST_DATABASE_URL,
        TAMS_PG_SCHEMA: schema,
        TAMS_PG_POOL_SIZE: '4',
        TAMS_MIGRATE_ON_START: 'true',
        TAMS_SECRET: randomBytes(32).toString('hex'),
        TAMS_EMBEDDED_KEY_FILE: path.join(dataDir, EMBEDDED_KEY_FILE),
        TAMS_STORAGE_BACKENDS_FILE: backends.file,
        REDIS_URL,
        RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: String(AUTH_FAILURES_PER_MINUTE),
        // The failed authentications come "from" an address of their own (X-Forwarded-For from the
        // trusted loopback), so their count in Redis blocks nothing else, in this run or the next.
        TRUST_PROXY: '127.0.0.1',
        TAMS_WEBHOOK_ALLOW_PRIVATE: 'true',
        TAMS_WEBHOOK_PIPELINE: String(PIPELINE),
        TAMS_WEBHOOK_LEASE_MS: '2000',
        TAMS_WEBHOOK_TIMEOUT_MS: '1000',
        // Small chunks, so a deletion of a few thousand segments is still running at the kill.
        TAMS_DELETE_ASYNC_THRESHOLD: '10',
        LOG_LEVEL: 'warn',
      };
      // Both at once: migrations under the advisory lock, one after the other.
      replicas.push(...(await Promise.all([startChildGateway(env, { dataDir }), startChildGateway(env, { dataDir })])));
      token = replicas[0]!.token('read,write,delete,admin');
    }, 360_000);

    afterAll(async () => {
      for (const g of replicas) await g.stop();
      await receiver?.close();
      await db?.end();
      await schemas.dropAll();
      await backends?.remove();
      await s3?.stop();
      if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
    }, 60_000);

    it('each webhook event is delivered once while both run; SIGKILL of the replica delivering in the middle of a burst loses nothing', async () => {
      const [a, b] = replicas as [ChildGateway, ChildGateway];
      receiver.received.length = 0;
      // Slow enough (with 8 in flight) that the burst is still being delivered at the kill.
      receiver.respond = () => ({ status: 200, delayMs: 50 });
      const flow = videoFlow({ label: 'start' });
      const flowId = flow.id as string;
      const registration = { url: receiver.url, events: ['flows/updated'], flow_ids: [flowId] };
      // Registered disabled while the events are written (alternately through both replicas), then
      // enabled: a burst of 300 to deliver.
      const hook = await call(a, token, 'POST', '/service/webhooks', { ...registration, status: 'disabled' });
      expect(hook.status).toBe(201);
      const hookId = hook.body.id as string;
      expect((await call(b, token, 'PUT', `/flows/${flowId}`, flow)).status).toBe(201);
      const labels = Array.from({ length: 300 }, (_, i) => `n${i}`);
      for (const [i, label] of labels.entries()) expect((await call(replicas[i % 2]!, token, 'PUT', `/flows/${flowId}/label`, label)).status).toBeLessThan(300);
      expect((await call(b, token, 'PUT', `/service/webhooks/${hookId}`, { id: hookId, ...registration, status: 'created' })).status).toBe(201);
      await receiver.waitFor(30, 30_000);
      const holder = await until(() => holderOf(`webhook:${hookId}`), (g) => g !== undefined, 10_000, 'a replica holding the webhook lease');
      const killedAt = receiver.received.length;
      holder!.kill('SIGKILL');
      expect((await holder!.closed).signal).toBe('SIGKILL');
      expect(killedAt).toBeLessThan(labels.length);
      // The survivor takes the lease over once it expires, and delivers the rest.
      await receiver.waitFor(labels.length, 60_000);
      await new Promise((r) => setTimeout(r, 500));
      const got = receiver.received.map((x) => x.body.event.flow.label as string);
      // While both ran: each event once, in order (one replica at a time held the webhook).
      expect(got.slice(0, killedAt)).toEqual(labels.slice(0, killedAt));
      const firsts = [...new Set(got)];
      expect(firsts).toEqual(labels);
      expect(got.length - labels.length).toBeLessThanOrEqual(PIPELINE);
      await restart(holder!);
    }, 180_000);

    it('an asynchronous deletion whose lease holder is killed half way is finished by the other replica', async () => {
      const [a, b] = replicas as [ChildGateway, ChildGateway];
      const flow = videoFlow();
      const flowId = flow.id as string;
      expect((await call(a, token, 'PUT', `/flows/${flowId}`, flow)).status).toBe(201);
      const count = 3000;
      for (let from = 0; from < count; from += 500) {
        const alloc = await call(b, token, 'POST', `/flows/${flowId}/storage`, { limit: 500 });
        expect(alloc.status).toBe(201);
        const ids = (alloc.body.media_objects as { object_id: string }[]).map((o) => o.object_id);
        const segments = ids.map((objectId, i) => ({ object_id: objectId, timerange: `[${from + i}:0_${from + i + 1}:0)` }));
        expect((await call(a, token, 'POST', `/flows/${flowId}/segments`, segments)).status).toBe(201);
      }
      const accepted = await call(a, token, 'DELETE', `/flows/${flowId}`);
      expect(accepted.status).toBe(202);
      const requestPath = `/flow-delete-requests/${accepted.body.id as string}`;
      const holder = await until(() => holderOf(`deletion:${flowId}`), (g) => g !== undefined, 20_000, 'a replica holding the deletion lease');
      const survivor = holder === a ? b : a;
      // Killed once some of the flow is gone, while chunks are still being deleted.
      const seen = await until(
        async () => (await call(survivor, token, 'GET', requestPath)).body as { status: string; timerange_remaining?: string },
        (r) => r.status === 'done' || (r.status === 'started' && r.timerange_remaining !== undefined && r.timerange_remaining !== '_'),
        30_000,
        'the deletion under way',
      );
      if (seen.status === 'done') throw new Error('the deletion finished before its lease holder could be killed: make the flow larger');
      holder!.kill('SIGKILL');
      expect((await holder!.closed).signal).toBe('SIGKILL');
      const left = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".segments WHERE flow_id = $1`, [flowId])).rows[0]!.n);
      expect(left).toBeGreaterThan(0);
      // The survivor takes it over when the dead process's lease runs out (30 s) and finishes it.
      const finished = await until(async () => (await call(survivor, token, 'GET', requestPath)).body as { status: string }, (r) => r.status === 'done', 120_000, 'the deletion done');
      expect(finished.status).toBe('done');
      expect((await call(survivor, token, 'GET', `/flows/${flowId}`)).status).toBe(404);
      expect(Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".segments WHERE flow_id = $1`, [flowId])).rows[0]!.n)).toBe(0);
      await restart(holder!);
    }, 240_000);

    it('the local media directory is not offered to replicas that do not share it: only the S3 backend is listed and allocatable', async () => {
      const [a] = replicas as [ChildGateway];
      const listed = await call(a, token, 'GET', '/service/storage-backends');
      expect(listed.status).toBe(200);
      expect((listed.body as { store_type: string }[]).map((b) => b.store_type)).toEqual(['http_object_store']);
      const localId = fs.readFileSync(path.join(dataDir, 'storage-backend-id'), 'utf8').trim();
      const flow = videoFlow();
      expect((await call(a, token, 'PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      expect((await call(a, token, 'POST', `/flows/${flow.id as string}/storage`, { limit: 1, storage_id: localId })).status).toBe(400);
      expect(a.stdout()).toContain('no local media backend (not shared)');
    });

    it('a rate limit is shared through Redis: failed authentications are counted across both replicas', async () => {
      const [a, b] = replicas as [ChildGateway, ChildGateway];
      const statuses: number[] = [];
      const from = { 'x-forwarded-for': `2001:db8::${randomBytes(6).toString('hex').match(/.{4}/g)!.join(':')}` };
      // A garbage token, alternately to each replica, from one address. A failure is counted
      // as its answer goes out (src/http/rate-limit.ts), so the next one waits a moment.
      for (let i = 0; i < 2 * AUTH_FAILURES_PER_MINUTE; i++) {
        statuses.push((await call(i % 2 === 0 ? a : b, 'not.a.jwt', 'GET', '/flows', undefined, from)).status);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Refused once the two replicas' failures together reach the limit (each alone saw half of
      // them; counted per replica, the first refusal would come only after 2 x the limit).
      const firstRefused = statuses.indexOf(429);
      expect(statuses.slice(0, AUTH_FAILURES_PER_MINUTE)).toEqual(Array.from({ length: AUTH_FAILURES_PER_MINUTE }, () => 401));
      expect(firstRefused).toBe(AUTH_FAILURES_PER_MINUTE);
      expect(statuses.slice(firstRefused).every((status) => status === 429)).toBe(true);
    }, 60_000);
  });
});
