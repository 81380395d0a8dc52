import { randomBytes, randomUUID } from 'node:crypto';
import { startHarness, Harness, TamsResponse } from '../support/gateway-harness';
import { allocateObjects } from '../support/allocate-objects';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

/**
 * /flows and /sources filters and paging over HTTP, and the segment listing's filters and
 * headers. The gateway runs with TAMS_PAGE_LIMIT_MAX=10 so the 12 flows never fit one page.
 */

const PAGE_MAX = 10;
const q = encodeURIComponent;

interface Listed {
  id: string;
  label?: string;
}

interface Segment {
  object_id: string;
  timerange: string;
  object_timerange?: string;
  get_urls?: { url: string; label?: string; presigned?: boolean; storage_id?: string; controlled?: boolean; provider?: string }[];
}

/** The `next` link of a response, as a path relative to the harness base, if any. */
function nextLink(h: Harness, res: TamsResponse): string | undefined {
  const link = res.headers.get('link');
  if (link === null) return undefined;
  const m = /^<([^>]+)>; rel="next"$/.exec(link);
  expect(m).not.toBeNull();
  expect(m![1]!.startsWith(h.base)).toBe(true);
  return m![1]!.slice(h.base.length);
}

/** Follows Link headers from `first`; returns the items and every page's response. */
async function collect<T>(h: Harness, first: string): Promise<{ items: T[]; pages: TamsResponse[] }> {
  const items: T[] = [];
  const pages: TamsResponse[] = [];
  let next: string | undefined = first;
  for (let guard = 0; next !== undefined; guard++) {
    if (guard > 50) throw new Error(`paging from ${first} does not end`);
    const res = await h.request('GET', next);
    expect(res.status).toBe(200);
    pages.push(res);
    items.push(...(res.body as T[]));
    next = nextLink(h, res);
    if (next !== undefined) {
      expect(res.headers.get('x-paging-nextkey')).toBeTruthy();
      expect(new URL(`${h.base}${next}`).searchParams.get('page')).toBe(res.headers.get('x-paging-nextkey'));
    } else {
      expect(res.headers.get('x-paging-nextkey')).toBeNull();
    }
  }
  return { items, pages };
}

function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

describe('REST lists: /flows and /sources filters and paging', () => {
  let h: Harness;
  const S1 = randomUUID();
  const S4 = randomUUID();
  const f: Record<string, unknown>[] = [
    videoFlow({ source_id: S1, label: 'alpha', tags: { genre: ['news', 'live'] } }),
    videoFlow({
      source_id: S1,
      label: 'bravo',
      tags: { genre: 'sport' },
      essence_parameters: { frame_rate: { numerator: 50 }, frame_width: 1280, frame_height: 720 },
    }),
    videoFlow({ codec: 'video/hevc', label: 'charlie', tags: { genre: 'drama', x: '1' } }),
    videoFlow({
      label: 'delta',
      tags: {},
      essence_parameters: { frame_rate: { numerator: 25 }, frame_width: 3840, frame_height: 2160 },
    }),
    audioFlow({ source_id: S4, label: 'echo', tags: { genre: 'news', x: '' } }),
    audioFlow({ source_id: S4, label: 'foxtrot' }),
    audioFlow({ codec: 'audio/L24', label: 'golf', tags: { genre: ['music'] } }),
    {
      id: randomUUID(),
      source_id: randomUUID(),
      format: 'urn:x-nmos:format:data',
      codec: 'application/json',
      container: 'application/json',
      label: 'hotel',
      essence_parameters: { data_type: 'telemetry' },
    },
    {
      id: randomUUID(),
      source_id: randomUUID(),
      format: 'urn:x-tam:format:image',
      codec: 'image/jpeg',
      container: 'image/jpeg',
      label: 'india',
      essence_parameters: { frame_width: 640, frame_height: 480 },
    },
    videoFlow({ label: 'alpha', tags: { x: 'y' } }),
    { id: randomUUID(), source_id: randomUUID(), format: 'urn:x-nmos:format:multi', container: 'video/mp2t', label: 'juliet' },
    videoFlow({
      label: 'kilo',
      tags: { genre: ['live'] },
      essence_parameters: { frame_rate: { numerator: 25 }, frame_width: 720, frame_height: 576, interlace_mode: 'interlaced_tff' },
    }),
  ];
  const id = (i: number): string => f[i]!.id as string;
  const ids = (...idx: number[]): string[] => sorted(idx.map(id));
  const allIds = (): string[] => sorted(f.map((x) => x.id as string));

  async function listIds(query: string): Promise<string[]> {
    const { items } = await collect<Listed>(h, `/flows?${query}`);
    return sorted(items.map((x) => x.id));
  }

  beforeAll(async () => {
    h = await startHarness({ TAMS_PAGE_LIMIT_MAX: String(PAGE_MAX) });
    for (const flow of f) {
      const res = await h.request('PUT', `/flows/${flow.id as string}`, flow);
      if (res.status !== 201) throw new Error(`PUT ${flow.label as string} -> ${res.status}: ${res.text}`);
    }
    // Segments on alpha [0:0_10:0), bravo [20:0_30:0), echo [5:0_6:0).
    for (const [i, tr] of [[0, '[0:0_10:0)'], [1, '[20:0_30:0)'], [4, '[5:0_6:0)']] as const) {
      await allocateObjects(h, id(i), [`obj-${i}`]);
      const res = await h.request('POST', `/flows/${id(i)}/segments`, { object_id: `obj-${i}`, timerange: tr });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await h.close();
  });

  it('lists every flow exactly once across pages of 5 following Link', async () => {
    const { items, pages } = await collect<Listed>(h, '/flows?limit=5');
    expect(pages).toHaveLength(3);
    expect(pages.map((p) => p.headers.get('x-paging-count'))).toEqual(['5', '5', '2']);
    expect(pages.map((p) => p.headers.get('x-paging-limit'))).toEqual(['5', '5', '5']);
    expect(items).toHaveLength(12);
    expect(sorted(items.map((x) => x.id))).toEqual(allIds());
  });

  it('pages the same way in reverse order, giving the reverse sequence', async () => {
    const forward = (await collect<Listed>(h, '/flows?limit=5')).items.map((x) => x.id);
    const { items, pages } = await collect<Listed>(h, '/flows?limit=5&reverse_order=true');
    expect(pages.every((p) => p.headers.get('x-paging-reverse-order') === 'true')).toBe(true);
    expect(items.map((x) => x.id)).toEqual([...forward].reverse());
  });

  it('clamps limit=100000 to TAMS_PAGE_LIMIT_MAX and says so in X-Paging-Limit', async () => {
    const res = await h.request('GET', '/flows?limit=100000');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-paging-limit')).toBe(String(PAGE_MAX));
    expect(res.headers.get('x-paging-count')).toBe(String(PAGE_MAX));
    expect((res.body as unknown[]).length).toBe(PAGE_MAX);
    expect(res.headers.get('x-paging-nextkey')).toBeTruthy();
    const rest = await collect<Listed>(h, nextLink(h, res)!);
    expect(sorted([...(res.body as Listed[]), ...rest.items].map((x) => x.id))).toEqual(allIds());
  });

  it('defaults to a page of at most TAMS_PAGE_LIMIT_MAX with count and next key', async () => {
    const res = await h.request('GET', '/flows');
    expect(res.headers.get('x-paging-limit')).toBe(String(PAGE_MAX));
    expect(res.headers.get('x-paging-count')).toBe(String((res.body as unknown[]).length));
    expect(res.headers.get('x-paging-nextkey')).toBeTruthy();
  });

  it('filters by source_id', async () => {
    expect(await listIds(`source_id=${S1}`)).toEqual(ids(0, 1));
    expect(await listIds(`source_id=${S4}`)).toEqual(ids(4, 5));
    expect(await listIds(`source_id=${randomUUID()}`)).toEqual([]);
  });

  it('filters by format', async () => {
    expect(await listIds(`format=${q('urn:x-nmos:format:audio')}`)).toEqual(ids(4, 5, 6));
    expect(await listIds(`format=${q('urn:x-nmos:format:video')}`)).toEqual(ids(0, 1, 2, 3, 9, 11));
    expect(await listIds(`format=${q('urn:x-tam:format:image')}`)).toEqual(ids(8));
    expect(await listIds(`format=${q('urn:x-nmos:format:data')}`)).toEqual(ids(7));
    expect(await listIds(`format=${q('urn:x-nmos:format:multi')}`)).toEqual(ids(10));
  });

  it('filters by codec', async () => {
    expect(await listIds(`codec=${q('video/h264')}`)).toEqual(ids(0, 1, 3, 9, 11));
    expect(await listIds(`codec=${q('video/hevc')}`)).toEqual(ids(2));
    expect(await listIds(`codec=${q('audio/aac')}`)).toEqual(ids(4, 5));
    expect(await listIds(`codec=${q('audio/none')}`)).toEqual([]);
  });

  it('filters by label', async () => {
    expect(await listIds('label=alpha')).toEqual(ids(0, 9));
    expect(await listIds('label=golf')).toEqual(ids(6));
    expect(await listIds('label=ALPHA')).toEqual([]);
  });

  it('filters by frame_width and frame_height', async () => {
    expect(await listIds('frame_width=1920')).toEqual(ids(0, 2, 9));
    expect(await listIds('frame_height=1080')).toEqual(ids(0, 2, 9));
    expect(await listIds('frame_width=1280&frame_height=720')).toEqual(ids(1));
    expect(await listIds('frame_width=1920&frame_height=720')).toEqual([]);
    expect(await listIds('frame_width=640')).toEqual(ids(8));
  });

  it('filters by tag values (any of a comma-separated list, also inside array tags)', async () => {
    expect(await listIds('tag.genre=news,sport')).toEqual(ids(0, 1, 4));
    expect(await listIds('tag.genre=live')).toEqual(ids(0, 11));
    expect(await listIds('tag.genre=drama')).toEqual(ids(2));
    expect(await listIds('tag.genre=nothing')).toEqual([]);
    expect(await listIds('tag.genre=news&format=urn:x-nmos:format:audio')).toEqual(ids(4));
  });

  it('filters by tag existence', async () => {
    expect(await listIds('tag_exists.x=true')).toEqual(ids(2, 4, 9));
    expect(await listIds('tag_exists.x=false')).toEqual(ids(0, 1, 3, 5, 6, 7, 8, 10, 11));
    expect(await listIds('tag_exists.genre=true&tag_exists.x=true')).toEqual(ids(2, 4));
  });

  it('filters by timerange: flows with segments overlapping it; () gives flows without segments', async () => {
    expect(await listIds(`timerange=${q('[0:0_6:0)')}`)).toEqual(ids(0, 4));
    expect(await listIds(`timerange=${q('[5:0]')}`)).toEqual(ids(0, 4));
    expect(await listIds(`timerange=${q('[10:0_20:0)')}`)).toEqual([]);
    expect(await listIds(`timerange=${q('[10:0_20:0]')}`)).toEqual(ids(1));
    expect(await listIds(`timerange=${q('(29:999999999_')}`)).toEqual([]);
    expect(await listIds(`timerange=${q('[29:999999999_')}`)).toEqual(ids(1));
    expect(await listIds('timerange=_')).toEqual(allIds());
    expect(await listIds(`timerange=${q('()')}`)).toEqual(ids(2, 3, 5, 6, 7, 8, 9, 10, 11));
  });

  it('sorts by label, ascending and reversed, across pages', async () => {
    const labels = f.map((x) => x.label as string).sort();
    const asc = (await collect<Listed>(h, '/flows?sort_by=label&limit=5')).items.map((x) => x.label);
    expect(asc).toEqual(labels);
    const desc = (await collect<Listed>(h, '/flows?sort_by=label&reverse_order=true&limit=5')).items.map((x) => x.label);
    expect(desc).toEqual([...labels].reverse());
  });

  it('pages by label one at a time through equal labels without loss or repeat', async () => {
    const { items } = await collect<Listed>(h, '/flows?sort_by=label&limit=1');
    expect(items).toHaveLength(12);
    expect(new Set(items.map((x) => x.id)).size).toBe(12);
    expect(items.map((x) => x.label)).toEqual(f.map((x) => x.label as string).sort());
    const back = await collect<Listed>(h, '/flows?sort_by=label&reverse_order=true&limit=1');
    expect(back.items.map((x) => x.id)).toEqual(items.map((x) => x.id).reverse());
  });

  it('keeps the filter in the Link of every page', async () => {
    const { items, pages } = await collect<Listed>(h, `/flows?format=${q('urn:x-nmos:format:video')}&limit=2`);
    expect(pages).toHaveLength(3);
    for (const p of pages.slice(0, -1)) expect(nextLink(h, p)).toContain('format=');
    expect(sorted(items.map((x) => x.id))).toEqual(ids(0, 1, 2, 3, 9, 11));
  });

  it('lists sources: each exactly once across pages, filtered by format and label', async () => {
    const { items, pages } = await collect<{ id: string; format: string }>(h, '/sources?limit=3');
    const sourceIds = sorted([...new Set(f.map((x) => x.source_id as string))]);
    expect(sourceIds).toHaveLength(10);
    expect(sorted(items.map((x) => x.id))).toEqual(sourceIds);
    expect(pages.map((p) => p.headers.get('x-paging-count'))).toEqual(['3', '3', '3', '1']);
    const audio = (await collect<{ id: string; format: string }>(h, `/sources?format=${q('urn:x-nmos:format:audio')}`)).items;
    expect(sorted(audio.map((x) => x.id))).toEqual(sorted([S4, f[6]!.source_id as string]));
    expect(audio.every((s) => s.format === 'urn:x-nmos:format:audio')).toBe(true);
    const clamped = await h.request('GET', '/sources?limit=100000');
    expect(clamped.headers.get('x-paging-limit')).toBe(String(PAGE_MAX));
    // Exactly PAGE_MAX sources exist: one full page and no next one.
    expect(clamped.headers.get('x-paging-count')).toBe(String(PAGE_MAX));
    expect(clamped.headers.get('x-paging-nextkey')).toBeNull();
    expect(clamped.headers.get('link')).toBeNull();
  });
});

describe('REST lists: segments', () => {
  let h: Harness;
  const flow = videoFlow();
  const flowId = flow.id as string;
  let backendId: string;
  const cdn = { url: 'https://cdn.example.com/x.ts', label: 'cdn' };

  const segs = (res: TamsResponse): Segment[] => res.body as Segment[];

  beforeAll(async () => {
    h = await startHarness();
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    const backends = await h.request('GET', '/service/storage-backends');
    backendId = (backends.body as { id: string }[])[0]!.id;
    const alloc = await h.request('POST', `/flows/${flowId}/storage`, { limit: 2 });
    const mos = (alloc.body as { media_objects: { object_id: string; put_url: { url: string; 'content-type': string } }[] }).media_objects;
    for (const mo of mos) {
      const put = await checkedFetch(mo.put_url.url, { method: 'PUT', body: randomBytes(64), headers: { 'content-type': mo.put_url['content-type'] } });
      expect(put.status).toBe(200);
    }
    const res = await h.request('POST', `/flows/${flowId}/segments`, [
      { object_id: mos[0]!.object_id, timerange: '[0:0_2:0)' },
      { object_id: mos[1]!.object_id, timerange: '[2:0_4:0)' },
      { object_id: 'ext-1', timerange: '[4:0_6:0)', get_urls: [cdn] },
    ]);
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers 200 [] for the segments of an unknown flow', async () => {
    const res = await h.request('GET', `/flows/${randomUUID()}/segments`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
    expect(res.headers.get('x-paging-count')).toBe('0');
    expect(res.headers.get('x-paging-nextkey')).toBeNull();
  });

  it('gives the controlled get_url by default and the segment\'s own get_urls back', async () => {
    const list = segs(await h.request('GET', `/flows/${flowId}/segments`));
    expect(list.map((s) => s.timerange)).toEqual(['[0:0_2:0)', '[2:0_4:0)', '[4:0_6:0)']);
    for (const s of list.slice(0, 2)) {
      expect(s.get_urls).toHaveLength(1);
      expect(s.get_urls![0]).toMatchObject({ label: 'local', presigned: true });
    }
    expect(list[2]!.object_id).toBe('ext-1');
    expect(list[2]!.get_urls).toEqual([expect.objectContaining(cdn)]);
  });

  it('accept_get_urls= (empty) gives no get_urls', async () => {
    for (const s of segs(await h.request('GET', `/flows/${flowId}/segments?accept_get_urls=`))) {
      expect(s.get_urls ?? []).toEqual([]);
    }
  });

  it('accept_get_urls=local gives only the controlled one; =cdn only the uncontrolled one', async () => {
    const local = segs(await h.request('GET', `/flows/${flowId}/segments?accept_get_urls=local`));
    expect(local.map((s) => (s.get_urls ?? []).map((u) => u.label))).toEqual([['local'], ['local'], []]);
    const ext = segs(await h.request('GET', `/flows/${flowId}/segments?accept_get_urls=cdn`));
    expect(ext.map((s) => (s.get_urls ?? []).map((u) => u.url))).toEqual([[], [], [cdn.url]]);
    const both = segs(await h.request('GET', `/flows/${flowId}/segments?accept_get_urls=cdn,local`));
    expect(both.map((s) => (s.get_urls ?? []).length)).toEqual([1, 1, 1]);
  });

  it('presigned=false drops the controlled (presigned) URLs; presigned=true keeps only them', async () => {
    const unsigned = segs(await h.request('GET', `/flows/${flowId}/segments?presigned=false`));
    expect(unsigned.map((s) => (s.get_urls ?? []).map((u) => u.url))).toEqual([[], [], [cdn.url]]);
    const signed = segs(await h.request('GET', `/flows/${flowId}/segments?presigned=true`));
    expect(signed.map((s) => (s.get_urls ?? []).map((u) => u.label))).toEqual([['local'], ['local'], []]);
  });

  it('accept_storage_ids=<backend> keeps only the controlled URLs', async () => {
    const list = segs(await h.request('GET', `/flows/${flowId}/segments?accept_storage_ids=${backendId}`));
    expect(list.map((s) => (s.get_urls ?? []).map((u) => u.label))).toEqual([['local'], ['local'], []]);
    const none = segs(await h.request('GET', `/flows/${flowId}/segments?accept_storage_ids=${randomUUID()}`));
    expect(none.map((s) => (s.get_urls ?? []).length)).toEqual([0, 0, 0]);
  });

  it('verbose_storage=true adds storage_id, controlled and provider', async () => {
    const list = segs(await h.request('GET', `/flows/${flowId}/segments?verbose_storage=true`));
    for (const s of list.slice(0, 2)) {
      expect(s.get_urls![0]).toMatchObject({ storage_id: backendId, controlled: true, label: 'local' });
      expect(typeof s.get_urls![0]!.provider).toBe('string');
    }
    expect(list[2]!.get_urls).toEqual([expect.objectContaining({ ...cdn, controlled: false })]);
    const plain = segs(await h.request('GET', `/flows/${flowId}/segments`));
    expect(plain[0]!.get_urls![0]!.storage_id).toBeUndefined();
    expect(plain[0]!.get_urls![0]!.controlled).toBeUndefined();
  });

  it('include_object_timerange=true adds object_timerange', async () => {
    const plain = segs(await h.request('GET', `/flows/${flowId}/segments`));
    expect(plain.every((s) => s.object_timerange === undefined)).toBe(true);
    const withOtr = segs(await h.request('GET', `/flows/${flowId}/segments?include_object_timerange=true`));
    expect(withOtr.map((s) => s.object_timerange)).toEqual(['[0:0_2:0)', '[2:0_4:0)', '[4:0_6:0)']);
  });

  it('GET /objects/{id} of a segment registered with its own get_urls returns them', async () => {
    const res = await h.request('GET', '/objects/ext-1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'ext-1', referenced_by_flows: [flowId], timerange: '[4:0_6:0)' });
    expect((res.body as { get_urls: unknown[] }).get_urls).toEqual([expect.objectContaining(cdn)]);
  });

  it('X-Paging-Timerange is the span of the returned segments', async () => {
    const cases: [string, string, string[]][] = [
      ['', '[0:0_6:0)', ['[0:0_2:0)', '[2:0_4:0)', '[4:0_6:0)']],
      [`timerange=${q('[1:0_3:0)')}`, '[0:0_4:0)', ['[0:0_2:0)', '[2:0_4:0)']],
      [`timerange=${q('[3:0]')}`, '[2:0_4:0)', ['[2:0_4:0)']],
      ['limit=2', '[0:0_4:0)', ['[0:0_2:0)', '[2:0_4:0)']],
      ['limit=2&reverse_order=true', '[2:0_6:0)', ['[4:0_6:0)', '[2:0_4:0)']],
      [`timerange=${q('[100:0_200:0)')}`, '()', []],
    ];
    for (const [query, span, trs] of cases) {
      const res = await h.request('GET', `/flows/${flowId}/segments?${query}`);
      expect(res.status).toBe(200);
      expect({ query, span: res.headers.get('x-paging-timerange') }).toEqual({ query, span });
      expect({ query, trs: segs(res).map((s) => s.timerange) }).toEqual({ query, trs });
    }
  });

  it('clamps a huge segment limit to the default TAMS_PAGE_LIMIT_MAX (1000)', async () => {
    const res = await h.request('GET', `/flows/${flowId}/segments?limit=100000`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-paging-limit')).toBe('1000');
    expect(res.headers.get('x-paging-count')).toBe('3');
  });

  it('pages segments via Link, each exactly once', async () => {
    const { items, pages } = await collect<Segment>(h, `/flows/${flowId}/segments?limit=1`);
    expect(pages).toHaveLength(3);
    expect(items.map((s) => s.timerange)).toEqual(['[0:0_2:0)', '[2:0_4:0)', '[4:0_6:0)']);
    expect(pages.map((p) => p.headers.get('x-paging-timerange'))).toEqual(['[0:0_2:0)', '[2:0_4:0)', '[4:0_6:0)']);
  });

  it('[1:0_2:0) then [2:0] both register, and ?timerange=[2:0] returns only the instant', async () => {
    const other = videoFlow();
    const otherId = other.id as string;
    expect((await h.request('PUT', `/flows/${otherId}`, other)).status).toBe(201);
    await allocateObjects(h, otherId, ['i-1', 'i-2']);
    expect((await h.request('POST', `/flows/${otherId}/segments`, { object_id: 'i-1', timerange: '[1:0_2:0)' })).status).toBe(201);
    expect((await h.request('POST', `/flows/${otherId}/segments`, { object_id: 'i-2', timerange: '[2:0]' })).status).toBe(201);
    const all = segs(await h.request('GET', `/flows/${otherId}/segments`));
    expect(all.map((s) => [s.object_id, s.timerange])).toEqual([
      ['i-1', '[1:0_2:0)'],
      ['i-2', '[2:0]'],
    ]);
    const res = await h.request('GET', `/flows/${otherId}/segments?timerange=${q('[2:0]')}`);
    expect(segs(res).map((s) => s.object_id)).toEqual(['i-2']);
    expect(res.headers.get('x-paging-timerange')).toBe('[2:0]');
    const before = await h.request('GET', `/flows/${otherId}/segments?timerange=${q('[1:0_2:0)')}`);
    expect(segs(before).map((s) => s.object_id)).toEqual(['i-1']);
    const flowTr = await h.request('GET', `/flows/${otherId}?include_timerange=true`);
    // `[1:0_2:0]` and `[1:0_2:1)` (end 1 ns later, exclusive) are the same range.
    expect(['[1:0_2:0]', '[1:0_2:1)']).toContain((flowTr.body as { timerange: string }).timerange);
  });
});
