/**
 * Media bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph, VAST...). Clients PUT and GET
 * the bytes themselves with presigned URLs (SigV4Presigner: no SDK call per URL); the gateway
 * talks to the bucket to check and delete objects, copy them (server-side on one endpoint,
 * streamed otherwise), for readiness and for the start-up CORS check.
 *
 * Every failure is a TamsError (s3-errors.ts) within the configured timeout: connecting, each
 * request, and any silence on a socket are bounded, and retries are bounded by `maxAttempts`.
 */
import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { StorageBackend } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import type { ObjectBytes, ObjectStore, SignedRequest } from '../../ports/object-store';
import { MAX_OBJECT_BYTES, MAX_PART_BYTES, MAX_SINGLE_BYTES, MIN_PART_BYTES, type S3Bucket } from './s3-bucket';
import { copyServerSide } from './s3-copy';
import { corsGaps, type CorsRule } from './s3-cors';
import { S3CredentialsKeeper, type S3CredentialsProvider } from './s3-credentials';
import { bucketMissing, isNotFound, isObjectTaken, s3Failure, toStoreError } from './s3-errors';
import { putMultipart, putStreamed } from './s3-upload';
import { SigV4Presigner, type S3Credentials } from './sigv4-presigner';

/** SigV4's longest presigned URL lifetime (seven days). */
export const MAX_PRESIGN_SEC = 604_800;

/** How long a HeadBucket that found the bucket is trusted (see confirmBucket). */
const BUCKET_CONFIRMED_FOR_MS = 30_000;

export interface S3ObjectStoreOptions {
  backend: StorageBackend;
  /** `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`... (no path). */
  endpoint: string;
  bucket: string;
  region: string;
  /** Path-style (`endpoint/bucket/key`: MinIO, VAST, Ceph) or virtual-hosted (`bucket.host/key`). */
  pathStyle: boolean;
  /**
   * Static keys, a provider of temporary credentials, or (omitted) the AWS SDK's default
   * provider chain, so IAM roles work. Temporary credentials are resolved by `init()` and
   * refreshed in the background.
   */
  credentials?: S3Credentials | S3CredentialsProvider;
  /**
   * Prefix of every key this store mints, e.g. `tams/media` (a trailing `/` is added): unreserved
   * characters (`A-Z a-z 0-9 - . _ ~`) in `/`-separated segments. Default none.
   */
  keyPrefix?: string;
  /**
   * Bound on connecting, on a request without a large body (until its answer), on any silence
   * of a socket (bodies included), and on `ping` as a whole. Default 5000 ms.
   */
  requestTimeoutMs?: number;
  /** Attempts per SDK call, retries included (a streamed PutObject is never retried). Default 3. */
  maxAttempts?: number;
  /** Hand out unsigned object URLs too (`plainGet`): a public bucket, or credentials held out of band. Default false. */
  plainUrls?: boolean;
  /**
   * The product supports conditional writes (`If-None-Match: *` on PutObject,
   * CompleteMultipartUpload and CopyObject: AWS S3 since 2024, recent MinIO): presigned PUTs
   * sign that header and every write is refused when the key holds an object. Without it
   * write-once is a HeadObject check before each write the gateway makes (a race remains) and
   * is not enforced at all on presigned PUTs. Default false.
   */
  conditionalWrites?: boolean;
  /** Objects larger than this are written and copied as multipart uploads: 0 to 5 GiB. Default 5 GiB. */
  multipartThresholdBytes?: number;
  /** Part size of multipart uploads and copies: 5 MiB to 5 GiB (grown for objects needing more than 10,000 parts). Default 64 MiB. */
  partBytes?: number;
  /** Told of each failed background refresh of temporary credentials (it is retried). */
  onCredentialsError?: (error: unknown) => void;
  /** Where the SDK's warnings go (its socket pool at capacity, say). Default console. */
  logger?: { warn(message: string): void };
  /** Milliseconds since the epoch (tests). Default `Date.now`. */
  now?: () => number;
}

const PREFIX_SEGMENT = /^[A-Za-z0-9._~-]+$/;

function normalisePrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  const segments = trimmed.split('/');
  if (!segments.every((s) => PREFIX_SEGMENT.test(s) && s !== '.' && s !== '..')) {
    throw new Error(`S3ObjectStore: keyPrefix ${JSON.stringify(prefix)} must be /-separated segments of A-Z a-z 0-9 - . _ ~`);
  }
  return `${segments.join('/')}/`;
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new Error(`S3ObjectStore: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

/** The SDK's notice on every failed streamed PutObject: never retried by design, and the failure is reported as a TamsError. */
const STREAMING_NOTICE = 'An error was encountered in a non-retryable streaming request.';

/**
 * The SDK's logger: its warnings passed on; its chatter dropped, and its errors too (it logs
 * every failed call, a normal 404 included; the store reports failures as TamsErrors).
 */
function sdkLogger(sink: { warn(message: string): void }) {
  const ignore = (): void => undefined;
  return {
    trace: ignore,
    debug: ignore,
    info: ignore,
    error: ignore,
    warn: (message: unknown) => {
      if (message !== STREAMING_NOTICE) sink.warn(String(message));
    },
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function mediaExists(): TamsError {
  return new TamsError('media_exists', 'This media object has been uploaded already: media objects are write-once (allocate a new object to upload other bytes)');
}

export class S3ObjectStore implements ObjectStore {
  readonly backend: StorageBackend;
  /** Presigned URLs point at the bucket, not under the gateway's base URL. */
  readonly getUrlsArePlainAfterBase = false;
  /**
   * The endpoint's origin (a parsed URL's: ASCII, no quotes), the bucket and key prefix
   * (restricted characters), keys escaped by SigV4's rules and a query of escaped values.
   */
  readonly getUrlsArePlain = true;
  readonly bucket: string;
  readonly keyPrefix: string;
  /** The endpoint's origin (`http://127.0.0.1:9000`): stores sharing it and credentials copy server-side. */
  readonly endpoint: string;
  readonly conditionalWrites: boolean;
  /** Present only when the backend exposes plain URLs (`plainUrls`). */
  readonly plainGet?: (key: string) => string;
  private readonly client: S3Client;
  private readonly presigner: SigV4Presigner;
  private readonly credentials: S3CredentialsKeeper;
  private readonly target: S3Bucket;
  private readonly timeoutMs: number;
  private readonly multipartThresholdBytes: number;
  private readonly partBytes: number;
  private readonly now: () => number;
  private bucketConfirmedAt = -Infinity;
  private bucketCheck: Promise<void> | undefined;

  /** A store whose credentials are resolved: ready to sign. */
  static async create(options: S3ObjectStoreOptions): Promise<S3ObjectStore> {
    const store = new S3ObjectStore(options);
    try {
      await store.init();
    } catch (error) {
      store.close();
      throw error;
    }
    return store;
  }

  /** With static credentials ready at once; otherwise `init()` must resolve before it signs (`create` does both). */
  constructor(options: S3ObjectStoreOptions) {
    const timeoutMs = checkInteger('requestTimeoutMs', options.requestTimeoutMs ?? 5000, 1, 2 ** 31 - 1);
    const maxAttempts = checkInteger('maxAttempts', options.maxAttempts ?? 3, 1, 10);
    this.multipartThresholdBytes = checkInteger('multipartThresholdBytes', options.multipartThresholdBytes ?? MAX_SINGLE_BYTES, 0, MAX_SINGLE_BYTES);
    this.partBytes = checkInteger('partBytes', options.partBytes ?? 64 * 1024 ** 2, MIN_PART_BYTES, MAX_PART_BYTES);
    if (options.bucket === '') throw new Error('S3ObjectStore: bucket must not be empty');
    this.backend = options.backend;
    this.bucket = options.bucket;
    this.keyPrefix = normalisePrefix(options.keyPrefix);
    this.conditionalWrites = options.conditionalWrites ?? false;
    this.timeoutMs = timeoutMs;
    this.now = options.now ?? Date.now;
    // Checks the endpoint (http(s), no path) before the client is built. Signs with a
    // placeholder until the keeper hands over the first real credentials (the keeper refuses
    // to sign before then).
    this.presigner = new SigV4Presigner(
      { endpoint: options.endpoint, bucket: options.bucket, pathStyle: options.pathStyle, region: options.region },
      { accessKeyId: '-', secretAccessKey: '-' },
    );
    this.endpoint = new URL(options.endpoint).origin;
    this.credentials = new S3CredentialsKeeper({
      label: options.backend.label,
      source: options.credentials,
      onChange: (credentials) => this.presigner.setCredentials(credentials),
      ...(options.onCredentialsError === undefined ? {} : { onRefreshError: options.onCredentialsError }),
      now: this.now,
    });
    if (options.plainUrls === true) {
      const presigner = this.presigner;
      this.plainGet = (key) => presigner.objectUrl(key);
    }
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.pathStyle,
      credentials: () => this.credentials.identity(),
      maxAttempts,
      logger: sdkLogger(options.logger ?? console),
      // No CRC32 on every request and no checksum validation of responses: S3-compatible
      // stores vary in what they accept, and presigned PUTs must not carry an empty-body checksum.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        connectionTimeout: timeoutMs,
        requestTimeout: timeoutMs,
        socketTimeout: timeoutMs,
        throwOnRequestTimeout: true,
        httpAgent: new HttpAgent({ keepAlive: true }),
        httpsAgent: new HttpsAgent({ keepAlive: true }),
      }),
    });
    this.target = { client: this.client, label: options.backend.label, bucket: options.bucket };
  }

  /** Resolves the credentials (temporary ones are then refreshed in the background); idempotent. */
  init(): Promise<void> {
    return this.credentials.start();
  }

  /**
   * `<prefix><hex2>/<hex2>/<uuid>`: fresh and spread over 65,536 prefixes (S3 scales request
   * rates per prefix). The object id is deliberately unused: ids are client text.
   */
  keyFor(_objectId: string): string {
    const uuid = randomUUID();
    return `${this.keyPrefix}${uuid.slice(0, 2)}/${uuid.slice(2, 4)}/${uuid}`;
  }

  /**
   * `host` is signed, and `if-none-match: *` with conditional writes (returned in `headers`:
   * the client must send it, and S3 then refuses to replace an object). The `content-type`
   * header is handed back for the client to send (S3 stores the object with it) but is not
   * part of the signature: whoever holds the URL chooses the bytes anyway, and a signed type
   * would make uploads fail on any client that sends a different one (or none).
   */
  signPut(key: string, _baseUrl: string, expiresAtSec: number, contentType?: string): SignedRequest {
    const nowMs = this.now();
    this.checkCredentials();
    const url = this.presigner.presign({
      method: 'PUT',
      key,
      expiresInSec: this.expiresIn(expiresAtSec, nowMs),
      now: new Date(nowMs),
      ifNoneMatch: this.conditionalWrites,
    });
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (this.conditionalWrites) headers['if-none-match'] = '*';
    return Object.keys(headers).length === 0 ? { url, method: 'PUT' } : { url, method: 'PUT', headers };
  }

  signGet(key: string, _baseUrl: string, expiresAtSec: number): string {
    const nowMs = this.now();
    this.checkCredentials();
    return this.presigner.presign({ method: 'GET', key, expiresInSec: this.expiresIn(expiresAtSec, nowMs), now: new Date(nowMs) });
  }

  /** One clock reading and one lifetime for the page. */
  signGets(keys: readonly string[], _baseUrl: string, expiresAtSec: number): string[] {
    const nowMs = this.now();
    const expiresInSec = this.expiresIn(expiresAtSec, nowMs);
    this.checkCredentials();
    const now = new Date(nowMs);
    return keys.map((key) => this.presigner.presign({ method: 'GET', key, expiresInSec, now }));
  }

  /** HeadObject; a 404 is told from a missing bucket (`unavailable`) by a HeadBucket. */
  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (!isNotFound(error)) throw this.mapError(error);
    }
    await this.confirmBucket();
    return false;
  }

  /** Deleting a key that is not there succeeds (S3 semantics). */
  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw this.mapError(error);
    }
  }

  /**
   * GetObject, its body streamed: a failure while the body flows (the socket goes silent for
   * the timeout, the connection drops) reaches the reader as a TamsError too.
   */
  async read(key: string): Promise<ObjectBytes> {
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      throw this.mapError(error);
    }
    const raw = out.Body as Readable | undefined;
    if (raw === undefined || out.ContentLength === undefined) {
      raw?.destroy();
      throw new TamsError('unavailable', `Storage backend '${this.backend.label}' answered GetObject without a body or its length`);
    }
    const body = new PassThrough();
    raw.on('error', (error) => body.destroy(asError(this.mapError(error))));
    // Whoever reads may stop early: the socket is released then too.
    body.on('close', () => raw.destroy());
    raw.pipe(body);
    return out.ContentType === undefined ? { body, size: out.ContentLength } : { body, size: out.ContentLength, contentType: out.ContentType };
  }

  /**
   * Streams `bytes` in: one PutObject up to `multipartThresholdBytes`, multipart above it
   * (one part in memory at a time). Write-once: with conditional writes S3 refuses an
   * existing key (412, `media_exists`); without, a HeadObject check comes first, which a
   * concurrent writer of the same key can race (keys are fresh UUIDs, so only a client that
   * holds this key's PUT URL can). The body is consumed or destroyed.
   */
  async write(key: string, bytes: ObjectBytes): Promise<void> {
    try {
      if (!Number.isSafeInteger(bytes.size) || bytes.size < 0) throw new TamsError('internal', `Object size ${bytes.size} is not a byte count`);
      if (bytes.size > MAX_OBJECT_BYTES) throw new TamsError('payload_too_large', `Storage backend '${this.backend.label}' holds objects of at most ${MAX_OBJECT_BYTES} bytes (S3's limit)`);
      if (!this.conditionalWrites && (await this.exists(key))) throw mediaExists();
      if (bytes.size > this.multipartThresholdBytes) await putMultipart(this.target, key, bytes, this.partBytes, this.conditionalWrites);
      else await putStreamed(this.target, key, bytes, this.conditionalWrites);
    } catch (error) {
      bytes.body.destroy();
      if (isObjectTaken(error)) throw mediaExists();
      throw this.mapError(error);
    }
  }

  /**
   * A server-side copy when `source` is an S3 store on the same endpoint signing with the
   * same access key (then this store's credentials can read the source bucket): CopyObject,
   * or UploadPartCopy parts above the multipart threshold. False, having written nothing, for
   * any other source, or when the product lacks server-side copies. Write-once as `write`.
   */
  async copyWithin(source: ObjectStore, sourceKey: string, key: string): Promise<boolean> {
    if (!(source instanceof S3ObjectStore) || source.endpoint !== this.endpoint) return false;
    try {
      if (source.credentials.current().accessKeyId !== this.credentials.current().accessKeyId) return false;
      const head = await this.client.send(new HeadObjectCommand({ Bucket: source.bucket, Key: sourceKey })).catch(async (error: unknown) => {
        if (isNotFound(error)) await source.confirmBucket();
        throw error;
      });
      if (head.ContentLength === undefined) throw new TamsError('unavailable', `Storage backend '${source.backend.label}' answered HeadObject without the object's length`);
      if (!this.conditionalWrites && (await this.exists(key))) throw mediaExists();
      return await copyServerSide(this.target, {
        sourceBucket: source.bucket,
        sourceKey,
        key,
        size: head.ContentLength,
        contentType: head.ContentType,
        multipartThresholdBytes: this.multipartThresholdBytes,
        partBytes: this.partBytes,
        ifNoneMatch: this.conditionalWrites,
      });
    } catch (error) {
      if (isObjectTaken(error)) throw mediaExists();
      throw this.mapError(error);
    }
  }

  /**
   * A one-line warning when the bucket's CORS rules would stop browsers at `origins` (the
   * gateway's CORS_ORIGINS) from using presigned URLs, or when they cannot be read; undefined
   * when they are fine or no origin is configured. Never throws (a start-up log line).
   */
  async checkCors(origins: readonly string[]): Promise<string | undefined> {
    if (origins.length === 0) return undefined;
    const where = `Storage backend '${this.backend.label}' (bucket ${this.bucket})`;
    let rules: CorsRule[];
    try {
      rules = (await this.client.send(new GetBucketCorsCommand({ Bucket: this.bucket }))).CORSRules ?? [];
    } catch (error) {
      if (s3Failure(error)?.code !== 'NoSuchCORSConfiguration') {
        const mapped = this.mapError(error);
        return `${where}: could not read its CORS rules (${mapped instanceof Error ? mapped.message : String(mapped)}); browsers may be unable to use its presigned URLs`;
      }
      rules = [];
    }
    const putHeaders = this.conditionalWrites ? ['content-type', 'if-none-match'] : ['content-type'];
    const gaps = corsGaps(rules, origins, putHeaders);
    if (gaps.length === 0) return undefined;
    if (rules.length === 0) return `${where} has no CORS rules: browsers at ${origins.join(', ')} cannot GET or PUT its presigned URLs (see the docs on bucket CORS)`;
    return `${where}: its CORS rules do not allow ${gaps.join('; ')}: browsers there cannot use its presigned URLs (see the docs on bucket CORS)`;
  }

  /** HeadBucket within the timeout (retries included); false on any failure, never throws. */
  async ping(): Promise<boolean> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        abort.abort();
        resolve(false);
      }, this.timeoutMs);
    });
    const head = this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: abort.signal }).then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([head, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops refreshing credentials and closes the client's kept-alive connections (shutdown, tests). */
  close(): void {
    this.credentials.stop();
    this.client.destroy();
  }

  private mapError(error: unknown): unknown {
    return toStoreError(error, this.target);
  }

  /**
   * Answers to HEAD carry no error code, so a 404 may mean the bucket is gone: HeadBucket
   * tells. Credentials allowed objects but not the bucket (403 here) count as a bucket present.
   */
  private async confirmBucket(): Promise<void> {
    // One HeadBucket stands for the next ones for a while, and concurrent checks share the one
    // in flight: a batch of missing objects (an upload check of thousands) must not double its
    // S3 requests.
    if (this.now() - this.bucketConfirmedAt < BUCKET_CONFIRMED_FOR_MS) return;
    this.bucketCheck ??= this.headBucket().finally(() => {
      this.bucketCheck = undefined;
    });
    return this.bucketCheck;
  }

  private async headBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketConfirmedAt = this.now();
    } catch (error) {
      const failure = s3Failure(error);
      if (failure?.code === 'NoSuchBucket' || failure?.status === 404) throw bucketMissing(this.target);
      if (failure?.status !== 403) throw this.mapError(error);
    }
  }

  /** Throws, before anything is signed, when there are no valid credentials to sign with. */
  private checkCredentials(): void {
    this.credentials.current();
  }

  /**
   * Seconds from the signing second (X-Amz-Date is `now` truncated to the second) to
   * `expiresAtSec`, rounded up so the URL lives at least until then. SigV4 allows 1 to 604,800:
   * anything else is the caller's mistake (an expiry already past, or a configured lifetime
   * beyond seven days) and throws rather than hand out a URL living shorter than promised.
   */
  private expiresIn(expiresAtSec: number, nowMs: number): number {
    if (!Number.isFinite(expiresAtSec)) throw new Error(`S3ObjectStore: expiry ${expiresAtSec} is not a number of unix seconds`);
    const expiresInSec = Math.ceil(expiresAtSec) - Math.floor(nowMs / 1000);
    if (expiresInSec < 1) throw new Error(`S3ObjectStore: cannot presign a URL expiring at ${expiresAtSec}, which is not after now (${Math.floor(nowMs / 1000)})`);
    if (expiresInSec > MAX_PRESIGN_SEC) {
      throw new Error(`S3ObjectStore: a presigned URL lives at most ${MAX_PRESIGN_SEC} s (seven days, SigV4's limit), not ${expiresInSec} s`);
    }
    return expiresInSec;
  }
}
