/**
 * The live explorer (/explorer/) in headless Chromium against a real gateway with
 * authentication on, every request to another origin refused: it lists the seeded flows and
 * filters them, draws a flow's segments and gaps, draws a segment registered through REST
 * while it is open (no reload), and plays a window of real H.264 + AAC media (MPEG-TS made by
 * ffmpeg, uploaded through the TAMS workflow) through hls.js and the gateway's HLS playlist,
 * then the flow live.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';
import { checkedFetch } from '../support/checked-fetch';
import { startHarness, type Harness } from '../support/gateway-harness';
import { chromiumRequirement, openOfflinePage, type OfflinePage } from '../support/offline-browser';
import { allOf, describeNeeding, executableRequirement } from '../support/service-lanes';

const ffmpeg = executableRequirement('ffmpeg', 'apt-get install ffmpeg; .ci/run installs it when missing');
const METRICS_TOKEN = 'explorer-test-metrics';
/** Generous: a shared 2-core machine, a browser, a gateway and ffmpeg at once. */
const WAIT_MS = 30_000;
const SEGMENT_SECONDS = 2;

/** Five 2-second MPEG-TS segments: H.264 constrained baseline 320x180 at 25 fps, stereo AAC-LC. */
function makeSegments(dir: string): Buffer[] {
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(5 * SEGMENT_SECONDS), '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-preset', 'veryfast',
    '-g', String(25 * SEGMENT_SECONDS), '-keyint_min', String(25 * SEGMENT_SECONDS), '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2',
    '-f', 'segment', '-segment_time', String(SEGMENT_SECONDS), '-segment_format', 'mpegts',
    path.join(dir, 'seg%03d.ts'),
  ]);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).sort().map((f) => fs.readFileSync(path.join(dir, f)));
}

/** What the tests read of the page's globals and video (this project's tsconfig has no DOM types). */
interface BrowserGlobals {
  sessionStorage: { getItem(key: string): string | null };
  explorerMark?: number;
}
interface VideoElement {
  currentTime: number;
  videoWidth: number;
  videoHeight: number;
  error: { code: number } | null;
}

const range = (index: number): string => `[${index * SEGMENT_SECONDS}:0_${(index + 1) * SEGMENT_SECONDS}:0)`;

describe('the explorer page is served (no browser needed)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers /explorer/ without credentials, under the page CSP, with its bundle beside it', async () => {
    const page = await checkedFetch(`${h.base}/explorer/`, { headers: { accept: 'text/html' } });
    const html = await page.text();
    expect({ status: page.status, type: page.headers.get('content-type') }).toEqual({ status: 200, type: 'text/html; charset=utf-8' });
    expect(html).toContain('<base href="/explorer/">');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const script = /<script src="(main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const bundle = await checkedFetch(`${h.base}/explorer/${script}`);
    expect({ status: bundle.status, type: bundle.headers.get('content-type') }).toEqual({ status: 200, type: 'text/javascript; charset=utf-8' });
    // hls.js and graphql-ws are in the bundle itself: nothing is fetched from elsewhere.
    expect(await bundle.text()).toContain('graphql-transport-ws');
    const bare = await checkedFetch(`${h.base}/explorer`, { redirect: 'manual' });
    expect({ status: bare.status, location: bare.headers.get('location') }).toEqual({ status: 308, location: '/explorer/' });
  });
});

describeNeeding(allOf(chromiumRequirement, ffmpeg), 'the explorer page in headless Chromium, offline', () => {
  let h: Harness;
  let token: string;
  let browser: OfflinePage;
  let mediaDir: string;
  let segments: Buffer[];
  const programme = { flow: randomUUID(), source: randomUUID() };
  const audio = { flow: randomUUID(), source: randomUUID() };
  const data = { flow: randomUUID(), source: randomUUID() };

  const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

  async function upload(flowId: string, indexes: number[]): Promise<void> {
    const storage = await h.request('POST', `/flows/${flowId}/storage`, { limit: indexes.length }, auth());
    expect(storage.status).toBe(201);
    const objects = storage.body.media_objects as { object_id: string; put_url: { url: string; 'content-type': string } }[];
    for (const [i, object] of objects.entries()) {
      const put = await checkedFetch(object.put_url.url, { method: 'PUT', body: segments[indexes[i]!]!, headers: { 'content-type': object.put_url['content-type'] } });
      expect(put.status).toBe(200);
    }
    const registered = await h.request('POST', `/flows/${flowId}/segments`, objects.map((o, i) => ({ object_id: o.object_id, timerange: range(indexes[i]!) })), auth());
    expect(registered.status).toBe(201);
  }

  /** Subscriptions open on the gateway (the tams_graphql_subscriptions gauge). */
  async function openSubscriptions(): Promise<number> {
    const res = await checkedFetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    const match = /^tams_graphql_subscriptions (\d+)/m.exec(await res.text());
    return Number(match?.[1] ?? 0);
  }

  async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const attribute = (page: Page, selector: string, name: string): Promise<string | null> => page.locator(selector).getAttribute(name);

  beforeAll(async () => {
    mediaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-explorer-media-'));
    segments = makeSegments(mediaDir);
    expect(segments).toHaveLength(5);
    h = await startHarness({ TAMS_AUTH: 'on', METRICS_TOKEN });
    token = await issueToken(tokenSigner(h.gateway.config), { subject: 'explorer-test', scopes: ['read', 'write', 'delete'], authClasses: [], ttlSec: 3600 }, h.gateway.config);
    const put = async (id: string, body: Record<string, unknown>): Promise<void> => {
      const res = await h.request('PUT', `/flows/${id}`, { id, ...body }, auth());
      if (res.status !== 201) throw new Error(`PUT /flows/${id}: ${res.status} ${res.text}`);
    };
    await put(programme.flow, { source_id: programme.source, format: 'urn:x-nmos:format:multi', container: 'video/mp2t', label: 'programme', description: 'H.264 and AAC in MPEG-TS' });
    await put(audio.flow, { source_id: audio.source, format: 'urn:x-nmos:format:audio', codec: 'audio/aac', container: 'video/mp2t', label: 'commentary', essence_parameters: { sample_rate: 48000, channels: 2 } });
    await put(data.flow, { source_id: data.source, format: 'urn:x-nmos:format:data', codec: 'text/vtt', container: 'text/vtt', label: 'captions', tags: { language: 'cy' }, essence_parameters: {} });
    // Segments 0-2 and 4: a gap where segment 3 goes, registered while the page is open.
    await upload(programme.flow, [0, 1, 2, 4]);
    browser = await openOfflinePage(h.base);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    if (mediaDir !== undefined) fs.rmSync(mediaDir, { recursive: true, force: true });
  });

  it('lists the seeded flows once given a token, and filters them by text, label and format', async () => {
    const { page } = browser;
    await page.goto(`${h.base}/explorer/`);
    // Without a token the gateway refuses the listing, and the page says so.
    await page.locator('#connection.error').waitFor({ timeout: WAIT_MS });
    await page.fill('#token', token);
    await page.click('#token-form button[type=submit]');
    await page.locator('#sources[data-flow-count="3"]').waitFor({ timeout: WAIT_MS });
    expect(await attribute(page, '#sources', 'data-source-count')).toBe('3');
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).sessionStorage.getItem('tams-explorer-token'))).toBe(token);

    await page.fill('#filter-text', 'cy');
    await page.locator('#sources[data-flow-count="1"]').waitFor({ timeout: WAIT_MS });
    expect(await page.locator(`#sources button[data-flow-id="${data.flow}"]`).count()).toBe(1);
    await page.fill('#filter-text', '');
    await page.fill('#filter-label', 'COMMENT');
    await page.locator('#sources[data-flow-count="1"]').waitFor({ timeout: WAIT_MS });
    expect(await page.locator(`#sources button[data-flow-id="${audio.flow}"]`).count()).toBe(1);
    await page.fill('#filter-label', '');
    await page.selectOption('#filter-format', 'urn:x-nmos:format:multi');
    await page.locator('#sources[data-flow-count="1"]').waitFor({ timeout: WAIT_MS });
    expect(await page.locator(`#sources button[data-flow-id="${programme.flow}"]`).count()).toBe(1);
    await page.selectOption('#filter-format', '');
    await page.locator('#sources[data-flow-count="3"]').waitFor({ timeout: WAIT_MS });
  });

  it('draws the flow’s segments to scale with the gap, then a segment registered through REST without a reload', async () => {
    const { page } = browser;
    await page.click(`#sources button[data-flow-id="${programme.flow}"]`);
    await page.locator('#timeline[data-segment-count="4"][data-gap-count="1"]').waitFor({ timeout: WAIT_MS });
    const bars = await page.locator('#timeline rect.segment').evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('width'))));
    expect(bars).toHaveLength(4);
    // Equal durations, equal widths: drawn to scale (the gap is as wide as a segment).
    const gap = Number(await page.locator('#timeline rect.gap').getAttribute('width'));
    for (const width of [...bars, gap]) expect(Math.abs(width - bars[0]!)).toBeLessThan(1);
    await browser.screenshot('explorer-timeline-with-gap');

    // A reload would lose this mark.
    await page.evaluate(() => ((globalThis as unknown as BrowserGlobals).explorerMark = 1));
    // flowCreated, flowDeleted, and the flow's flowSegmentsAdded and flowSegmentsDeleted.
    await waitUntil('the page’s four subscriptions', async () => (await openSubscriptions()) >= 4);
    await upload(programme.flow, [3]);
    await page.locator('#timeline[data-segment-count="5"][data-gap-count="0"]').waitFor({ timeout: WAIT_MS });
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).explorerMark)).toBe(1);
    await browser.screenshot('explorer-timeline-live');
  });

  it('plays the selected window of the flow through hls.js until the video is playing', async () => {
    const { page } = browser;
    const playlists: { url: string; authorization: string | undefined }[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/hls/')) playlists.push({ url: request.url(), authorization: request.headers().authorization });
    });
    // A click on the second segment chooses its timerange as the window.
    const second = page.locator('#timeline rect.segment').nth(1);
    const box = (await second.boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.locator('#window', { hasText: range(1) }).waitFor({ timeout: WAIT_MS });
    await page.click('#play-window');
    await page.locator('#player[data-player-state="playing"], #player[data-player-state="error"]').waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#player-status').textContent()).toBe('playing');
    const player = page.locator('#player');
    await waitUntil('the video to play on', async () => (await player.evaluate((v) => (v as unknown as VideoElement).currentTime)) > 0.5);
    const video = await player.evaluate((element) => {
      const v = element as unknown as VideoElement;
      return { width: v.videoWidth, height: v.videoHeight, error: v.error?.code ?? null };
    });
    expect(video).toEqual({ width: 320, height: 180, error: null });
    const playlist = playlists.find((r) => r.url.includes('.m3u8'));
    expect(playlist && new URL(playlist.url).searchParams.get('timerange')).toBe(range(1));
    // hls.js sends the token as a header (xhrSetup), never in the URL.
    expect(playlists.every((r) => r.authorization === `Bearer ${token}` && !r.url.includes('access_token'))).toBe(true);
    await browser.screenshot('explorer-playing');
  });

  it('plays the flow live (the playlist without a timerange)', async () => {
    const { page } = browser;
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    await page.click('#stop');
    await page.locator('#player[data-player-state="idle"]').waitFor({ timeout: WAIT_MS });
    await page.click('#play-live');
    await page.locator('#player[data-player-state="playing"], #player[data-player-state="error"]').waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#player-status').textContent()).toBe('playing');
    const playlist = requested.find((url) => url.includes('.m3u8'));
    expect(playlist && new URL(playlist).pathname).toBe(`/hls/flows/${programme.flow}.m3u8`);
    expect(playlist && new URL(playlist).search).toBe('');
  });

  it('lists a flow created through REST while it is open', async () => {
    const { page } = browser;
    const late = randomUUID();
    const res = await h.request('PUT', `/flows/${late}`, { id: late, source_id: randomUUID(), format: 'urn:x-nmos:format:multi', container: 'video/mp2t', label: 'late arrival' }, auth());
    expect(res.status).toBe(201);
    await page.locator(`#sources button[data-flow-id="${late}"]`).waitFor({ timeout: WAIT_MS });
    expect(await attribute(page, '#sources', 'data-flow-count')).toBe('4');
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).explorerMark)).toBe(1);
  });

  it('reached no other origin and raised no errors', () => {
    expect(browser.foreignRequests).toEqual([]);
    // The refused listing before the token was typed is the one expected error (a 401 in the console).
    expect(browser.pageErrors.filter((e) => !/401/.test(e))).toEqual([]);
  });
});
