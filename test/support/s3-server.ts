/**
 * An S3-protocol server (s3rver) in this process on 127.0.0.1, for the S3 adapter's tests: a
 * fresh temp directory and bucket per start, removed again by `stop`. s3rver knows one account,
 * `S3RVER`/`S3RVER` (the access key must be it; it does not verify SigV4 signatures).
 *
 * Also what the gateway-level S3 suites share: backends files naming buckets here, a bucket's
 * contents as s3rver keeps them on disk, the independent check of presigned URLs
 * (verifyPresignedUrl), and a TAMS client's media steps (allocate, PUT to the put_url,
 * register, list).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutBucketCorsCommand, S3Client, type CORSRule } from '@aws-sdk/client-s3';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from './checked-fetch';
import type { TamsResponse } from './gateway-harness';

// One s3rver binding for the tests and the bench (bench/ is built on its own, so it holds it).
import { S3RVER_CREDENTIALS, startS3rver } from '../../bench/s3rver';

export { S3RVER_CREDENTIALS };

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  bucket: string;
  directory: string;
  /** Stops listening (idempotent); the directory stays until `stop`. */
  close(): Promise<void>;
  /** Stops listening and removes the directory. */
  stop(): Promise<void>;
}

export async function startS3Server(bucket = 'tams-media'): Promise<S3TestServer> {
  return startS3rver(bucket);
}

/** Creates another bucket on a running server (the gateway never creates buckets). */
export async function createBucket(server: Pick<S3TestServer, 'endpoint'>, bucket: string): Promise<void> {
  const admin = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
  try {
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    admin.destroy();
  }
}

/** The bucket CORS rules docs/hls.md gives: the JSON block of its "S3 storage backends and browser players" section. */
function documentedCorsRules(): CORSRule[] {
  const page = readFileSync(path.join(__dirname, '../../docs/hls.md'), 'utf8');
  const section = page.slice(page.indexOf('## S3 storage backends and browser players'));
  const block = /```json\n([\s\S]*?)```/.exec(section);
  if (block === null) throw new Error('docs/hls.md has no CORS rules block');
  return (JSON.parse(block[1] as string) as { CORSRules: CORSRule[] }).CORSRules;
}

/** Puts the CORS rules of docs/hls.md on a bucket of a running server, as its operator would. */
export async function applyDocumentedCors(server: Pick<S3TestServer, 'endpoint'>, bucket: string): Promise<void> {
  const admin = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
  try {
    await admin.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: documentedCorsRules() } }));
  } finally {
    admin.destroy();
  }
}

const S3RVER_OBJECT_SUFFIX = '._S3rver_object';

/**
 * Every object of a bucket as s3rver keeps it on disk (`<directory>/<bucket>/<key>._S3rver_object`),
 * by key: what is in the bucket, seen without going through S3 (empty for a missing bucket).
 */
export function bucketObjects(server: Pick<S3TestServer, 'directory'>, bucket: string): Map<string, Buffer> {
  const root = path.join(server.directory, bucket);
  const found = new Map<string, Buffer>();
  if (!existsSync(root)) return found;
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(S3RVER_OBJECT_SUFFIX)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const key = path.relative(root, file).split(path.sep).join('/').slice(0, -S3RVER_OBJECT_SUFFIX.length);
    found.set(key, readFileSync(file));
  }
  return found;
}

/** Writes `{"backends": entries}` as a backends file in a fresh temp directory; `remove` deletes it. */
export async function writeBackendsFile(entries: readonly Record<string, unknown>[]): Promise<{ file: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tams-backends-'));
  const file = path.join(dir, 'storage-backends.json');
  await writeFile(file, JSON.stringify({ backends: entries }, null, 2));
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** `20261206T205912Z` -> Date */
function parseAmzDate(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) throw new Error(`bad X-Amz-Date ${value}`);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

export interface PresignExpectation {
  method: 'GET' | 'PUT' | 'HEAD';
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  /** Headers the URL must sign besides host (e.g. `if-none-match: *`). */
  signedHeaders?: Record<string, string>;
}

/**
 * Checks a presigned S3 URL independently of the gateway's signer (s3rver verifies no SigV4
 * signature): re-signs the same method, host, path and query (less the signature) with
 * @smithy/signature-v4, the given credentials and region and the URL's own X-Amz-Date and
 * X-Amz-Expires, and compares X-Amz-Signature. Throws saying what differs; no checksum
 * parameter (x-amz-checksum-*, x-amz-sdk-checksum-algorithm) may ride along. Returns the URL's
 * signing time and lifetime.
 */
export async function verifyPresignedUrl(urlText: string, expected: PresignExpectation): Promise<{ signedAt: Date; expiresInSec: number }> {
  const url = new URL(urlText);
  const params = url.searchParams;
  const checksums = [...params.keys()].filter((k) => /checksum|content-md5/i.test(k));
  if (checksums.length > 0) throw new Error(`${urlText}: carries checksum parameters ${checksums.join(', ')}`);
  const signedHeaders = ['host', ...Object.keys(expected.signedHeaders ?? {})].join(';');
  if (params.get('X-Amz-SignedHeaders') !== signedHeaders) throw new Error(`${urlText}: signs ${params.get('X-Amz-SignedHeaders')}, not ${signedHeaders}`);
  const signedAt = parseAmzDate(params.get('X-Amz-Date') ?? '');
  const expiresInSec = Number(params.get('X-Amz-Expires'));
  if (!Number.isInteger(expiresInSec) || expiresInSec < 1 || expiresInSec > 604_800) throw new Error(`${urlText}: X-Amz-Expires ${params.get('X-Amz-Expires')}`);
  // The payload hash rides in the query (UNSIGNED-PAYLOAD); smithy takes it from the header it hoists there.
  const query: Record<string, string> = {};
  const payloadHash: Record<string, string> = {};
  for (const [name, value] of params) {
    if (name === 'X-Amz-Content-Sha256') payloadHash[name] = value;
    else if (name !== 'X-Amz-Signature') query[name] = value;
  }
  const signer = new SignatureV4({
    credentials: expected.credentials,
    region: expected.region,
    service: 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.presign(
    {
      method: expected.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query,
      headers: { host: url.host, ...payloadHash, ...expected.signedHeaders },
    },
    { expiresIn: expiresInSec, signingDate: signedAt, unhoistableHeaders: new Set(Object.keys(expected.signedHeaders ?? {})) },
  );
  const mine = (signed.query as Record<string, string>)['X-Amz-Signature'];
  if (params.get('X-Amz-Signature') !== mine) {
    throw new Error(`${urlText}: X-Amz-Signature ${params.get('X-Amz-Signature')} is not what @smithy/signature-v4 signs (${mine}) for ${expected.method} with ${expected.credentials.accessKeyId} in ${expected.region}`);
  }
  return { signedAt, expiresInSec };
}

/** An S3 storage backend of a gateway under test, as its backends file lists it. */
export interface S3BackendUnderTest {
  id: string;
  label: string;
  bucket: string;
  region: string;
  /** Signs with the s3rver access key and this secret (s3rver ignores it; verifyPresignedUrl does not). */
  secret: string;
  /** conditional_writes: PUT URLs sign `if-none-match: *`. */
  conditional: boolean;
  /** The endpoint its file entry names (set once the server it points at runs). */
  endpoint: string;
}

/**
 * The TAMS_STORAGE_BACKENDS_FILE entry of `b` (path-style, the s3rver access key and b's secret
 * inline) plus `extra` fields (store_product, tags, plain_urls, default_storage...).
 */
export function entryFor(b: S3BackendUnderTest, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: b.id,
    label: b.label,
    store_type: 'http_object_store',
    provider: 's3rver',
    store_product: 's3rver',
    endpoint: b.endpoint,
    path_style: true,
    bucket: b.bucket,
    region: b.region,
    credentials: { access_key_id: S3RVER_CREDENTIALS.accessKeyId, secret_access_key: b.secret },
    conditional_writes: b.conditional,
    ...extra,
  };
}

/**
 * Checks that `url` is a presigned `method` URL into b's bucket, signed as @smithy/signature-v4
 * signs with b's secret and region (and `if-none-match: *` for a conditional PUT); its key and
 * lifetime.
 */
export async function expectPresignedFor(url: string, b: S3BackendUnderTest, method: 'GET' | 'PUT'): Promise<{ key: string; expiresInSec: number }> {
  expect(new URL(url).origin).toBe(b.endpoint);
  const key = keyInBucket(url, b.bucket);
  const { expiresInSec } = await verifyPresignedUrl(url, {
    method,
    credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: b.secret },
    region: b.region,
    ...(method === 'PUT' && b.conditional ? { signedHeaders: { 'if-none-match': '*' } } : {}),
  });
  return { key, expiresInSec };
}

/** A request that passed a RecordingProxy, and the status it got. */
export interface SeenRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  status?: number;
}

export interface RecordingProxy {
  /** `http://127.0.0.1:<port>`: name it as a backend's endpoint. */
  endpoint: string;
  seen: SeenRequest[];
  close: () => Promise<void>;
}

/** Where a RecordingProxy breaks a connection off: after this many bytes of the request's or the answer's body. */
export interface ProxyCut {
  side: 'request' | 'response';
  afterBytes: number;
}

/**
 * An HTTP proxy on 127.0.0.1 forwarding everything to `target` (an s3rver) and noting each
 * request: which S3 operations the gateway used (CopyObject, multipart parts...) shows there.
 * `cut` may choose requests whose connection drops part-way through a body (an endpoint dying
 * in the middle of a transfer).
 */
export async function startRecordingProxy(target: string, cut: (request: SeenRequest) => ProxyCut | undefined = () => undefined): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const seen: SeenRequest[] = [];
  const server = createHttpServer((req, res) => {
    const entry: SeenRequest = { method: req.method ?? '', url: new URL(req.url ?? '/', upstream), headers: req.headers };
    seen.push(entry);
    const plan = cut(entry);
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      entry.status = answer.statusCode;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (plan?.side !== 'response') {
        answer.pipe(res);
        return;
      }
      let passed = 0;
      answer.on('data', (chunk: Buffer) => {
        const room = plan.afterBytes - passed;
        passed += chunk.length;
        if (room > 0) res.write(room >= chunk.length ? chunk : chunk.subarray(0, room));
        if (passed >= plan.afterBytes) {
          answer.destroy();
          res.socket?.destroy();
        }
      });
      answer.on('end', () => res.end());
    });
    forward.on('error', () => res.socket?.destroy());
    if (plan?.side !== 'request') {
      req.pipe(forward);
      return;
    }
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received < plan.afterBytes) {
        forward.write(chunk);
        return;
      }
      entry.status = 0;
      forward.destroy();
      req.socket.destroy();
    });
    req.on('end', () => forward.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---- a TAMS client's media steps against a gateway with S3 backends --------------------------

/** put_url of flow-storage.json. */
export interface PutUrl {
  url: string;
  'content-type': string;
  headers?: Record<string, string>;
}

export interface MediaAllocation {
  object_id: string;
  put_url: PutUrl;
  presigned: boolean;
}

/** One get_urls entry (the verbose fields when asked for). */
export interface ListedGetUrl {
  url: string;
  presigned: boolean;
  label?: string;
  storage_id?: string;
  [field: string]: unknown;
}

type Send = (method: string, path: string, body?: unknown) => Promise<TamsResponse>;

/** What a client does with media, over a gateway's REST API (`send`: h.request or a wrapper); each step checks its status. */
export interface MediaClient {
  /** PUT /flows/{id} of a new video flow (fixtures/flows.ts: container video/mp2t); its id. */
  putFlow(): Promise<string>;
  /** POST /flows/{id}/storage, expecting 201. */
  allocate(flowId: string, body?: Record<string, unknown>): Promise<MediaAllocation[]>;
  /** POST /flows/{id}/segments, expecting `status` (201 by default); the answer. */
  register(flowId: string, body: unknown, status?: number): Promise<TamsResponse>;
  /** GET /flows/{id}/segments`query`, expecting 200. */
  segments(flowId: string, query?: string): Promise<Record<string, unknown>[]>;
  /** A flow with `count` one-second segments ([i:0_i+1:0)) on the backend `storageId`, each object uploaded with its own random bytes (by object id). */
  flowWith(storageId: string, count: number, size: number): Promise<{ flowId: string; bytes: Map<string, Buffer> }>;
}

/** The one-second timerange starting at second `i`. */
export const second = (i: number): string => `[${i}:0_${i + 1}:0)`;

export function expectStatus(res: TamsResponse, status: number): void {
  expect({ status: res.status, body: res.status === status ? undefined : res.body as unknown }).toEqual({ status, body: undefined });
}

/** PUTs bytes to a put_url as a client does: a plain HTTP request with the headers it names (plus `extra`). */
export function upload(put: PutUrl, bytes: Buffer, extra: Record<string, string> = {}): Promise<Response> {
  // Header names in any case (the local backend names `Content-Type`), each sent once.
  const headers = new Headers({ 'content-type': put['content-type'] });
  for (const [name, value] of Object.entries({ ...put.headers, ...extra })) headers.set(name, value);
  return checkedFetch(put.url, { method: 'PUT', headers, body: bytes });
}

/** upload, expecting S3's 200 with an empty body. */
export async function uploaded(put: PutUrl, bytes: Buffer): Promise<void> {
  const res = await upload(put, bytes);
  expect({ status: res.status, body: await res.text() }).toEqual({ status: 200, body: '' });
}

/** GETs a media URL: status, bytes and headers. */
export async function getBytes(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
  const res = await checkedFetch(url, { headers });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** The object key a path-style URL into `bucket` names. */
export function keyInBucket(url: string, bucket: string): string {
  const pathname = new URL(url).pathname;
  if (!pathname.startsWith(`/${bucket}/`)) throw new Error(`${url} is not in bucket ${bucket}`);
  return decodeURIComponent(pathname.slice(bucket.length + 2));
}

/** Checks one URL the gateway handed out (see presignedUrlChecker). */
export type UrlCheck = (url: string, method: 'GET' | 'PUT') => Promise<void>;

/**
 * A check for every URL a suite receives: one into a bucket of `backends` (same origin and
 * bucket) must verify as expectPresignedFor says, and live `lifetimeSec.min` to `.max` seconds
 * when given; one to an origin of `backends` but another bucket fails; others (the gateway's
 * own local media URLs) pass.
 */
export function presignedUrlChecker(backends: readonly S3BackendUnderTest[], lifetimeSec?: { min: number; max: number }): UrlCheck {
  return async (url, method) => {
    const u = new URL(url);
    if (!backends.some((b) => b.endpoint === u.origin)) return;
    const b = backends.find((candidate) => candidate.endpoint === u.origin && u.pathname.startsWith(`/${candidate.bucket}/`));
    if (b === undefined) throw new Error(`${url} points at an S3 endpoint of the suite but into none of its buckets`);
    const { expiresInSec } = await expectPresignedFor(url, b, method);
    if (lifetimeSec !== undefined) expect({ url, expiresInSec: Math.min(Math.max(expiresInSec, lifetimeSec.min), lifetimeSec.max) }).toEqual({ url, expiresInSec });
  };
}

/**
 * The media steps over `send`; `check` is run on every put_url of an allocation and every
 * presigned get_url of a segment listing.
 */
export function mediaClient(send: Send, check: UrlCheck = async () => undefined): MediaClient {
  const client: MediaClient = {
    async putFlow() {
      const flow = videoFlow();
      expectStatus(await send('PUT', `/flows/${flow.id as string}`, flow), 201);
      return flow.id as string;
    },
    async allocate(flowId, body = {}) {
      const res = await send('POST', `/flows/${flowId}/storage`, body);
      expectStatus(res, 201);
      const allocations = res.body.media_objects as MediaAllocation[];
      for (const a of allocations) await check(a.put_url.url, 'PUT');
      return allocations;
    },
    async register(flowId, body, status = 201) {
      const res = await send('POST', `/flows/${flowId}/segments`, body);
      expectStatus(res, status);
      return res;
    },
    async segments(flowId, query = '') {
      const res = await send('GET', `/flows/${flowId}/segments${query}`);
      expectStatus(res, 200);
      const listed = res.body as Record<string, unknown>[];
      for (const segment of listed) {
        const inits = (segment.init_object as { get_urls?: ListedGetUrl[] } | undefined)?.get_urls ?? [];
        for (const u of [...(segment.get_urls as ListedGetUrl[]), ...inits]) if (u.presigned) await check(u.url, 'GET');
      }
      return listed;
    },
    async flowWith(storageId, count, size) {
      const flowId = await client.putFlow();
      const allocations = await client.allocate(flowId, { storage_id: storageId, limit: count });
      const bytes = new Map<string, Buffer>();
      for (const a of allocations) {
        const data = randomBytes(size);
        await uploaded(a.put_url, data);
        bytes.set(a.object_id, data);
      }
      await client.register(flowId, allocations.map((a, i) => ({ object_id: a.object_id, timerange: second(i) })));
      return { flowId, bytes };
    },
  };
  return client;
}
