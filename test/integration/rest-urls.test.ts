import { startHarness, Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

/** Every URL the gateway hands out is absolute and right for how it is reached. */
describe('absolute URLs: TAMS_PUBLIC_URL, TAMS_BASE_PATH and TRUST_PROXY', () => {
  const harnesses: Harness[] = [];
  afterAll(async () => {
    for (const h of harnesses) await h.close();
  });

  async function start(env: Record<string, string>): Promise<Harness> {
    const h = await startHarness(env);
    harnesses.push(h);
    return h;
  }

  async function twoFlowsAndAllocation(h: Harness, prefix: string): Promise<{ link: string; putUrl: string; getUrl: string }> {
    const a = videoFlow();
    const b = videoFlow();
    expect((await h.request('PUT', `${prefix}/flows/${a.id as string}`, a)).status).toBe(201);
    expect((await h.request('PUT', `${prefix}/flows/${b.id as string}`, b)).status).toBe(201);
    const list = await h.request('GET', `${prefix}/flows?limit=1`);
    const alloc = await h.request('POST', `${prefix}/flows/${a.id as string}/storage`, { limit: 1 });
    const objectId = alloc.body.media_objects[0].object_id as string;
    const putUrl = alloc.body.media_objects[0].put_url.url as string;
    expect((await h.request('POST', `${prefix}/flows/${a.id as string}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' })).status).toBe(201);
    const segs = await h.request('GET', `${prefix}/flows/${a.id as string}/segments`);
    return { link: list.headers.get('link') ?? '', putUrl, getUrl: segs.body[0].get_urls[0].url as string };
  }

  it('derives URLs from the request by default', async () => {
    const h = await start({});
    const urls = await twoFlowsAndAllocation(h, '');
    expect(urls.link).toMatch(new RegExp(`^<${h.base}/flows\\?limit=1&page=[^>]+>; rel="next"$`));
    expect(urls.putUrl.startsWith(`${h.base}/media/`)).toBe(true);
    expect(urls.getUrl.startsWith(`${h.base}/media/`)).toBe(true);
  });

  it('uses TAMS_PUBLIC_URL and serves REST under TAMS_BASE_PATH', async () => {
    const h = await start({ TAMS_PUBLIC_URL: 'https://tams.example.com', TAMS_BASE_PATH: '/tams/v8.2' });
    expect((await h.request('GET', '/flows')).status).toBe(404);
    expect((await h.request('GET', '/tams/v8.2/flows')).status).toBe(200);
    const urls = await twoFlowsAndAllocation(h, '/tams/v8.2');
    expect(urls.link).toMatch(/^<https:\/\/tams\.example\.com\/tams\/v8\.2\/flows\?limit=1&page=[^>]+>; rel="next"$/);
    expect(urls.putUrl.startsWith('https://tams.example.com/media/')).toBe(true);
    expect(urls.getUrl.startsWith('https://tams.example.com/media/')).toBe(true);
    // The signed path works when requested from the gateway itself.
    const local = urls.putUrl.replace('https://tams.example.com', h.base);
    expect((await checkedFetch(local, { method: 'PUT', body: 'abc' })).status).toBe(200);
  });

  it('believes X-Forwarded-* only from a trusted proxy', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'edge.example.com' };
    const untrusted = await start({});
    const flow = videoFlow();
    await untrusted.request('PUT', `/flows/${flow.id as string}`, flow);
    let alloc = await untrusted.request('POST', `/flows/${flow.id as string}/storage`, { limit: 1 }, forwarded);
    expect(alloc.body.media_objects[0].put_url.url.startsWith(`${untrusted.base}/media/`)).toBe(true);

    const trusted = await start({ TRUST_PROXY: '127.0.0.1' });
    await trusted.request('PUT', `/flows/${flow.id as string}`, flow);
    alloc = await trusted.request('POST', `/flows/${flow.id as string}/storage`, { limit: 1 }, forwarded);
    expect(alloc.body.media_objects[0].put_url.url.startsWith('https://edge.example.com/media/')).toBe(true);
  });
});
