/**
 * Bearer JWT verification with jose against the one configured key source: a JWKS URL, a PEM
 * public key, an HMAC secret or the embedded ES256 key. Signature, algorithm, `exp` (required),
 * `nbf`, `iss` and `aud` are checked with a small clock skew; a rejection carries a precise
 * reason for the logs, never for the client.
 */
import fs from 'node:fs';
import { X509Certificate, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { ConfigError, type AuthConfig } from '../config';
import { ASYMMETRIC_ALGORITHMS, EMBEDDED_ALGORITHM, algorithmsForKey } from './algorithms';
import { embeddedKeyFor } from './embedded-keys';
import { VerifiedTokenCache } from './verified-token-cache';

export type TokenCheck =
  | { ok: true; claims: JWTPayload }
  /** `unavailable`: the token could not be checked (key set unreachable), not found bad. */
  | { ok: false; reason: string; unavailable: boolean };

export interface JwtVerifierTuning {
  /**
   * Least time between two JWKS fetches triggered by an unknown `kid` (jose's cooldown,
   * 30 s by default), so tokens with made-up key ids cannot hammer the identity provider.
   */
  jwksCooldownMs?: number;
}

/** jose's rejection -> the reason logged. */
function rejection(err: unknown, remoteKeys: boolean): { reason: string; unavailable: boolean } {
  if (err instanceof errors.JWTExpired) return { reason: 'token expired', unavailable: false };
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return { reason: `token has no ${err.claim} claim`, unavailable: false };
    const byClaim: Record<string, string> = { nbf: 'token not yet valid', iss: 'wrong issuer', aud: 'wrong audience', iat: 'token issued in the future' };
    return { reason: byClaim[err.claim] ?? `invalid ${err.claim} claim`, unavailable: false };
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return { reason: 'algorithm not allowed', unavailable: false };
  if (err instanceof errors.JWSSignatureVerificationFailed) return { reason: 'signature verification failed', unavailable: false };
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return { reason: 'malformed token', unavailable: false };
  if (err instanceof errors.JWKSNoMatchingKey) return { reason: 'no key in the key set matches the token', unavailable: false };
  if (err instanceof errors.JWKSMultipleMatchingKeys) return { reason: 'several keys in the key set match the token', unavailable: false };
  if (err instanceof errors.JOSENotSupported) return { reason: 'unsupported token', unavailable: false };
  // What is left is the key set failing to arrive (timeout, HTTP error, bad JSON, network).
  if (remoteKeys) return { reason: `key set unavailable: ${err instanceof Error ? err.message : String(err)}`, unavailable: true };
  return { reason: 'token rejected', unavailable: false };
}

export class JwtVerifier {
  private readonly cache: VerifiedTokenCache<JWTPayload>;

  constructor(
    private readonly key: KeyObject | JWTVerifyGetKey,
    private readonly options: JWTVerifyOptions,
    cacheSize: number,
    private readonly remoteKeys: boolean,
  ) {
    this.cache = new VerifiedTokenCache(cacheSize);
  }

  /** The algorithms accepted: AUTH_ALGORITHMS, or the key's family. */
  get algorithms(): readonly string[] {
    return this.options.algorithms ?? [];
  }

  async verify(token: string): Promise<TokenCheck> {
    const cached = this.cache.get(token);
    if (cached !== undefined) return { ok: true, claims: cached };
    try {
      // Two call shapes because jose types a key and a key-lookup function apart.
      const { payload } = typeof this.key === 'function' ? await jwtVerify(token, this.key, this.options) : await jwtVerify(token, this.key, this.options);
      this.cache.set(token, payload, (payload.exp as number) * 1000);
      return { ok: true, claims: payload };
    } catch (err) {
      return { ok: false, ...rejection(err, this.remoteKeys) };
    }
  }
}

function publicKeyFromFile(file: string): KeyObject {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('AUTH_PUBLIC_KEY_FILE', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new ConfigError('AUTH_PUBLIC_KEY_FILE', `${file} holds a private key: give the gateway the public key (SPKI PEM) or a certificate`);
  }
  try {
    return pem.includes('-----BEGIN CERTIFICATE-----') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  } catch {
    throw new ConfigError('AUTH_PUBLIC_KEY_FILE', `${file} is not a PEM public key or certificate`);
  }
}

/** The configured algorithms, each checked against what the key can verify, or the key's own family. */
function algorithmsFor(configured: string[] | undefined, usable: readonly string[], describe: string): string[] {
  if (configured === undefined) return [...usable];
  const unfit = configured.filter((alg) => !usable.includes(alg));
  if (unfit.length > 0) throw new ConfigError('AUTH_ALGORITHMS', `${unfit.join(', ')} cannot be verified with ${describe}`);
  return configured;
}

/** Builds the verifier of the configured key source (the embedded key is created on first use). */
export function createJwtVerifier(config: AuthConfig, dataDir: string, tuning: JwtVerifierTuning = {}): JwtVerifier {
  const options = (algorithms: string[]): JWTVerifyOptions => ({
    algorithms,
    clockTolerance: config.clockSkewSec,
    // A token without an expiry would be valid forever once leaked.
    requiredClaims: ['exp'],
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(config.audience === undefined ? {} : { audience: config.audience }),
  });
  const { key } = config;
  switch (key.kind) {
    case 'embedded': {
      const embedded = embeddedKeyFor(config.embeddedKeyFile, dataDir);
      return new JwtVerifier(embedded.publicKey, options([EMBEDDED_ALGORITHM]), config.tokenCacheSize, false);
    }
    case 'public-key': {
      const publicKey = publicKeyFromFile(key.file);
      const usable = algorithmsForKey(publicKey);
      if (usable.length === 0) {
        throw new ConfigError('AUTH_PUBLIC_KEY_FILE', `${key.file} holds a ${publicKey.asymmetricKeyType ?? 'unknown'} key, which cannot verify JWTs`);
      }
      const algorithms = algorithmsFor(config.algorithms, usable, `the ${publicKey.asymmetricKeyType ?? ''} key in AUTH_PUBLIC_KEY_FILE`);
      return new JwtVerifier(publicKey, options(algorithms), config.tokenCacheSize, false);
    }
    case 'hmac':
      return new JwtVerifier(createSecretKey(Buffer.from(key.secret, 'utf8')), options(config.algorithms ?? ['HS256']), config.tokenCacheSize, false);
    case 'jwks': {
      // jose caches the set, refetches it when a token names an unknown `kid` (key rotation)
      // and shares one fetch between concurrent requests.
      const keySet = createRemoteJWKSet(new URL(key.url), {
        timeoutDuration: 5000,
        ...(tuning.jwksCooldownMs === undefined ? {} : { cooldownDuration: tuning.jwksCooldownMs }),
      });
      return new JwtVerifier(keySet, options(config.algorithms ?? [...ASYMMETRIC_ALGORITHMS]), config.tokenCacheSize, true);
    }
  }
}
