/**
 * Hostile review of issue 17: get_urls across backends, held to the TAMS spec
 * (TimeAddressableMediaStore.yaml, GET /flows/{id}/segments and GET /objects/{id}):
 *
 * - `presigned`: true keeps only presigned URLs, false only plain ones, omitted both;
 * - `accept_storage_ids`: only URLs of those backends, URLs with no storage id only when it is
 *   omitted or empty, empty = no filtering;
 * - `accept_get_urls`: labels, empty = none;
 * - `storage_backend_tag.*` / `storage_backend_tag_exists.*`: the backend's tags;
 * - `verbose_storage`: false gives only url, presigned and label;
 * - several filters: every one must match; `init_object.get_urls` filtered like `get_urls`.
 *
 * One object has controlled instances on PLAIN (an S3 backend with plain_urls), SIGNED (S3,
 * presigned only) and the local backend, plus an uncontrolled URL; its init object lives on
 * SIGNED only. Every URL handed out must also really serve the bytes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startHarness, type Harness } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';
import { videoFlow } from '../fixtures/flows';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are arbitrary JSON
type Json = any;

/** A label holding JSON- and URL-hostile characters, U+001E and U+001F. */
const ODD_LABEL = 'plain "ünï" \\ \u001e\u001f/?&=#%';
const PLAIN = { id: 'd0000000-0000-4000-8000-0000000000a1', label: ODD_LABEL, bucket: 'urls-plain' };
const SIGNED = { id: 'd0000000-0000-4000-8000-0000000000b2', label: 'signed-s3', bucket: 'urls-signed' };
const ELSEWHERE = { url: 'https://cdn.example.com/media/object.ts', label: 'cdn' };
/** The longest prefix the backends file accepts (512 characters). */
const LONG_PREFIX = Array.from({ length: 8 }, (_, i) => `${String(i).repeat(63)}`).join('/');

let s3: S3TestServer;
let h: Harness;
let backendsDir: string;
let flowId: string;
let objectId: string;
let initId: string;
let media: Buffer;
let init: Buffer;
let localId: string;

beforeAll(async () => {
  expect(LONG_PREFIX.length).toBe(511);
  s3 = await startS3Server(PLAIN.bucket);
  const admin = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
  await admin.send(new CreateBucketCommand({ Bucket: SIGNED.bucket }));
  admin.destroy();
  const entry = (b: typeof PLAIN, extra: Record<string, unknown>): Record<string, unknown> => ({
    id: b.id,
    label: b.label,
    store_type: 'http_object_store',
    provider: 's3rver',
    store_product: 's3rver',
    endpoint: s3.endpoint,
    path_style: true,
    bucket: b.bucket,
    credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: 'urls-secret' },
    ...extra,
  });
  backendsDir = await mkdtemp(path.join(tmpdir(), 'tams-hostile-urls-'));
  const file = path.join(backendsDir, 'backends.json');
  await writeFile(
    file,
    JSON.stringify({
      backends: [
        entry(PLAIN, { plain_urls: true, default_storage: true, prefix: `/${LONG_PREFIX}x/`, tags: { tier: 'hot', site: ['london', 'paris'] } }),
        entry(SIGNED, { tags: { tier: 'cold' } }),
      ],
    }),
  );
  h = await startHarness({ TAMS_STORAGE_BACKENDS_FILE: file, TAMS_GC: 'off', TAMS_PRESIGNED_URL_TIMEOUT: '600:0', TAMS_MIN_OBJECT_TIMEOUT: '1200:0' });
  localId = h.gateway.localObjects.backend.id;

  const flow = videoFlow({ essence_parameters: { frame_rate: { numerator: 50, denominator: 1 }, frame_width: 1920, frame_height: 1080, init_segments: true } });
  flowId = flow.id as string;
  expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
  [objectId, initId] = [randomUUID(), randomUUID()];
  media = randomBytes(300);
  init = randomBytes(40);
  for (const [id, storageId, bytes] of [[objectId, PLAIN.id, media], [initId, SIGNED.id, init]] as const) {
    const alloc = await h.request('POST', `/flows/${flowId}/storage`, { object_ids: [id], storage_id: storageId });
    expect({ status: alloc.status, body: alloc.status === 201 ? undefined : alloc.body }).toEqual({ status: 201, body: undefined });
    const put = alloc.body.media_objects[0].put_url;
    expect((await checkedFetch(put.url, { method: 'PUT', body: bytes, headers: { 'content-type': put['content-type'], ...(put.headers ?? {}) } })).status).toBe(200);
  }
  const reg = await h.request('POST', `/flows/${flowId}/segments`, { object_id: objectId, init_object_id: initId, timerange: '[0:0_1:0)' });
  expect({ status: reg.status, body: reg.status === 201 ? undefined : reg.body }).toEqual({ status: 201, body: undefined });
  for (const target of [SIGNED.id, localId]) expect((await h.request('POST', `/objects/${objectId}/instances`, { storage_id: target })).status).toBe(201);
  expect((await h.request('POST', `/objects/${objectId}/instances`, ELSEWHERE)).status).toBe(201);
});

afterAll(async () => {
  await h?.close();
  await s3?.stop();
  if (backendsDir !== undefined) await rm(backendsDir, { recursive: true, force: true });
});

/** A get_url reduced to what the filters decide on: `<storage_id or label>/<presigned>`. */
const kind = (u: Json): string => `${u.storage_id ?? u.label}/${u.presigned ? 'signed' : 'plain'}`;

async function urlsOf(query: string): Promise<{ object: string[]; segment: string[]; objectInit: string[]; segmentInit: string[] }> {
  const q = query === '' ? '?verbose_storage=true' : `?verbose_storage=true&${query}`;
  const obj = await h.request('GET', `/objects/${objectId}${q}`);
  expect({ query, status: obj.status }).toEqual({ query, status: 200 });
  const segs = await h.request('GET', `/flows/${flowId}/segments${q}`);
  expect({ query, status: segs.status }).toEqual({ query, status: 200 });
  const seg = (segs.body as Json[])[0];
  return {
    object: (obj.body.get_urls as Json[]).map(kind).sort(),
    segment: (seg.get_urls as Json[]).map(kind).sort(),
    objectInit: (obj.body.init_object.get_urls as Json[]).map(kind).sort(),
    segmentInit: (seg.init_object.get_urls as Json[]).map(kind).sort(),
  };
}

const P_SIGNED = `${PLAIN.id}/signed`;
const P_PLAIN = `${PLAIN.id}/plain`;
const S_SIGNED = `${SIGNED.id}/signed`;
const CDN = 'cdn/plain';

describe('hostile: get_urls filtering across backends', () => {
  const localSigned = (): string => `${localId}/signed`;
  const enc = encodeURIComponent;

  it.each([
    ['', () => [P_PLAIN, P_SIGNED, S_SIGNED, localSigned(), CDN], () => [S_SIGNED]],
    ['presigned=true', () => [P_SIGNED, S_SIGNED, localSigned()], () => [S_SIGNED]],
    ['presigned=false', () => [P_PLAIN, CDN], () => []],
    [`accept_storage_ids=${PLAIN.id}`, () => [P_PLAIN, P_SIGNED], () => []],
    [`accept_storage_ids=${SIGNED.id},${PLAIN.id}&presigned=false`, () => [P_PLAIN], () => []],
    ['accept_storage_ids=', () => [P_PLAIN, P_SIGNED, S_SIGNED, localSigned(), CDN], () => [S_SIGNED]],
    ['accept_get_urls=', () => [], () => []],
    ['accept_get_urls=cdn', () => [CDN], () => []],
    [`accept_get_urls=${enc(ODD_LABEL.replace(/,/g, ''))}`, () => [P_PLAIN, P_SIGNED], () => []],
    [`accept_get_urls=cdn,${SIGNED.label}&presigned=true`, () => [S_SIGNED], () => [S_SIGNED]],
    ['storage_backend_tag.tier=hot', () => [P_PLAIN, P_SIGNED], () => []],
    ['storage_backend_tag.tier=cold,hot&presigned=true', () => [P_SIGNED, S_SIGNED], () => [S_SIGNED]],
    ['storage_backend_tag.site=paris', () => [P_PLAIN, P_SIGNED], () => []],
    ['storage_backend_tag_exists.tier=false', () => [localSigned()], () => []],
  ])('%s', async (query, expected, expectedInit) => {
    const urls = await urlsOf(query);
    const want = expected().sort();
    const wantInit = expectedInit().sort();
    expect(urls).toEqual({ object: want, segment: want, objectInit: wantInit, segmentInit: wantInit });
  });

  it('without verbose_storage a get_url holds only url, presigned and label', async () => {
    const obj = await h.request('GET', `/objects/${objectId}`);
    const segs = await h.request('GET', `/flows/${flowId}/segments`);
    for (const u of [...obj.body.get_urls, ...obj.body.init_object.get_urls, ...segs.body[0].get_urls, ...segs.body[0].init_object.get_urls] as Json[]) {
      expect(Object.keys(u).sort()).toEqual(['label', 'presigned', 'url']);
    }
    const labels = (obj.body.get_urls as Json[]).map((u) => u.label);
    expect(labels).toContain(ODD_LABEL);
  });

  it('every URL handed out serves the object’s bytes (the 511-character prefix, the odd label, plain and presigned)', async () => {
    const obj = await h.request('GET', `/objects/${objectId}`);
    const urls = (obj.body.get_urls as Json[]).filter((u) => u.label !== ELSEWHERE.label);
    expect(urls.length).toBe(4);
    for (const u of urls) {
      const res = await checkedFetch(u.url as string);
      expect({ url: u.url, status: res.status }).toEqual({ url: u.url, status: 200 });
      expect(Buffer.from(await res.arrayBuffer()).equals(media)).toBe(true);
    }
    const plain = urls.find((u) => u.presigned === false)!.url as string;
    expect(new URL(plain).pathname).toContain(`/${LONG_PREFIX}x/`);
    for (const u of obj.body.init_object.get_urls as Json[]) {
      const res = await checkedFetch(u.url as string);
      expect(Buffer.from(await res.arrayBuffer()).equals(init)).toBe(true);
    }
  });

  it('an uncontrolled URL is shown as not controlled, with no storage id', async () => {
    const obj = await h.request('GET', `/objects/${objectId}?verbose_storage=true&accept_get_urls=cdn`);
    expect(obj.body.get_urls).toEqual([{ url: ELSEWHERE.url, label: 'cdn', presigned: false, controlled: false }]);
  });

  it('GraphQL getUrls of the segment and the object name the same backends as REST', async () => {
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'query($f: ID!, $o: ID!) { segments(flowId: $f) { nodes { getUrls { storageId presigned label } } } object(id: $o) { getUrls { storageId presigned label } } }',
        variables: { f: flowId, o: objectId },
      }),
    });
    const body = (await res.json()) as Json;
    expect(body.errors).toBeUndefined();
    const kinds = (list: Json[]): string[] => list.map((u) => `${u.storageId ?? u.label}/${u.presigned ? 'signed' : 'plain'}`).sort();
    const all = [P_PLAIN, P_SIGNED, S_SIGNED, localSigned(), CDN].sort();
    expect(kinds(body.data.object.getUrls)).toEqual(all);
    expect(kinds(body.data.segments.nodes[0].getUrls)).toEqual(all);
  });

  it('object ids holding U+001E, U+001F, / and non-ASCII survive allocation on S3, copies, listing and removal', async () => {
    const odd = `odd\u001e\u001f/id ü ${randomUUID()}`;
    const oddInit = `init\u001f\u001e ${randomUUID()}`;
    const bytes = randomBytes(77);
    for (const [id, body] of [[odd, bytes], [oddInit, randomBytes(5)]] as const) {
      const alloc = await h.request('POST', `/flows/${flowId}/storage`, { object_ids: [id], storage_id: SIGNED.id });
      expect(alloc.status).toBe(201);
      const put = alloc.body.media_objects[0].put_url;
      expect((await checkedFetch(put.url, { method: 'PUT', body, headers: { 'content-type': put['content-type'] } })).status).toBe(200);
    }
    const reg = await h.request('POST', `/flows/${flowId}/segments`, { object_id: odd, init_object_id: oddInit, timerange: '[10:0_11:0)' });
    expect({ status: reg.status, body: reg.status === 201 ? undefined : reg.body }).toEqual({ status: 201, body: undefined });
    const path = `/objects/${encodeURIComponent(odd)}`;
    expect((await h.request('POST', `${path}/instances`, { storage_id: PLAIN.id })).status).toBe(201);
    expect((await h.request('POST', `/objects/${encodeURIComponent(oddInit)}/instances`, { storage_id: localId })).status).toBe(201);
    const listed = await h.request('GET', `/flows/${flowId}/segments?timerange=[10:0_11:0)&verbose_storage=true`);
    expect(listed.status).toBe(200);
    const seg = listed.body[0];
    expect([seg.object_id, seg.init_object.object_id]).toEqual([odd, oddInit]);
    expect((seg.get_urls as Json[]).map(kind).sort()).toEqual([P_PLAIN, P_SIGNED, S_SIGNED].sort());
    expect((seg.init_object.get_urls as Json[]).map(kind).sort()).toEqual([S_SIGNED, `${localId}/signed`].sort());
    for (const u of seg.get_urls as Json[]) expect(Buffer.from(await (await checkedFetch(u.url as string)).arrayBuffer()).equals(bytes)).toBe(true);
    expect((await h.request('DELETE', `${path}/instances?storage_id=${SIGNED.id}`)).status).toBe(204);
    const after = await h.request('GET', `${path}?verbose_storage=true`);
    expect((after.body.get_urls as Json[]).map(kind).sort()).toEqual([P_PLAIN, P_SIGNED].sort());
  });
});
