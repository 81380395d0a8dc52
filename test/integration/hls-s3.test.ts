/**
 * HLS playback from an S3 storage backend (the S3-protocol test server), with the bucket CORS
 * rules docs/hls.md gives, read from that page: ffprobe follows the segment URIs' redirects to
 * presigned S3 URLs and decodes every frame, and the bucket answers a browser player's requests
 * (its own origin, and the `Origin: null` a cross-origin redirect leaves) as the page says.
 */
import { rmSync } from 'node:fs';
import { startHarness, type Harness } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';
import { videoFlow } from '../fixtures/flows';
import { applyDocumentedCors, entryFor, startS3Server, writeBackendsFile, type S3BackendUnderTest, type S3TestServer } from '../support/s3-server';
import { FFMPEG, FPS, SECOND, type MediaSegments, makeSegments, probe, registerSegments, uploadObjects } from '../support/hls-media';
import { describeNeeding } from '../support/service-lanes';

describeNeeding(FFMPEG, 'HLS from an S3 storage backend with the documented bucket CORS rules', () => {
  let s3: S3TestServer;
  let h: Harness;
  let media: MediaSegments;
  let removeFile: () => Promise<void>;
  let flowId: string;
  const backend: S3BackendUnderTest = { id: '7c0e1f2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b', label: 's3-hls', bucket: 'hls-media', region: 'eu-west-1', secret: 'hls-secret', conditional: false, endpoint: '' };
  const T0 = 1_700_000_037n * SECOND;

  beforeAll(async () => {
    media = await makeSegments(4, 'fmp4');
    s3 = await startS3Server(backend.bucket);
    backend.endpoint = s3.endpoint;
    await applyDocumentedCors(s3, backend.bucket);
    const file = await writeBackendsFile([entryFor(backend, { default_storage: true })]);
    removeFile = file.remove;
    h = await startHarness({ TAMS_STORAGE_BACKENDS_FILE: file.file });
    const send = (method: string, url: string, body?: unknown) => h.request(method, url, body);
    const flow = videoFlow({ container: 'video/mp4', essence_parameters: { frame_rate: { numerator: FPS }, frame_width: 320, frame_height: 240, init_segments: true } });
    flowId = flow.id as string;
    expect((await send('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    const [initId] = await uploadObjects(send, flowId, [media.init as Buffer], 'video/mp4');
    await registerSegments(send, flowId, await uploadObjects(send, flowId, media.segments), T0, () => ({ init_object_id: initId }));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await s3?.stop();
    await removeFile?.();
    if (media !== undefined) rmSync(media.dir, { recursive: true, force: true });
  });

  it('redirects segment and init URIs to presigned S3 URLs, and ffprobe decodes every frame through them', async () => {
    const url = `${h.base}/hls/flows/${flowId}.m3u8?timerange=_`;
    const hop = await checkedFetch(`${h.base}/hls/flows/${flowId}/segments/${T0}/init.mp4`, { redirect: 'manual' });
    expect(hop.status).toBe(302);
    const location = new URL(hop.headers.get('location')!);
    expect(location.origin).toBe(s3.endpoint);
    expect(location.searchParams.get('X-Amz-Signature')).not.toBeNull();
    expect((await probe(url)).frames).toBe(4 * FPS);
  }, 120_000);

  it('lets a browser player on any origin read the objects, redirected or not', async () => {
    const hop = await checkedFetch(`${h.base}/hls/flows/${flowId}/segments/${T0 + SECOND}.m4s`, { redirect: 'manual' });
    const presigned = hop.headers.get('location')!;
    for (const origin of ['https://player.example', 'null']) {
      const preflight = await checkedFetch(presigned, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' } });
      expect(preflight.status).toBe(200);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      expect(preflight.headers.get('access-control-allow-headers')).toBe('range');
      const ranged = await checkedFetch(presigned, { headers: { origin, range: 'bytes=0-99' } });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('access-control-allow-origin')).toBe('*');
      expect(ranged.headers.get('access-control-expose-headers')).toContain('Content-Range');
      expect((await ranged.arrayBuffer()).byteLength).toBe(100);
    }
  });
});
