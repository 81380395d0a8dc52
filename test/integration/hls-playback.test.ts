/**
 * HLS from flows with real media (docs/hls.md): ffmpeg makes one-second MPEG-TS segments and
 * fMP4 segments with an init segment, the test stores them through the TAMS workflow, and
 * ffprobe / ffmpeg play the gateway's playlists over HTTP, following the segment URIs'
 * redirects to the local media URLs. m3u8-parser reads every playlist too.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Parser } from 'm3u8-parser';
import { startHarness, type Harness } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';
import { videoFlow, audioFlow } from '../fixtures/flows';
import { FFMPEG, FPS, SECOND, type MediaSegments, decode, makeSegments, probe, registerSegments, ts, uploadObjects } from '../support/hls-media';
import { describeNeeding } from '../support/service-lanes';

/** 2023-11-14T22:13:20Z as TAI (37 s ahead of UTC). */
const T0 = (1_700_000_000n + 37n) * SECOND;

interface ParsedPlaylist {
  targetDuration?: number;
  mediaSequence?: number;
  endList?: boolean;
  playlistType?: string;
  segments: { uri: string; duration: number; discontinuity?: boolean; map?: { uri: string }; dateTimeString?: string }[];
  playlists?: { uri: string; attributes: Record<string, unknown> }[];
  mediaGroups?: { AUDIO?: Record<string, Record<string, { uri: string }>> };
}

function parse(text: string): ParsedPlaylist {
  const parser = new Parser();
  parser.push(text);
  parser.end();
  return parser.manifest as unknown as ParsedPlaylist;
}

describeNeeding(FFMPEG, 'HLS playlists of flows, played by ffmpeg', () => {
  let h: Harness;
  let tsMedia: MediaSegments;
  let mp4Media: MediaSegments;
  const send = (method: string, url: string, body?: unknown) => h.request(method, url, body);
  const get = async (url: string): Promise<{ status: number; text: string; headers: Headers }> => {
    const res = await checkedFetch(url.startsWith('http') ? url : `${h.base}${url}`, { redirect: 'manual' });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };

  beforeAll(async () => {
    [tsMedia, mp4Media] = await Promise.all([makeSegments(6, 'ts'), makeSegments(4, 'fmp4')]);
    h = await startHarness({ TAMS_HLS_LIVE_SEGMENTS: '4', TAMS_HLS_MAX_SEGMENTS: '8' });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    for (const m of [tsMedia, mp4Media]) if (m !== undefined) rmSync(m.dir, { recursive: true, force: true });
  });

  async function tsFlow(overrides: Record<string, unknown> = {}): Promise<string> {
    const flow = videoFlow({ container: 'video/mp2t', ...overrides });
    const put = await send('PUT', `/flows/${flow.id as string}`, flow);
    expect(`${put.status} ${put.text}`).toMatch(/^201/);
    return flow.id as string;
  }

  it('serves a VOD MPEG-TS playlist that ffprobe and ffmpeg decode completely, frame for frame', async () => {
    const flowId = await tsFlow();
    const ids = await uploadObjects(send, flowId, tsMedia.segments, 'video/mp2t');
    await registerSegments(send, flowId, ids, T0);
    const url = `${h.base}/hls/flows/${flowId}.m3u8?timerange=${encodeURIComponent(`[${ts(T0)}_${ts(T0 + 6n * SECOND)})`)}`;

    const res = await get(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/vnd.apple.mpegurl');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const playlist = parse(res.text);
    expect(playlist.endList).toBe(true);
    expect(playlist.playlistType).toBe('VOD');
    expect(playlist.targetDuration).toBe(1);
    expect(playlist.segments).toHaveLength(6);
    expect(playlist.segments.every((s) => s.duration === 1)).toBe(true);
    expect(res.text).toContain('#EXTINF:1.000000,');
    // TAI 1700000037 s is UTC 2023-11-14T22:13:20Z.
    expect(playlist.segments[0]!.dateTimeString).toBe('2023-11-14T22:13:20.000Z');
    expect(playlist.segments[0]!.uri).toBe(`${h.base}/hls/flows/${flowId}/segments/${T0}.ts`);

    // A segment URI answers a redirect to a freshly signed media URL, never the URL itself.
    const hop = await get(playlist.segments[2]!.uri);
    expect(hop.status).toBe(302);
    expect(hop.headers.get('location')).toMatch(new RegExp(`^${h.base}/media/.*[?&]sig=`));
    expect(hop.headers.get('cache-control')).toBe('no-store');

    const head = await checkedFetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('application/vnd.apple.mpegurl');

    const probed = await probe(url);
    expect(probed.frames).toBe(6 * FPS);
    expect(probed.duration).toBeCloseTo(6, 1);
    expect(probed.streams.sort()).toEqual(['audio', 'video']);
    const decoded = await decode(url);
    expect(decoded.frames).toBe(6 * FPS);
  }, 180_000);

  it('serves fMP4 with EXT-X-MAP pointing at the init segment, and ffmpeg decodes every frame', async () => {
    const flowId = await tsFlow({ container: 'video/mp4', essence_parameters: { frame_rate: { numerator: 25 }, frame_width: 320, frame_height: 240, init_segments: true } });
    const [initId] = await uploadObjects(send, flowId, [mp4Media.init as Buffer], 'video/mp4');
    const ids = await uploadObjects(send, flowId, mp4Media.segments);
    await registerSegments(send, flowId, ids, T0, () => ({ init_object_id: initId }));
    const url = `${h.base}/hls/flows/${flowId}.m3u8?timerange=_`;

    const text = (await get(url)).text;
    const playlist = parse(text);
    expect(text).toContain('#EXT-X-VERSION:6');
    expect(playlist.segments).toHaveLength(4);
    expect(playlist.segments[0]!.map?.uri).toBe(`${h.base}/hls/flows/${flowId}/segments/${T0}/init.mp4`);
    expect(playlist.segments[0]!.uri).toMatch(/\.m4s$/);
    expect(text.match(/#EXT-X-MAP/g)).toHaveLength(1);
    const init = await get(playlist.segments[0]!.map!.uri);
    expect(init.status).toBe(302);
    const initBytes = await checkedFetch(init.headers.get('location')!);
    expect(Buffer.from(await initBytes.arrayBuffer()).equals(mp4Media.init!)).toBe(true);

    expect((await probe(url)).frames).toBe(4 * FPS);
    expect((await decode(url)).frames).toBe(4 * FPS);
  }, 180_000);

  it('marks a gap, a new init object and a new ts_offset with EXT-X-DISCONTINUITY and a new EXT-X-MAP, and leaves out partial segments', async () => {
    const flowId = await tsFlow({ container: 'video/mp4', essence_parameters: { frame_rate: { numerator: 25 }, frame_width: 320, frame_height: 240, init_segments: true } });
    const [initA, initB] = await uploadObjects(send, flowId, [mp4Media.init as Buffer, mp4Media.init as Buffer], 'video/mp4');
    const ids = await uploadObjects(send, flowId, [...mp4Media.segments, ...mp4Media.segments]);
    // 0,1: init A; 2: init B; 3: init B, ts_offset; (gap of 1 s) 4: init B, ts_offset; 5: partial; 6, 7 after it.
    const segments = [
      { object_id: ids[0], timerange: `[${ts(T0)}_${ts(T0 + SECOND)})`, init_object_id: initA },
      { object_id: ids[1], timerange: `[${ts(T0 + SECOND)}_${ts(T0 + 2n * SECOND)})`, init_object_id: initA },
      { object_id: ids[2], timerange: `[${ts(T0 + 2n * SECOND)}_${ts(T0 + 3n * SECOND)})`, init_object_id: initB },
      { object_id: ids[3], timerange: `[${ts(T0 + 3n * SECOND)}_${ts(T0 + 4n * SECOND)})`, init_object_id: initB, ts_offset: '5:0' },
      { object_id: ids[4], timerange: `[${ts(T0 + 5n * SECOND)}_${ts(T0 + 6n * SECOND)})`, init_object_id: initB, ts_offset: '5:0' },
      { object_id: ids[5], timerange: `[${ts(T0 + 6n * SECOND)}_${ts(T0 + 7n * SECOND)})`, init_object_id: initB, ts_offset: '5:0', object_timerange: `[${ts(T0 + 5n * SECOND)}_${ts(T0 + 7n * SECOND)})` },
      { object_id: ids[6], timerange: `[${ts(T0 + 7n * SECOND)}_${ts(T0 + 8n * SECOND)})`, init_object_id: initB, ts_offset: '5:0' },
      { object_id: ids[7], timerange: `[${ts(T0 + 8n * SECOND)}_${ts(T0 + 9n * SECOND)})`, init_object_id: initB, ts_offset: '5:0', sample_offset: 0, sample_count: 25 },
    ];
    expect((await send('POST', `/flows/${flowId}/segments`, segments)).status).toBe(201);
    const text = (await get(`/hls/flows/${flowId}.m3u8?timerange=_`)).text;
    const playlist = parse(text);
    expect(playlist.segments.map((s) => s.uri.replace(/.*\/segments\//, ''))).toEqual(
      [0n, 1n, 2n, 3n, 5n, 7n].map((i) => `${T0 + i * SECOND}.m4s`),
    );
    expect(playlist.segments.map((s) => s.discontinuity === true)).toEqual([false, false, true, true, true, true]);
    expect(playlist.segments.map((s) => s.map?.uri.replace(/.*\/segments\//, ''))).toEqual(
      [0n, 0n, 2n, 3n, 5n, 7n].map((i) => `${T0 + i * SECOND}/init.mp4`),
    );
    expect(text.match(/#EXT-X-PROGRAM-DATE-TIME/g)).toHaveLength(5);
    expect(text).toContain('#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:25.000Z');
  });

  it('keeps EXTINF exact to the microsecond without accumulating rounding', async () => {
    const flowId = await tsFlow();
    const ids = await uploadObjects(send, flowId, tsMedia.segments.slice(0, 3), 'video/mp2t');
    // Thirds of a second, starting a third of a microsecond in: no EXTINF is a whole number of microseconds.
    const third = SECOND / 3n;
    const body = ids.map((object_id, i) => ({ object_id, timerange: `[${ts(T0 + 333n + BigInt(i) * third)}_${ts(T0 + 333n + BigInt(i + 1) * third)})` }));
    expect((await send('POST', `/flows/${flowId}/segments`, body)).status).toBe(201);
    const text = (await get(`/hls/flows/${flowId}.m3u8?timerange=_`)).text;
    expect(text.match(/#EXTINF:[0-9.]+,/g)).toEqual(['#EXTINF:0.333333,', '#EXTINF:0.333334,', '#EXTINF:0.333333,']);
    expect(text).toContain('#EXT-X-TARGETDURATION:1');
  });

  it('serves a live playlist of the newest segments that grows as segments are registered, never renumbering one already listed', async () => {
    const flowId = await tsFlow({ segment_duration: { numerator: 1 } });
    const ids = await uploadObjects(send, flowId, [...tsMedia.segments, ...tsMedia.segments], 'video/mp2t');
    const live = async (): Promise<{ text: string; playlist: ParsedPlaylist }> => {
      const text = (await get(`/hls/flows/${flowId}.m3u8`)).text;
      return { text, playlist: parse(text) };
    };
    const numbered = (p: ParsedPlaylist): Map<string, number> => new Map(p.segments.map((s, i) => [s.uri, (p.mediaSequence ?? 0) + i]));

    expect((await live()).playlist.segments).toHaveLength(0);
    await registerSegments(send, flowId, ids.slice(5, 7), T0 + 5n * SECOND);
    const first = await live();
    expect(first.playlist.endList).not.toBe(true);
    expect(first.text).not.toContain('#EXT-X-PLAYLIST-TYPE');
    expect(first.playlist.segments).toHaveLength(2);
    expect(first.playlist.mediaSequence).toBe(Number(T0 / SECOND) + 5);

    await registerSegments(send, flowId, ids.slice(7, 10), T0 + 7n * SECOND);
    const grown = await live();
    // TAMS_HLS_LIVE_SEGMENTS=4: the newest four.
    expect(grown.playlist.segments).toHaveLength(4);
    expect(grown.playlist.segments[3]!.uri).toContain(`/segments/${T0 + 9n * SECOND}.ts`);

    // Registered behind the window: nothing listed moves.
    await registerSegments(send, flowId, ids.slice(0, 5), T0);
    const after = await live();
    expect(after.text).toBe(grown.text);
    for (const [uri, n] of numbered(first.playlist)) {
      if (numbered(grown.playlist).has(uri)) expect(numbered(grown.playlist).get(uri)).toBe(n);
    }

    // The flow's hls_segments tag (application note 0003) sets the window.
    expect((await send('PUT', `/flows/${flowId}/tags/hls_segments`, '"2"')).status).toBe(204);
    const tagged = await live();
    expect(tagged.playlist.segments).toHaveLength(2);
    expect(numbered(tagged.playlist).get(tagged.playlist.segments[1]!.uri)).toBe(numbered(grown.playlist).get(tagged.playlist.segments[1]!.uri));
    expect((await send('PUT', `/flows/${flowId}/tags/hls_segments`, '"inf"')).status).toBe(204);
    // inf lists every segment, up to TAMS_HLS_MAX_SEGMENTS (8 here).
    expect((await live()).playlist.segments).toHaveLength(8);
    const tooMany = await get(`/hls/flows/${flowId}.m3u8?timerange=_`);
    expect(tooMany.status).toBe(400);
    expect(JSON.parse(tooMany.text)).toMatchObject({ type: 'BadRequest', summary: expect.stringContaining('More than 8 segments') });
  });

  it('honours hls_exclude, and refuses containers HLS cannot carry with 400 and the TAMS error body', async () => {
    const excluded = await tsFlow({ tags: { hls_exclude: 'true' } });
    const refused = await get(`/hls/flows/${excluded}.m3u8`);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text)).toMatchObject({ type: 'BadRequest', summary: expect.stringContaining('hls_exclude') });

    const mxf = await tsFlow({ container: 'application/mxf' });
    const wrong = await get(`/hls/flows/${mxf}.m3u8`);
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.text)).toMatchObject({ type: 'BadRequest', summary: expect.stringContaining('application/mxf'), time: expect.any(String) });
    const mp4WithoutInit = await tsFlow({ container: 'video/mp4' });
    expect(JSON.parse((await get(`/hls/flows/${mp4WithoutInit}.m3u8`)).text).summary).toContain('init_segments');
  });

  it('answers bad input with a clear 4xx and the TAMS error body', async () => {
    const flowId = await tsFlow();
    const unknown = await get(`/hls/flows/${randomUUID()}.m3u8`);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text)).toMatchObject({ type: 'NotFound' });
    expect((await get(`/hls/flows/not-a-uuid.m3u8`)).status).toBe(404);
    expect((await get(`/hls/flows/${flowId}.txt`)).status).toBe(404);
    const badRange = await get(`/hls/flows/${flowId}.m3u8?timerange=yesterday`);
    expect(badRange.status).toBe(400);
    expect(JSON.parse(badRange.text).summary).toContain('timerange');
    expect((await get(`/hls/flows/${flowId}.m3u8?timerange=()`)).status).toBe(400);
    expect((await get(`/hls/flows/${flowId}/segments/123.ts`)).status).toBe(404);
    expect((await get(`/hls/flows/${flowId}/segments/abc.ts`)).status).toBe(404);
    expect((await get(`/hls/flows/${flowId}/segments/99999999999999999999.ts`)).status).toBe(404);
    expect((await get(`/hls/flows/${flowId}/segments/0/init.mp4`)).status).toBe(404);
    expect((await get(`/hls/sources/${randomUUID()}.m3u8`)).status).toBe(404);
  });

  it('serves a multivariant playlist over a source\'s flows with BANDWIDTH from their bit rates, and 400 when one is unknown', async () => {
    const video = videoFlow({ container: 'video/mp2t', max_bit_rate: 2000, avg_bit_rate: 1500, essence_parameters: { frame_rate: { numerator: 25 }, frame_width: 320, frame_height: 240 } });
    const audio = audioFlow({ container: 'audio/aac', max_bit_rate: 128, avg_bit_rate: 64, label: 'English "main"' });
    // A multi-essence flow collecting both: its source's collection then holds the video and audio sources.
    const multi = videoFlow({ format: 'urn:x-nmos:format:multi', container: undefined, codec: undefined, essence_parameters: undefined, flow_collection: [{ id: video.id, role: 'video' }, { id: audio.id, role: 'audio' }] });
    for (const f of [video, audio, multi]) {
      const put = await send('PUT', `/flows/${f.id as string}`, f);
      expect(`${put.status} ${put.text}`).toMatch(/^201/);
    }
    const sourceId = multi.source_id as string;

    const both = await get(`/hls/sources/${sourceId}.m3u8`);
    expect(both.status).toBe(200);
    const muxed = parse(both.text);
    expect(muxed.playlists).toHaveLength(1);
    // The video's peak plus the audio's.
    expect(muxed.playlists![0]!.attributes).toMatchObject({ BANDWIDTH: 2_128_000, 'AVERAGE-BANDWIDTH': '1564000', AUDIO: 'audio' });
    expect(Object.values(muxed.mediaGroups!.AUDIO!.audio!)[0]!.uri).toBe(`${h.base}/hls/flows/${audio.id as string}.m3u8`);
    expect(both.text).toContain('NAME="English  main "');

    const single = parse((await get(`/hls/sources/${video.source_id as string}.m3u8`)).text);
    expect(single.playlists).toHaveLength(1);
    expect(single.playlists![0]!.attributes).toMatchObject({ BANDWIDTH: 2_000_000, 'AVERAGE-BANDWIDTH': '1500000', RESOLUTION: { width: 320, height: 240 } });
    expect(single.playlists![0]!.uri).toBe(`${h.base}/hls/flows/${video.id as string}.m3u8`);

    const vod = parse((await get(`/hls/sources/${video.source_id as string}.m3u8?timerange=${encodeURIComponent('[0:0_10:0)')}`)).text);
    expect(new URL(vod.playlists![0]!.uri).searchParams.get('timerange')).toBe('[0:0_10:0)');

    const audioOnly = parse((await get(`/hls/sources/${audio.source_id as string}.m3u8`)).text);
    expect(audioOnly.playlists![0]!.attributes).toMatchObject({ BANDWIDTH: 128_000, 'AVERAGE-BANDWIDTH': '64000' });

    expect((await send('DELETE', `/flows/${video.id as string}/max_bit_rate`)).status).toBe(204);
    expect((await send('DELETE', `/flows/${video.id as string}/avg_bit_rate`)).status).toBe(204);
    const unknown = await get(`/hls/sources/${sourceId}.m3u8`);
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text)).toMatchObject({ type: 'BadRequest', summary: expect.stringContaining('max_bit_rate') });
  });

  it('hands out hlsUrl in GraphQL', async () => {
    const flowId = await tsFlow();
    const mxf = await tsFlow({ container: 'application/mxf' });
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `query($a: ID!, $b: ID!) { a: flow(id: $a) { hlsUrl vod: hlsUrl(timerange: "[0:0_5:0)") source { id hlsUrl } } b: flow(id: $b) { hlsUrl } }`,
        variables: { a: flowId, b: mxf },
      }),
    });
    const body = (await res.json()) as { data: { a: { hlsUrl: string; vod: string; source: { id: string; hlsUrl: string } }; b: { hlsUrl: string | null } } };
    expect(body.data.a.hlsUrl).toBe(`${h.base}/hls/flows/${flowId}.m3u8`);
    expect(body.data.a.vod).toBe(`${h.base}/hls/flows/${flowId}.m3u8?timerange=${encodeURIComponent('[0:0_5:0)')}`);
    expect(body.data.a.source.hlsUrl).toBe(`${h.base}/hls/sources/${body.data.a.source.id}.m3u8`);
    expect(body.data.b.hlsUrl).toBeNull();
  });
});
