/**
 * S3ObjectStore's multipart path against s3rver, through a recording HTTP proxy on 127.0.0.1
 * that forwards to it (and answers some requests itself to inject failures). The threshold and
 * part size are lowered to S3's minimum part (5 MiB; s3rver enforces no minimum, real S3
 * does), so an 11 MiB object goes up in three parts.
 *
 * The body is a generator that counts the bytes it has produced; the proxy notes that count
 * as each request arrives, which shows the upload never holds the whole object: part n is
 * sent once about n parts have been read, not after the whole body.
 */
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../../src/adapters/s3/s3-object-store';
import type { ObjectBytes } from '../../src/ports/object-store';
import { localBackend } from '../fixtures/local-backend';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';

const MiB = 1024 ** 2;
const PART = 5 * MiB;
/** What a Readable.from generator may run ahead of its reader (16 chunks) and a socket may hold, generously. */
const SLACK = 2 * MiB;
const backend = localBackend({ id: '2a4f5b6c-0000-4000-8000-0000000000b1', label: 's3-multipart', default_storage: false });

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Bytes the body generator had produced when the request arrived. */
  produced: number;
}

interface Injected {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

let server: S3TestServer;
let proxy: Server;
let proxyEndpoint: string;
const seen: Seen[] = [];
let produced = 0;
let inject: (request: Seen) => Injected | undefined = () => undefined;

beforeAll(async () => {
  server = await startS3Server();
  proxy = createServer((req, res) => {
    const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, produced };
    seen.push(entry);
    const injected = inject(entry);
    if (injected !== undefined) {
      req.resume();
      req.on('end', () => {
        res.writeHead(injected.status, { 'content-type': 'application/xml', ...injected.headers });
        res.end(injected.body ?? '');
      });
      return;
    }
    const upstream = httpRequest(`${server.endpoint}${entry.url}`, { method: entry.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyEndpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise<void>((resolve) => (proxy === undefined ? resolve() : proxy.close(() => resolve())));
  await server?.stop();
});

beforeEach(() => {
  seen.length = 0;
  produced = 0;
  inject = () => undefined;
});

function storeFor(extra: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  return new S3ObjectStore({
    backend,
    endpoint: proxyEndpoint,
    bucket: server.bucket,
    region: 'us-east-1',
    pathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
    multipartThresholdBytes: PART,
    partBytes: PART,
    ...extra,
  });
}

/** `data` as 64 KiB chunks made on demand, counted into `produced`; optionally failing after `failAfter` bytes. */
function counted(data: Buffer, contentType: string, failAfter?: number): ObjectBytes {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < data.length; i += 64 * 1024) {
      if (failAfter !== undefined && i >= failAfter) throw new Error('source broke off');
      const chunk = data.subarray(i, i + 64 * 1024);
      produced += chunk.length;
      yield chunk;
    }
  }
  return { body: Readable.from(chunks()), size: data.length, contentType };
}

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

const isPart = (r: Seen): boolean => r.method === 'PUT' && /[?&]partNumber=/.test(r.url);
const isCreate = (r: Seen): boolean => r.method === 'POST' && /[?&]uploads(=|&|$)/.test(r.url);
const isComplete = (r: Seen): boolean => r.method === 'POST' && /[?&]uploadId=/.test(r.url);
const isAbort = (r: Seen): boolean => r.method === 'DELETE' && /[?&]uploadId=/.test(r.url);

function xmlError(code: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message><RequestId>1</RequestId></Error>`;
}

describe('S3ObjectStore multipart uploads (s3rver behind a recording proxy)', () => {
  it('uploads above the threshold in parts, each sent after about its own bytes were read, and reads back intact', async () => {
    const store = storeFor();
    try {
      const data = randomBytes(11 * MiB + 7);
      const key = store.keyFor('obj');
      await store.write(key, counted(data, 'video/mp2t'));

      expect(seen.filter(isCreate)).toHaveLength(1);
      const parts = seen.filter(isPart);
      expect(parts.map((p) => Number(new URL(p.url, 'http://x').searchParams.get('partNumber')))).toEqual([1, 2, 3]);
      expect(parts.map((p) => Number(p.headers['content-length']))).toEqual([PART, PART, MiB + 7]);
      for (const [i, part] of parts.entries()) {
        expect(part.produced).toBeGreaterThanOrEqual(Math.min((i + 1) * PART, data.length));
        expect(part.produced).toBeLessThanOrEqual((i + 1) * PART + SLACK);
      }
      expect(parts[0]!.produced).toBeLessThan(data.length / 2);
      expect(seen.filter(isComplete)).toHaveLength(1);
      expect(seen.filter(isAbort)).toHaveLength(0);

      const out = await store.read(key);
      expect(out.size).toBe(data.length);
      expect(out.contentType).toBe('video/mp2t');
      expect((await readAll(out.body)).equals(data)).toBe(true);
    } finally {
      store.close();
    }
  });

  it('streams one PutObject at or below the threshold: the request goes out long before the body is read', async () => {
    const store = storeFor({ multipartThresholdBytes: 16 * MiB });
    try {
      const data = randomBytes(11 * MiB);
      const key = store.keyFor('obj');
      await store.write(key, counted(data, 'video/mp2t'));
      const puts = seen.filter((r) => r.method === 'PUT');
      expect(puts).toHaveLength(1);
      expect(Number(puts[0]!.headers['content-length'])).toBe(data.length);
      expect(puts[0]!.produced).toBeLessThan(data.length / 2);
      expect(seen.filter(isCreate)).toHaveLength(0);
      expect((await readAll((await store.read(key)).body)).equals(data)).toBe(true);
    } finally {
      store.close();
    }
  });

  it('retries a failing part within maxAttempts, then aborts the upload and answers unavailable, reading no further', async () => {
    const store = storeFor({ maxAttempts: 2 });
    try {
      inject = (r) => (isPart(r) && r.url.includes('partNumber=2') ? { status: 500, body: xmlError('InternalError') } : undefined);
      const data = randomBytes(16 * MiB);
      const key = store.keyFor('obj');
      await expect(store.write(key, counted(data, 'video/mp2t'))).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('InternalError') });
      expect(seen.filter((r) => isPart(r) && r.url.includes('partNumber=2'))).toHaveLength(2);
      expect(seen.filter((r) => isPart(r) && r.url.includes('partNumber=3'))).toHaveLength(0);
      // s3rver has no AbortMultipartUpload (MethodNotAllowed): the store asked, and moved on.
      expect(seen.filter(isAbort)).toHaveLength(1);
      expect(seen.filter(isComplete)).toHaveLength(0);
      expect(produced).toBeLessThanOrEqual(2 * PART + SLACK);
      expect(await store.exists(key)).toBe(false);
    } finally {
      store.close();
    }
  });

  it('aborts when the source breaks off or sends other than it announced, and stores nothing', async () => {
    const store = storeFor();
    try {
      const data = randomBytes(11 * MiB);
      const broken = store.keyFor('obj');
      await expect(store.write(broken, counted(data, 'video/mp2t', 7 * MiB))).rejects.toThrow('source broke off');
      const short = store.keyFor('obj');
      await expect(store.write(short, { ...counted(data.subarray(0, 10 * MiB), 'video/mp2t'), size: data.length })).rejects.toMatchObject({ code: 'unavailable' });
      const long = store.keyFor('obj');
      await expect(store.write(long, { ...counted(data, 'video/mp2t'), size: 10 * MiB })).rejects.toMatchObject({ code: 'unavailable' });
      expect(seen.filter(isAbort)).toHaveLength(3);
      expect(seen.filter(isComplete)).toHaveLength(0);
      for (const key of [broken, short, long]) expect(await store.exists(key)).toBe(false);
    } finally {
      store.close();
    }
  });

  it('is write-once: over an existing key it answers media_exists before starting an upload', async () => {
    const store = storeFor();
    try {
      const key = store.keyFor('obj');
      await store.write(key, counted(randomBytes(6 * MiB), 'video/mp2t'));
      seen.length = 0;
      const again = counted(randomBytes(6 * MiB), 'video/mp2t');
      await expect(store.write(key, again)).rejects.toMatchObject({ code: 'media_exists' });
      expect(seen.map((r) => r.method)).toEqual(['HEAD']);
      expect(again.body.destroyed).toBe(true);
    } finally {
      store.close();
    }
  });

  it('with conditional writes, sends If-None-Match: * on CompleteMultipartUpload (and skips the HEAD)', async () => {
    const store = storeFor({ conditionalWrites: true });
    try {
      const key = store.keyFor('obj');
      await store.write(key, counted(randomBytes(6 * MiB), 'video/mp2t'));
      expect(seen.filter((r) => r.method === 'HEAD')).toHaveLength(0);
      const complete = seen.filter(isComplete);
      expect(complete).toHaveLength(1);
      expect(complete[0]!.headers['if-none-match']).toBe('*');
      expect(seen.filter(isPart).every((r) => r.headers['if-none-match'] === undefined)).toBe(true);
    } finally {
      store.close();
    }
  });
});
