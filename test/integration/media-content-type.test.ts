/**
 * The gateway's own media URLs serve each object with the media type it was uploaded with:
 * the upload's `Content-Type`, else the type given at allocation (the put_url's
 * `content-type`, from the flow's container unless the request named one), else
 * application/octet-stream (objects uploaded before types were kept). A malformed type is
 * refused with 400. Types a browser would run as active content in the gateway's origin are
 * served as application/octet-stream with `Content-Disposition: attachment`. The type lives
 * beside the object on disk and survives a restart.
 *
 * Real media made by ffmpeg (test/fixtures/media/README.md): an H.264 MPEG-TS and a JPEG.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local-objects/local-object-store';
import { TamsError } from '../../src/domain/errors';
import { startHarness, type Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';
import { localBackend } from '../fixtures/local-backend';

const MEDIA = path.resolve(__dirname, '../fixtures/media');
const TS = fs.readFileSync(path.join(MEDIA, 'testsrc-64x64.mpegts'));
const JPEG = fs.readFileSync(path.join(MEDIA, 'testsrc-64x64.jpg'));
const TS_PACKET = 188;

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: Buffer;
}

/** node:http, so that a PUT without `headers['content-type']` really has none (fetch adds one for some bodies). */
function send(url: string, method: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const all = body === undefined ? headers : { 'content-length': String(body.length), ...headers };
    const req = http.request(url, { method, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Allocation {
  objectId: string;
  putUrl: string;
  allocatedType: string;
}

describe('media URLs answer the content type given at upload or allocation', () => {
  // A data directory of our own, so that a second gateway can start on it (a restart).
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-media-type-'));
  let h: Harness;
  let flowId: string;
  let segmentStart = 0;

  beforeAll(async () => {
    h = await startHarness({ TAMS_DATA_DIR: dataDir });
    const flow = videoFlow();
    flowId = flow.id as string;
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
  });

  afterAll(async () => {
    await h.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function allocate(contentType?: string): Promise<Allocation> {
    const res = await h.request('POST', `/flows/${flowId}/storage`, { limit: 1, ...(contentType === undefined ? {} : { content_type: contentType }) });
    expect(res.status).toBe(201);
    const mo = res.body.media_objects[0] as { object_id: string; put_url: { url: string; 'content-type': string } };
    return { objectId: mo.object_id, putUrl: mo.put_url.url, allocatedType: mo.put_url['content-type'] };
  }

  /** Registers the allocated object as a segment and returns the gateway's GET URL for it. */
  async function register(objectId: string): Promise<string> {
    const timerange = `[${segmentStart}:0_${segmentStart + 1}:0)`;
    segmentStart++;
    expect((await h.request('POST', `/flows/${flowId}/segments`, { object_id: objectId, timerange })).status).toBe(201);
    const segments = await h.request('GET', `/flows/${flowId}/segments?timerange=${encodeURIComponent(timerange)}`);
    const [segment] = segments.body as { object_id: string; get_urls: { url: string }[] }[];
    expect(segment?.object_id).toBe(objectId);
    const url = segment?.get_urls[0]?.url;
    if (url === undefined) throw new Error('no get_url');
    return url;
  }

  async function uploaded(bytes: Buffer, headers: Record<string, string>, allocationType?: string): Promise<string> {
    const a = await allocate(allocationType);
    const put = await send(a.putUrl, 'PUT', bytes, headers);
    expect(put.status).toBe(200);
    return register(a.objectId);
  }

  const urls: Record<string, string> = {};

  it('allocation names the flow container, or the requested type, as put_url content-type', async () => {
    expect((await allocate()).allocatedType).toBe('video/mp2t');
    expect((await allocate('image/jpeg')).allocatedType).toBe('image/jpeg');
  });

  it('serves an MPEG-TS uploaded as video/mp2t as video/mp2t on GET, HEAD and a Range GET', async () => {
    const url = await uploaded(TS, { 'content-type': 'video/mp2t' });
    urls.ts = url;
    const got = await send(url, 'GET');
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toBe('video/mp2t');
    expect(got.headers['x-content-type-options']).toBe('nosniff');
    expect(got.headers['content-disposition']).toBeUndefined();
    expect(got.bytes.equals(TS)).toBe(true);

    const head = await send(url, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('video/mp2t');
    expect(head.headers['content-length']).toBe(String(TS.length));

    const ranged = await send(url, 'GET', undefined, { range: `bytes=${TS_PACKET}-${2 * TS_PACKET - 1}` });
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-type']).toBe('video/mp2t');
    expect(ranged.headers['content-range']).toBe(`bytes ${TS_PACKET}-${2 * TS_PACKET - 1}/${TS.length}`);
    expect(ranged.bytes.equals(TS.subarray(TS_PACKET, 2 * TS_PACKET))).toBe(true);
    // A transport stream packet starts with the sync byte.
    expect(ranged.bytes[0]).toBe(0x47);
  });

  it('serves a JPEG uploaded as image/jpeg as image/jpeg', async () => {
    const url = await uploaded(JPEG, { 'content-type': 'image/jpeg' }, 'image/jpeg');
    urls.jpeg = url;
    const got = await send(url, 'GET');
    expect(got.headers['content-type']).toBe('image/jpeg');
    expect(got.bytes.equals(JPEG)).toBe(true);
    expect([got.bytes[0], got.bytes[1]]).toEqual([0xff, 0xd8]);
    expect((await send(url, 'HEAD')).headers['content-type']).toBe('image/jpeg');
    const tail = await send(url, 'GET', undefined, { range: 'bytes=-2' });
    expect(tail.status).toBe(206);
    expect(tail.headers['content-type']).toBe('image/jpeg');
    expect([...tail.bytes]).toEqual([0xff, 0xd9]);
  });

  it('an upload without Content-Type gets the type given at allocation (the flow container by default)', async () => {
    const jpeg = await uploaded(JPEG, {}, 'image/jpeg');
    urls.allocatedJpeg = jpeg;
    expect((await send(jpeg, 'GET')).headers['content-type']).toBe('image/jpeg');
    const ts = await uploaded(TS, {});
    urls.allocatedTs = ts;
    expect((await send(ts, 'HEAD')).headers['content-type']).toBe('video/mp2t');
  });

  it("the upload's Content-Type wins over the allocation's, parameters kept", async () => {
    const type = 'video/mp2t; codecs="avc1.64000a"';
    const url = await uploaded(TS, { 'content-type': type }, 'image/jpeg');
    urls.parameters = url;
    expect((await send(url, 'GET')).headers['content-type']).toBe(type);
  });

  it.each([
    'garbage',
    'video/',
    '/mp2t',
    'video/mp2t, text/html',
    'video/mp2t; codecs',
    'video/mp2t; codecs="unterminated',
    'vidéo/mp2t',
    `video/${'x'.repeat(300)}`,
  ])('refuses Content-Type %j with 400 and a TAMS error, storing nothing', async (type) => {
    const a = await allocate();
    const put = await send(a.putUrl, 'PUT', TS, { 'content-type': type });
    expect(put.status).toBe(400);
    expect(JSON.parse(put.bytes.toString('utf8'))).toEqual(expect.objectContaining({ type: expect.any(String), summary: expect.any(String), time: expect.any(String) }));
    // Nothing was stored: the same URL still takes the upload.
    expect((await send(a.putUrl, 'PUT', TS, { 'content-type': 'video/mp2t' })).status).toBe(200);
  });

  it('refuses a tampered or repeated ct= parameter with 400, but not before the signature', async () => {
    const a = await allocate();
    const url = new URL(a.putUrl);
    expect(url.searchParams.get('ct')).toBe('video/mp2t');
    url.searchParams.set('ct', 'not a type');
    expect((await send(url.toString(), 'PUT', TS)).status).toBe(400);
    url.searchParams.set('ct', 'video/mp2t');
    url.searchParams.append('ct', 'video/mp2t');
    expect((await send(url.toString(), 'PUT', TS)).status).toBe(400);
    url.searchParams.set('sig', 'AAAAAAAAAAAAAAAAAAAAAA');
    expect((await send(url.toString(), 'PUT', TS, { 'content-type': 'garbage' })).status).toBe(403);
    expect((await send(a.putUrl, 'PUT', TS)).status).toBe(200);
  });

  // Decision (src/http/media-routes.ts servedType): active content is served as
  // application/octet-stream with Content-Disposition: attachment, never inline as its type.
  it.each([
    'text/html',
    'text/html; charset=utf-8',
    'TEXT/HTML',
    'application/xhtml+xml',
    'image/svg+xml',
    'text/xml',
    'application/xml',
    'text/javascript',
    'application/javascript',
    'application/x-ecmascript',
    'multipart/x-mixed-replace; boundary=x',
  ])('serves an object uploaded as %s as an application/octet-stream attachment, with nosniff', async (type) => {
    const url = await uploaded(Buffer.from('<html><script>alert(document.domain)</script></html>'), { 'content-type': type });
    for (const method of ['GET', 'HEAD']) {
      const res = await send(url, method);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['content-disposition']).toBe('attachment');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('neutralises active content given at allocation too', async () => {
    const url = await uploaded(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), {}, 'image/svg+xml');
    const res = await send(url, 'GET');
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toBe('attachment');
  });

  it('keeps every type across a restart, and serves objects stored without one as application/octet-stream', async () => {
    const before: Record<string, string | undefined> = {};
    for (const [name, url] of Object.entries(urls)) before[name] = (await send(url, 'HEAD')).headers['content-type'];
    expect(before).toEqual({
      ts: 'video/mp2t',
      jpeg: 'image/jpeg',
      allocatedJpeg: 'image/jpeg',
      allocatedTs: 'video/mp2t',
      parameters: 'video/mp2t; codecs="avc1.64000a"',
    });
    await h.close();
    h = await startHarness({ TAMS_DATA_DIR: dataDir });

    for (const [name, url] of Object.entries(urls)) {
      // The URLs outlive the gateway (the signing secret is in the data directory): only the port changed.
      const fresh = url.replace(/^http:\/\/127\.0\.0\.1:\d+/, h.base);
      const got = await send(fresh, 'GET');
      expect({ name, status: got.status, type: got.headers['content-type'] }).toEqual({ name, status: 200, type: before[name] });
      const ranged = await send(fresh, 'GET', undefined, { range: 'bytes=0-0' });
      expect({ name, status: ranged.status, type: ranged.headers['content-type'] }).toEqual({ name, status: 206, type: before[name] });
    }
    expect((await send(urls.ts!.replace(/^http:\/\/127\.0\.0\.1:\d+/, h.base), 'GET')).bytes.equals(TS)).toBe(true);

    // An object from before types were kept has no file beside it.
    const typeFiles = (fs.readdirSync(dataDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.content-type'));
    expect(typeFiles.length).toBeGreaterThanOrEqual(Object.keys(urls).length);
    for (const f of typeFiles) fs.unlinkSync(path.join(dataDir, f));
    const old = await send(urls.jpeg!.replace(/^http:\/\/127\.0\.0\.1:\d+/, h.base), 'GET');
    expect(old.status).toBe(200);
    expect(old.headers['content-type']).toBe('application/octet-stream');
    expect(old.headers['content-disposition']).toBeUndefined();
    expect(old.bytes.equals(JPEG)).toBe(true);
  });
});

describe('the local object store keeps the type beside the object', () => {
  const backend = localBackend();
  let rootDir: string;
  let store: LocalObjectStore;

  beforeEach(() => {
    rootDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tams-media-type-store-')), 'media');
    store = new LocalObjectStore({ rootDir, secret: Buffer.alloc(32, 3), backend, maxObjectBytes: 64 * 1024 });
  });

  afterEach(() => {
    fs.rmSync(path.dirname(rootDir), { recursive: true, force: true });
  });

  const files = (): string[] => (fs.readdirSync(rootDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(rootDir, path.join(e.parentPath, e.name))).sort());

  /** Yields `bytes` in two pieces with a pause between, so that uploads overlap. */
  async function* slowly(bytes: Buffer): AsyncGenerator<Buffer> {
    yield bytes.subarray(0, 100);
    await new Promise((resolve) => setTimeout(resolve, 30));
    yield bytes.subarray(100);
  }

  it('stores the type in <key>.content-type, nothing else left behind', async () => {
    const key = store.keyFor('x');
    await store.writeStream(key, slowly(TS), undefined, 'video/mp2t');
    await expect(store.contentType(key)).resolves.toBe('video/mp2t');
    const file = path.join(...key.split('/'));
    expect(files()).toEqual([file, `${file}.content-type`]);
    expect(fs.readFileSync(path.join(rootDir, `${file}.content-type`), 'utf8')).toBe('video/mp2t');
  });

  it('an object without a type has none, and neither has a key without an object', async () => {
    const key = store.keyFor('x');
    await expect(store.contentType(key)).resolves.toBeUndefined();
    await store.writeStream(key, slowly(JPEG));
    await expect(store.contentType(key)).resolves.toBeUndefined();
    expect(files()).toEqual([path.join(...key.split('/'))]);
  });

  it('of two racing uploads, the type of the one that lands is kept', async () => {
    const key = store.keyFor('x');
    const outcomes = await Promise.allSettled([store.writeStream(key, slowly(TS), undefined, 'video/mp2t'), store.writeStream(key, slowly(JPEG), undefined, 'image/jpeg')]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const landed = fs.readFileSync(path.join(rootDir, ...key.split('/'))).equals(TS) ? 'video/mp2t' : 'image/jpeg';
    await expect(store.contentType(key)).resolves.toBe(landed);
    expect(files()).toHaveLength(2);
  });

  it('refuses a malformed type before reading the body; an upload over the limit leaves no type behind', async () => {
    const key = store.keyFor('x');
    let pulled = false;
    async function* body(): AsyncGenerator<Buffer> {
      pulled = true;
      yield TS;
    }
    await expect(store.writeStream(key, body(), undefined, 'text/html\r\nX: y')).rejects.toMatchObject({ code: 'bad_request' });
    expect(pulled).toBe(false);
    await expect(store.writeStream(key, slowly(TS), 1000, 'video/mp2t')).rejects.toBeInstanceOf(TamsError);
    expect(files()).toEqual([]);
  });

  it('delete removes the type with the object; a later untyped upload to the key is not labelled by a stale type', async () => {
    const key = store.keyFor('x');
    await store.writeStream(key, slowly(TS), undefined, 'video/mp2t');
    await store.delete(key);
    expect(files()).toEqual([]);
    await store.delete(key);

    // As after a crash between removing the bytes and the type.
    await store.writeStream(key, slowly(TS), undefined, 'video/mp2t');
    fs.unlinkSync(path.join(rootDir, ...key.split('/')));
    await store.writeStream(key, slowly(JPEG));
    await expect(store.contentType(key)).resolves.toBeUndefined();
    expect(files()).toEqual([path.join(...key.split('/'))]);
  });

  it('ignores a type file holding anything but a media type', async () => {
    const key = store.keyFor('x');
    await store.writeStream(key, slowly(TS), undefined, 'video/mp2t');
    fs.writeFileSync(path.join(rootDir, `${path.join(...key.split('/'))}.content-type`), 'text/html\r\nSet-Cookie: a=b');
    await expect(store.contentType(key)).resolves.toBeUndefined();
  });
});
