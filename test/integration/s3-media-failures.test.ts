/**
 * S3 backends failing under a running gateway, over real HTTP: each failure is injected for
 * real on 127.0.0.1 and answered with a clear TAMS error (the status src/adapters/s3/s3-errors.ts
 * maps it to, the summary naming the backend) within the backend's configured timeout, leaving
 * the store as it was (objects, their instances and segment listings compared before and
 * after, and the buckets' contents), while the healthy backend keeps serving:
 *
 * - endpoint down (an s3rver stopped): copies to and from it, TAMS_VERIFY_UPLOADS checks -> 503;
 * - a configured bucket that does not exist (on the healthy s3rver) -> 503 naming the bucket;
 * - a stalled endpoint (accepts, never answers), request_timeout_ms 300 -> 503 within the bound;
 * - a server answering 403 AccessDenied -> 403; one answering 503 SlowDown -> 503 after
 *   max_attempts requests.
 *
 * And the start refuses (createGateway rejects with a ConfigError naming the backend) when the
 * backends file drops a backend that stored objects still use. What s3rver cannot check is
 * listed in s3-media-workflow.test.ts.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { createGateway } from '../../src/main';
import { checkedFetch } from '../support/checked-fetch';
import { startHarness, type Harness, type TamsResponse } from '../support/gateway-harness';
import {
  bucketObjects,
  createBucket,
  entryFor,
  expectStatus,
  getBytes,
  mediaClient,
  presignedUrlChecker,
  second,
  startRecordingProxy,
  startS3Server,
  uploaded,
  writeBackendsFile,
  type ListedGetUrl,
  type MediaClient,
  type ProxyCut,
  type RecordingProxy,
  type S3BackendUnderTest,
  type S3TestServer,
} from '../support/s3-server';

const SECRET = 'failures-secret-4b8e0a2c6d1f3957';
const TIMEOUT_MS = 300;
const ATTEMPTS = 2;
/** Every failing request is answered within this (the timeout per attempt, the SDK's backoff between them, slack). */
const ANSWER_BOUND_MS = TIMEOUT_MS * ATTEMPTS + 2500;

function backend(n: number, label: string, bucket: string, conditional = false): S3BackendUnderTest {
  return { id: `8d4a3f6b-0e5c-4b1d-9f94-3a6c8b0d2e0${n}`, label, bucket, region: 'us-east-1', secret: SECRET, conditional, endpoint: '' };
}

const OK = backend(1, 'healthy', 'healthy-media', true);
const DOWN = backend(2, 'down', 'down-media');
const NO_BUCKET = backend(3, 'no-bucket', 'no-such-bucket');
const STALLED = backend(4, 'stalled', 'stalled-media');
const DENIED = backend(5, 'denied', 'denied-media');
const SLOW = backend(6, 'slow-down', 'slow-media');
/** A bucket on the healthy s3rver reached through a proxy that can drop connections part-way through a body. */
const DYING = backend(8, 'dying', 'dying-media');
const MiB = 1024 ** 2;

let s3ok: S3TestServer;
let s3down: S3TestServer;
let stalled: { endpoint: string; close: () => Promise<void> };
let denied: ScriptedS3;
let slow: ScriptedS3;
let dyingProxy: RecordingProxy;
/** Which body the proxy in front of DYING breaks off after 1 MiB (GETs' answers or PUTs' requests), if any. */
let dying: ProxyCut['side'] | undefined;
let h: Harness;
let media: MediaClient;
let removeFile: () => Promise<void>;

/** A server answering every request with one S3 error, counting the requests. */
interface ScriptedS3 {
  endpoint: string;
  requests: string[];
  close: () => Promise<void>;
}

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function scriptedS3(status: number, code: string, message: string): Promise<ScriptedS3> {
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    req.resume();
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>0</RequestId></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': '0' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const endpoint = await listen(server);
  return {
    endpoint,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Accepts connections and never answers. */
async function stalledServer(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  const endpoint = await listen(server);
  return {
    endpoint,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Run on every put_url and listed presigned get_url (the default lifetime, 3600 s). */
const checkUrl = presignedUrlChecker([OK, DOWN, NO_BUCKET, STALLED, DENIED, SLOW, DYING], { min: 3599, max: 3600 });
const GATEWAY_ENV = { TAMS_VERIFY_UPLOADS: 'true', TAMS_GC_INTERVAL_MS: '86400000' };
const FAILING_ENTRY = { store_product: 'ceph', request_timeout_ms: TIMEOUT_MS, max_attempts: ATTEMPTS };

beforeAll(async () => {
  [s3ok, s3down, stalled, denied, slow] = await Promise.all([
    startS3Server(OK.bucket),
    startS3Server(DOWN.bucket),
    stalledServer(),
    scriptedS3(403, 'AccessDenied', 'Access Denied'),
    scriptedS3(503, 'SlowDown', 'Please reduce your request rate.'),
  ]);
  await createBucket(s3ok, DYING.bucket);
  dyingProxy = await startRecordingProxy(s3ok.endpoint, (r) => {
    const cuts = (dying === 'response' && r.method === 'GET') || (dying === 'request' && r.method === 'PUT');
    return cuts && dying !== undefined ? { side: dying, afterBytes: MiB } : undefined;
  });
  DYING.endpoint = dyingProxy.endpoint;
  OK.endpoint = s3ok.endpoint;
  DOWN.endpoint = s3down.endpoint;
  NO_BUCKET.endpoint = s3ok.endpoint;
  STALLED.endpoint = stalled.endpoint;
  DENIED.endpoint = denied.endpoint;
  SLOW.endpoint = slow.endpoint;
  const file = await writeBackendsFile([
    entryFor(OK, { store_product: 's3', default_storage: true }),
    ...[DOWN, NO_BUCKET, STALLED, DENIED, SLOW, DYING].map((b) => entryFor(b, FAILING_ENTRY)),
  ]);
  removeFile = file.remove;
  h = await startHarness({ ...GATEWAY_ENV, TAMS_STORAGE_BACKENDS_FILE: file.file });
  media = mediaClient((method, p, body) => h.request(method, p, body), checkUrl);
});

afterAll(async () => {
  await h?.close();
  await dyingProxy?.close();
  await Promise.all([s3ok?.stop(), s3down?.stop(), stalled?.close(), denied?.close(), slow?.close()]);
  await removeFile?.();
});

const enc = encodeURIComponent;

/** A request's answer and how long it took. */
async function timed(run: () => Promise<TamsResponse>): Promise<{ res: TamsResponse; ms: number }> {
  const started = Date.now();
  const res = await run();
  return { res, ms: Date.now() - started };
}

/** Expects a TAMS error of `status`/`type` whose summary names `mentions`, answered within the bound. */
function expectFailure(outcome: { res: TamsResponse; ms: number }, status: number, type: string, ...mentions: string[]): void {
  const { res, ms } = outcome;
  expect({ status: res.status, type: res.body?.type }).toEqual({ status, type });
  for (const m of mentions) expect(res.body.summary).toContain(m);
  expect(ms).toBeLessThan(ANSWER_BOUND_MS);
}

/** A URL without its signature (X-Amz-Date moves with the clock). */
const unsigned = (url: string): string => url.split('?')[0]!;

/**
 * What the store holds for these objects and flows: each object (verbose get_urls, unsigned),
 * each flow's segments, and every healthy bucket's keys.
 */
interface Snapshot {
  objects: unknown[];
  segments: unknown[];
  /** Keys by bucket. */
  buckets: Record<string, string[]>;
}

async function snapshot(objectIds: readonly string[], flowIds: readonly string[]): Promise<Snapshot> {
  const strip = (urls: ListedGetUrl[]): unknown[] => urls.map((u) => ({ ...u, url: unsigned(u.url) }));
  const objects = [];
  for (const id of objectIds) {
    const res = await h.request('GET', `/objects/${enc(id)}?verbose_storage=true`);
    objects.push({ id, status: res.status, body: res.status === 200 ? { ...res.body, get_urls: strip(res.body.get_urls as ListedGetUrl[]) } : res.body?.type });
  }
  const segments = [];
  for (const flowId of flowIds) {
    segments.push((await media.segments(flowId, '?verbose_storage=true')).map((s) => ({ ...s, get_urls: strip(s.get_urls as ListedGetUrl[]) })));
  }
  const buckets: Record<string, string[]> = Object.fromEntries(
    [
      [OK.bucket, s3ok],
      [DOWN.bucket, s3down],
      [NO_BUCKET.bucket, s3ok],
      [DYING.bucket, s3ok],
    ].map(([bucket, server]) => [bucket, [...bucketObjects(server as S3TestServer, bucket as string).keys()].sort()]),
  );
  return { objects, segments, buckets };
}

describe('S3 failures under a running gateway', () => {
  /** Registered before any failure is injected: one object on the healthy backend, one on the one going down. */
  let healthy: { flowId: string; objectId: string; bytes: Buffer };
  let onDown: { flowId: string; objectId: string };

  beforeAll(async () => {
    const a = await media.flowWith(OK.id, 1, 8000);
    const [objectId, bytes] = [...a.bytes][0]!;
    healthy = { flowId: a.flowId, objectId, bytes };
    const b = await media.flowWith(DOWN.id, 1, 8000);
    onDown = { flowId: b.flowId, objectId: [...b.bytes.keys()][0]! };
    await s3down.close();
  });

  async function stillServing(): Promise<void> {
    const res = await h.request('GET', `/objects/${enc(healthy.objectId)}`);
    expectStatus(res, 200);
    const url = (res.body.get_urls as ListedGetUrl[]).find((u) => u.label === OK.label)!.url;
    await checkUrl(url, 'GET');
    expect((await getBytes(url)).bytes.equals(healthy.bytes)).toBe(true);
    const fresh = await media.flowWith(OK.id, 1, 1000);
    expect((await media.segments(fresh.flowId)).length).toBe(1);
  }

  it('endpoint down: a copy to it and a copy from it answer 503 naming it, quickly; nothing changes; the healthy backend keeps serving', async () => {
    const objects = [healthy.objectId, onDown.objectId];
    const flows = [healthy.flowId, onDown.flowId];
    const before = await snapshot(objects, flows);
    expectFailure(await timed(() => h.request('POST', `/objects/${enc(healthy.objectId)}/instances`, { storage_id: DOWN.id })), 503, 'ServiceUnavailable', `'${DOWN.label}'`);
    expectFailure(await timed(() => h.request('POST', `/objects/${enc(onDown.objectId)}/instances`, { storage_id: OK.id })), 503, 'ServiceUnavailable', `'${DOWN.label}'`);
    expect(await snapshot(objects, flows)).toEqual(before);
    // Its URLs are still handed out (signing needs no connection).
    const listed = await h.request('GET', `/objects/${enc(onDown.objectId)}`);
    expect((listed.body.get_urls as ListedGetUrl[]).map((u) => u.label)).toEqual([DOWN.label]);
    await stillServing();
  });

  it('an endpoint dropping the connection part-way through a copy, as target or as source: 503 naming it, no instance recorded', async () => {
    const big = await media.flowWith(OK.id, 1, 3 * MiB);
    const [bigId, bigBytes] = [...big.bytes][0]!;
    const fromDying = await media.flowWith(DYING.id, 1, 3 * MiB);
    const [dyingId] = [...fromDying.bytes.keys()];
    const objects = [bigId, dyingId!];
    const flows = [big.flowId, fromDying.flowId];
    const before = await snapshot(objects, flows);
    try {
      dying = 'request';
      expectFailure(await timed(() => h.request('POST', `/objects/${enc(bigId)}/instances`, { storage_id: DYING.id })), 503, 'ServiceUnavailable', `'${DYING.label}'`);
      expect(dyingProxy.seen.filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([200, 0]);
      dying = 'response';
      expectFailure(await timed(() => h.request('POST', `/objects/${enc(dyingId!)}/instances`, { storage_id: OK.id })), 503, 'ServiceUnavailable', `'${DYING.label}'`);
    } finally {
      dying = undefined;
    }
    // s3rver limit: it keeps what it received of an interrupted PUT as an object (S3 stores
    // nothing from a request whose body ended short). Those leftovers are short and unlisted;
    // the store itself is as it was.
    const after = await snapshot(objects, flows);
    expect({ ...after, buckets: undefined }).toEqual({ ...before, buckets: undefined });
    for (const [bucket, keys] of Object.entries(after.buckets)) {
      const leftovers = keys.filter((k) => !before.buckets[bucket]!.includes(k));
      for (const key of leftovers) expect(bucketObjects(s3ok, bucket).get(key)!.length).toBeLessThan(3 * MiB);
    }
    // Whole again, the same copy works.
    expectStatus(await h.request('POST', `/objects/${enc(bigId)}/instances`, { storage_id: DYING.id }), 201);
    const url = ((await h.request('GET', `/objects/${enc(bigId)}?accept_storage_ids=${DYING.id}`)).body.get_urls as ListedGetUrl[])[0]!.url;
    await checkUrl(url, 'GET');
    expect((await getBytes(url)).bytes.equals(bigBytes)).toBe(true);
  });

  it('endpoint down during TAMS_VERIFY_UPLOADS: the registration answers 503 and stores nothing, alone or in an array', async () => {
    const flowId = await media.putFlow();
    const [onOk] = await media.allocate(flowId, { limit: 1 });
    const [unreachable] = await media.allocate(flowId, { storage_id: DOWN.id, limit: 1 });
    await uploaded(onOk!.put_url, randomBytes(100));
    const before = await snapshot([], [flowId]);
    expectFailure(await timed(() => h.request('POST', `/flows/${flowId}/segments`, { object_id: unreachable!.object_id, timerange: second(0) })), 503, 'ServiceUnavailable', `'${DOWN.label}'`);
    const batch = [
      { object_id: onOk!.object_id, timerange: second(0) },
      { object_id: unreachable!.object_id, timerange: second(1) },
    ];
    expectFailure(await timed(() => h.request('POST', `/flows/${flowId}/segments`, batch)), 503, 'ServiceUnavailable', `'${DOWN.label}'`);
    expect(await snapshot([], [flowId])).toEqual(before);
    await media.register(flowId, batch[0]);
    await stillServing();
  });

  it('a configured bucket that does not exist: a copy to it and an upload check on it answer 503 naming the bucket', async () => {
    const before = await snapshot([healthy.objectId], [healthy.flowId]);
    expectFailure(await timed(() => h.request('POST', `/objects/${enc(healthy.objectId)}/instances`, { storage_id: NO_BUCKET.id })), 503, 'ServiceUnavailable', `'${NO_BUCKET.label}'`, NO_BUCKET.bucket);
    const flowId = await media.putFlow();
    const [nowhere] = await media.allocate(flowId, { storage_id: NO_BUCKET.id, limit: 1 });
    expectFailure(await timed(() => h.request('POST', `/flows/${flowId}/segments`, { object_id: nowhere!.object_id, timerange: second(0) })), 503, 'ServiceUnavailable', NO_BUCKET.bucket);
    expect(await snapshot([healthy.objectId], [healthy.flowId])).toEqual(before);
    expect(await media.segments(flowId)).toEqual([]);
    await stillServing();
  });

  it('a stalled endpoint: a copy and an upload check answer 503 once the timeout has run out, not later', async () => {
    const before = await snapshot([healthy.objectId], [healthy.flowId]);
    const copy = await timed(() => h.request('POST', `/objects/${enc(healthy.objectId)}/instances`, { storage_id: STALLED.id }));
    expectFailure(copy, 503, 'ServiceUnavailable', `'${STALLED.label}'`);
    expect(copy.ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
    const flowId = await media.putFlow();
    const [silent] = await media.allocate(flowId, { storage_id: STALLED.id, limit: 1 });
    const check = await timed(() => h.request('POST', `/flows/${flowId}/segments`, { object_id: silent!.object_id, timerange: second(0) }));
    expectFailure(check, 503, 'ServiceUnavailable', `'${STALLED.label}'`);
    expect(check.ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(await snapshot([healthy.objectId], [healthy.flowId])).toEqual(before);
    expect(await media.segments(flowId)).toEqual([]);
    await stillServing();
  });

  it('403 AccessDenied answers 403 naming the backend; 503 SlowDown answers 503 after max_attempts requests', async () => {
    const before = await snapshot([healthy.objectId], [healthy.flowId]);
    expectFailure(await timed(() => h.request('POST', `/objects/${enc(healthy.objectId)}/instances`, { storage_id: DENIED.id })), 403, 'Forbidden', `'${DENIED.label}'`);
    const flowId = await media.putFlow();
    const [refused] = await media.allocate(flowId, { storage_id: DENIED.id, limit: 1 });
    expectFailure(await timed(() => h.request('POST', `/flows/${flowId}/segments`, { object_id: refused!.object_id, timerange: second(0) })), 403, 'Forbidden', `'${DENIED.label}'`);

    const sent = slow.requests.length;
    expectFailure(await timed(() => h.request('POST', `/objects/${enc(healthy.objectId)}/instances`, { storage_id: SLOW.id })), 503, 'ServiceUnavailable', `'${SLOW.label}'`);
    expect(slow.requests.length - sent).toBe(ATTEMPTS);
    expect(await snapshot([healthy.objectId], [healthy.flowId])).toEqual(before);
    expect(await media.segments(flowId)).toEqual([]);
    await stillServing();
  });
});

describe('start-up with a backends file that no longer lists a backend in use', () => {
  it('createGateway rejects with a ConfigError naming the backend; listing it again starts', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-s3-start-'));
    const dropped = backend(7, 'retired', 'retired-media');
    dropped.endpoint = s3ok.endpoint;
    const both = await writeBackendsFile([entryFor(OK, { default_storage: true }), entryFor(dropped)]);
    const onlyOk = await writeBackendsFile([entryFor(OK, { default_storage: true })]);
    const config = (file: string): ReturnType<typeof loadConfig> =>
      loadConfig({ ...GATEWAY_ENV, TAMS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', TAMS_AUTH: 'off', TAMS_STORAGE_BACKENDS_FILE: file });
    try {
      const first = await createGateway(config(both.file));
      try {
        await first.app.listen({ port: 0, host: '127.0.0.1' });
        const base = `http://127.0.0.1:${(first.app.server.address() as AddressInfo).port}`;
        const send = async (method: string, p: string, body?: unknown): Promise<TamsResponse> => {
          const res = await checkedFetch(`${base}${p}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, { basePath: '' });
          const text = await res.text();
          return { status: res.status, headers: res.headers, body: JSON.parse(text || 'null') as unknown, text };
        };
        const client = mediaClient(send, presignedUrlChecker([OK, dropped], { min: 3599, max: 3600 }));
        await client.allocate(await client.putFlow(), { storage_id: dropped.id, limit: 1 });
      } finally {
        await first.close();
      }

      const refused = createGateway(config(onlyOk.file));
      await expect(refused).rejects.toThrow(ConfigError);
      await expect(refused).rejects.toThrow(dropped.id);

      const again = await createGateway(config(both.file));
      await again.close();
    } finally {
      await both.remove();
      await onlyOk.remove();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
