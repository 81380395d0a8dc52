/**
 * The explorer (/explorer/) playing a flow whose media is in an S3 storage backend (the
 * S3-protocol test server, with the bucket CORS rules docs/hls.md gives): the gateway names the
 * bucket's origin in the explorer's CSP (connect-src, media-src) and nowhere else, and headless
 * Chromium plays the flow through hls.js, whose segment requests the gateway redirects to
 * presigned URLs of the bucket. The browser may reach the gateway and the S3 server only, and
 * refuses the rest in its network stack rather than through Playwright's request interception
 * (which would answer CORS preflights itself): so the bucket's CORS rules, and the browser
 * dropping the page's `Authorization` header at the cross-origin redirect, are what is tested.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Request } from 'playwright-core';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';
import { checkedFetch } from '../support/checked-fetch';
import { startHarness, type Harness } from '../support/gateway-harness';
import { FFMPEG, SECOND, type MediaSegments, makeSegments, registerSegments, uploadObjects } from '../support/hls-media';
import { chromiumRequirement, openOfflinePage, type OfflinePage } from '../support/offline-browser';
import { applyDocumentedCors, bucketObjects, entryFor, startS3Server, writeBackendsFile, type S3BackendUnderTest, type S3TestServer } from '../support/s3-server';
import { allOf, describeNeeding } from '../support/service-lanes';

/** Generous: a shared 2-core machine, a browser, a gateway, an S3 server and ffmpeg at once. */
const WAIT_MS = 30_000;
const SEGMENTS = 4;

/** The directives of a Content-Security-Policy header, by name. */
function directives(csp: string | null): Map<string, string[]> {
  return new Map(
    (csp ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0] !== '')
      .map(([name, ...values]) => [name as string, values]),
  );
}

/** What the tests read of the video (this project's tsconfig has no DOM types). */
interface VideoElement {
  currentTime: number;
  videoWidth: number;
  videoHeight: number;
  error: { code: number } | null;
}

interface BucketRequest {
  url: string;
  headers: Record<string, string>;
  status: number | string;
  allowOrigin: string | undefined;
  /** The gateway URI's path and Authorization header, when the request followed a redirect. */
  from: { path: string; authorization: string | undefined } | undefined;
}

async function bucketRequest(request: Request): Promise<BucketRequest> {
  const response = await request.response();
  const redirectedFrom = request.redirectedFrom();
  return {
    url: request.url(),
    headers: await request.allHeaders(),
    status: response?.status() ?? `failed: ${request.failure()?.errorText}`,
    allowOrigin: (await response?.allHeaders())?.['access-control-allow-origin'],
    from: redirectedFrom === null ? undefined : { path: new URL(redirectedFrom.url()).pathname, authorization: (await redirectedFrom.allHeaders()).authorization },
  };
}

/** An S3 server with the documented CORS rules and a gateway (auth on) whose default backend is its bucket. */
async function startGatewayOnS3(extraEnv: Record<string, string> = {}): Promise<{ s3: S3TestServer; h: Harness; close(): Promise<void> }> {
  const backend: S3BackendUnderTest = { id: randomUUID(), label: 's3-explorer', bucket: 'explorer-media', region: 'eu-west-1', secret: 'explorer-secret', conditional: false, endpoint: '' };
  const s3 = await startS3Server(backend.bucket);
  try {
    backend.endpoint = s3.endpoint;
    await applyDocumentedCors(s3, backend.bucket);
    const file = await writeBackendsFile([entryFor(backend, { default_storage: true })]);
    try {
      const h = await startHarness({ TAMS_AUTH: 'on', TAMS_STORAGE_BACKENDS_FILE: file.file, ...extraEnv });
      return {
        s3,
        h,
        async close() {
          await h.close();
          await file.remove();
          await s3.stop();
        },
      };
    } catch (err) {
      await file.remove();
      throw err;
    }
  } catch (err) {
    await s3.stop();
    throw err;
  }
}

describe('the explorer’s CSP names the S3 backend’s origin, the IDE’s does not (no browser needed)', () => {
  let gateway: Awaited<ReturnType<typeof startGatewayOnS3>>;
  beforeAll(async () => {
    gateway = await startGatewayOnS3({ GRAPHQL_LANDING_PAGE: 'true' });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('lets the explorer fetch and play media from the bucket’s origin, on every answer of the page', async () => {
    const { h, s3 } = gateway;
    const page = await checkedFetch(`${h.base}/explorer/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const csp = directives(page.headers.get('content-security-policy'));
    expect(csp.get('connect-src')).toEqual(["'self'", s3.endpoint]);
    expect(csp.get('media-src')).toEqual(["'self'", 'blob:', s3.endpoint]);
    // Scripts, styles, workers and the rest stay the gateway's own.
    expect(csp.get('script-src')).toEqual(["'self'"]);
    expect(csp.get('worker-src')).toEqual(["'self'", 'blob:']);
    const revalidated = await checkedFetch(`${h.base}/explorer/`, { headers: { accept: 'text/html', 'if-none-match': page.headers.get('etag')! } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.get('content-security-policy')).toBe(page.headers.get('content-security-policy'));
  });

  it('keeps the GraphQL IDE to the gateway’s own origin', async () => {
    const { h, s3 } = gateway;
    const ide = await checkedFetch(`${h.base}/graphql`, { headers: { accept: 'text/html' } });
    expect(ide.status).toBe(200);
    expect(directives(ide.headers.get('content-security-policy')).get('connect-src')).toEqual(["'self'"]);
    expect(ide.headers.get('content-security-policy')).not.toContain(s3.endpoint);
  });
});

describeNeeding(allOf(chromiumRequirement, FFMPEG), 'the explorer plays a flow stored in an S3 backend, in headless Chromium', () => {
  let gateway: Awaited<ReturnType<typeof startGatewayOnS3>>;
  let browser: OfflinePage;
  let media: MediaSegments;
  let token: string;
  const flowId = randomUUID();
  const T0 = 1_700_000_100n * SECOND;

  beforeAll(async () => {
    media = await makeSegments(SEGMENTS, 'ts');
    gateway = await startGatewayOnS3();
    const { h, s3 } = gateway;
    token = await issueToken(tokenSigner(h.gateway.config), { subject: 'explorer-s3-test', scopes: ['read', 'write'], authClasses: [], ttlSec: 3600 }, h.gateway.config);
    const send = (method: string, url: string, body?: unknown) => h.request(method, url, body, { authorization: `Bearer ${token}` });
    const flow = { id: flowId, source_id: randomUUID(), format: 'urn:x-nmos:format:multi', container: 'video/mp2t', label: 'programme in S3', description: 'H.264 and AAC in MPEG-TS' };
    expect((await send('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    // The TAMS workflow: storage allocated in the default backend, bytes PUT to each presigned put_url.
    await registerSegments(send, flowId, await uploadObjects(send, flowId, media.segments, 'video/mp2t'), T0);
    expect(bucketObjects(s3, s3.bucket).size).toBe(SEGMENTS);
    browser = await openOfflinePage(h.base, { alsoAllowed: [s3.endpoint], withoutInterception: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    if (media !== undefined) rmSync(media.dir, { recursive: true, force: true });
  });

  it('plays the flow through hls.js, its segments redirected to presigned URLs of the bucket', async () => {
    const { h, s3 } = gateway;
    const { page } = browser;
    /** Each request to the bucket, with the gateway request it was redirected from. */
    const toBucket: Promise<BucketRequest>[] = [];
    page.on('requestfinished', (request) => {
      if (new URL(request.url()).origin === s3.endpoint) toBucket.push(bucketRequest(request));
    });
    page.on('requestfailed', (request) => {
      if (new URL(request.url()).origin === s3.endpoint) toBucket.push(bucketRequest(request));
    });

    await page.goto(`${h.base}/explorer/`);
    await page.fill('#token', token);
    await page.click('#token-form button[type=submit]');
    await page.locator('#sources[data-flow-count="1"]').waitFor({ timeout: WAIT_MS });
    await page.click(`#sources button[data-flow-id="${flowId}"]`);
    await page.locator(`#timeline[data-segment-count="${SEGMENTS}"][data-gap-count="0"]`).waitFor({ timeout: WAIT_MS });
    await page.click('#play-window');
    await page.locator('#player[data-player-state="playing"], #player[data-player-state="error"]').waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#player-status').textContent()).toBe('playing');
    const player = page.locator('#player');
    const deadline = Date.now() + WAIT_MS;
    while ((await player.evaluate((v) => (v as unknown as VideoElement).currentTime)) <= 1.5) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the video to play on');
      await new Promise((r) => setTimeout(r, 100));
    }
    const video = await player.evaluate((element) => {
      const v = element as unknown as VideoElement;
      return { width: v.videoWidth, height: v.videoHeight, error: v.error?.code ?? null };
    });
    expect(video).toEqual({ width: 320, height: 240, error: null });
    await browser.screenshot('explorer-s3-playing');

    // The segments came from the bucket: presigned GETs the gateway redirected the player's
    // requests to, answered under the bucket's CORS rules. The player sent the token to the
    // gateway; the browser dropped it at the cross-origin redirect (S3 refuses a presigned URL
    // that also carries an Authorization header).
    const requests = await Promise.all(toBucket);
    expect(requests.length).toBeGreaterThanOrEqual(SEGMENTS);
    for (const request of requests) {
      expect(new URL(request.url).searchParams.get('X-Amz-Signature')).not.toBeNull();
      expect(request.from).toEqual({ path: expect.stringMatching(`^/hls/flows/${flowId}/segments/\\d+\\.ts$`), authorization: `Bearer ${token}` });
      expect({ status: request.status, allowOrigin: request.allowOrigin, authorization: request.headers.authorization }).toEqual({ status: 200, allowOrigin: '*', authorization: undefined });
      // The explorer is on the gateway's origin: the redirect leaves its Origin untainted.
      expect(request.headers.origin).toBe(h.base);
    }
  });

  it('reached no other origin and raised no errors (no CSP refusal)', () => {
    expect(browser.foreignRequests).toEqual([]);
    // The refused listing before the token was typed is the one expected error (a 401 in the console).
    expect(browser.pageErrors.filter((e) => !/401/.test(e))).toEqual([]);
    expect(browser.pageErrors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
  });
});
