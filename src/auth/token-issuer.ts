/**
 * Bearer tokens the gateway signs itself: the admin token printed at start and `npm run token`.
 * Only the embedded key and an HMAC secret can sign; tokens for a JWKS or public-key set-up
 * come from the identity provider that holds the private key.
 */
import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Config } from '../config';
import type { Scope } from '../domain/principal';
import { EMBEDDED_ALGORITHM } from './algorithms';
import { claimsGranting } from './claims';
import { embeddedKeyFor } from './embedded-keys';

export interface TokenSigner {
  key: KeyObject;
  alg: string;
  kid?: string;
}

export interface TokenRequest {
  subject: string;
  scopes: readonly Scope[];
  authClasses?: readonly string[];
  ttlSec: number;
}

type SigningConfig = Pick<Config, 'dataDir' | 'authentication'>;

/** The key this configuration's tokens are signed with; throws when the gateway holds none. */
export function tokenSigner(config: SigningConfig): TokenSigner {
  const { key, algorithms } = config.authentication;
  switch (key.kind) {
    case 'embedded': {
      const embedded = embeddedKeyFor(config.authentication.embeddedKeyFile, config.dataDir);
      return { key: embedded.privateKey, alg: EMBEDDED_ALGORITHM, kid: embedded.kid };
    }
    case 'hmac':
      return { key: createSecretKey(Buffer.from(key.secret, 'utf8')), alg: algorithms?.[0] ?? 'HS256' };
    default:
      throw new Error(`the gateway holds no signing key with ${key.kind === 'jwks' ? 'AUTH_JWKS_URL' : 'AUTH_PUBLIC_KEY_FILE'}: get tokens from your identity provider`);
  }
}

/** A token the configured verifier accepts: configured issuer and audience, scopes in the configured claims. */
export async function issueToken(signer: TokenSigner, request: TokenRequest, config: SigningConfig): Promise<string> {
  const { issuer, audience, claims } = config.authentication;
  const jwt = new SignJWT(claimsGranting(request.scopes, request.authClasses ?? [], claims))
    .setProtectedHeader({ alg: signer.alg, typ: 'JWT', ...(signer.kid === undefined ? {} : { kid: signer.kid }) })
    .setSubject(request.subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + request.ttlSec)
    .setJti(randomUUID());
  if (issuer !== undefined) jwt.setIssuer(issuer);
  if (audience !== undefined) jwt.setAudience(audience[0] as string);
  return jwt.sign(signer.key);
}
