/**
 * SigV4 checked from the algorithm (AWS General Reference, "Signature Version 4 signing process"),
 * as an S3-style server does, with node:crypto alone: not with @smithy, which the transport signs
 * with, so that the check is independent of the signer it checks. It is itself checked against
 * the signatures captured in the Java client's tests (test/integration/vast-transport.test.ts).
 *
 * The path is taken as received, each segment decoded and escaped once per RFC 3986; the query
 * decoded, escaped, sorted by key then value; the signed headers as received. `host`,
 * `x-amz-content-sha256` and `x-amz-date` must be signed, the payload hash must be the body's,
 * and the signing time within 15 minutes of the server's clock.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SignedRequest {
  method: string;
  /** The request target as received: path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function rfc3986(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

function canonicalQuery(raw: string): string {
  if (raw === '') return '';
  return raw
    .split('&')
    .map((part) => {
      const at = part.indexOf('=');
      const key = decodeURIComponent(at < 0 ? part : part.slice(0, at));
      const value = at < 0 ? '' : decodeURIComponent(part.slice(at + 1));
      return [rfc3986(key), rfc3986(value)] as const;
    })
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]*)\/([a-z0-9]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;
const REQUIRED_SIGNED = ['host', 'x-amz-content-sha256', 'x-amz-date'];

/** Why the request's signature does not verify, or undefined when it does. */
export function sigV4Problem(request: SignedRequest, secrets: ReadonlyMap<string, string>, now: Date): string | undefined {
  const header = (name: string): string => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : (value ?? '');
  };
  const parsed = AUTHORIZATION.exec(header('authorization'));
  if (parsed === null) return 'malformed Authorization';
  const [, accessKey, day, region, service, signedHeaders, signature] = parsed as unknown as [string, string, string, string, string, string, string];
  const secret = secrets.get(accessKey);
  if (secret === undefined) return 'unknown access key';
  if (service !== 's3') return `service ${service}`;
  const amzDate = header('x-amz-date');
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (match === null || amzDate.slice(0, 8) !== day) return 'x-amz-date';
  const signedAt = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6]));
  if (Math.abs(now.getTime() - signedAt) > 15 * 60 * 1000) return 'request time too skewed';
  const payloadHash = header('x-amz-content-sha256');
  if (payloadHash !== createHash('sha256').update(request.body).digest('hex')) return 'payload hash';
  const names = signedHeaders.split(';');
  if (REQUIRED_SIGNED.some((name) => !names.includes(name))) return `signed headers ${signedHeaders}`;
  const at = request.url.indexOf('?');
  const path = at < 0 ? request.url : request.url.slice(0, at);
  const canonical = [
    request.method,
    path
      .split('/')
      .map((segment) => rfc3986(decodeURIComponent(segment)))
      .join('/'),
    canonicalQuery(at < 0 ? '' : request.url.slice(at + 1)),
    ...names.map((name) => `${name}:${header(name).trim().replace(/\s+/g, ' ')}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, `${day}/${region}/${service}/aws4_request`, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of [day, region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex')) ? undefined : 'signature mismatch';
}
