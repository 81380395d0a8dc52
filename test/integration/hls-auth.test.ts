/**
 * HLS is authorised and rate limited as the segment listing is (docs/hls.md): scopes, auth
 * classes (application note 0016), `?access_token=` carried onward into every URI of the
 * playlist so that a player that cannot send headers (ffmpeg here) can follow them, and the
 * REST read budget.
 */
import { rmSync } from 'node:fs';
import { startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { checkedFetch } from '../support/checked-fetch';
import { videoFlow } from '../fixtures/flows';
import { FFMPEG, FPS, SECOND, type MediaSegments, makeSegments, probe, registerSegments, uploadObjects } from '../support/hls-media';
import { describeNeeding } from '../support/service-lanes';

const ISSUER = 'https://tams.test';
const AUDIENCE = 'tams-gateway';
/** Reads each principal may make per minute. */
const READS = 40;

describeNeeding(FFMPEG, 'HLS authorization and rate limits (TAMS_AUTH=on)', () => {
  let h: Harness;
  let media: MediaSegments;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  let admin: string;
  let flowId: string;
  const scope = (...scopes: string[]): string => scopes.map((s) => `tams-api/${s}`).join(' ');

  const get = async (path: string, token?: string): Promise<{ status: number; text: string; headers: Headers }> => {
    const res = await checkedFetch(path.startsWith('http') ? path : `${h.base}${path}`, {
      redirect: 'manual',
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };

  beforeAll(async () => {
    media = await makeSegments(3, 'ts');
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
    const send = (method: string, url: string, body?: unknown) => h.request(method, url, body, { authorization: `Bearer ${admin}` });
    const flow = videoFlow({ tags: { auth_classes: 'news' } });
    flowId = flow.id as string;
    expect((await send('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    await registerSegments(send, flowId, await uploadObjects(send, flowId, media.segments, 'video/mp2t'), 1_700_000_037n * SECOND);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    if (media !== undefined) rmSync(media.dir, { recursive: true, force: true });
  });

  it('answers 401 without credentials, on playlists and segment URIs alike', async () => {
    for (const path of [`/hls/flows/${flowId}.m3u8`, `/hls/flows/${flowId}/segments/0.ts`, `/hls/sources/${flowId}.m3u8`]) {
      const res = await get(path);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(JSON.parse(res.text)).toMatchObject({ type: 'Unauthorized' });
    }
  });

  it('needs the read scope, and answers a request without the flow\'s auth class as the segment listing does', async () => {
    const writer = await sign({ sub: 'writer', scope: scope('write') });
    expect((await get(`/hls/flows/${flowId}.m3u8`, writer)).status).toBe(403);
    const sport = await sign({ sub: 'sport', scope: scope('read'), auth_classes: ['sport'] });
    const listing = await h.request('GET', `/flows/${flowId}/segments`, undefined, { authorization: `Bearer ${sport}` });
    expect([403, 404]).toContain(listing.status);
    const playlist = await get(`/hls/flows/${flowId}.m3u8?timerange=_`, sport);
    expect(playlist.status).toBe(listing.status);
    expect(JSON.parse(playlist.text).type).toBe(listing.body.type);
    const segment = await get(`/hls/flows/${flowId}/segments/${1_700_000_037n * SECOND}.ts`, sport);
    expect(segment.status).toBe(listing.status);
    const news = await sign({ sub: 'news', scope: scope('read'), auth_classes: ['news'] });
    expect((await get(`/hls/flows/${flowId}.m3u8?timerange=_`, news)).status).toBe(200);
  });

  it('carries ?access_token= into every URI of the playlist, so a player without headers plays it all', async () => {
    const viewer = await sign({ sub: 'viewer', scope: scope('read'), auth_classes: ['news'] });
    const withHeader = await get(`/hls/flows/${flowId}.m3u8?timerange=_`, viewer);
    expect(withHeader.text).not.toContain('access_token');

    const url = `${h.base}/hls/flows/${flowId}.m3u8?timerange=_&access_token=${viewer}`;
    const text = (await get(url)).text;
    const uris = text.split('\n').filter((l) => l.startsWith('http'));
    expect(uris).toHaveLength(3);
    for (const uri of uris) expect(new URL(uri).searchParams.get('access_token')).toBe(viewer);
    expect((await get(uris[0]!)).status).toBe(302);
    expect((await probe(url)).frames).toBe(3 * FPS);
  }, 120_000);

  it('spends the REST read budget, answering 429 with Retry-After and the TAMS error body', async () => {
    const greedy = await sign({ sub: 'greedy', scope: scope('read'), auth_classes: ['news'] });
    const segment = `/hls/flows/${flowId}/segments/${1_700_000_037n * SECOND}.ts`;
    for (let i = 0; i < READS; i++) expect((await get(i % 2 === 0 ? `/hls/flows/${flowId}.m3u8` : segment, greedy)).status).toBeLessThan(400);
    for (const path of [`/hls/flows/${flowId}.m3u8`, segment]) {
      const refused = await get(path, greedy);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(refused.text)).toMatchObject({ type: 'TooManyRequests' });
    }
    const other = await sign({ sub: 'other', scope: scope('read'), auth_classes: ['news'] });
    expect((await get(`/hls/flows/${flowId}.m3u8`, other)).status).toBe(200);
  });
});
