/**
 * Tokens for authentication tests, signed with real keys: good ones from the gateway's own
 * embedded key, and every way a token can be wrong (expired, not yet valid, forged, unsigned,
 * wrong issuer or audience, HMAC-signed with the public key).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, base64url, type JWTPayload } from 'jose';
import { loadOrCreateEmbeddedKey } from '../../src/auth/embedded-keys';

export interface SignOptions {
  key: KeyObject;
  alg: string;
  kid?: string;
}

const now = (): number => Math.floor(Date.now() / 1000);

export async function sign(claims: JWTPayload, options: SignOptions): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg, typ: 'JWT', ...(options.kid === undefined ? {} : { kid: options.kid }) })
    .sign(options.key);
}

/** A JWT with `alg: none` and no signature (RFC 7519 section 6). */
export function unsigned(claims: JWTPayload): string {
  const part = (value: unknown): string => base64url.encode(JSON.stringify(value));
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

export interface BadTokenCase {
  name: string;
  token: string;
  /** The reason the gateway logs for it. */
  reason: string;
}

/**
 * Valid claims and a set of bad tokens for a gateway whose embedded key lives in `dataDir`,
 * checking `issuer` and `audience`.
 */
export async function embeddedTokens(dataDir: string, issuer: string, audience: string) {
  const embedded = loadOrCreateEmbeddedKey(dataDir);
  const good = { key: embedded.privateKey, alg: 'ES256', kid: embedded.kid };
  const claims = (extra: JWTPayload = {}): JWTPayload => ({
    sub: 'tester',
    iss: issuer,
    aud: audience,
    iat: now(),
    exp: now() + 600,
    scope: 'tams-api/read tams-api/write tams-api/delete tams-api/admin',
    ...extra,
  });
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const publicPem = embedded.publicKey.export({ format: 'pem', type: 'spki' });
  const bad: BadTokenCase[] = [
    { name: 'expired', token: await sign(claims({ iat: now() - 3600, exp: now() - 600 }), good), reason: 'token expired' },
    { name: 'not yet valid (nbf)', token: await sign(claims({ nbf: now() + 600 }), good), reason: 'token not yet valid' },
    { name: 'forged signature', token: await sign(claims(), { ...good, key: stranger }), reason: 'signature verification failed' },
    { name: 'alg none', token: unsigned(claims()), reason: 'algorithm not allowed' },
    { name: 'wrong issuer', token: await sign(claims({ iss: 'https://evil.example' }), good), reason: 'wrong issuer' },
    { name: 'wrong audience', token: await sign(claims({ aud: 'another-service' }), good), reason: 'wrong audience' },
    { name: 'no expiry', token: await sign(claims({ exp: undefined }), good), reason: 'token has no exp claim' },
    {
      name: 'HS256 with the public key as secret',
      token: await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: embedded.kid }).sign(Buffer.from(publicPem)),
      reason: 'algorithm not allowed',
    },
    { name: 'garbage', token: 'not.a.jwt', reason: 'malformed token' },
  ];
  return {
    claims,
    bad,
    sign: (extra: JWTPayload = {}) => sign(claims(extra), good),
  };
}
