import { randomBytes, randomUUID } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

/** GET /objects/{id} with every filter, and POST / DELETE /objects/{id}/instances. */

interface GetUrl {
  url: string;
  label?: string;
  presigned?: boolean;
  controlled?: boolean;
  storage_id?: string;
}

const enc = encodeURIComponent;

describe('/objects/{objectId}', () => {
  let h: Harness;
  let backendId: string;
  const news = videoFlow({ tags: { genre: 'news', desk: ['uk', 'world'] } });
  const sport = videoFlow({ tags: { genre: 'sport' } });
  const plain = videoFlow({ tags: {} });
  const flows = [news, sport, plain];
  const shared = 'shared/obj-1';
  const unregistered = 'alloc/obj-2';
  const external = 'external/obj-3';

  async function get(path: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const res = await h.request('GET', path);
    return { status: res.status, body: res.body as Record<string, unknown>, headers: res.headers };
  }

  beforeAll(async () => {
    h = await startHarness();
    backendId = h.gateway.localObjects.backend.id;
    for (const f of flows) expect((await h.request('PUT', `/flows/${f.id as string}`, f)).status).toBe(201);
    const newsId = news.id as string;
    const alloc = await h.request('POST', `/flows/${newsId}/storage`, { object_ids: [shared, unregistered] });
    expect(alloc.status).toBe(201);
    const [mo] = alloc.body.media_objects as { put_url: { url: string; 'content-type': string } }[];
    const put = await checkedFetch(mo!.put_url.url, { method: 'PUT', body: randomBytes(64), headers: { 'content-type': mo!.put_url['content-type'] } });
    expect(put.status).toBe(200);
    for (const [i, f] of flows.entries()) {
      const reg = await h.request('POST', `/flows/${f.id as string}/segments`, { object_id: shared, timerange: `[${i}:0_${i + 1}:0)` });
      expect(reg.status).toBe(201);
    }
    const ext = await h.request('POST', `/flows/${newsId}/segments`, {
      object_id: external,
      timerange: '[10:0_11:0)',
      get_urls: [{ url: 'https://cdn.example.com/obj-3', label: 'cdn' }],
    });
    expect(ext.status).toBe(201);
  });
  afterAll(async () => {
    await h.close();
  });

  it('filters referenced_by_flows by flow tags', async () => {
    const all = await get(`/objects/${enc(shared)}`);
    expect(all.status).toBe(200);
    expect(all.body.referenced_by_flows).toEqual(flows.map((f) => f.id as string).sort());
    expect((await get(`/objects/${enc(shared)}?flow_tag.genre=news`)).body.referenced_by_flows).toEqual([news.id]);
    expect((await get(`/objects/${enc(shared)}?flow_tag.genre=news,sport`)).body.referenced_by_flows).toEqual([news.id as string, sport.id as string].sort());
    expect((await get(`/objects/${enc(shared)}?flow_tag.desk=world`)).body.referenced_by_flows).toEqual([news.id]);
    expect((await get(`/objects/${enc(shared)}?flow_tag_exists.genre=false`)).body.referenced_by_flows).toEqual([plain.id]);
    expect((await get(`/objects/${enc(shared)}?flow_tag_exists.genre=true&flow_tag.genre=sport`)).body.referenced_by_flows).toEqual([sport.id]);
    expect((await get(`/objects/${enc(shared)}?flow_tag.genre=weather`)).body.referenced_by_flows).toEqual([]);
    expect((await get(`/objects/${enc(shared)}?flow_tag_exists.genre=maybe`)).status).toBe(400);
  });

  it('pages referenced_by_flows', async () => {
    const seen: string[] = [];
    let next: string | undefined = `/objects/${enc(shared)}?limit=2`;
    while (next !== undefined) {
      const page = await get(next);
      expect(page.status).toBe(200);
      expect(page.headers.get('x-paging-limit')).toBe('2');
      seen.push(...(page.body.referenced_by_flows as string[]));
      const link = page.headers.get('link');
      if (link === null) {
        next = undefined;
      } else {
        expect(page.headers.get('x-paging-nextkey')).toBeTruthy();
        const url = new URL(/^<([^>]+)>/.exec(link)![1]!);
        next = `${url.pathname}${url.search}`;
      }
    }
    expect(seen).toEqual(flows.map((f) => f.id as string).sort());
    expect((await get(`/objects/${enc(shared)}?page=nonsense`)).status).toBe(400);
    expect((await get(`/objects/${enc(shared)}?limit=0`)).status).toBe(400);
  });

  it('filters get_urls by label, storage id, presigned and backend tags, verbose on request', async () => {
    expect((await h.request('POST', `/objects/${enc(shared)}/instances`, { url: 'https://mirror.example.com/obj-1', label: 'mirror' })).status).toBe(201);
    const urls = async (query: string): Promise<GetUrl[]> => {
      const res = await get(`/objects/${enc(shared)}${query}`);
      expect(res.status).toBe(200);
      return res.body.get_urls as GetUrl[];
    };
    const labels = async (query: string): Promise<(string | undefined)[]> => (await urls(query)).map((u) => u.label);
    expect(await labels('')).toEqual(['local', 'mirror']);
    expect(await labels('?accept_get_urls=mirror')).toEqual(['mirror']);
    expect(await labels('?accept_get_urls=local,mirror')).toEqual(['local', 'mirror']);
    expect(await labels('?accept_get_urls=')).toEqual([]);
    expect(await labels(`?accept_storage_ids=${backendId}`)).toEqual(['local']);
    expect(await labels(`?accept_storage_ids=${randomUUID()}`)).toEqual([]);
    expect(await labels('?presigned=true')).toEqual(['local']);
    expect(await labels('?presigned=false')).toEqual(['mirror']);
    // Uncontrolled URLs have no storage backend, hence no backend tags; the local backend has none.
    expect(await labels('?storage_backend_tag.tier=gold')).toEqual([]);
    expect(await labels('?storage_backend_tag_exists.tier=false')).toEqual(['local']);
    const plainUrls = await urls('');
    expect(Object.keys(plainUrls[0]!).sort()).toEqual(['label', 'presigned', 'url']);
    const verbose = await urls('?verbose_storage=true');
    expect(verbose[0]).toMatchObject({ label: 'local', storage_id: backendId, controlled: true, presigned: true });
    expect(verbose[1]).toMatchObject({ label: 'mirror', controlled: false, presigned: false, url: 'https://mirror.example.com/obj-1' });
    for (const bad of ['?verbose_storage=yes', '?accept_storage_ids=nope', '?presigned=1']) {
      expect((await get(`/objects/${enc(shared)}${bad}`)).status).toBe(400);
    }
    const head = await h.request('HEAD', `/objects/${enc(shared)}?accept_get_urls=mirror`);
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect((await h.request('DELETE', `/objects/${enc(shared)}/instances?label=mirror`)).status).toBe(204);
    expect(await labels('')).toEqual(['local']);
  });

  it('answers 404 for allocated-but-unregistered and unknown ids, on every operation', async () => {
    for (const id of [unregistered, 'no/such/object', randomUUID()]) {
      expect((await h.request('GET', `/objects/${enc(id)}`)).status).toBe(404);
      expect((await h.request('HEAD', `/objects/${enc(id)}`)).status).toBe(404);
      expect((await h.request('POST', `/objects/${enc(id)}/instances`, { url: 'https://x.example.com/a', label: 'x' })).status).toBe(404);
      expect((await h.request('POST', `/objects/${enc(id)}/instances`, { storage_id: backendId })).status).toBe(404);
      expect((await h.request('DELETE', `/objects/${enc(id)}/instances?label=x`)).status).toBe(404);
    }
  });

  it('adds and removes uncontrolled instances, refusing duplicates and the last instance', async () => {
    const path = `/objects/${enc(external)}/instances`;
    const labels = async (): Promise<string[]> => ((await get(`/objects/${enc(external)}`)).body.get_urls as GetUrl[]).map((u) => u.label!);
    expect(await labels()).toEqual(['cdn']);

    // The only instance cannot go.
    const last = await h.request('DELETE', `${path}?label=cdn`);
    expect(last.status).toBe(400);
    expect(last.body.type).toBe('LastInstance');

    expect((await h.request('POST', path, { url: 'https://b.example.com/obj-3', label: 'pipeline-b' })).status).toBe(201);
    expect(await labels()).toEqual(['cdn', 'pipeline-b']);
    const dup = await h.request('POST', path, { url: 'https://c.example.com/obj-3', label: 'pipeline-b' });
    expect(dup.status).toBe(400);
    const backendLabel = await h.request('POST', path, { url: 'https://c.example.com/obj-3', label: 'local' });
    expect(backendLabel.status).toBe(400);

    // Segments of the object advertise the new URL too.
    const segs = await h.request('GET', `/flows/${news.id as string}/segments?object_id=${enc(external)}`);
    expect((segs.body[0].get_urls as GetUrl[]).map((u) => u.label)).toContain('pipeline-b');

    expect((await h.request('DELETE', `${path}?label=nope`)).status).toBe(404);
    expect((await h.request('DELETE', `${path}?storage_id=${backendId}`)).status).toBe(404);
    expect((await h.request('DELETE', `${path}?label=cdn`)).status).toBe(204);
    expect(await labels()).toEqual(['pipeline-b']);
    expect((await h.request('DELETE', `${path}?label=pipeline-b`)).status).toBe(400);
  });

  it('handles controlled instance requests: the holding backend is a no-op, an object with only URLs cannot be copied', async () => {
    const sharedPath = `/objects/${enc(shared)}/instances`;
    expect((await h.request('POST', sharedPath, { storage_id: backendId })).status).toBe(201);
    const unknownBackend = await h.request('POST', sharedPath, { storage_id: randomUUID() });
    expect(unknownBackend.status).toBe(400);
    const copy = await h.request('POST', `/objects/${enc(external)}/instances`, { storage_id: backendId });
    expect(copy.status).toBe(400);
    expect(copy.body.summary).toMatch(/no controlled instance/);

    // The controlled instance goes only while another remains; it may be named by its backend label.
    expect((await h.request('DELETE', `${sharedPath}?storage_id=${backendId}`)).status).toBe(400);
    expect((await h.request('POST', sharedPath, { url: 'https://mirror.example.com/obj-1', label: 'mirror' })).status).toBe(201);
    expect((await h.request('DELETE', `${sharedPath}?label=local`)).status).toBe(204);
    const after = await get(`/objects/${enc(shared)}`);
    expect((after.body.get_urls as GetUrl[]).map((u) => u.label)).toEqual(['mirror']);
    expect((await h.request('DELETE', `${sharedPath}?storage_id=${backendId}`)).status).toBe(404);
  });

  it('refuses malformed instance requests with 400', async () => {
    const path = `/objects/${enc(external)}/instances`;
    const bodies: unknown[] = [
      {},
      { url: 'https://x.example.com/a' },
      { label: 'x' },
      { url: 'https://x.example.com/a', label: '' },
      { url: 'ftp://x.example.com/a', label: 'x' },
      { url: 'not a url', label: 'x' },
      { url: 42, label: 'x' },
      { storage_id: 'not-a-uuid' },
      { storage_id: backendId, url: 'https://x.example.com/a', label: 'x' },
      [{ url: 'https://x.example.com/a', label: 'x' }],
      'text',
    ];
    for (const body of bodies) {
      const res = await h.request('POST', path, typeof body === 'string' ? JSON.stringify(body) : body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    for (const query of ['', '?label=', `?storage_id=nope`, `?label=a&storage_id=${backendId}`, '?label=a&label=b']) {
      const res = await h.request('DELETE', `${path}${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
    }
  });
});
