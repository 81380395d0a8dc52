/**
 * S3ObjectStore when the bucket fails, over real HTTP on 127.0.0.1: each failure kind gives
 * its documented TamsError (src/adapters/s3/s3-errors.ts) within a bounded time, for every
 * operation that talks to the bucket.
 *
 * - a bucket that does not exist (s3rver): `unavailable` naming the backend and the bucket;
 * - an endpoint that is down (a port just closed): `unavailable`, after bounded retries;
 * - an endpoint that accepts and never answers: `unavailable` at the timeout, per attempt;
 * - a GetObject body that stalls or breaks off midway: the reader gets `unavailable`;
 * - a bucket refusing the gateway's credentials (a server answering 403 AccessDenied):
 *   `forbidden`, naming the backend;
 * - throttling (503 SlowDown): `unavailable` after exactly `maxAttempts` requests (a streamed
 *   PutObject is sent once: its body cannot be replayed);
 * - conditional writes refused (412 PreconditionFailed, 409 ConditionalRequestConflict) by a
 *   scripted server, since s3rver ignores If-None-Match: `media_exists`, uploads aborted.
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../../src/adapters/s3/s3-object-store';
import type { ObjectBytes } from '../../src/ports/object-store';
import { localBackend } from '../fixtures/local-backend';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';

const MiB = 1024 ** 2;
const TIMEOUT_MS = 300;
const backend = localBackend({ id: '2a4f5b6c-0000-4000-8000-0000000000c1', label: 'failing-s3', default_storage: false });
const KEY = 'tams/ab/cd/abcd0000-0000-4000-8000-000000000000';

function storeAt(endpoint: string, extra: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  return new S3ObjectStore({
    backend,
    endpoint,
    bucket: 'media',
    region: 'us-east-1',
    pathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
    requestTimeoutMs: TIMEOUT_MS,
    ...extra,
  });
}

function bytes(size: number): ObjectBytes {
  return { body: Readable.from([Buffer.alloc(size, 1)]), size, contentType: 'video/mp2t' };
}

/** Every operation that talks to the bucket, by name. */
function operations(store: S3ObjectStore, source: S3ObjectStore = store): Record<string, () => Promise<unknown>> {
  return {
    exists: () => store.exists(KEY),
    delete: () => store.delete(KEY),
    read: () => store.read(KEY),
    write: () => store.write(store.keyFor('obj'), bytes(1024)),
    copyWithin: () => store.copyWithin(source, KEY, store.keyFor('obj')),
  };
}

async function timed(run: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await run();
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('expected a failure');
}

interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

interface Scripted {
  endpoint: string;
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** A tiny S3 stand-in on 127.0.0.1: `answer` decides each reply (after the request body is read). */
async function scripted(answer: (method: string, url: string, headers: IncomingHttpHeaders) => Reply): Promise<Scripted> {
  const requests: Scripted['requests'] = [];
  const server: Server = createHttpServer((req, res) => {
    const method = req.method ?? '';
    const url = req.url ?? '';
    requests.push({ method, url, headers: req.headers });
    req.resume();
    req.on('end', () => {
      const reply = answer(method, url, req.headers);
      res.writeHead(reply.status, { 'content-type': 'application/xml', ...reply.headers });
      res.end(method === 'HEAD' ? undefined : reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function xmlError(code: string, message = code): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`;
}

describe('S3ObjectStore failures', () => {
  describe('a bucket that does not exist', () => {
    let server: S3TestServer;
    beforeAll(async () => {
      server = await startS3Server();
    });
    afterAll(async () => {
      await server?.stop();
    });

    it.each(['exists', 'delete', 'read', 'write', 'copyWithin'])('%s: unavailable, naming the backend and the bucket', async (name) => {
      const missing = storeAt(server.endpoint, { bucket: 'no-such-bucket' });
      try {
        const { error } = await timed(operations(missing)[name]!);
        expect(error).toMatchObject({ code: 'unavailable', status: 503, message: "Storage backend 'failing-s3': bucket no-such-bucket does not exist" });
      } finally {
        missing.close();
      }
    });

    it('also with conditional writes (no HEAD first)', async () => {
      const missing = storeAt(server.endpoint, { bucket: 'no-such-bucket', conditionalWrites: true });
      try {
        await expect(missing.write(missing.keyFor('obj'), bytes(10))).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('no-such-bucket') });
      } finally {
        missing.close();
      }
    });
  });

  describe('an endpoint that is down', () => {
    let endpoint: string;
    beforeAll(async () => {
      const gone = await startS3Server('gone');
      endpoint = gone.endpoint;
      await gone.stop();
    });

    it.each(['exists', 'delete', 'read', 'write', 'copyWithin'])('%s: unavailable after bounded retries', async (name) => {
      const down = storeAt(endpoint, { maxAttempts: 3 });
      try {
        const { error, ms } = await timed(operations(down)[name]!);
        expect(error).toMatchObject({ code: 'unavailable', message: "Storage backend 'failing-s3' did not answer (ECONNREFUSED)" });
        // Three attempts, two backoffs of at most 200 and 400 ms.
        expect(ms).toBeLessThan(TIMEOUT_MS * 3 + 600 + 1000);
      } finally {
        down.close();
      }
    });
  });

  describe('an endpoint that accepts and never answers', () => {
    let silent: ReturnType<typeof createNetServer>;
    let endpoint: string;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      silent = createNetServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.resume();
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it.each(['exists', 'delete', 'read', 'write', 'copyWithin'])('%s: unavailable at the timeout of each of its attempts', async (name) => {
      const stalled = storeAt(endpoint, { maxAttempts: 2 });
      try {
        const { error, ms } = await timed(operations(stalled)[name]!);
        expect(error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/^Storage backend 'failing-s3' did not answer \((ETIMEDOUT|TimeoutError)\)$/) });
        expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
        // Two attempts, one backoff of at most 200 ms.
        expect(ms).toBeLessThan(TIMEOUT_MS * 2 + 200 + 700);
      } finally {
        stalled.close();
      }
    });

    it('a streamed write (conditional: no HEAD first) and a multipart one fail at the timeout too', async () => {
      const stalled = storeAt(endpoint, { maxAttempts: 2, conditionalWrites: true, multipartThresholdBytes: 5 * MiB, partBytes: 5 * MiB });
      try {
        for (const size of [1024, 6 * MiB]) {
          const { error, ms } = await timed(() => stalled.write(stalled.keyFor('obj'), bytes(size)));
          expect(error).toMatchObject({ code: 'unavailable' });
          expect(ms).toBeLessThan(TIMEOUT_MS * 2 + 200 + 700);
        }
      } finally {
        stalled.close();
      }
    });
  });

  describe('a body that stalls or breaks off while it flows', () => {
    let server: ReturnType<typeof createNetServer>;
    let endpoint: string;
    let ending: 'stall' | 'drop';
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      // Headers announcing 1000 bytes, 10 of them, then silence or a dropped connection.
      server = createNetServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.once('data', () => {
          socket.write('HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: 1000\r\n\r\n0123456789');
          if (ending === 'drop') setTimeout(() => socket.destroy(), 50);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it.each(['stall', 'drop'] as const)('%s: the reader gets unavailable, within the timeout', async (how) => {
      ending = how;
      const store = storeAt(endpoint, { maxAttempts: 1 });
      try {
        const out = await store.read(KEY);
        expect(out.size).toBe(1000);
        const { error, ms } = await timed(async () => {
          for await (const chunk of out.body) expect(chunk).toBeDefined();
        });
        expect(error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/^Storage backend 'failing-s3' did not answer \(/) });
        expect(ms).toBeLessThan(TIMEOUT_MS + 700);
      } finally {
        store.close();
      }
    });
  });

  describe('a bucket refusing the gateway (403 AccessDenied)', () => {
    let denying: Scripted;
    beforeAll(async () => {
      denying = await scripted(() => ({ status: 403, body: xmlError('AccessDenied', 'Access Denied') }));
    });
    afterAll(async () => {
      await denying?.close();
    });

    it.each(['exists', 'delete', 'read', 'write', 'copyWithin'])('%s: forbidden, naming the backend and bucket, not retried', async (name) => {
      const denied = storeAt(denying.endpoint, { maxAttempts: 3 });
      try {
        denying.requests.length = 0;
        const { error } = await timed(operations(denied)[name]!);
        expect(error).toMatchObject({ code: 'forbidden', status: 403, message: expect.stringMatching(/^Storage backend 'failing-s3' denies the gateway access to bucket media \((AccessDenied|Forbidden|Unknown), HTTP 403\)/) });
        expect(denying.requests).toHaveLength(1);
      } finally {
        denied.close();
      }
    });
  });

  describe('throttling (503 SlowDown)', () => {
    let throttling: Scripted;
    beforeAll(async () => {
      throttling = await scripted(() => ({ status: 503, body: xmlError('SlowDown', 'Please reduce your request rate.') }));
    });
    afterAll(async () => {
      await throttling?.close();
    });

    it('read: unavailable after exactly maxAttempts requests, within the backoff bound', async () => {
      const throttled = storeAt(throttling.endpoint, { maxAttempts: 2 });
      try {
        throttling.requests.length = 0;
        const { error, ms } = await timed(() => throttled.read(KEY));
        expect(error).toMatchObject({ code: 'unavailable', status: 503, message: "Storage backend 'failing-s3' is unavailable (SlowDown, HTTP 503)" });
        expect(throttling.requests).toHaveLength(2);
        // The SDK's throttling backoff: at most 2 x 500 ms before the second attempt.
        expect(ms).toBeLessThan(1000 + 1000);
      } finally {
        throttled.close();
      }
    });

    it('a streamed PutObject is sent once (its body cannot be replayed)', async () => {
      const throttled = storeAt(throttling.endpoint, { maxAttempts: 3, conditionalWrites: true });
      try {
        throttling.requests.length = 0;
        await expect(throttled.write(throttled.keyFor('obj'), bytes(2048))).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('SlowDown') });
        expect(throttling.requests.map((r) => r.method)).toEqual(['PUT']);
      } finally {
        throttled.close();
      }
    });
  });

  describe('conditional writes refused by the bucket', () => {
    const UPLOAD_ID = 'upload-1';
    let bucket: Scripted;
    let refusal: { status: number; code: string };
    /** What HeadObject says of a copy's source. */
    let sourceSize = 1024;
    beforeAll(async () => {
      bucket = await scripted((method, url, headers): Reply => {
        const conditional = headers['if-none-match'] === '*';
        if (method === 'HEAD') return { status: 200, headers: { 'content-length': String(sourceSize), 'content-type': 'video/mp2t', etag: '"e"' } };
        if (method === 'POST' && /[?&]uploads/.test(url)) {
          return { status: 200, body: `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>media</Bucket><Key>k</Key><UploadId>${UPLOAD_ID}</UploadId></InitiateMultipartUploadResult>` };
        }
        if (method === 'PUT' && /[?&]partNumber=/.test(url)) {
          return headers['x-amz-copy-source'] === undefined
            ? { status: 200, headers: { etag: '"part"' } }
            : { status: 200, body: '<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><ETag>"part"</ETag></CopyPartResult>' };
        }
        if (method === 'DELETE' && /[?&]uploadId=/.test(url)) return { status: 204 };
        if (conditional) return { status: refusal.status, body: xmlError(refusal.code) };
        return { status: 500, body: xmlError('InternalError', 'the scripted bucket only answers conditional writes') };
      });
    });
    afterAll(async () => {
      await bucket?.close();
    });

    it.each([
      [412, 'PreconditionFailed'],
      [409, 'ConditionalRequestConflict'],
    ])('%s %s: media_exists for PutObject, CompleteMultipartUpload (upload aborted) and CopyObject', async (status, code) => {
      refusal = { status, code };
      const store = storeAt(bucket.endpoint, { conditionalWrites: true, multipartThresholdBytes: 5 * MiB, partBytes: 5 * MiB, maxAttempts: 1 });
      try {
        bucket.requests.length = 0;
        await expect(store.write(store.keyFor('obj'), bytes(1024))).rejects.toMatchObject({ code: 'media_exists', status: 409 });
        expect(bucket.requests.map((r) => [r.method, r.headers['if-none-match']])).toEqual([['PUT', '*']]);

        bucket.requests.length = 0;
        await expect(store.write(store.keyFor('obj'), bytes(6 * MiB))).rejects.toMatchObject({ code: 'media_exists' });
        const complete = bucket.requests.find((r) => r.method === 'POST' && r.url.includes(`uploadId=${UPLOAD_ID}`));
        expect(complete?.headers['if-none-match']).toBe('*');
        expect(bucket.requests.some((r) => r.method === 'DELETE' && r.url.includes(`uploadId=${UPLOAD_ID}`))).toBe(true);

        bucket.requests.length = 0;
        sourceSize = 1024;
        await expect(store.copyWithin(store, KEY, store.keyFor('obj'))).rejects.toMatchObject({ code: 'media_exists' });
        const copy = bucket.requests.find((r) => r.method === 'PUT');
        expect(copy?.headers['x-amz-copy-source']).toBe(`media/${KEY}`);
        expect(copy?.headers['if-none-match']).toBe('*');

        // Above the threshold: UploadPartCopy ranges, then a conditional CompleteMultipartUpload.
        bucket.requests.length = 0;
        sourceSize = 11 * MiB;
        await expect(store.copyWithin(store, KEY, store.keyFor('obj'))).rejects.toMatchObject({ code: 'media_exists' });
        const ranges = bucket.requests.filter((r) => r.method === 'PUT').map((r) => [r.headers['x-amz-copy-source'], r.headers['x-amz-copy-source-range']]);
        expect(ranges).toEqual([
          [`media/${KEY}`, `bytes=0-${5 * MiB - 1}`],
          [`media/${KEY}`, `bytes=${5 * MiB}-${10 * MiB - 1}`],
          [`media/${KEY}`, `bytes=${10 * MiB}-${11 * MiB - 1}`],
        ]);
        const completeCopy = bucket.requests.find((r) => r.method === 'POST' && r.url.includes(`uploadId=${UPLOAD_ID}`));
        expect(completeCopy?.headers['if-none-match']).toBe('*');
        expect(bucket.requests.some((r) => r.method === 'DELETE' && r.url.includes(`uploadId=${UPLOAD_ID}`))).toBe(true);
      } finally {
        store.close();
      }
    });
  });
});
