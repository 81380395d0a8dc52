import { randomBytes, randomUUID } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { allocateObjects } from '../support/allocate-objects';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

/**
 * HEAD twins of the core GETs, GET /objects/{id} for awkward object ids, and the gateway's
 * own signed media URLs (signatures, expiry, method binding, ranges, size limit).
 */

interface MediaObject {
  object_id: string;
  put_url: { url: string; 'content-type': string };
}

/** The storage key of a gateway media URL (`<base>/media/<key>?exp=..&sig=..`). */
function keyOf(url: string): string {
  const pathname = new URL(url).pathname;
  expect(pathname.startsWith('/media/')).toBe(true);
  return pathname.slice('/media/'.length);
}

async function allocate(h: Harness, flowId: string, body: Record<string, unknown>): Promise<MediaObject[]> {
  const res = await h.request('POST', `/flows/${flowId}/storage`, body);
  expect(res.status).toBe(201);
  return (res.body as { media_objects: MediaObject[] }).media_objects;
}

async function upload(mo: MediaObject, data: Buffer): Promise<Response> {
  return checkedFetch(mo.put_url.url, { method: 'PUT', body: data, headers: { 'content-type': mo.put_url['content-type'] } });
}

async function expectMediaError(res: Response, status: number): Promise<void> {
  expect(res.status).toBe(status);
  const body = JSON.parse(await res.text()) as Record<string, unknown>;
  expect(typeof body.type).toBe('string');
  expect(typeof body.summary).toBe('string');
  expect(typeof body.time).toBe('string');
}

const HEADERS_TO_COMPARE = [
  'content-type',
  'x-paging-limit',
  'x-paging-count',
  'x-paging-nextkey',
  'x-paging-reverse-order',
  'x-paging-timerange',
  'link',
];

describe('HEAD twins of the core GETs', () => {
  let h: Harness;
  const video = videoFlow();
  const audio = audioFlow();
  const videoId = video.id as string;

  beforeAll(async () => {
    h = await startHarness();
    expect((await h.request('PUT', `/flows/${videoId}`, video)).status).toBe(201);
    expect((await h.request('PUT', `/flows/${audio.id as string}`, audio)).status).toBe(201);
    const segs = Array.from({ length: 4 }, (_, i) => ({ object_id: `head-${i}`, timerange: `[${i}:0_${i + 1}:0)` }));
    await allocateObjects(h, videoId, segs.map((s) => s.object_id));
    expect((await h.request('POST', `/flows/${videoId}/segments`, segs)).status).toBe(201);
  });
  afterAll(async () => {
    await h.close();
  });

  const paths = (): [string, boolean][] => [
    ['/', true],
    ['/service', true],
    ['/service/storage-backends', true],
    ['/sources', true],
    ['/sources?limit=1', true],
    [`/sources/${video.source_id as string}`, true],
    ['/flows', true],
    ['/flows?limit=1', true],
    ['/flows?limit=1&reverse_order=true', true],
    [`/flows/${videoId}`, true],
    [`/flows/${videoId}?include_timerange=true`, true],
    // The one flow property no other suite reads with HEAD (the parity report wants a 200 of each operation).
    [`/flows/${videoId}/read_only`, true],
    // Signed get_urls may change between two requests (expiry buckets): no content-length check.
    [`/flows/${videoId}/segments`, false],
    [`/flows/${videoId}/segments?limit=2&timerange=${encodeURIComponent('[1:0_4:0)')}`, false],
    [`/flows/${videoId}/segments?accept_get_urls=`, true],
    ['/objects/head-1', false],
  ];

  it('every GET has a HEAD with the same status and headers and an empty body', async () => {
    for (const [p, compareLength] of paths()) {
      const get = await h.request('GET', p);
      const head = await h.request('HEAD', p);
      expect({ p, status: head.status }).toEqual({ p, status: get.status });
      expect(get.status).toBe(200);
      expect(head.text).toBe('');
      for (const name of HEADERS_TO_COMPARE) {
        expect({ p, name, value: head.headers.get(name) }).toEqual({ p, name, value: get.headers.get(name) });
      }
      expect(get.headers.get('content-type') ?? '').toContain('application/json');
      if (compareLength) {
        expect({ p, length: head.headers.get('content-length') }).toEqual({ p, length: get.headers.get('content-length') });
      }
    }
  });

  it('paging headers are really there on the HEAD of a multi-page listing', async () => {
    const head = await h.request('HEAD', `/flows/${videoId}/segments?limit=2`);
    expect(head.status).toBe(200);
    expect(head.headers.get('x-paging-limit')).toBe('2');
    expect(head.headers.get('x-paging-count')).toBe('2');
    expect(head.headers.get('x-paging-nextkey')).toBeTruthy();
    expect(head.headers.get('link')).toMatch(/^<[^>]+>; rel="next"$/);
    expect(head.headers.get('x-paging-timerange')).toBe('[0:0_2:0)');
  });

  it('HEAD of unknown or malformed ids answers 404 with no body, like GET', async () => {
    for (const p of [
      `/flows/${randomUUID()}`,
      `/sources/${randomUUID()}`,
      '/objects/no-such-object',
      `/objects/${encodeURIComponent('no/such/ü')}`,
      '/flows/not-a-uuid',
      '/sources/not-a-uuid',
      '/flows/not-a-uuid/segments',
    ]) {
      const get = await h.request('GET', p);
      const head = await h.request('HEAD', p);
      expect({ p, get: get.status, head: head.status }).toEqual({ p, get: 404, head: 404 });
      expect(head.text).toBe('');
      expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    }
  });

  it('HEAD with a bad query answers 400 with no body, like GET', async () => {
    for (const p of ['/flows?limit=0', '/sources?format=bogus', `/flows/${videoId}/segments?timerange=nope`]) {
      const get = await h.request('GET', p);
      const head = await h.request('HEAD', p);
      expect({ p, get: get.status, head: head.status }).toEqual({ p, get: 400, head: 400 });
      expect(head.text).toBe('');
    }
  });
});

describe('GET /objects/{objectId} and media URLs', () => {
  let h: Harness;
  const flow = videoFlow();
  const flowId = flow.id as string;
  const other = videoFlow();
  const otherId = other.id as string;
  const objectId = 'clips/2026/ü-1';
  const unregisteredId = 'clips/2026/ü-2';
  const data = randomBytes(4096);
  let getUrl: string;

  beforeAll(async () => {
    h = await startHarness();
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    expect((await h.request('PUT', `/flows/${otherId}`, other)).status).toBe(201);

    const [mo] = await allocate(h, flowId, { object_ids: [objectId] });
    expect(mo!.object_id).toBe(objectId);
    expect((await upload(mo!, data)).status).toBe(200);
    const reg = await h.request('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange: '[10:0_12:0)' });
    expect(reg.status).toBe(201);

    const [unreg] = await allocate(h, flowId, { object_ids: [unregisteredId] });
    expect((await upload(unreg!, randomBytes(10))).status).toBe(200);
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers an object id with a slash and unicode, percent-encoded in the path', async () => {
    const res = await h.request('GET', `/objects/${encodeURIComponent(objectId)}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: objectId,
      referenced_by_flows: [flowId],
      first_referenced_by_flow: flowId,
      timerange: '[10:0_12:0)',
    });
    const urls = (res.body as { get_urls: { url: string; label?: string }[] }).get_urls;
    expect(urls).toHaveLength(1);
    expect(urls[0]!.label).toBe('local');
    getUrl = urls[0]!.url;
    const got = await checkedFetch(getUrl);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
  });

  it('segments list the same object id verbatim', async () => {
    const res = await h.request('GET', `/flows/${flowId}/segments?object_id=${encodeURIComponent(objectId)}`);
    expect(res.status).toBe(200);
    expect((res.body as { object_id: string }[]).map((s) => s.object_id)).toEqual([objectId]);
  });

  it('lists every flow referencing the object, keeping the first one', async () => {
    const reg = await h.request('POST', `/flows/${otherId}/segments`, { object_id: objectId, timerange: '[100:0_102:0)' });
    expect(reg.status).toBe(201);
    const res = await h.request('GET', `/objects/${encodeURIComponent(objectId)}`);
    expect(res.status).toBe(200);
    const body = res.body as { referenced_by_flows: string[]; first_referenced_by_flow: string; timerange: string };
    expect([...body.referenced_by_flows].sort()).toEqual([flowId, otherId].sort());
    expect(body.first_referenced_by_flow).toBe(flowId);
    expect(body.timerange).toBe('[10:0_12:0)');
  });

  it('answers 404 for an allocated-but-unregistered id and for an unknown id', async () => {
    expect((await h.request('GET', `/objects/${encodeURIComponent(unregisteredId)}`)).status).toBe(404);
    expect((await h.request('GET', `/objects/${encodeURIComponent('clips/2026/ü-3')}`)).status).toBe(404);
    expect((await h.request('GET', '/objects/clips')).status).toBe(404);
  });

  it('refuses a tampered signature with 403', async () => {
    const url = new URL(getUrl);
    const sig = url.searchParams.get('sig')!;
    url.searchParams.set('sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
    await expectMediaError(await checkedFetch(url), 403);
    url.searchParams.delete('sig');
    await expectMediaError(await checkedFetch(url), 403);
    const noExp = new URL(getUrl);
    noExp.searchParams.delete('exp');
    await expectMediaError(await checkedFetch(noExp), 403);
    const laterExp = new URL(getUrl);
    laterExp.searchParams.set('exp', String(Number(laterExp.searchParams.get('exp')) + 60));
    await expectMediaError(await checkedFetch(laterExp), 403);
  });

  it('refuses a signature for another key with 403', async () => {
    const [mo] = await allocate(h, flowId, { limit: 1 });
    const otherKey = keyOf(mo!.put_url.url);
    const url = new URL(getUrl);
    url.pathname = `/media/${otherKey}`;
    await expectMediaError(await checkedFetch(url), 403);
  });

  it('refuses an expired URL with 403', async () => {
    const expired = h.gateway.localObjects.signGet(keyOf(getUrl), h.base, 1);
    await expectMediaError(await checkedFetch(expired), 403);
    // The same key freshly signed works, so it is the expiry that is refused.
    const fresh = h.gateway.localObjects.signGet(keyOf(getUrl), h.base, Math.floor(Date.now() / 1000) + 600);
    expect((await checkedFetch(fresh)).status).toBe(200);
  });

  it('refuses a GET URL used for PUT (and a PUT URL used for GET) with 403, leaving the bytes alone', async () => {
    await expectMediaError(await checkedFetch(getUrl, { method: 'PUT', body: randomBytes(16), headers: { 'content-type': 'video/mp2t' } }), 403);
    const got = await checkedFetch(getUrl);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);

    const [mo] = await allocate(h, flowId, { limit: 1 });
    expect((await upload(mo!, randomBytes(8))).status).toBe(200);
    await expectMediaError(await checkedFetch(mo!.put_url.url), 403);
  });

  it('serves a byte range with 206 and refuses an unsatisfiable one with 416', async () => {
    const part = await checkedFetch(getUrl, { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${data.length}`);
    expect(part.headers.get('content-length')).toBe('10');
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(10, 20))).toBe(true);

    const tail = await checkedFetch(getUrl, { headers: { range: 'bytes=-5' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(data.length - 5))).toBe(true);

    const none = await checkedFetch(getUrl, { headers: { range: 'bytes=999999-' } });
    expect(none.status).toBe(416);
    expect(none.headers.get('content-range')).toBe(`bytes */${data.length}`);
    await none.arrayBuffer();
  });

  it('answers HEAD on a GET URL with the size and no body', async () => {
    const head = await checkedFetch(getUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(data.length));
    expect(await head.text()).toBe('');
  });
});

describe('media uploads over TAMS_MAX_OBJECT_BYTES', () => {
  let h: Harness;
  const flow = videoFlow();
  const flowId = flow.id as string;

  beforeAll(async () => {
    h = await startHarness({ TAMS_MAX_OBJECT_BYTES: '1000' });
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
  });
  afterAll(async () => {
    await h.close();
  });

  it('refuses an upload over the limit with 413; the object then does not exist (404)', async () => {
    const [mo] = await allocate(h, flowId, { limit: 1 });
    const res = await upload(mo!, randomBytes(2000));
    await expectMediaError(res, 413);
    const key = keyOf(mo!.put_url.url);
    const get = await checkedFetch(h.gateway.localObjects.signGet(key, h.base, Math.floor(Date.now() / 1000) + 600));
    await expectMediaError(get, 404);
  });

  it('refuses a streamed (chunked, no Content-Length) upload over the limit with 413; the object does not exist', async () => {
    const [mo] = await allocate(h, flowId, { limit: 1 });
    const chunks = [randomBytes(600), randomBytes(600), randomBytes(600)];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
    });
    const init = { method: 'PUT', body, duplex: 'half', headers: { 'content-type': mo!.put_url['content-type'] } };
    const res = await checkedFetch(mo!.put_url.url, init as RequestInit);
    await expectMediaError(res, 413);
    const get = await checkedFetch(h.gateway.localObjects.signGet(keyOf(mo!.put_url.url), h.base, Math.floor(Date.now() / 1000) + 600));
    await expectMediaError(get, 404);
  });

  it('accepts an upload of exactly the limit', async () => {
    const [mo] = await allocate(h, flowId, { limit: 1 });
    const bytes = randomBytes(1000);
    expect((await upload(mo!, bytes)).status).toBe(200);
    const got = await checkedFetch(h.gateway.localObjects.signGet(keyOf(mo!.put_url.url), h.base, Math.floor(Date.now() / 1000) + 600));
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
  });
});
