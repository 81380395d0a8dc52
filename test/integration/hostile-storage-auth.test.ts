/**
 * Hostile review of issue 17 (several storage backends, controlled instances): authorization
 * across backends, attacked over real HTTP as an outsider would. One gateway with
 * authentication on, the embedded local backend and three S3 buckets on an in-process s3rver:
 *
 * - OPEN   (no auth_classes, plain_urls: every caller may use it),
 * - VAULT  (auth_classes `vault`: the tenant holds no grant on it at all),
 * - SHARED (auth_classes `shared`: the tenant may only read it).
 *
 * The tenant has full rights on its own flows (class `newsroom`), `shared:read` and nothing
 * else; the keeper holds `newsroom` and `vault`. What a caller may not use must stay out of its
 * reach through every door: copies onto a backend, copies from it, get_urls of an object that
 * also lives elsewhere (REST objects, REST segments, GraphQL), `verbose_storage`,
 * `accept_storage_ids`, removals, and the backends listing. Nothing may carry a credential.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { checkedFetch } from '../support/checked-fetch';
import { client, type Client, type Json } from '../support/tams-client';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';
import { videoFlow } from '../fixtures/flows';

const ISSUER = 'https://hostile-storage.test';
const AUDIENCE = 'tams-hostile-storage';
/** What the backends sign with: must never appear in any answer. */
const SECRET = 'hostile-auth-secret-9f8e7d6c5b4a3210';

const OPEN = { id: 'a0000000-0000-4000-8000-00000000000a', label: 'open-s3', bucket: 'hostile-open' };
const VAULT = { id: 'a0000000-0000-4000-8000-00000000000b', label: 'vault-s3', bucket: 'hostile-vault' };
const SHARED = { id: 'a0000000-0000-4000-8000-00000000000c', label: 'shared-s3', bucket: 'hostile-shared' };

let s3: S3TestServer;
let h: Harness;
let backendsDir: string;
let admin: Client;
let tenant: Client;
let keeper: Client;
const answers: string[] = [];

/** Every object s3rver keeps in a bucket, by key (on disk, without going through S3). */
function bucketKeys(bucket: string): string[] {
  const root = path.join(s3.directory, bucket);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('._S3rver_object'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/').replace(/\._S3rver_object$/, ''));
}

function recording(c: Client): Client {
  return {
    req: async (method, p, body) => {
      const res = await c.req(method, p, body);
      answers.push(res.text);
      return res;
    },
    gqlRaw: async (q, v) => {
      const out = await c.gqlRaw(q, v);
      answers.push(JSON.stringify(out));
      return out;
    },
    gql: async (q, v) => {
      const out = await c.gql(q, v);
      answers.push(JSON.stringify(out));
      return out;
    },
  };
}

beforeAll(async () => {
  s3 = await startS3Server(OPEN.bucket);
  const admin3 = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
  await admin3.send(new CreateBucketCommand({ Bucket: VAULT.bucket }));
  await admin3.send(new CreateBucketCommand({ Bucket: SHARED.bucket }));
  admin3.destroy();
  const entry = (b: typeof OPEN, extra: Record<string, unknown>): Record<string, unknown> => ({
    id: b.id,
    label: b.label,
    store_type: 'http_object_store',
    provider: 's3rver',
    store_product: 's3rver',
    endpoint: s3.endpoint,
    path_style: true,
    bucket: b.bucket,
    credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: SECRET },
    ...extra,
  });
  backendsDir = await mkdtemp(path.join(tmpdir(), 'tams-hostile-auth-'));
  const file = path.join(backendsDir, 'backends.json');
  await writeFile(
    file,
    JSON.stringify({
      backends: [
        entry(OPEN, { default_storage: true, plain_urls: true, tags: { tier: 'hot' } }),
        entry(VAULT, { tags: { auth_classes: 'vault', tier: 'cold' } }),
        entry(SHARED, { tags: { auth_classes: ['shared'] } }),
      ],
    }),
  );
  h = await startHarness({
    TAMS_AUTH: 'on',
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    TAMS_STORAGE_BACKENDS_FILE: file,
    TAMS_GC_INTERVAL_MS: '86400000',
    TAMS_PRESIGNED_URL_TIMEOUT: '600:0',
    TAMS_MIN_OBJECT_TIMEOUT: '1200:0',
  });
  const tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
  const as = async (sub: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<Client> =>
    recording(client(h, `Bearer ${await tokens.sign({ sub, scope: scopes.map((s) => `tams-api/${s}`).join(' '), ...extra })}`));
  admin = await as('root', ['admin']);
  tenant = await as('tenant', ['read', 'write', 'delete'], { auth_classes: ['newsroom', 'shared:read'] });
  keeper = await as('keeper', ['read', 'write', 'delete'], { auth_classes: ['newsroom', 'vault', 'shared'] });
});

afterAll(async () => {
  await h?.close();
  await s3?.stop();
  if (backendsDir !== undefined) await rm(backendsDir, { recursive: true, force: true });
});

async function newsroomFlow(): Promise<string> {
  const flow = videoFlow({ tags: { auth_classes: 'newsroom' } });
  const res = await admin.req('PUT', `/flows/${flow.id as string}`, flow);
  expect(res.status).toBe(201);
  return flow.id as string;
}

/** Allocated on `storageId` by `who`, uploaded and registered at second `i`; the object id. */
async function media(who: Client, flowId: string, storageId: string, i: number): Promise<{ objectId: string; bytes: Buffer }> {
  const objectId = randomUUID();
  const alloc = await who.req('POST', `/flows/${flowId}/storage`, { object_ids: [objectId], storage_id: storageId });
  expect({ status: alloc.status, body: alloc.status === 201 ? undefined : alloc.body }).toEqual({ status: 201, body: undefined });
  const put = alloc.body.media_objects[0].put_url as { url: string; 'content-type': string; headers?: Record<string, string> };
  const bytes = randomBytes(512);
  const up = await checkedFetch(put.url, { method: 'PUT', body: bytes, headers: { 'content-type': put['content-type'], ...(put.headers ?? {}) } });
  expect(up.status).toBe(200);
  const reg = await who.req('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: `[${i}:0_${i + 1}:0)` });
  expect({ status: reg.status, body: reg.status === 201 ? undefined : reg.body }).toEqual({ status: 201, body: undefined });
  return { objectId, bytes };
}

const storageIdsOf = (urls: Json[]): string[] => [...new Set(urls.map((u: Json) => u.storage_id as string))].sort();
const hostOf = (bucket: string): string => `/${bucket}/`;

describe('hostile: storage backends and authorization', () => {
  let flowId: string;
  let both: string;

  beforeAll(async () => {
    flowId = await newsroomFlow();
    both = (await media(keeper, flowId, OPEN.id, 0)).objectId;
    // The keeper keeps a copy in the vault: the tenant must never see it.
    expect((await keeper.req('POST', `/objects/${both}/instances`, { storage_id: VAULT.id })).status).toBe(201);
  });

  it('the tenant cannot see VAULT in /service/storage-backends, nor allocate on it', async () => {
    const listed = await tenant.req('GET', '/service/storage-backends');
    expect(listed.status).toBe(200);
    expect((listed.body as Json[]).map((b) => b.id).sort()).toEqual([OPEN.id, SHARED.id, h.gateway.localObjects.backend.id].sort());
    const before = bucketKeys(VAULT.bucket).length;
    const alloc = await tenant.req('POST', `/flows/${flowId}/storage`, { limit: 1, storage_id: VAULT.id });
    expect(alloc.status).toBe(400);
    const ro = await tenant.req('POST', `/flows/${flowId}/storage`, { limit: 1, storage_id: SHARED.id });
    expect(ro.status).toBe(403);
    expect(bucketKeys(VAULT.bucket).length).toBe(before);
  });

  it('a copy onto a backend the tenant may not write is refused before a byte is written', async () => {
    const { objectId } = await media(tenant, flowId, OPEN.id, 1);
    const [vaultBefore, sharedBefore] = [bucketKeys(VAULT.bucket).length, bucketKeys(SHARED.bucket).length];
    const toVault = await tenant.req('POST', `/objects/${objectId}/instances`, { storage_id: VAULT.id });
    expect(toVault.status).toBe(400);
    const toShared = await tenant.req('POST', `/objects/${objectId}/instances`, { storage_id: SHARED.id });
    expect(toShared.status).toBe(403);
    // GraphQL is the same door.
    const gql = await tenant.gqlRaw('mutation($id: String!, $s: ID) { addObjectInstance(objectId: $id, storageId: $s) { id } }', { id: objectId, s: SHARED.id });
    expect(gql.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect([bucketKeys(VAULT.bucket).length, bucketKeys(SHARED.bucket).length]).toEqual([vaultBefore, sharedBefore]);
    const instances = (await h.gateway.store.getObject(objectId))!.instances.map((i) => i.storage_id);
    expect(instances).toEqual([OPEN.id]);
  });

  it('get_urls never name VAULT to the tenant: REST object, REST segments, GraphQL, verbose, accept_storage_ids, storage_backend_tag', async () => {
    const vaultKeys = bucketKeys(VAULT.bucket);
    expect(vaultKeys.length).toBeGreaterThan(0);
    const queries = [
      '',
      '?verbose_storage=true',
      `?verbose_storage=true&accept_storage_ids=${VAULT.id}`,
      `?accept_get_urls=${VAULT.label}`,
      '?presigned=true&verbose_storage=true',
      '?presigned=false&verbose_storage=true',
      '?storage_backend_tag.tier=cold&verbose_storage=true',
      '?storage_backend_tag_exists.auth_classes=true&verbose_storage=true',
    ];
    for (const q of queries) {
      const obj = await tenant.req('GET', `/objects/${both}${q}`);
      expect({ q, status: obj.status }).toEqual({ q, status: 200 });
      const segs = await tenant.req('GET', `/flows/${flowId}/segments${q}`);
      expect({ q, status: segs.status }).toEqual({ q, status: 200 });
      for (const text of [obj.text, segs.text]) {
        expect({ q, leaks: text.includes(VAULT.bucket) || text.includes(VAULT.id) || text.includes(VAULT.label) }).toEqual({ q, leaks: false });
      }
    }
    const verbose = await tenant.req('GET', `/objects/${both}?verbose_storage=true`);
    expect(storageIdsOf(verbose.body.get_urls)).toEqual([OPEN.id]);
    // The keeper, holding `vault`, sees both.
    const kept = await keeper.req('GET', `/objects/${both}?verbose_storage=true`);
    expect(storageIdsOf(kept.body.get_urls)).toEqual([OPEN.id, VAULT.id].sort());

    const gql = await tenant.gql(
      'query($f: ID!, $o: ID!) { segments(flowId: $f) { nodes { getUrls { url storageId label } object { getUrls { url storageId } } } } object(id: $o) { getUrls { url storageId label } } }',
      { f: flowId, o: both },
    );
    expect(gql.object.getUrls.length).toBeGreaterThan(0);
    expect(JSON.stringify(gql)).not.toContain(hostOf(VAULT.bucket));
    expect(JSON.stringify(gql)).not.toContain(VAULT.id);
  });

  it('the tenant cannot remove an instance on a backend it may not write, by storage_id or by label', async () => {
    const keysBefore = bucketKeys(VAULT.bucket);
    const byId = await tenant.req('DELETE', `/objects/${both}/instances?storage_id=${VAULT.id}`);
    expect([400, 403, 404]).toContain(byId.status);
    const byLabel = await tenant.req('DELETE', `/objects/${both}/instances?label=${VAULT.label}`);
    expect([400, 403, 404]).toContain(byLabel.status);
    const gql = await tenant.gqlRaw('mutation($id: String!, $l: String) { removeObjectInstance(objectId: $id, label: $l) { id } }', { id: both, l: VAULT.label });
    expect(gql.errors).toBeDefined();
    expect(bucketKeys(VAULT.bucket)).toEqual(keysBefore);
    expect((await h.gateway.store.getObject(both))!.instances.map((i) => i.storage_id).sort()).toEqual([OPEN.id, VAULT.id].sort());
  });

  it('an object the tenant can reach only through VAULT cannot be copied out of it (no readable source)', async () => {
    const { objectId } = await media(keeper, flowId, OPEN.id, 2);
    const openKey = (await h.gateway.store.getObject(objectId))!.instances[0]!.key;
    expect((await keeper.req('POST', `/objects/${objectId}/instances`, { storage_id: VAULT.id })).status).toBe(201);
    expect((await keeper.req('DELETE', `/objects/${objectId}/instances?storage_id=${OPEN.id}`)).status).toBe(204);
    // The OPEN bytes stay, queued, while the object's PUT URL may work; no instance names them.
    expect(bucketKeys(OPEN.bucket)).toContain(openKey);
    expect(await h.gateway.store.pendingObjectDeletions(100)).toContainEqual({ storage_id: OPEN.id, key: openKey });
    const openBefore = bucketKeys(OPEN.bucket).length;
    const localId = h.gateway.localObjects.backend.id;
    for (const target of [OPEN.id, localId]) {
      const res = await tenant.req('POST', `/objects/${objectId}/instances`, { storage_id: target });
      expect({ target, status: res.status }).toEqual({ target, status: 400 });
    }
    expect(bucketKeys(OPEN.bucket).length).toBe(openBefore);
    // The tenant still reads the object (its flow), with no URL at all.
    const obj = await tenant.req('GET', `/objects/${objectId}`);
    expect(obj.status).toBe(200);
    expect(obj.body.get_urls).toEqual([]);
  });

  it('a read-only grant on SHARED gives its URLs but not its removal', async () => {
    const { objectId } = await media(keeper, flowId, OPEN.id, 3);
    expect((await keeper.req('POST', `/objects/${objectId}/instances`, { storage_id: SHARED.id })).status).toBe(201);
    const seen = await tenant.req('GET', `/objects/${objectId}?verbose_storage=true`);
    expect(storageIdsOf(seen.body.get_urls)).toEqual([OPEN.id, SHARED.id].sort());
    const del = await tenant.req('DELETE', `/objects/${objectId}/instances?storage_id=${SHARED.id}`);
    expect(del.status).toBe(403);
    expect((await h.gateway.store.getObject(objectId))!.instances.map((i) => i.storage_id).sort()).toEqual([OPEN.id, SHARED.id].sort());
  });

  it('an uncontrolled instance may not take a storage backend label through POST /objects/{id}/instances', async () => {
    const { objectId } = await media(tenant, flowId, OPEN.id, 4);
    for (const label of [OPEN.label, VAULT.label, 'local']) {
      const res = await tenant.req('POST', `/objects/${objectId}/instances`, { url: 'https://attacker.example/x.ts', label });
      expect({ label, status: res.status }).toEqual({ label, status: 400 });
    }
  });

  it('a segment registration may not give get_urls a storage backend label (400), so no attacker URL poses as the backend', async () => {
    // The spec (flow-segment-post.json get_urls.label): "Service implementations should reject any
    // requests using labels that are already associated with Storage Backends", as POST
    // /objects/{id}/instances does. Here the first registration of an object allocated on OPEN
    // brings an attacker URL labelled as a backend: refused, whichever backend (as for instances).
    const objectId = randomUUID();
    const alloc = await tenant.req('POST', `/flows/${flowId}/storage`, { object_ids: [objectId], storage_id: OPEN.id });
    expect(alloc.status).toBe(201);
    const put = alloc.body.media_objects[0].put_url as { url: string; 'content-type': string };
    expect((await checkedFetch(put.url, { method: 'PUT', body: randomBytes(64), headers: { 'content-type': put['content-type'] } })).status).toBe(200);
    const spoof = 'https://attacker.example/poisoned.ts';
    for (const label of [OPEN.label, VAULT.label, 'local']) {
      const reg = await tenant.req('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[5:0_6:0)', get_urls: [{ url: spoof, label }] });
      expect({ label, status: reg.status }).toEqual({ label, status: 400 });
    }
    // What a reader asking for OPEN's URLs then gets: no segment there, no attacker URL anywhere.
    const seen = await keeper.req('GET', `/flows/${flowId}/segments?timerange=[5:0_6:0)&accept_get_urls=${OPEN.label}&presigned=false`);
    expect(seen.status).toBe(200);
    const urls = (seen.body as Json[]).flatMap((s) => s.get_urls as Json[]);
    expect(urls.filter((u: Json) => u.url === spoof)).toEqual([]);
    expect((await h.gateway.store.getObject(objectId))?.registered).toBe(false);
    // The same registration with a label of its own is accepted.
    const own = await tenant.req('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[5:0_6:0)', get_urls: [{ url: spoof, label: 'mirror' }] });
    expect(own.status).toBe(201);
  });

  it('no answer anywhere carries the backends’ secret', async () => {
    const all = await admin.req('GET', '/service/storage-backends');
    expect(all.status).toBe(200);
    for (const b of all.body as Json[]) {
      expect(Object.keys(b).filter((k) => /cred|secret|key|bucket|endpoint|prefix/i.test(k))).toEqual([]);
    }
    const gql = await admin.gql('{ storageBackends { id label tags } }');
    expect(gql.storageBackends.length).toBe(4);
    for (const text of answers) {
      expect(text.includes(SECRET)).toBe(false);
    }
  });
});
