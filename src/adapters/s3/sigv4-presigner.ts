/**
 * AWS Signature Version 4 query-string presigning for S3 GET and PUT URLs, made for the hot
 * path: a segment page hands out one presigned URL per segment. What the SDK does per URL (a
 * new signing request, header hoisting, four HMACs to derive the signing key, then one more)
 * is cut to one SHA-256 of the canonical request and one HMAC of the string to sign: the signing
 * key (an HMAC chain over date, region and service) is derived once per day and kept, and so
 * are the date strings of the last second signed.
 *
 * What it signs is exactly what `@smithy/signature-v4` presigns for an S3 request with the
 * `host` header (and `if-none-match: *` for a write-once PUT), `x-amz-content-sha256:
 * UNSIGNED-PAYLOAD` hoisted into the query and S3's path rules (each key segment escaped once,
 * no double escaping): test/unit/s3/sigv4-presigner.test.ts compares the URLs byte for byte.
 *
 * Temporary credentials are swapped in with `setCredentials` (the session token rides as
 * X-Amz-Security-Token, inside the signature, as smithy puts it); signing keys are cached per
 * credentials, so a swap costs one key derivation on the next URL.
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
  /**
   * Signs the `if-none-match: *` header too (X-Amz-SignedHeaders `host;if-none-match`): the
   * client must send it, and S3 then refuses the PUT (412) when the key holds an object.
   */
  ifNoneMatch?: boolean;
}

const SERVICE = 's3';
const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const MAX_EXPIRES_SEC = 604_800;
/** Signing keys kept (one per credentials, region and day in use): a few backends need a handful. */
const SIGNING_KEY_CACHE_SIZE = 64;
/** SHA-256's block size: HMAC pads its key to it (a 32-byte signing key always fits). */
const HMAC_BLOCK_BYTES = 64;

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

interface SigningDay {
  /**
   * The signing key XORed with HMAC's inner and outer pads (RFC 2104), as latin1 text: an
   * HMAC-SHA256 of a URL is then two one-call hashes, with no Hmac object made per URL (the
   * constructor was the largest part of signing a page).
   */
  innerPad: string;
  outerPad: string;
  scope: string;
  /** The escaped X-Amz-Credential value. */
  credential: string;
}

/** One set of credentials and the signing keys derived from it, per day. */
interface SigningIdentity {
  credentials: S3Credentials;
  /** `&X-Amz-Security-Token=...` (escaped), or '' without a session token. */
  tokenParam: string;
  days: Map<string, SigningDay>;
}

const SIGNED_HOST = '&X-Amz-SignedHeaders=host';
const SIGNED_HOST_IF_NONE_MATCH = '&X-Amz-SignedHeaders=host%3Bif-none-match';

export class SigV4Presigner {
  private readonly host: string;
  private readonly origin: string;
  private readonly pathPrefix: string;
  private identity: SigningIdentity;
  /** The last signing time seen, to the second, and its date strings (a page of URLs shares one). */
  private lastSecond = Number.NaN;
  private lastDate = { date: '', dateTime: '' };

  constructor(
    private readonly target: PresignTarget,
    credentials: S3Credentials,
  ) {
    const endpoint = new URL(target.endpoint);
    if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw new Error(`S3 endpoint ${target.endpoint} is not http(s)`);
    this.host = target.pathStyle ? endpoint.host : `${target.bucket}.${endpoint.host}`;
    this.origin = `${endpoint.protocol}//${this.host}`;
    this.pathPrefix = target.pathStyle ? `/${sigV4Escape(target.bucket)}/` : '/';
    this.identity = newIdentity(credentials);
  }

  /** The credentials URLs are signed with from now on (refreshed temporary credentials). */
  setCredentials(credentials: S3Credentials): void {
    const next = newIdentity(credentials);
    const current = this.identity.credentials;
    if (
      current.accessKeyId === next.credentials.accessKeyId &&
      current.secretAccessKey === next.credentials.secretAccessKey &&
      current.sessionToken === next.credentials.sessionToken
    ) {
      return;
    }
    this.identity = next;
  }

  /** The object's URL without any signature (a public bucket, or credentials held out of band). */
  objectUrl(key: string): string {
    return `${this.origin}${this.pathPrefix}${keyPath(key)}`;
  }

  /** What one day signs with (derived once per credentials and day: the signing key is an HMAC chain over date, region and service). */
  private day(identity: SigningIdentity, date: string): SigningDay {
    let day = identity.days.get(date);
    if (day === undefined) {
      const kDate = createHmac('sha256', `AWS4${identity.credentials.secretAccessKey}`).update(date).digest();
      const kRegion = createHmac('sha256', kDate).update(this.target.region).digest();
      const kService = createHmac('sha256', kRegion).update(SERVICE).digest();
      const key = createHmac('sha256', kService).update('aws4_request').digest();
      const scope = `${date}/${this.target.region}/${SERVICE}/aws4_request`;
      const innerPad = Buffer.alloc(HMAC_BLOCK_BYTES, 0x36);
      const outerPad = Buffer.alloc(HMAC_BLOCK_BYTES, 0x5c);
      for (let i = 0; i < key.length; i++) {
        innerPad[i] = (innerPad[i] as number) ^ (key[i] as number);
        outerPad[i] = (outerPad[i] as number) ^ (key[i] as number);
      }
      day = { innerPad: innerPad.toString('latin1'), outerPad: outerPad.toString('latin1'), scope, credential: sigV4Escape(`${identity.credentials.accessKeyId}/${scope}`) };
      if (identity.days.size >= SIGNING_KEY_CACHE_SIZE) identity.days.clear();
      identity.days.set(date, day);
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
    // One read: a refresh swapping the identity mid-URL cannot mix two sets of credentials.
    const identity = this.identity;
    const { innerPad, outerPad, scope, credential } = this.day(identity, date);
    const path = `${this.pathPrefix}${keyPath(request.key)}`;
    // Sorted by parameter name (all of ours are fixed, so the order is written out).
    const unsigned =
      `X-Amz-Algorithm=${ALGORITHM}` +
      `&X-Amz-Content-Sha256=${UNSIGNED_PAYLOAD}` +
      `&X-Amz-Credential=${credential}` +
      `&X-Amz-Date=${dateTime}` +
      `&X-Amz-Expires=${request.expiresInSec}` +
      identity.tokenParam;
    const signedHeaders = request.ifNoneMatch === true ? SIGNED_HOST_IF_NONE_MATCH : SIGNED_HOST;
    const canonicalHeaders = request.ifNoneMatch === true ? `host:${this.host}\nif-none-match:*\n\nhost;if-none-match` : `host:${this.host}\n\nhost`;
    const canonicalRequest = `${request.method}\n${path}\n${unsigned}${signedHeaders}\n${canonicalHeaders}\n${UNSIGNED_PAYLOAD}`;
    // crypto.hash (one call) costs less than half of createHash().update().digest() here.
    const stringToSign = `${ALGORITHM}\n${dateTime}\n${scope}\n${hash('sha256', canonicalRequest, 'hex')}`;
    // HMAC-SHA256(key, stringToSign), from the pads (the string to sign is ASCII).
    const inner = hash('sha256', Buffer.from(innerPad + stringToSign, 'latin1'), 'binary');
    const signature = hash('sha256', Buffer.from(outerPad + inner, 'latin1'), 'hex');
    // Written out sorted by name, as the SDK writes its presigned URLs (Signature sorts before SignedHeaders).
    return `${this.origin}${path}?${unsigned}&X-Amz-Signature=${signature}${signedHeaders}`;
  }
}

function newIdentity(credentials: S3Credentials): SigningIdentity {
  const { accessKeyId, secretAccessKey, sessionToken } = credentials;
  // An empty token is no token (smithy leaves it out too).
  const token = sessionToken === '' ? undefined : sessionToken;
  return {
    credentials: token === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken: token },
    tokenParam: token === undefined ? '' : `&X-Amz-Security-Token=${sigV4Escape(token)}`,
    days: new Map(),
  };
}
