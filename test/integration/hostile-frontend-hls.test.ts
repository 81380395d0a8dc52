/**
 * Hostile review of the HLS endpoints (src/http/hls-routes.ts, src/services/hls/*,
 * src/domain/hls-*.ts): garbage paths and timeranges, int64-edge segment starts, a flow of
 * 100,000 segments, tag and segment_duration garbage, the segment redirect fed with stored
 * URLs, tokens, caching, auth classes through source collections and rate limits. The four
 * defects it found (an empty multivariant window, get_urls sent raw in Location, exponent
 * notation in STREAM-INF) are fixed; their tests say what held before the fix.
 */
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { checkedFetch } from '../support/checked-fetch';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { isTamsErrorBody, rawRequest } from '../support/raw-http';

const SECOND = 1_000_000_000n;
const ts = (ns: bigint): string => `${ns / SECOND}:${ns % SECOND}`;
const T0 = 1_700_000_037n * SECOND;

/** `count` one-second segments from `start`, each with one uncontrolled URL. */
function segments(count: number, start: bigint, url = 'https://cdn.example/media.ts'): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const at = start + BigInt(i) * SECOND;
    return { object_id: randomUUID(), timerange: `[${ts(at)}_${ts(at + SECOND)})`, get_urls: [{ label: 'cdn', url }] };
  });
}

/** The URI lines of a playlist. */
const uris = (playlist: string): string[] => playlist.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('hostile HLS: inputs (TAMS_AUTH=off)', () => {
  let h: Harness;
  let flowId: string;
  let sourceId: string;

  beforeAll(async () => {
    h = await startHarness();
    const flow = videoFlow({ max_bit_rate: 5000 });
    flowId = flow.id as string;
    sourceId = flow.source_id as string;
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    expect((await h.request('POST', `/flows/${flowId}/segments`, segments(3, T0))).status).toBe(201);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers garbage, overflowing, negative, zero-padded, unicode and encoded segment starts with a TAMS 404, never a 5xx', async () => {
    const starts = [
      '99999999999999999999',
      '999999999999999999999',
      '-9223372036854775808',
      '9223372036854775807',
      '-0',
      `-${T0}`,
      `00${T0}`,
      '1e9',
      '0x10',
      '+1',
      '%201',
      '%F0%9F%98%80',
      '%00',
      '1%2F2',
      '..%2F..%2Fservice',
      '%2e%2e',
      `${T0}%00`,
      'NaN',
      encodeURIComponent('١٢٣'),
    ];
    for (const start of starts) {
      for (const suffix of ['.ts', '/init.mp4']) {
        const path = `/hls/flows/${flowId}/segments/${start}${suffix}`;
        const res = await rawRequest(h.base, path);
        expect({ path, status: res.status, tams: isTamsErrorBody(res.body) }).toEqual({ path, status: 404, tams: true });
      }
    }
    // A start that is not a segment's is a 404 too, and the real one redirects.
    expect((await rawRequest(h.base, `/hls/flows/${flowId}/segments/${T0 + 1n}.ts`)).status).toBe(404);
    expect((await rawRequest(h.base, `/hls/flows/${flowId}/segments/${T0}.ts`)).status).toBe(302);
    expect((await rawRequest(h.base, `/hls/flows/${flowId}/segments/${T0}.ts`, {}, 'HEAD')).status).toBe(302);
  });

  it('answers ids with traversal, NUL, case or suffix tricks with a TAMS 404', async () => {
    const paths = [
      `/hls/flows/${flowId}%00.m3u8`,
      `/hls/flows/..%2F..%2Fservice.m3u8`,
      `/hls/flows/%2e%2e.m3u8`,
      `/hls/flows/${flowId}.m3u8.m3u8`,
      `/hls/flows/${flowId}.M3U8`,
      `/hls/flows/${flowId.toUpperCase()}.m3u8`,
      `/hls/flows/${flowId}`,
      `/hls/flows/.m3u8`,
      `/hls/sources/${flowId}%2F..%2F${sourceId}.m3u8`,
      `/hls/flows/${flowId}%2Fsegments%2F${T0}.ts`,
      `/hls/flows/%00/segments/${T0}.ts`,
      `/hls/flows/${flowId}/segments/${T0}.ts%00`,
      `/hls/flows/${flowId}/segments/${T0}.TS`,
      `/hls/flows/${flowId}/segments/${T0}.toolongext`,
      `/hls/flows/${flowId}/segments/${T0}/init.mp4%00`,
      `/hls/flows/${flowId}/segments/${T0}/../../../../service`,
    ];
    for (const path of paths) {
      const res = await rawRequest(h.base, path);
      expect({ path, status: res.status, tams: isTamsErrorBody(res.body) }).toEqual({ path, status: 404, tams: true });
    }
  });

  it('answers malformed, int64-edge, empty and repeated timeranges with a TAMS 400', async () => {
    const ranges = [
      '[9223372036:854775807_9223372037:0)',
      '[-9223372036:854775808_9223372036:854775807]',
      '[99999999999999999999:0_)',
      'garbage',
      '%5B1%3A0',
      '1:1000000000',
      '[1:0_2:0)%00',
      '['.repeat(2_000),
    ];
    for (const range of ranges) {
      for (const playlist of [`/hls/flows/${flowId}.m3u8`, `/hls/sources/${sourceId}.m3u8`]) {
        const path = `${playlist}?timerange=${range.startsWith('%') ? range : encodeURIComponent(range)}`;
        const res = await rawRequest(h.base, path);
        expect({ path: path.slice(0, 120), status: res.status, tams: isTamsErrorBody(res.body) }).toEqual({ path: path.slice(0, 120), status: 400, tams: true });
      }
    }
    for (const empty of ['()', '[5:0_5:0)', '[5:0_4:0]']) {
      const res = await rawRequest(h.base, `/hls/flows/${flowId}.m3u8?timerange=${encodeURIComponent(empty)}`);
      expect({ empty, status: res.status, tams: isTamsErrorBody(res.body) }).toEqual({ empty, status: 400, tams: true });
    }
    const twice = await rawRequest(h.base, `/hls/flows/${flowId}.m3u8?timerange=_&timerange=_`);
    expect(twice.status).toBe(400);
    // The widest legal window is fine.
    const widest = await rawRequest(h.base, `/hls/flows/${flowId}.m3u8?timerange=${encodeURIComponent('[-9223372035:0_9223372035:999999999]')}`);
    expect(widest.status).toBe(200);
    expect(uris(widest.body)).toHaveLength(3);
  });

  // Before the fix multivariantPlaylist() never looked at an empty window and wrote it onto every
  // variant URI: the source playlist answered 200 and each media playlist then 400.
  it('a multivariant playlist refuses an empty timerange (400), as every media playlist it would list does', async () => {
    for (const empty of ['()', '[5:0_5:0)', '[5:0_4:0]']) {
      const res = await rawRequest(h.base, `/hls/sources/${sourceId}.m3u8?timerange=${encodeURIComponent(empty)}`);
      expect({ empty, status: res.status, tams: isTamsErrorBody(res.body) }).toEqual({ empty, status: 400, tams: true });
    }
  });

  it('serves a live playlist whatever garbage segment_duration the flow declares (no division by zero, no BigInt error)', async () => {
    const durations: unknown[] = [
      { numerator: 0, denominator: 1 },
      { numerator: -1, denominator: 1 },
      { numerator: 1, denominator: 0 },
      { numerator: 1, denominator: -25 },
      { numerator: 1, denominator: 1e15 },
      { numerator: 1e15, denominator: 1 },
      { numerator: Number.MAX_SAFE_INTEGER, denominator: 1 },
      { numerator: 1 },
    ];
    for (const segment_duration of durations) {
      const flow = videoFlow({ segment_duration });
      const put = await h.request('PUT', `/flows/${flow.id as string}`, flow);
      if (put.status !== 201) {
        // Refused at the door: then it cannot reach a playlist.
        expect({ segment_duration, status: put.status }).toEqual({ segment_duration, status: 400 });
        continue;
      }
      expect((await h.request('POST', `/flows/${flow.id as string}/segments`, segments(4, T0))).status).toBe(201);
      const live = await rawRequest(h.base, `/hls/flows/${flow.id as string}.m3u8`);
      expect({ segment_duration, status: live.status }).toEqual({ segment_duration, status: 200 });
      expect(live.body.startsWith('#EXTM3U\n')).toBe(true);
    }
  });

  it('serves a live playlist of one-nanosecond segments (the shortest a timerange allows) without a 5xx', async () => {
    const flow = videoFlow();
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    const body = ['[100:0_100:0]', '[100:1_100:1]', '[100:2_100:2]'].map((timerange) => ({ object_id: randomUUID(), timerange, get_urls: [{ label: 'cdn', url: 'https://cdn.example/a.ts' }] }));
    expect((await h.request('POST', `/flows/${flow.id as string}/segments`, body)).status).toBe(201);
    for (const query of ['', '?timerange=_']) {
      const res = await rawRequest(h.base, `/hls/flows/${flow.id as string}.m3u8${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 200 });
      expect(res.body).toMatch(/#EXT-X-TARGETDURATION:[1-9][0-9]*\n/);
    }
  });

  it('refuses javascript:, data:, file: and scheme-relative get_urls, so the segment redirect only ever points at http(s)', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    expect((await h.request('PUT', `/flows/${id}`, flow)).status).toBe(201);
    for (const url of ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'file:///etc/passwd', '//evil.example/x.ts', 'gopher://evil.example/', 'http://', 'JAVASCRIPT:alert(1)']) {
      const res = await h.request('POST', `/flows/${id}/segments`, segments(1, T0, url));
      expect({ url, registered: res.status === 201 }).toEqual({ url, registered: false });
      expect((await rawRequest(h.base, `/hls/flows/${id}/segments/${T0}.ts`)).status).toBe(404);
    }
    // An http(s) one is followed, as docs/hls.md says (the flow's writers choose where its media is).
    expect((await h.request('POST', `/flows/${id}/segments`, segments(1, T0, 'https://elsewhere.example/seg.ts'))).status).toBe(201);
    const redirect = await rawRequest(h.base, `/hls/flows/${id}/segments/${T0}.ts`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe('https://elsewhere.example/seg.ts');
    expect(redirect.headers['cache-control']).toBe('no-store');
  });

  it.each([
    ['a non-ASCII path (an unencoded IRI)', 'https://cdn.example/файл.ts'],
    ['an emoji', 'https://cdn.example/😀.ts'],
    ['a leading NUL (URL parsing strips it)', '\u0000https://cdn.example/x.ts'],
    ['a CR LF inside (URL parsing strips it)', 'https://cdn.example/a\r\nSet-Cookie: hijacked=1'],
  ])(
    // Before the fix objectUrl() returned the stored text, which registration had accepted
    // because `new URL(text)` parses it (the parser strips leading C0 controls and inner
    // tabs/CR/LF and percent-encodes non-ASCII); Node refused it in Location (ERR_INVALID_CHAR)
    // and the reply failed outside the error handler: 500 with fastify's own body.
    'the segment redirect answers 302 to the canonical form of a get_url the registration accepted (was 500): %s',
    async (_what, url) => {
      const flow = videoFlow();
      const id = flow.id as string;
      expect((await h.request('PUT', `/flows/${id}`, flow)).status).toBe(201);
      const registered = await h.request('POST', `/flows/${id}/segments`, segments(1, T0, url));
      if (registered.status !== 201) return; // refusing such a URL at the door is a fix too
      const res = await rawRequest(h.base, `/hls/flows/${id}/segments/${T0}.ts`);
      expect({ status: res.status, body: res.status >= 500 ? res.body : '' }).toEqual({ status: 302, body: '' });
      expect(() => new URL(res.headers.location ?? '')).not.toThrow();
      expect(res.headers['set-cookie']).toBeUndefined();
    },
  );

  // Same cause as above: a space passes the `new URL()` check (it is percent-encoded there) and
  // was sent raw in Location, which then is not a URI (RFC 9110 Location = URI-reference).
  it('the segment redirect sends a get_url with a space or tab in its canonical (percent-encoded) form, not raw', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    expect((await h.request('PUT', `/flows/${id}`, flow)).status).toBe(201);
    const url = 'https://cdn.example/my segment\t.ts';
    if ((await h.request('POST', `/flows/${id}/segments`, segments(1, T0, url))).status !== 201) return;
    const res = await rawRequest(h.base, `/hls/flows/${id}/segments/${T0}.ts`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(new URL(url).href);
  });

  // Before the fix a schema-valid max_bit_rate of 1e21 printed as `BANDWIDTH=1e+24`, not the
  // decimal integer RFC 8216 4.2 requires; such a bit rate is now a 400 naming the flow, and
  // implausible frame sizes and rates are left out.
  it('a multivariant playlist never prints a huge but schema-valid max_bit_rate, frame size or frame rate in exponent notation', async () => {
    const flow = videoFlow({
      max_bit_rate: 1e21,
      avg_bit_rate: 1e21,
      essence_parameters: { frame_width: 1e21, frame_height: 1080, frame_rate: { numerator: 1e21, denominator: 1 } },
    });
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    const res = await rawRequest(h.base, `/hls/sources/${flow.source_id as string}.m3u8`);
    if (res.status === 400) return; // refusing the flow's HLS BANDWIDTH as unusable is a fix
    expect(res.status).toBe(200);
    const streamInf = res.body.split('\n').find((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(streamInf).not.toMatch(/e\+/i);
    expect(streamInf).toMatch(/BANDWIDTH=[0-9]+(,|$)/);
  });

  it('refuses HLS for a flow its hls_exclude tag keeps out, whatever the spelling, and for containers HLS cannot carry', async () => {
    for (const [tags, container] of [
      [{ hls_exclude: 'TRUE' }, 'video/mp2t'],
      [{ hls_exclude: ['true', 'false'] }, 'video/mp2t'],
      [{}, 'application/mxf'],
      [{}, 'text/html'],
    ] as const) {
      const flow = videoFlow({ tags, container });
      const put = await h.request('PUT', `/flows/${flow.id as string}`, flow);
      if (put.status !== 201) continue;
      const res = await rawRequest(h.base, `/hls/flows/${flow.id as string}.m3u8?timerange=_`);
      expect({ tags, container, status: res.status, tams: isTamsErrorBody(res.body) }).toEqual({ tags, container, status: 400, tams: true });
    }
  });
});

describe('hostile HLS: a flow of 100,000 segments (TAMS_HLS_MAX_SEGMENTS=10000)', () => {
  const COUNT = 100_000;
  const MAX = 10_000;
  let h: Harness;
  let flowId: string;

  /** The segments the store returned to the calls made while `action` ran. */
  async function segmentsRead(action: () => Promise<void>): Promise<number> {
    const spy = jest.spyOn(h.gateway.store, 'listSegments');
    try {
      await action();
      let items = 0;
      for (const result of spy.mock.results) items += ((await result.value) as { items: unknown[] }).items.length;
      return items;
    } finally {
      spy.mockRestore();
    }
  }

  beforeAll(async () => {
    h = await startHarness({ TAMS_HLS_MAX_SEGMENTS: String(MAX) });
    const flow = videoFlow();
    flowId = flow.id as string;
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    for (let batch = 0; batch < COUNT / 1000; batch++) {
      const res = await h.request('POST', `/flows/${flowId}/segments`, segments(1000, T0 + BigInt(batch * 1000) * SECOND));
      expect(res.status).toBe(201);
    }
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  it('refuses a VOD window of every segment with 400 after reading at most TAMS_HLS_MAX_SEGMENTS + 1 of them', async () => {
    let res: Awaited<ReturnType<typeof rawRequest>> | undefined;
    const read = await segmentsRead(async () => {
      res = await rawRequest(h.base, `/hls/flows/${flowId}.m3u8?timerange=_`);
    });
    expect(res?.status).toBe(400);
    expect(isTamsErrorBody(res?.body ?? '')).toBe(true);
    expect(read).toBeLessThanOrEqual(MAX + 1);
  }, 60_000);

  it('lists exactly TAMS_HLS_MAX_SEGMENTS in a VOD window holding that many', async () => {
    const end = T0 + BigInt(MAX) * SECOND;
    const res = await rawRequest(h.base, `/hls/flows/${flowId}.m3u8?timerange=${encodeURIComponent(`[${ts(T0)}_${ts(end)})`)}`);
    expect(res.status).toBe(200);
    expect(uris(res.body)).toHaveLength(MAX);
  }, 60_000);

  it('bounds a live playlist by the hls_segments tag, TAMS_HLS_MAX_SEGMENTS capping `inf` and huge counts, garbage meaning the default', async () => {
    const cases: [unknown, number][] = [
      ['inf', MAX],
      [' INF ', MAX],
      ['999999999', MAX],
      ['7', 7],
      [['5', 'inf'], 5],
      ['0', 150],
      ['-3', 150],
      ['1e3', 150],
      ['0x10', 150],
      ['NaN', 150],
      ['9999999999999999999999', 150],
      ['', 150],
    ];
    for (const [tag, expected] of cases) {
      expect((await h.request('PUT', `/flows/${flowId}/tags/hls_segments`, JSON.stringify(tag))).status).toBe(204);
      let res: Awaited<ReturnType<typeof rawRequest>> | undefined;
      const read = await segmentsRead(async () => {
        res = await rawRequest(h.base, `/hls/flows/${flowId}.m3u8`);
      });
      expect({ tag, status: res?.status, listed: uris(res?.body ?? '').length }).toEqual({ tag, status: 200, listed: expected });
      expect({ tag, readAtMost: read <= MAX }).toEqual({ tag, readAtMost: true });
    }
  }, 120_000);
});

describe('hostile HLS: tokens, caching, auth classes and limits (TAMS_AUTH=on)', () => {
  const ISSUER = 'https://tams.test';
  const AUDIENCE = 'tams-gateway';
  const READS = 30;
  let h: Harness;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  let admin: string;
  let news: string;
  let newsFlow: Record<string, unknown>;
  const scope = (...scopes: string[]): string => scopes.map((s) => `tams-api/${s}`).join(' ');
  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
  const asAdmin = (method: string, path: string, body?: unknown): ReturnType<Harness['request']> => h.request(method, path, body, bearer(admin));

  beforeAll(async () => {
    h = await startHarness({
      TAMS_AUTH: 'on',
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      RATE_LIMIT_WINDOW_SEC: '60',
      RATE_LIMIT_READ_PER_MINUTE: String(READS),
      RATE_LIMIT_WRITE_PER_MINUTE: '1000',
    });
    const issued = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    sign = async (claims) => issued.sign(claims);
    admin = await sign({ sub: 'admin', scope: scope('read', 'write', 'delete', 'admin') });
    news = await sign({ sub: 'news-viewer', scope: scope('read'), auth_classes: ['news'] });
    newsFlow = videoFlow({ max_bit_rate: 5000, tags: { auth_classes: 'news' } });
    expect((await asAdmin('PUT', `/flows/${newsFlow.id as string}`, newsFlow)).status).toBe(201);
    expect((await asAdmin('POST', `/flows/${newsFlow.id as string}/segments`, segments(3, T0))).status).toBe(201);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('puts ?access_token= only into URIs of its own origin, ignores X-Forwarded-Host without TRUST_PROXY, and keeps playlists and redirects out of caches', async () => {
    const id = newsFlow.id as string;
    const spoof = { 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'https', forwarded: 'host=attacker.example;proto=https' };
    const withHeader = await rawRequest(h.base, `/hls/flows/${id}.m3u8?timerange=_`, { ...bearer(news), ...spoof });
    expect(withHeader.status).toBe(200);
    expect(withHeader.body).not.toContain('access_token');
    expect(withHeader.headers['cache-control']).toBe('no-store');

    const viaQuery = await rawRequest(h.base, `/hls/flows/${id}.m3u8?timerange=_&access_token=${news}`, spoof);
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.headers['cache-control']).toBe('no-store');
    expect(viaQuery.body).not.toContain('attacker.example');
    const listed = uris(viaQuery.body);
    expect(listed).toHaveLength(3);
    for (const uri of listed) {
      expect(new URL(uri).origin).toBe(h.base);
      expect(new URL(uri).searchParams.get('access_token')).toBe(news);
    }
    const redirect = await rawRequest(h.base, new URL(listed[0]!).pathname + new URL(listed[0]!).search);
    expect(redirect.status).toBe(302);
    expect(redirect.headers['cache-control']).toBe('no-store');
    // The redirect target is the stored media URL: the token does not travel on to it.
    expect(redirect.headers.location).not.toContain(news);
  });

  it('keeps the access_token out of the audit trail, for allowed and refused HLS requests alike', async () => {
    const id = newsFlow.id as string;
    const sport = await sign({ sub: 'sport-viewer', scope: scope('read'), auth_classes: ['sport'] });
    expect((await rawRequest(h.base, `/hls/flows/${id}.m3u8?access_token=${news}`)).status).toBe(200);
    expect((await rawRequest(h.base, `/hls/flows/${id}.m3u8?access_token=${sport}`)).status).toBe(404);
    expect((await rawRequest(h.base, `/hls/flows/${id}/segments/${T0}.ts?access_token=${sport}`)).status).toBe(404);
    expect((await rawRequest(h.base, `/hls/flows/${id}.m3u8?access_token=${sport}x`)).status).toBe(401);
    const trail = JSON.stringify(h.auditLines());
    expect(trail).toContain('/hls/flows/');
    for (const token of [news, sport]) expect(trail).not.toContain(token.split('.')[2]);
  });

  it('lists in a multivariant playlist no flow the caller may not read, inherited source classes and source collections included', async () => {
    const publicSource = randomUUID();
    const secretSource = randomUUID();
    const shown = audioFlow({ source_id: publicSource, max_bit_rate: 128, label: 'SHOWN', tags: { auth_classes: 'news' } });
    const ownClass = audioFlow({ source_id: publicSource, max_bit_rate: 256, label: 'OWN-CLASS-SECRET', tags: { auth_classes: 'secret' } });
    const inherited = videoFlow({ source_id: secretSource, max_bit_rate: 4000, label: 'INHERITED-SECRET' });
    for (const f of [shown, ownClass, inherited]) expect((await asAdmin('PUT', `/flows/${f.id as string}`, f)).status).toBe(201);
    expect((await h.request('PUT', `/sources/${secretSource}/tags/auth_classes`, '"secret"', bearer(admin))).status).toBe(204);
    // The public source's collection names the secret one (application note 0001).
    expect((await asAdmin('PUT', `/flows/${shown.id as string}/flow_collection`, [{ id: inherited.id, role: 'video' }])).status).toBe(204);
    const mv = await rawRequest(h.base, `/hls/sources/${publicSource}.m3u8`, bearer(news));
    expect(mv.status).toBe(200);
    expect(mv.headers['cache-control']).toBe('no-store');
    expect(mv.body).toContain(shown.id as string);
    for (const hidden of [ownClass, inherited]) {
      expect(mv.body).not.toContain(hidden.id as string);
      expect(mv.body).not.toContain(hidden.label as string);
    }
    const secret = await rawRequest(h.base, `/hls/sources/${secretSource}.m3u8`, bearer(news));
    expect(secret.status).toBe(404);
    expect(secret.body).not.toContain('INHERITED');
    // The admin sees both through the collection.
    const all = await rawRequest(h.base, `/hls/sources/${publicSource}.m3u8`, bearer(admin));
    expect(all.body).toContain(inherited.id as string);
  });

  it('checks scopes and auth classes before any work on every HLS route, for HEAD as for GET', async () => {
    const id = newsFlow.id as string;
    const writer = await sign({ sub: 'writer-only', scope: scope('write') });
    const sport = await sign({ sub: 'sport-viewer-2', scope: scope('read'), auth_classes: ['sport'] });
    const routes = [`/hls/flows/${id}.m3u8`, `/hls/flows/${id}.m3u8?timerange=_`, `/hls/flows/${id}/segments/${T0}.ts`, `/hls/flows/${id}/segments/${T0}/init.mp4`, `/hls/sources/${newsFlow.source_id as string}.m3u8`];
    for (const path of routes) {
      for (const method of ['GET', 'HEAD']) {
        expect({ path, method, status: (await rawRequest(h.base, path, {}, method)).status }).toEqual({ path, method, status: 401 });
        expect({ path, method, status: (await rawRequest(h.base, path, bearer(writer), method)).status }).toEqual({ path, method, status: 403 });
        const hidden = await rawRequest(h.base, path, bearer(sport), method);
        expect({ path, method, hidden: [403, 404].includes(hidden.status) }).toEqual({ path, method, hidden: true });
      }
    }
  });

  it('spends the REST read budget on HEAD and init requests too, and never on the static web pages', async () => {
    const id = newsFlow.id as string;
    const greedy = await sign({ sub: 'greedy', scope: scope('read'), auth_classes: ['news'] });
    for (let i = 0; i < 20; i++) expect((await rawRequest(h.base, '/explorer/', { ...bearer(greedy), accept: 'text/html' })).status).toBe(200);
    for (let i = 0; i < READS; i++) {
      const path = i % 2 === 0 ? `/hls/flows/${id}.m3u8` : `/hls/flows/${id}/segments/${T0}/init.mp4`;
      expect((await rawRequest(h.base, path, bearer(greedy), 'HEAD')).status).toBeLessThan(500);
    }
    for (const [method, path] of [['HEAD', `/hls/flows/${id}/segments/${T0}/init.mp4`], ['GET', `/hls/sources/${newsFlow.source_id as string}.m3u8`]] as const) {
      const refused = await rawRequest(h.base, path, bearer(greedy), method);
      expect({ method, path, status: refused.status }).toEqual({ method, path, status: 429 });
    }
    // The pages stay served (they cost nothing and spend no budget).
    expect((await rawRequest(h.base, '/explorer/', bearer(greedy))).status).toBe(200);
  });

  it('answers a token in both the header and the query as one refused credential, without echoing either', async () => {
    const id = newsFlow.id as string;
    const res = await checkedFetch(`${h.base}/hls/flows/${id}.m3u8?timerange=_&access_token=not-a-token`, { headers: bearer(news) });
    const text = await res.text();
    expect([400, 401]).toContain(res.status);
    expect(text).not.toContain('not-a-token');
    expect(text).not.toContain(news);
  });
});
