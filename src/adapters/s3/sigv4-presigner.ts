/**
 * AWS Signature Version 4 query-string presigning for S3 GET and PUT URLs, made for the hot
 * path: a segment page hands out one presigned URL per segment. What the SDK does per URL (a
 * new signing request, header hoisting, four HMACs to derive the signing key, then one more)
 * is cut to one SHA-256 of the canonical request and one HMAC of the string to sign: the signing
 * key (an HMAC chain over date, region and service) is derived once per day and kept, and so
 * are the date strings of the last second signed.
 *
 * What it signs is exactly what `@smithy/signature-v4` presigns for an S3 request with the
 * `host` header, `x-amz-content-sha256: UNSIGNED-PAYLOAD` hoisted into the query and S3's path
 * rules (each key segment escaped once, no double escaping): test/unit/s3/sigv4-presigner.test.ts
 * compares the URLs byte for byte.
 */
import { createHmac, hash } from 'node:crypto';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface PresignTarget {
  /** `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`... (no path). */
  endpoint: string;
  bucket: string;
  /** Path-style (`endpoint/bucket/key`, MinIO, VAST, Ceph) or virtual-hosted (`bucket.host/key`). */
  pathStyle: boolean;
  region: string;
}

export interface PresignRequest {
  method: 'GET' | 'PUT' | 'HEAD';
  key: string;
  /** Seconds the URL stays valid: 1 to 604,800 (seven days, SigV4's limit). */
  expiresInSec: number;
  /** The signing time (the URL is valid from it for expiresInSec). */
  now: Date;
}

const SERVICE = 's3';
const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const MAX_EXPIRES_SEC = 604_800;
/** Signing keys kept (one per credentials, region and day in use): a few backends need a handful. */
const SIGNING_KEY_CACHE_SIZE = 64;

/** RFC 3986 escaping as SigV4 wants it: everything but unreserved characters, as %XX of UTF-8 bytes. */
export function sigV4Escape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Keys made only of unreserved characters and `/` (the gateway's own keys) need no escaping. */
const PLAIN_KEY = /^[A-Za-z0-9\-._~/]*$/;

/** An S3 object key as a URL path: each `/`-separated segment escaped once. */
function keyPath(key: string): string {
  return PLAIN_KEY.test(key) ? key : key.split('/').map(sigV4Escape).join('/');
}

function amzDate(now: Date): { date: string; dateTime: string } {
  const iso = now.toISOString(); // 2026-12-06T20:59:12.345Z
  const dateTime = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return { date: dateTime.slice(0, 8), dateTime };
}

export class SigV4Presigner {
  private readonly host: string;
  private readonly origin: string;
  private readonly pathPrefix: string;
  /** Per day: the signing key, the credential scope, and the escaped X-Amz-Credential value. */
  private readonly days = new Map<string, { key: Buffer; scope: string; credential: string }>();
  /** The last signing time seen, to the second, and its date strings (a page of URLs shares one). */
  private lastSecond = Number.NaN;
  private lastDate = { date: '', dateTime: '' };

  constructor(
    private readonly target: PresignTarget,
    private readonly credentials: S3Credentials,
  ) {
    const endpoint = new URL(target.endpoint);
    if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw new Error(`S3 endpoint ${target.endpoint} is not http(s)`);
    this.host = target.pathStyle ? endpoint.host : `${target.bucket}.${endpoint.host}`;
    this.origin = `${endpoint.protocol}//${this.host}`;
    this.pathPrefix = target.pathStyle ? `/${sigV4Escape(target.bucket)}/` : '/';
  }

  /** What one day signs with (derived once per day: the signing key is an HMAC chain over date, region and service). */
  private day(date: string): { key: Buffer; scope: string; credential: string } {
    let day = this.days.get(date);
    if (day === undefined) {
      const kDate = createHmac('sha256', `AWS4${this.credentials.secretAccessKey}`).update(date).digest();
      const kRegion = createHmac('sha256', kDate).update(this.target.region).digest();
      const kService = createHmac('sha256', kRegion).update(SERVICE).digest();
      const key = createHmac('sha256', kService).update('aws4_request').digest();
      const scope = `${date}/${this.target.region}/${SERVICE}/aws4_request`;
      day = { key, scope, credential: sigV4Escape(`${this.credentials.accessKeyId}/${scope}`) };
      if (this.days.size >= SIGNING_KEY_CACHE_SIZE) this.days.clear();
      this.days.set(date, day);
    }
    return day;
  }

  /** A presigned URL for one object. */
  presign(request: PresignRequest): string {
    if (!Number.isInteger(request.expiresInSec) || request.expiresInSec < 1 || request.expiresInSec > MAX_EXPIRES_SEC) {
      throw new Error(`A presigned URL lives 1 to ${MAX_EXPIRES_SEC} s, not ${request.expiresInSec}`);
    }
    const second = Math.floor(request.now.getTime() / 1000);
    if (second !== this.lastSecond) {
      this.lastDate = amzDate(request.now);
      this.lastSecond = second;
    }
    const { date, dateTime } = this.lastDate;
    const { key, scope, credential } = this.day(date);
    const path = `${this.pathPrefix}${keyPath(request.key)}`;
    // Sorted by parameter name (all of ours are fixed, so the order is written out).
    let query =
      `X-Amz-Algorithm=${ALGORITHM}` +
      `&X-Amz-Content-Sha256=${UNSIGNED_PAYLOAD}` +
      `&X-Amz-Credential=${credential}` +
      `&X-Amz-Date=${dateTime}` +
      `&X-Amz-Expires=${request.expiresInSec}`;
    if (this.credentials.sessionToken !== undefined) query += `&X-Amz-Security-Token=${sigV4Escape(this.credentials.sessionToken)}`;
    query += '&X-Amz-SignedHeaders=host';
    const canonicalRequest = `${request.method}\n${path}\n${query}\nhost:${this.host}\n\nhost\n${UNSIGNED_PAYLOAD}`;
    // crypto.hash (one call) costs less than half of createHash().update().digest() here.
    const stringToSign = `${ALGORITHM}\n${dateTime}\n${scope}\n${hash('sha256', canonicalRequest, 'hex')}`;
    const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
    // Written out sorted by name, as the SDK writes its presigned URLs (Signature sorts before SignedHeaders).
    const unsigned = query.slice(0, query.length - '&X-Amz-SignedHeaders=host'.length);
    return `${this.origin}${path}?${unsigned}&X-Amz-Signature=${signature}&X-Amz-SignedHeaders=host`;
  }
}
