import { randomBytes } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { itWithSpec, validateEvent } from '../support/tams-spec';
import { checkedFetch } from '../support/checked-fetch';

/**
 * The core TAMS workflow end to end over real HTTP, a real SQLite file and a real media
 * directory: flows, storage, upload, segments, paging, download, deletion, and the outbox.
 */
describe('REST core workflow', () => {
  let h: Harness;
  /** The events the workflow committed, for the schema check that follows it. */
  let recorded: Awaited<ReturnType<Harness['gateway']['store']['readEvents']>> | undefined;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('runs the whole ingest / read / delete cycle and records exactly the expected events', async () => {
    const video = videoFlow();
    const audio = audioFlow();
    const startSeq = (await h.gateway.store.readEvents(0, 100_000)).length;

    let res = await h.request('PUT', `/flows/${video.id as string}`, video);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: video.id, source_id: video.source_id, label: 'camera 1' });
    res = await h.request('PUT', `/flows/${audio.id as string}`, audio);
    expect(res.status).toBe(201);
    res = await h.request('PUT', `/flows/${video.id as string}`, { ...video, label: 'camera one' });
    expect(res.status).toBe(204);

    res = await h.request('GET', `/sources/${video.source_id as string}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: video.source_id, format: 'urn:x-nmos:format:video' });

    // Allocate storage for 6 video segments and upload distinct bytes to each put_url.
    res = await h.request('POST', `/flows/${video.id as string}/storage`, { limit: 6 });
    expect(res.status).toBe(201);
    const mediaObjects = res.body.media_objects as { object_id: string; put_url: { url: string; 'content-type': string } }[];
    expect(mediaObjects).toHaveLength(6);
    const bytes = new Map<string, Buffer>();
    for (const mo of mediaObjects) {
      expect(mo.put_url.url.startsWith(`${h.base}/media/`)).toBe(true);
      expect(mo.put_url['content-type']).toBe('video/mp2t');
      const data = randomBytes(1000 + bytes.size * 17);
      bytes.set(mo.object_id, data);
      const put = await checkedFetch(mo.put_url.url, { method: 'PUT', body: data, headers: { 'content-type': mo.put_url['content-type'] } });
      expect(put.status).toBe(200);
    }

    // Register: first one alone, the rest as an array.
    const segs = mediaObjects.map((mo, i) => ({ object_id: mo.object_id, timerange: `[${i * 2}:0_${i * 2 + 2}:0)` }));
    res = await h.request('POST', `/flows/${video.id as string}/segments`, segs[0]);
    expect(res.status).toBe(201);
    res = await h.request('POST', `/flows/${video.id as string}/segments`, segs.slice(1));
    expect(res.status).toBe(201);

    // Paging forward by timerange window [2:0_11:0) with limit 2: segments 1..5.
    const forward = await collect(h, `/flows/${video.id as string}/segments?timerange=${encodeURIComponent('[2:0_11:0)')}&limit=2`);
    expect(forward.map((s) => s.object_id)).toEqual(mediaObjects.slice(1).map((m) => m.object_id));
    const backward = await collect(h, `/flows/${video.id as string}/segments?timerange=${encodeURIComponent('[2:0_11:0)')}&limit=2&reverse_order=true`);
    expect(backward.map((s) => s.object_id)).toEqual(mediaObjects.slice(1).reverse().map((m) => m.object_id));

    // Flow timerange is the span of its segments.
    res = await h.request('GET', `/flows/${video.id as string}?include_timerange=true`);
    expect(res.body.timerange).toBe('[0:0_12:0)');

    // Download through get_urls and compare bytes.
    res = await h.request('GET', `/flows/${video.id as string}/segments`);
    for (const seg of res.body as { object_id: string; get_urls: { url: string }[] }[]) {
      expect(seg.get_urls).toHaveLength(1);
      const got = await checkedFetch(seg.get_urls[0]!.url);
      expect(got.status).toBe(200);
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes.get(seg.object_id)!)).toBe(true);
    }

    // Delete segments covered by [0:0_4:0): the first two.
    res = await h.request('DELETE', `/flows/${video.id as string}/segments?timerange=${encodeURIComponent('[0:0_4:0)')}`);
    expect(res.status).toBe(204);
    res = await h.request('GET', `/flows/${video.id as string}/segments`);
    expect((res.body as unknown[]).length).toBe(4);

    // Delete both flows: sources go with them.
    expect((await h.request('DELETE', `/flows/${video.id as string}`)).status).toBe(204);
    expect((await h.request('DELETE', `/flows/${audio.id as string}`)).status).toBe(204);
    expect((await h.request('GET', `/sources/${video.source_id as string}`)).status).toBe(404);
    expect((await h.request('GET', `/sources/${audio.source_id as string}`)).status).toBe(404);
    expect((await h.request('GET', `/flows/${video.id as string}`)).status).toBe(404);

    const events = (await h.gateway.store.readEvents(0, 100_000)).slice(startSeq);
    expect(events.map((e) => `${e.event_type}`)).toEqual([
      'sources/created',
      'flows/created',
      'sources/created',
      'flows/created',
      'flows/updated',
      'flows/segments_added',
      'flows/segments_added',
      'flows/segments_deleted',
      'flows/segments_deleted',
      'flows/deleted',
      'sources/deleted',
      'flows/deleted',
      'sources/deleted',
    ]);
    const added = events.filter((e) => e.event_type === 'flows/segments_added');
    expect((added[1]!.event as { segments: unknown[] }).segments).toHaveLength(5);
    recorded = events;
  });

  // Reads the spec's event schemas: without the spec reported skipped (failed when CI=true).
  itWithSpec('records those events in the TAMS event schemas', () => {
    if (recorded === undefined) throw new Error('the workflow test above did not record its events');
    expect(recorded.length).toBeGreaterThan(0);
    for (const e of recorded) {
      const verdict = validateEvent(e.event_type, { event_timestamp: e.event_timestamp, event_type: e.event_type, event: e.event });
      expect({ type: e.event_type, errors: verdict.errors }).toEqual({ type: e.event_type, errors: '' });
    }
  });
});

async function collect(h: Harness, first: string): Promise<{ object_id: string }[]> {
  const out: { object_id: string }[] = [];
  let next: string | undefined = first;
  for (let guard = 0; next !== undefined && guard < 100; guard++) {
    const res = await h.request('GET', next);
    expect(res.status).toBe(200);
    out.push(...(res.body as { object_id: string }[]));
    const link = res.headers.get('link');
    const m = link ? /^<([^>]+)>; rel="next"$/.exec(link) : null;
    next = m ? m[1]!.slice(h.base.length) : undefined;
    if (m) expect(res.headers.get('x-paging-nextkey')).toBeTruthy();
  }
  return out;
}
