/**
 * Hostile review of issue 17: what an operator's files and an existing store can throw at the
 * gateway at start.
 *
 * - Backends files with weird values: a label equal to the local backend's, labels holding a
 *   comma, prefixes holding U+001E / U+001F or too long, ids in upper case. Each must stop the
 *   start with one line, or work end to end; never start a backend that cannot be used.
 * - Migration 6 on a version-5 store with rows the old code could hold: an object with a
 *   storage id but no key, one with a key but no storage id, an old allocation. The gateway
 *   must start, serve every segment (no 500), keep referenced objects and collect only what
 *   nothing needs.
 */
import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../src/config';
import { createGateway, type Gateway } from '../../src/main';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations';
import { startHarness, type Harness } from '../support/gateway-harness';
import { checkedFetch, parseBody, registerGatewayOrigin, unregisterGatewayOrigin } from '../support/checked-fetch';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';
import { videoFlow } from '../fixtures/flows';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are arbitrary JSON
type Json = any;

let s3: S3TestServer;
let dir: string;

beforeAll(async () => {
  s3 = await startS3Server('config-media');
  dir = await mkdtemp(path.join(tmpdir(), 'tams-hostile-config-'));
});

afterAll(async () => {
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

function entry(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    id: randomUUID(),
    label: 'config-s3',
    store_type: 'http_object_store',
    provider: 's3rver',
    store_product: 's3rver',
    endpoint: s3.endpoint,
    path_style: true,
    bucket: 'config-media',
    credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: 'config-secret' },
    ...fields,
  };
}

async function backendsFile(entries: Record<string, unknown>[]): Promise<string> {
  const file = path.join(dir, `${randomUUID()}.json`);
  await writeFile(file, JSON.stringify({ backends: entries }));
  return file;
}

/** The start's ConfigError message, or undefined when the gateway started (it is closed again). */
async function startError(entries: Record<string, unknown>[]): Promise<string | undefined> {
  let h: Harness | undefined;
  try {
    h = await startHarness({ TAMS_STORAGE_BACKENDS_FILE: await backendsFile(entries), TAMS_GC: 'off' });
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  } finally {
    await h?.close();
  }
}

describe('hostile: backends files with weird values', () => {
  it.each([
    ['the local backend label', { label: 'local' }, /label/],
    ['a prefix holding U+001F', { prefix: 'media/\u001fx' }, /prefix/],
    ['a prefix holding U+001E', { prefix: '\u001e' }, /prefix/],
    ['a prefix holding ..', { prefix: 'a/../b' }, /prefix/],
    ['a 513-character prefix', { prefix: 'p'.repeat(513) }, /prefix/],
    ['an upper-case id', { id: randomUUID().toUpperCase() }, /id/],
    ['an empty label', { label: '   ' }, /label/],
    ['auth_classes that are not strings', { tags: { auth_classes: [1, 2] } }, /tags/],
    ['an endpoint with credentials in it', { endpoint: 'http://AKIA:secret@127.0.0.1:9' }, /endpoint/],
  ])('%s stops the start with one line naming the entry, no secret in it', async (_name, fields, problem) => {
    const message = await startError([entry(fields)]);
    expect(message).toMatch(problem);
    expect(message!.split('\n').length).toBe(1);
    expect(message).not.toContain('config-secret');
    expect(message).not.toContain(':secret@');
  });

  it('two entries with the same label, or two defaults, stop the start', async () => {
    expect(await startError([entry({ label: 'twin' }), entry({ label: 'twin' })])).toMatch(/label/);
    expect(await startError([entry({ label: 'a', default_storage: true }), entry({ label: 'b', default_storage: true })])).toMatch(/default/);
  });

  it('a unicode label and a 512-character prefix work end to end (in segments: s3rver keeps keys as file paths)', async () => {
    const id = randomUUID();
    const label = '東京 📼 "archive" \\';
    const h = await startHarness({ TAMS_STORAGE_BACKENDS_FILE: await backendsFile([entry({ id, label, prefix: `${'q'.repeat(127)}/${'r'.repeat(127)}/${'s'.repeat(127)}/${'t'.repeat(128)}`, default_storage: true })]), TAMS_GC: 'off' });
    try {
      const flow = videoFlow();
      expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      const alloc = await h.request('POST', `/flows/${flow.id as string}/storage`, { limit: 1 });
      expect(alloc.status).toBe(201);
      const { object_id: objectId, put_url: put } = alloc.body.media_objects[0];
      const bytes = randomBytes(99);
      expect((await checkedFetch(put.url, { method: 'PUT', body: bytes, headers: { 'content-type': put['content-type'] } })).status).toBe(200);
      expect((await h.request('POST', `/flows/${flow.id as string}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).status).toBe(201);
      const listed = await h.request('GET', `/flows/${flow.id as string}/segments?accept_get_urls=${encodeURIComponent(label)}`);
      expect(listed.status).toBe(200);
      const urls = listed.body[0].get_urls as Json[];
      expect(urls.map((u) => u.label)).toEqual([label]);
      const got = await checkedFetch(urls[0].url as string);
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('a backend label holding a comma stops the start: accept_get_urls (a comma-separated list) could never select it', async () => {
    // url-label-list.json: "^([^,]+(,[^,]+)*)?$": labels are what lies between commas, so a
    // label holding one could never be named in accept_get_urls (the gateway splits it at the
    // comma). loadStorageBackendsFile refuses it, as it refuses other labels that cannot work.
    const message = await startError([entry({ label: 'eu,primary', default_storage: true })]);
    expect(message).toMatch(/label/);
    expect(message).toMatch(/comma/);
    expect(message!.split('\n').length).toBe(1);
    expect(message).not.toContain('config-secret');
  });
});

describe('hostile: retiring a backend as docs/storage.md says, once it is unreachable', () => {
  it('a removal whose bytes are still queued does not keep the backend "in use": the start without its entry is allowed, the deletion kept aside', async () => {
    // docs/storage.md "Removing a backend": copy objects elsewhere, DELETE the old instances,
    // then remove the entry. When the backend is already unreachable (the usual reason to
    // retire it), or the object's PUT URL may still work, DELETE /objects/{id}/instances?storage_id=
    // answers 204 and leaves the bytes queued in object_deletions. Queued deletions do not count
    // as a backend in use, so the start without the entry is allowed; the deletion stays queued
    // (the collector reads only configured backends), to be finished should the entry come back.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tams-hostile-retire-'));
    const oldId = randomUUID();
    const listed = (endpoint: string): Record<string, unknown> => entry({ id: oldId, label: 'retiring', endpoint });
    const start = async (file: string | undefined): Promise<{ gateway: Gateway; base: string }> => {
      const config = loadConfig({
        TAMS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', TAMS_AUTH: 'off', TAMS_GC: 'off', AUDIT_LOG_FILE: path.join(dataDir, 'audit.log'),
        ...(file === undefined ? {} : { TAMS_STORAGE_BACKENDS_FILE: file }),
      });
      const gateway = await createGateway(config);
      await gateway.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(gateway.app.server.address() as { port: number }).port}`;
      registerGatewayOrigin(base, config.basePath);
      return { gateway, base };
    };
    const send = async (base: string, method: string, p: string, body?: unknown): Promise<number> => {
      const res = await checkedFetch(`${base}${p}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
      await res.arrayBuffer();
      return res.status;
    };
    let refusal: string | undefined;
    try {
      // 1. The backend is up: an object on local gets a copy there.
      let g = await start(await backendsFile([listed(s3.endpoint)]));
      const localId = g.gateway.localObjects.backend.id;
      const flow = videoFlow();
      const flowId = flow.id as string;
      const objectId = randomUUID();
      expect(await send(g.base, 'PUT', `/flows/${flowId}`, flow)).toBe(201);
      const alloc = await checkedFetch(`${g.base}/flows/${flowId}/storage`, { method: 'POST', body: JSON.stringify({ object_ids: [objectId], storage_id: localId }), headers: { 'content-type': 'application/json' } });
      const put = ((await alloc.json()) as Json).media_objects[0].put_url;
      expect((await checkedFetch(put.url, { method: 'PUT', body: randomBytes(10), headers: { 'content-type': put['content-type'] } })).status).toBe(200);
      expect(await send(g.base, 'POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).toBe(201);
      expect(await send(g.base, 'POST', `/objects/${objectId}/instances`, { storage_id: oldId })).toBe(201);
      await g.gateway.close();
      unregisterGatewayOrigin(g.base);
      // 2. The backend is gone (its endpoint no longer answers); its instance is removed as the docs say.
      g = await start(await backendsFile([{ ...listed('http://127.0.0.1:9'), request_timeout_ms: 200, max_attempts: 1 }]));
      expect(await send(g.base, 'DELETE', `/objects/${objectId}/instances?storage_id=${oldId}`)).toBe(204);
      expect((await g.gateway.store.getObject(objectId))!.instances.map((i) => i.storage_id)).toEqual([localId]);
      expect((await g.gateway.store.pendingObjectDeletions(100)).map((d) => d.storage_id)).toEqual([oldId]);
      expect(await g.gateway.store.storageIdsInUse()).toEqual([localId]);
      await g.gateway.close();
      unregisterGatewayOrigin(g.base);
      // 3. The entry is removed: no object has an instance there any more.
      try {
        g = await start(undefined);
        expect((await g.gateway.store.pendingObjectDeletions(100)).map((d) => d.storage_id)).toEqual([oldId]);
        expect(await send(g.base, 'GET', `/objects/${objectId}`)).toBe(200);
        await g.gateway.close();
        unregisterGatewayOrigin(g.base);
      } catch (error) {
        refusal = (error as Error).message;
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
    expect({ startRefused: refusal }).toEqual({ startRefused: undefined });
  });
});

describe('hostile: migration 6 over a version-5 store holding odd object rows', () => {
  const NOW = '2024-01-01T00:00:00.000Z';
  const VIDEO = 'urn:x-nmos:format:video';
  let dataDir: string;
  let gateway: Gateway;
  let base: string;
  const localId = randomUUID();
  const flowId = randomUUID();
  const sourceId = randomUUID();
  const goodKey = `${'ab'}/${'cd'}/abcd${randomUUID().slice(4)}`;
  const goodBytes = randomBytes(123);

  /** [object id, storage_id, storage_key, registered] */
  const OBJECTS: [string, string | null, string | null, boolean][] = [
    ['keyless', localId, null, true],
    ['idless', null, 'ab/cd/abcd0000-0000-4000-8000-000000000000', true],
    ['good', localId, goodKey, true],
    ['old-allocation', localId, 'ef/01/ef010000-0000-4000-8000-000000000000', false],
  ];
  const SEGMENTS: [number, string][] = [
    [0, 'keyless'],
    [1, 'idless'],
    [2, 'good'],
  ];

  const request = async (method: string, p: string, body?: unknown): Promise<{ status: number; body: Json; text: string }> => {
    const init: RequestInit = { method, headers: body === undefined ? {} : { 'content-type': 'application/json' } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await checkedFetch(`${base}${p}`, init);
    const text = await res.text();
    return { status: res.status, body: parseBody(text, res.headers.get('content-type')), text };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'tams-hostile-v5-'));
    fs.writeFileSync(path.join(dataDir, 'storage-backend-id'), localId);
    fs.mkdirSync(path.join(dataDir, 'objects', 'ab', 'cd'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'objects', ...goodKey.split('/')), goodBytes);
    const db = new Database(path.join(dataDir, 'tams.db'));
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)');
    MIGRATIONS.slice(0, 5).forEach((sql, i) => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (?, ?)').run(i + 1, NOW);
    });
    const flow = { id: flowId, source_id: sourceId, format: VIDEO, container: 'video/mp2t', created: NOW, metadata_version: randomUUID() };
    db.prepare('INSERT INTO sources (id, format, created, updated, doc) VALUES (?, ?, ?, ?, ?)').run(sourceId, VIDEO, NOW, NOW, JSON.stringify({ id: sourceId, format: VIDEO, created: NOW, updated: NOW }));
    db.prepare('INSERT INTO flows (id, source_id, format, container, init_segments, created, segment_count, doc) VALUES (?, ?, ?, ?, 0, ?, ?, ?)').run(
      flowId, sourceId, VIDEO, 'video/mp2t', NOW, SEGMENTS.length, JSON.stringify(flow),
    );
    const object = db.prepare(`INSERT INTO objects (id, storage_id, storage_key, allocated_for_flow, role, registered, init_object_id, first_referenced_by_flow, get_urls, created)
      VALUES (?, ?, ?, ?, 'media', ?, NULL, ?, '[]', ?)`);
    for (const [id, storageId, key, registered] of OBJECTS) object.run(id, storageId, key, flowId, registered ? 1 : 0, registered ? flowId : null, NOW);
    const segment = db.prepare(`INSERT INTO segments (flow_id, end_ns, start_ns, object_id, init_object_id, object_storage_id, object_storage_key, init_storage_id, init_storage_key, json_head)
      VALUES (?, ?, ?, ?, NULL, ?, ?, NULL, NULL, ?)`);
    for (const [second, objectId] of SEGMENTS) {
      const [, storageId, key] = OBJECTS.find(([o]) => o === objectId)!;
      segment.run(flowId, BigInt(second + 1) * 1_000_000_000n, BigInt(second) * 1_000_000_000n, objectId, storageId, key, `{"object_id":${JSON.stringify(objectId)},"timerange":"[${second}:0_${second + 1}:0)"`);
    }
    db.close();
    const config = loadConfig({ TAMS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', TAMS_AUTH: 'off', TAMS_GC_INTERVAL_MS: '86400000', AUDIT_LOG_FILE: path.join(dataDir, 'audit.log') });
    gateway = await createGateway(config);
    await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(gateway.app.server.address() as { port: number }).port}`;
    registerGatewayOrigin(base, config.basePath);
  });

  afterAll(async () => {
    await gateway?.close();
    if (base !== undefined) unregisterGatewayOrigin(base);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts and lists every segment: a URL where the old row had a whole storage, none where it had half of one', async () => {
    const listed = await request('GET', `/flows/${flowId}/segments?verbose_storage=true`);
    expect(listed.status).toBe(200);
    const byObject = new Map((listed.body as Json[]).map((s) => [s.object_id as string, s.get_urls as Json[]]));
    expect([...byObject.keys()].sort()).toEqual(['good', 'idless', 'keyless']);
    expect(byObject.get('keyless')).toEqual([]);
    expect(byObject.get('idless')).toEqual([]);
    expect(byObject.get('good')!.map((u) => u.storage_id)).toEqual([localId]);
    const got = await checkedFetch(byObject.get('good')![0].url as string);
    expect(Buffer.from(await got.arrayBuffer()).equals(goodBytes)).toBe(true);
    for (const id of ['keyless', 'idless', 'good']) expect((await request('GET', `/objects/${id}`)).status).toBe(200);
  });

  it('a half-stored object cannot be copied (400, not 500) and the good one can', async () => {
    const res = await request('POST', '/objects/keyless/instances', { storage_id: localId });
    expect([400, 404]).toContain(res.status);
    expect((await request('POST', '/objects/idless/instances', { url: 'https://elsewhere.example/idless', label: 'elsewhere' })).status).toBe(201);
  });

  it('the collector keeps the referenced objects and drops the old allocation; deleting the segments frees them without error', async () => {
    const first = await gateway.gc!.runOnce();
    expect(first).toMatchObject({ collected: 1, failed: 0 });
    expect(await gateway.store.getObject('old-allocation')).toBeUndefined();
    for (const id of ['keyless', 'idless', 'good']) expect((await gateway.store.getObject(id))?.registered).toBe(true);
    expect((await request('DELETE', `/flows/${flowId}/segments`)).status).toBe(204);
    const second = await gateway.gc!.runOnce();
    expect(second).toMatchObject({ collected: 3, failed: 0 });
    expect(fs.existsSync(path.join(dataDir, 'objects', ...goodKey.split('/')))).toBe(false);
    expect(await gateway.store.pendingObjectDeletions(100)).toEqual([]);
  });
});
