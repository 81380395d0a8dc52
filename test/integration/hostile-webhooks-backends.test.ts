/**
 * Hostile review of issue 18: segment get_urls in webhook payloads and storage backends the
 * webhook's owner may not read.
 *
 * Two S3 buckets on an in-process s3rver: OPEN (default, no auth_classes) and VAULT
 * (auth_classes `vault`). Mallory may read `news` flows but holds no grant on `vault`. A news
 * segment whose object lives in both backends reaches her receiver: its get_urls, signed when
 * the attempt is sent, must name OPEN only, whatever her webhook asks for
 * (verbose_storage, accept_storage_ids naming VAULT, accept_get_urls with VAULT's label,
 * presigned either way), and no payload may carry a backend credential.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { checkedFetch } from '../support/checked-fetch';
import { client, type Client } from '../support/tams-client';
import { S3RVER_CREDENTIALS, createBucket, startS3Server, type S3TestServer } from '../support/s3-server';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { videoFlow } from '../fixtures/flows';

const ISSUER = 'https://hostile-webhook-backends.test';
const AUDIENCE = 'tams-hostile-webhook-backends';
const SECRET = 'hostile-webhook-backend-secret-0a1b2c3d';
const OPEN = { id: 'b0000000-0000-4000-8000-00000000000a', label: 'open-s3', bucket: 'hook-open' };
const VAULT = { id: 'b0000000-0000-4000-8000-00000000000b', label: 'vault-s3', bucket: 'hook-vault' };

let s3: S3TestServer;
let h: Harness;
let dir: string;
let admin: Client;
let mallory: Client;
let r: WebhookReceiver;

beforeAll(async () => {
  s3 = await startS3Server(OPEN.bucket);
  await createBucket(s3, VAULT.bucket);
  const entry = (b: typeof OPEN, extra: Record<string, unknown>): Record<string, unknown> => ({
    id: b.id, label: b.label, store_type: 'http_object_store', provider: 's3rver', store_product: 's3rver',
    endpoint: s3.endpoint, path_style: true, bucket: b.bucket,
    credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: SECRET },
    ...extra,
  });
  dir = await mkdtemp(path.join(tmpdir(), 'tams-hook-backends-'));
  const file = path.join(dir, 'backends.json');
  await writeFile(file, JSON.stringify({ backends: [entry(OPEN, { default_storage: true }), entry(VAULT, { tags: { auth_classes: 'vault' } })] }));
  h = await startHarness({
    TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, TAMS_STORAGE_BACKENDS_FILE: file,
    TAMS_GC_INTERVAL_MS: '86400000', TAMS_WEBHOOK_TIMEOUT_MS: '2000', TAMS_WEBHOOK_LEASE_MS: '4000',
  });
  const tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
  const as = async (sub: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<Client> =>
    client(h, `Bearer ${await tokens.sign({ sub, scope: scopes.map((s) => `tams-api/${s}`).join(' '), ...extra })}`);
  admin = await as('root', ['admin']);
  mallory = await as('mallory', ['read', 'write'], { auth_classes: ['news'] });
  r = await startReceiver();
});

afterAll(async () => {
  await h?.close();
  await r?.close();
  await s3?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('get_urls sent to a webhook never name a backend its owner may not read, whatever the webhook asks for', async () => {
  const variants = [
    { verbose_storage: true },
    { verbose_storage: true, accept_storage_ids: [VAULT.id] },
    { verbose_storage: true, accept_storage_ids: [VAULT.id, OPEN.id], presigned: true },
    { accept_get_urls: [VAULT.label] },
    { presigned: false, verbose_storage: true },
  ];
  const hooks: string[] = [];
  for (const v of variants) {
    const res = await mallory.req('POST', '/service/webhooks', { url: `${r.url}?v=${hooks.length}`, events: ['flows/segments_added'], ...v });
    expect({ v, status: res.status, body: res.status === 201 ? undefined : res.body }).toEqual({ v, status: 201, body: undefined });
    hooks.push(res.body.id as string);
  }
  // Park them, so the payloads are built once the object also lives in VAULT.
  for (const [i, id] of hooks.entries()) {
    expect((await mallory.req('PUT', `/service/webhooks/${id}`, { id, url: `${r.url}?v=${i}`, events: ['flows/segments_added'], ...variants[i], status: 'disabled' })).status).toBe(201);
  }
  const flow = videoFlow({ tags: { auth_classes: 'news' } });
  const flowId = flow.id as string;
  expect((await admin.req('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
  const objectId = randomUUID();
  const alloc = await admin.req('POST', `/flows/${flowId}/storage`, { object_ids: [objectId], storage_id: OPEN.id });
  expect(alloc.status).toBe(201);
  const put = alloc.body.media_objects[0].put_url as { url: string; 'content-type': string; headers?: Record<string, string> };
  expect((await checkedFetch(put.url, { method: 'PUT', body: randomBytes(256), headers: { 'content-type': put['content-type'], ...(put.headers ?? {}) } })).status).toBe(200);
  expect((await admin.req('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).status).toBe(201);
  expect((await admin.req('POST', `/objects/${objectId}/instances`, { storage_id: VAULT.id })).status).toBe(201);
  // Mallory may read the segment, through OPEN only.
  const own = await mallory.req('GET', `/flows/${flowId}/segments?verbose_storage=true`);
  expect(own.status).toBe(200);

  for (const [i, id] of hooks.entries()) {
    expect((await mallory.req('PUT', `/service/webhooks/${id}`, { id, url: `${r.url}?v=${i}`, events: ['flows/segments_added'], ...variants[i], status: 'created' })).status).toBe(201);
  }
  await r.waitFor(hooks.length, 10_000);
  // The attack is real: the payloads do carry URLs (OPEN's), signed for this attempt.
  expect(r.received.some((x) => JSON.stringify(x.body.event.segments[0].get_urls ?? []).includes(`/${OPEN.bucket}/`))).toBe(true);
  for (const x of r.received) {
    const text = JSON.stringify(x.body);
    const urls = (x.body.event.segments[0].get_urls ?? []) as { url: string; storage_id?: string; label?: string }[];
    expect({
      vaultUrl: urls.some((u) => u.url.includes(`/${VAULT.bucket}/`) || u.storage_id === VAULT.id || u.label === VAULT.label),
      secret: text.includes(SECRET),
    }).toEqual({ vaultUrl: false, secret: false });
  }
});
