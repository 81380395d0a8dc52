/**
 * Hostile review of issue 17: resource exhaustion. What one authenticated writer can make the
 * gateway do to its S3 backends and to itself with the largest requests the API accepts:
 *
 * - TAMS_VERIFY_UPLOADS with a batch of never-uploaded segments: how many S3 requests one
 *   POST costs, and whether the check looks at objects allocated for other flows;
 * - the object garbage collector over a large backlog (every segment of a flow deleted at
 *   once, collected once past its PUT URL lifetime): how long one pass holds the event loop
 *   (better-sqlite3 is synchronous, so that is also how long the SQLite writer is held).
 *
 * S3 goes through a counting proxy in front of an in-process s3rver.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHarness, type Harness, type TamsResponse } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';
import { videoFlow } from '../fixtures/flows';
import { TestClock } from '../support/test-clock';

interface CountingProxy {
  endpoint: string;
  /** `METHOD object|bucket` -> requests seen. */
  counts: Map<string, number>;
  /** Answers a request with this status instead of passing it on (undefined: pass it on). */
  fail: (name: string, url: string) => number | undefined;
  close(): Promise<void>;
}

/** Forwards every request to `target` and counts them by method and kind (bucket or object). */
async function countingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  const counts = new Map<string, number>();
  const proxy: CountingProxy = { endpoint: '', counts, fail: () => undefined, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const parts = new URL(req.url ?? '/', 'http://x').pathname.split('/').filter((p) => p !== '');
    const name = `${req.method ?? ''} ${parts.length > 1 ? 'object' : 'bucket'}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const status = proxy.fail(name, req.url ?? '');
    if (status !== undefined) {
      req.resume();
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end();
      return;
    }
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}

const S3 = { id: 'c0000000-0000-4000-8000-0000000000a1', label: 'limits-s3', bucket: 'limits-media' };

let s3: S3TestServer;
let proxy: CountingProxy;
let backendsDir: string;
let backendsFile: string;

beforeAll(async () => {
  s3 = await startS3Server(S3.bucket);
  proxy = await countingProxy(s3.endpoint);
  backendsDir = await mkdtemp(path.join(tmpdir(), 'tams-hostile-limits-'));
  backendsFile = path.join(backendsDir, 'backends.json');
  await writeFile(
    backendsFile,
    JSON.stringify({
      backends: [
        {
          id: S3.id,
          label: S3.label,
          store_type: 'http_object_store',
          provider: 's3rver',
          store_product: 's3rver',
          endpoint: proxy.endpoint,
          path_style: true,
          bucket: S3.bucket,
          default_storage: true,
          credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: 'limits-secret' },
        },
      ],
    }),
  );
});

afterAll(async () => {
  await proxy?.close();
  await s3?.stop();
  if (backendsDir !== undefined) await rm(backendsDir, { recursive: true, force: true });
});

async function putFlow(h: Harness): Promise<string> {
  const flow = videoFlow();
  expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
  return flow.id as string;
}

/** `count` objects allocated for the flow (one request); their ids and PUT URLs. */
async function allocate(h: Harness, flowId: string, count: number, storageId?: string): Promise<{ object_id: string; put_url: { url: string; 'content-type': string } }[]> {
  const res = await h.request('POST', `/flows/${flowId}/storage`, { limit: count, ...(storageId === undefined ? {} : { storage_id: storageId }) });
  expect({ status: res.status, body: res.status === 201 ? undefined : res.body }).toEqual({ status: 201, body: undefined });
  return res.body.media_objects;
}

const segmentsFor = (ids: readonly string[], from = 0): { object_id: string; timerange: string }[] =>
  ids.map((object_id, i) => ({ object_id, timerange: `[${from + i}:0_${from + i + 1}:0)` }));

describe('hostile: TAMS_VERIFY_UPLOADS under a large batch', () => {
  let h: Harness;
  let clock: TestClock;

  beforeAll(async () => {
    clock = new TestClock();
    h = await startHarness({ TAMS_STORAGE_BACKENDS_FILE: backendsFile, TAMS_VERIFY_UPLOADS: 'true', TAMS_GC: 'off' }, { clock });
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => {
    proxy.fail = () => undefined;
  });

  it('a backend that cannot answer the upload check fails the whole batch with 503 and stores nothing', async () => {
    const flowId = await putFlow(h);
    const objects = await allocate(h, flowId, 20);
    proxy.fail = (name) => (name === 'HEAD object' ? 503 : undefined);
    const started = Date.now();
    const res = await h.request('POST', `/flows/${flowId}/segments`, segmentsFor(objects.map((o) => o.object_id)));
    expect({ status: res.status, fast: Date.now() - started < 5000 }).toEqual({ status: 503, fast: true });
    proxy.fail = () => undefined;
    expect((await h.request('GET', `/flows/${flowId}/segments`)).body).toEqual([]);
  });

  it('once the upload check has failed the request (503), it stops asking S3 about the other objects of the batch (at most the checks in flight finish)', async () => {
    // POST /flows/{id}/segments with 200 segments; S3 answers 503 to every HeadObject of the
    // first object (the SDK's attempts included). The client gets its 503, and no check is
    // started after the failure: only those already in flight (16) may still reach S3.
    const flowId = await putFlow(h);
    const objects = await allocate(h, flowId, 200);
    const key = (await h.gateway.store.getObject(objects[0]!.object_id))!.instances[0]!.key;
    proxy.counts.clear();
    proxy.fail = (name, url) => (name === 'HEAD object' && url.includes(key) ? 503 : undefined);
    const res = await h.request('POST', `/flows/${flowId}/segments`, segmentsFor(objects.map((o) => o.object_id)));
    expect(res.status).toBe(503);
    const atAnswer = proxy.counts.get('HEAD object') ?? 0;
    await new Promise((r) => setTimeout(r, 1500));
    const after = proxy.counts.get('HEAD object') ?? 0;
    // At most the checks already in flight (16) may still complete after the answer.
    expect({ headObjectsAfterTheAnswer: after - atAnswer, atMostTheChecksInFlight: after - atAnswer <= 16 }).toMatchObject({ atMostTheChecksInFlight: true });
  });

  it('a batch of never-uploaded objects fails each segment alone and stores none (200, failed_segments)', async () => {
    const flowId = await putFlow(h);
    const objects = await allocate(h, flowId, 60);
    const uploaded = objects.slice(0, 3);
    for (const o of uploaded) {
      const up = await checkedFetch(o.put_url.url, { method: 'PUT', body: randomBytes(32), headers: { 'content-type': o.put_url['content-type'] } });
      expect(up.status).toBe(200);
    }
    const res = await h.request('POST', `/flows/${flowId}/segments`, segmentsFor(objects.map((o) => o.object_id)));
    expect(res.status).toBe(200);
    expect(res.body.failed_segments.length).toBe(57);
    const listed = await h.request('GET', `/flows/${flowId}/segments`);
    expect((listed.body as { object_id: string }[]).map((s) => s.object_id).sort()).toEqual(uploaded.map((o) => o.object_id).sort());
  });

  /** POSTs `count` never-uploaded segments to the flow: the S3 requests the upload check made. */
  async function checkNeverUploaded(flowId: string, count: number, from: number): Promise<{ headObject: number; headBucket: number }> {
    const objects = await allocate(h, flowId, count);
    proxy.counts.clear();
    const res = await h.request('POST', `/flows/${flowId}/segments`, segmentsFor(objects.map((o) => o.object_id), from));
    expect(res.status).toBe(200);
    expect(res.body.failed_segments.length).toBe(count);
    return { headObject: proxy.counts.get('HEAD object') ?? 0, headBucket: proxy.counts.get('HEAD bucket') ?? 0 };
  }

  it('one POST of N never-uploaded segments costs N HeadObjects, not N HeadBuckets too: a bucket found is trusted 30 s by the gateway clock', async () => {
    // POST /flows/{id}/segments with 200 segments whose objects were allocated and never
    // uploaded: each object is asked about (HeadObject, 404), and a 404 is told from a missing
    // bucket by a HeadBucket, which once answered stands for the bucket for 30 s. (How many the
    // first misses of a batch send at once: see the DEFECT test below.)
    const flowId = await putFlow(h);
    // Whatever earlier tests confirmed is stale by now.
    clock.advance(30_000);
    const first = await checkNeverUploaded(flowId, 200, 0);
    expect({ headObject: first.headObject, someHeadBucket: first.headBucket >= 1, atMostTheChecksInFlight: first.headBucket <= 16 }).toEqual({
      headObject: 200,
      someHeadBucket: true,
      atMostTheChecksInFlight: true,
    });
    clock.advance(29_999);
    expect(await checkNeverUploaded(flowId, 50, 200)).toEqual({ headObject: 50, headBucket: 0 });
    clock.advance(1);
    const after = await checkNeverUploaded(flowId, 40, 250);
    expect({ headObject: after.headObject, askedAgain: after.headBucket >= 1 }).toEqual({ headObject: 40, askedAgain: true });
  });

  it('the never-uploaded objects of a batch share one HeadBucket, however many checks are in flight', async () => {
    // POST /flows/{id}/segments with 200 never-uploaded segments, the bucket not confirmed in
    // the last 30 s (gateway clock). Expected: 200 HeadObject and 1 HeadBucket. Got: 200 and 16.
    // The upload check runs 16 exists() at once (UPLOAD_CHECKS_IN_FLIGHT, src/services/
    // segment-service.ts); each 404 calls S3ObjectStore.confirmBucket
    // (src/adapters/s3/s3-object-store.ts), which returns early only once bucketConfirmedAt is
    // set, i.e. after a HeadBucket has answered: the 16 concurrent misses all find it unset and
    // each sends one. No single flight on the HeadBucket in progress. Bounded (16 per 30 s and
    // backend, not N), but the batch still pays up to 16 requests where one tells.
    const flowId = await putFlow(h);
    clock.advance(30_000);
    expect(await checkNeverUploaded(flowId, 200, 0)).toEqual({ headObject: 200, headBucket: 1 });
  });

  it('the upload check skips objects allocated for another flow: no S3 request, and the same answer whether their bytes were uploaded or not', async () => {
    // A writer of flow ATTACKER names, in a segment of its own flow, an object allocated for flow
    // VICTIM (not yet registered). The store refuses it ("was not intended for this flow") and
    // the upload check does not run first: no HeadObject to the victim's bucket, and no answer
    // telling whether the victim has uploaded.
    const victim = await putFlow(h);
    const attacker = await putFlow(h);
    const [pending, done] = await allocate(h, victim, 2);
    const up = await checkedFetch(done!.put_url.url, { method: 'PUT', body: randomBytes(16), headers: { 'content-type': done!.put_url['content-type'] } });
    expect(up.status).toBe(200);
    proxy.counts.clear();
    const answers: TamsResponse[] = [];
    for (const o of [pending!, done!]) answers.push(await h.request('POST', `/flows/${attacker}/segments`, { object_id: o.object_id, timerange: '[0:0_1:0)' }));
    expect({
      headRequestsForAnotherFlowsObjects: proxy.counts.get('HEAD object') ?? 0,
      sameAnswerWhetherUploadedOrNot: answers[0]!.body.type === answers[1]!.body.type,
    }).toEqual({ headRequestsForAnotherFlowsObjects: 0, sameAnswerWhetherUploadedOrNot: true });
  });
});

describe('hostile: garbage collection of a large backlog', () => {
  let h: Harness;
  let clock: TestClock;

  beforeAll(async () => {
    clock = new TestClock();
    h = await startHarness(
      { TAMS_GC_INTERVAL_MS: '86400000', TAMS_GC_BATCH: '10000', TAMS_PRESIGNED_URL_TIMEOUT: '60:0', TAMS_MIN_OBJECT_TIMEOUT: '300:0', TAMS_GC_GRACE_SEC: '60' },
      { clock },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  /** The longest the event loop went without turning while `run` ran (a 1 ms ticker). */
  async function longestStall(run: () => Promise<unknown>): Promise<number> {
    let last = performance.now();
    let worst = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 1);
    try {
      await run();
    } finally {
      clearInterval(ticker);
    }
    return Math.max(worst, performance.now() - last);
  }

  it('10,000 objects freed at once: kept while their PUT URLs may work, then collected and deleted in one pass, the event loop never held for a second', async () => {
    const flowId = await putFlow(h);
    const objects = await allocate(h, flowId, 10_000);
    const ids = objects.map((o) => o.object_id);
    const reg = await h.request('POST', `/flows/${flowId}/segments`, segmentsFor(ids));
    expect(reg.status).toBe(201);
    expect((await h.request('DELETE', `/flows/${flowId}/segments`)).status).toBe(204);
    let pass: Awaited<ReturnType<NonNullable<Harness['gateway']['gc']>['runOnce']>> | undefined;
    // Within their PUT URLs' lifetime (min_object_timeout 300 s + grace 60 s) none goes; the
    // pass that finds them all too young holds the loop no longer either.
    const youngStall = await longestStall(async () => {
      pass = await h.gateway.gc!.runOnce();
    });
    expect(pass).toMatchObject({ collected: 0, deleted: 0, failed: 0 });
    expect({ longestStallMs: Math.round(youngStall), underASecond: youngStall < 1000 }).toMatchObject({ underASecond: true });
    clock.advance(360_001);
    const stall = await longestStall(async () => {
      pass = await h.gateway.gc!.runOnce();
    });
    expect(pass).toMatchObject({ collected: 10_000, deleted: 10_000, failed: 0 });
    expect({ longestStallMs: Math.round(stall), underASecond: stall < 1000 }).toMatchObject({ underASecond: true });
  });
});
