/**
 * Media bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph, VAST...). Clients PUT and GET
 * the bytes themselves with presigned URLs (SigV4Presigner: no SDK call per URL); the gateway
 * only talks to the bucket to check that an object exists, to delete it and for readiness.
 *
 * Not wired yet (issue 17): a backend registry will build one per configured S3 backend.
 */
import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DeleteObjectCommand, HeadBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { StorageBackend } from '../../domain/entities';
import type { ObjectStore, SignedRequest } from '../../ports/object-store';
import { SigV4Presigner, type S3Credentials } from './sigv4-presigner';

/** SigV4's longest presigned URL lifetime (seven days). */
export const MAX_PRESIGN_SEC = 604_800;

export interface S3ObjectStoreOptions {
  backend: StorageBackend;
  /** `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`... (no path). */
  endpoint: string;
  bucket: string;
  region: string;
  /** Path-style (`endpoint/bucket/key`: MinIO, VAST, Ceph) or virtual-hosted (`bucket.host/key`). */
  pathStyle: boolean;
  credentials: S3Credentials;
  /**
   * Prefix of every key this store mints, e.g. `tams/media` (a trailing `/` is added): unreserved
   * characters (`A-Z a-z 0-9 - . _ ~`) in `/`-separated segments. Default none.
   */
  keyPrefix?: string;
  /** Bound on connecting, on one request and response, and on `ping` as a whole. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** Attempts per SDK call (HeadObject, DeleteObject, HeadBucket), retries included. Default 3. */
  maxAttempts?: number;
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

/** S3's "no such key" for HeadObject (no body, so only the status and the SDK's error name tell). */
function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

export class S3ObjectStore implements ObjectStore {
  readonly backend: StorageBackend;
  /** Presigned URLs point at the bucket, not under the gateway's base URL. */
  readonly getUrlsArePlainAfterBase = false;
  readonly bucket: string;
  readonly keyPrefix: string;
  private readonly client: S3Client;
  private readonly presigner: SigV4Presigner;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(options: S3ObjectStoreOptions) {
    const timeoutMs = options.requestTimeoutMs ?? 5000;
    const maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new Error(`S3ObjectStore: requestTimeoutMs must be a positive integer, got ${timeoutMs}`);
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new Error(`S3ObjectStore: maxAttempts must be a positive integer, got ${maxAttempts}`);
    if (options.bucket === '') throw new Error('S3ObjectStore: bucket must not be empty');
    this.backend = options.backend;
    this.bucket = options.bucket;
    this.keyPrefix = normalisePrefix(options.keyPrefix);
    this.timeoutMs = timeoutMs;
    this.now = options.now ?? Date.now;
    // Checks the endpoint (http(s), no path) before the client is built.
    this.presigner = new SigV4Presigner(
      { endpoint: options.endpoint, bucket: options.bucket, pathStyle: options.pathStyle, region: options.region },
      options.credentials,
    );
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.pathStyle,
      credentials: { ...options.credentials },
      maxAttempts,
      // No CRC32 on every request and no checksum validation of responses: S3-compatible stores
      // vary in what they accept, and nothing here sends or reads a body worth checking.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({
        connectionTimeout: timeoutMs,
        requestTimeout: timeoutMs,
        throwOnRequestTimeout: true,
        httpAgent: new HttpAgent({ keepAlive: true }),
        httpsAgent: new HttpsAgent({ keepAlive: true }),
      }),
    });
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
   * Only `host` is signed. The `content-type` header is handed back for the client to send
   * (S3 stores the object with it) but is not part of the signature: whoever holds the URL
   * chooses the bytes anyway, and a signed type would make uploads fail on any client that
   * sends a different one (or none).
   */
  signPut(key: string, _baseUrl: string, expiresAtSec: number, contentType?: string): SignedRequest {
    const nowMs = this.now();
    const url = this.presigner.presign({ method: 'PUT', key, expiresInSec: this.expiresIn(expiresAtSec, nowMs), now: new Date(nowMs) });
    return contentType === undefined ? { url, method: 'PUT' } : { url, method: 'PUT', headers: { 'content-type': contentType } };
  }

  signGet(key: string, _baseUrl: string, expiresAtSec: number): string {
    const nowMs = this.now();
    return this.presigner.presign({ method: 'GET', key, expiresInSec: this.expiresIn(expiresAtSec, nowMs), now: new Date(nowMs) });
  }

  /** One clock reading and one lifetime for the page. */
  signGets(keys: readonly string[], _baseUrl: string, expiresAtSec: number): string[] {
    const nowMs = this.now();
    const expiresInSec = this.expiresIn(expiresAtSec, nowMs);
    const now = new Date(nowMs);
    return keys.map((key) => this.presigner.presign({ method: 'GET', key, expiresInSec, now }));
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Deleting a key that is not there succeeds (S3 semantics). */
  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
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

  /** Closes the client's kept-alive connections (shutdown, tests). */
  close(): void {
    this.client.destroy();
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
