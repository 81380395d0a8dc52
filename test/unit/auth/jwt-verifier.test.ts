import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, exportJWK, type JWK, type JWTPayload } from 'jose';
import { ConfigError, loadConfig } from '../../../src/config';
import { createJwtVerifier, type TokenCheck } from '../../../src/auth/jwt-verifier';
import { issueToken, tokenSigner } from '../../../src/auth/token-issuer';
import { embeddedTokens, sign, unsigned } from '../../support/auth-tokens';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'tams';
const now = (): number => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}): JWTPayload => ({ sub: 'svc', iss: ISSUER, aud: AUDIENCE, exp: now() + 300, ...extra });

function reasonOf(check: TokenCheck): string {
  return check.ok ? 'ok' : check.reason;
}

describe('JWT verification', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-jwt-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const env = (extra: Record<string, string>) => loadConfig({ TAMS_DATA_DIR: dir, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, ...extra });

  describe('embedded ES256 key', () => {
    it('accepts its own tokens and rejects every bad one with a precise reason', async () => {
      const config = env({});
      const verifier = createJwtVerifier(config.authentication, dir);
      expect(verifier.algorithms).toEqual(['ES256']);
      const issued = await issueToken(tokenSigner(config), { subject: 'admin', scopes: ['read', 'admin'], ttlSec: 60 }, config);
      const ok = await verifier.verify(issued);
      expect(ok).toMatchObject({ ok: true, claims: { sub: 'admin', iss: ISSUER, aud: AUDIENCE, scope: 'tams-api/read tams-api/admin' } });

      const tokens = await embeddedTokens(dir, ISSUER, AUDIENCE);
      expect(reasonOf(await verifier.verify(await tokens.sign()))).toBe('ok');
      for (const bad of tokens.bad) {
        const check = await verifier.verify(bad.token);
        expect({ name: bad.name, reason: reasonOf(check) }).toEqual({ name: bad.name, reason: bad.reason });
        expect(check.ok || check.unavailable).toBe(false);
      }
    });

    it('allows a small clock skew (AUTH_CLOCK_SKEW_SEC) and no more', async () => {
      const verifier = createJwtVerifier(env({ AUTH_CLOCK_SKEW_SEC: '30' }).authentication, dir);
      const tokens = await embeddedTokens(dir, ISSUER, AUDIENCE);
      expect(reasonOf(await verifier.verify(await tokens.sign({ exp: now() - 10 })))).toBe('ok');
      expect(reasonOf(await verifier.verify(await tokens.sign({ nbf: now() + 10 })))).toBe('ok');
      expect(reasonOf(await verifier.verify(await tokens.sign({ exp: now() - 45 })))).toBe('token expired');
      const strict = createJwtVerifier(env({ AUTH_CLOCK_SKEW_SEC: '0' }).authentication, dir);
      expect(reasonOf(await strict.verify(await tokens.sign({ exp: now() - 10 })))).toBe('token expired');
    });

    it('accepts any of several configured audiences, and any issuer or audience when none is configured', async () => {
      const tokens = await embeddedTokens(dir, ISSUER, 'second');
      expect(reasonOf(await createJwtVerifier(env({ AUTH_AUDIENCE: 'first,second' }).authentication, dir).verify(await tokens.sign()))).toBe('ok');
      const open = createJwtVerifier(loadConfig({ TAMS_DATA_DIR: dir }).authentication, dir);
      expect(reasonOf(await open.verify(await tokens.sign({ iss: 'anyone', aud: 'anything' })))).toBe('ok');
    });
  });

  describe('PEM public key (RS256)', () => {
    let privateKey: KeyObject;
    let file: string;
    beforeAll(() => {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      privateKey = pair.privateKey;
      file = path.join(dir, 'issuer.pem');
      fs.writeFileSync(file, pair.publicKey.export({ format: 'pem', type: 'spki' }));
    });

    it('verifies RS256 tokens of the key holder and nothing else', async () => {
      const verifier = createJwtVerifier(env({ AUTH_PUBLIC_KEY_FILE: file }).authentication, dir);
      expect(verifier.algorithms).toEqual(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: privateKey, alg: 'RS256' })))).toBe('ok');
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: privateKey, alg: 'PS256' })))).toBe('ok');
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: other, alg: 'RS256' })))).toBe('signature verification failed');
      expect(reasonOf(await verifier.verify(unsigned(claims())))).toBe('algorithm not allowed');
      const pem = fs.readFileSync(file);
      expect(reasonOf(await verifier.verify(await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(pem)))).toBe('algorithm not allowed');
    });

    it('narrows to AUTH_ALGORITHMS', async () => {
      const verifier = createJwtVerifier(env({ AUTH_PUBLIC_KEY_FILE: file, AUTH_ALGORITHMS: 'PS256' }).authentication, dir);
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: privateKey, alg: 'RS256' })))).toBe('algorithm not allowed');
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: privateKey, alg: 'PS256' })))).toBe('ok');
    });

    it('refuses algorithms the key cannot verify, private keys and unreadable files, naming the variable', () => {
      const refusal = (extra: Record<string, string>): ConfigError => {
        try {
          createJwtVerifier(env(extra).authentication, dir);
        } catch (err) {
          if (err instanceof ConfigError) return err;
          throw err;
        }
        throw new Error('accepted');
      };
      expect(refusal({ AUTH_PUBLIC_KEY_FILE: file, AUTH_ALGORITHMS: 'ES256' }).variable).toBe('AUTH_ALGORITHMS');
      const privateFile = path.join(dir, 'private.pem');
      fs.writeFileSync(privateFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
      expect(refusal({ AUTH_PUBLIC_KEY_FILE: privateFile }).message).toContain('holds a private key');
      expect(refusal({ AUTH_PUBLIC_KEY_FILE: path.join(dir, 'missing.pem') }).variable).toBe('AUTH_PUBLIC_KEY_FILE');
      const junk = path.join(dir, 'junk.pem');
      fs.writeFileSync(junk, 'hello');
      expect(refusal({ AUTH_PUBLIC_KEY_FILE: junk }).message).toContain('is not a PEM public key');
    });
  });

  describe('HMAC secret (HS256)', () => {
    const secret = 'a-test-secret-that-is-long-enough-for-hs256';

    it('verifies tokens signed with the shared secret and nothing else', async () => {
      const config = env({ AUTH_HS256_SECRET: secret });
      const verifier = createJwtVerifier(config.authentication, dir);
      expect(verifier.algorithms).toEqual(['HS256']);
      const issued = await issueToken(tokenSigner(config), { subject: 'cli', scopes: ['read'], ttlSec: 60 }, config);
      expect(reasonOf(await verifier.verify(issued))).toBe('ok');
      const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(`${secret}!`));
      expect(reasonOf(await verifier.verify(forged))).toBe('signature verification failed');
      const es = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: es, alg: 'ES256' })))).toBe('algorithm not allowed');
      expect(reasonOf(await verifier.verify(unsigned(claims())))).toBe('algorithm not allowed');
    });
  });

  describe('JWKS URL', () => {
    interface Signer {
      key: KeyObject;
      jwk: JWK;
    }
    let server: http.Server;
    let url: string;
    let published: JWK[] = [];
    let fetches = 0;
    let failing = false;

    async function signer(kid: string): Promise<Signer> {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return { key: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' } };
    }

    beforeAll(async () => {
      server = http.createServer((_req, res) => {
        fetches++;
        if (failing) {
          res.writeHead(500).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });
    beforeEach(() => {
      fetches = 0;
      failing = false;
    });

    it('fetches the set once, caches verified tokens, and refetches when a token names an unknown kid (rotation)', async () => {
      const first = await signer('k1');
      published = [first.jwk];
      const verifier = createJwtVerifier(env({ AUTH_JWKS_URL: url }).authentication, dir, { jwksCooldownMs: 0 });
      const token1 = await sign(claims(), { key: first.key, alg: 'ES256', kid: 'k1' });
      expect(reasonOf(await verifier.verify(token1))).toBe('ok');
      expect(reasonOf(await verifier.verify(await sign(claims({ sub: 'other' }), { key: first.key, alg: 'ES256', kid: 'k1' })))).toBe('ok');
      expect(fetches).toBe(1);

      // The issuer rotates: k1 is withdrawn, k2 published.
      const second = await signer('k2');
      published = [second.jwk];
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: second.key, alg: 'ES256', kid: 'k2' })))).toBe('ok');
      expect(fetches).toBe(2);

      // Already verified: answered from the token cache until it expires, no fetch.
      expect(reasonOf(await verifier.verify(token1))).toBe('ok');
      expect(fetches).toBe(2);

      const stranger = await signer('k3');
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: stranger.key, alg: 'ES256', kid: 'k3' })))).toBe('no key in the key set matches the token');
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: stranger.key, alg: 'ES256', kid: 'k2' })))).toBe('signature verification failed');
      expect(reasonOf(await verifier.verify(unsigned(claims())))).toBe('algorithm not allowed');
    });

    it('does not refetch for unknown kids during the cooldown', async () => {
      const first = await signer('k1');
      published = [first.jwk];
      const verifier = createJwtVerifier(env({ AUTH_JWKS_URL: url }).authentication, dir);
      expect(reasonOf(await verifier.verify(await sign(claims(), { key: first.key, alg: 'ES256', kid: 'k1' })))).toBe('ok');
      const stranger = await signer('zz');
      for (let i = 0; i < 5; i++) await verifier.verify(await sign(claims(), { key: stranger.key, alg: 'ES256', kid: `zz${i}` }));
      expect(fetches).toBe(1);
    });

    it('reports an unreachable key set as unavailable, not as a bad token', async () => {
      failing = true;
      const first = await signer('k1');
      const verifier = createJwtVerifier(env({ AUTH_JWKS_URL: url }).authentication, dir, { jwksCooldownMs: 0 });
      const check = await verifier.verify(await sign(claims(), { key: first.key, alg: 'ES256', kid: 'k1' }));
      expect(check.ok).toBe(false);
      expect(!check.ok && check.unavailable).toBe(true);
      expect(reasonOf(check)).toMatch(/^key set unavailable/);
    });
  });
});

describe('authentication configuration', () => {
  const refused = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) {
        expect(err.message).not.toContain('\n');
        return err.variable;
      }
      throw err;
    }
    return 'accepted';
  };

  it('defaults to authentication on, with the embedded key and the documented claims', () => {
    const config = loadConfig({ TAMS_DATA_DIR: '/tmp/tams-x' });
    expect(config.auth).toBe('on');
    expect(config.authentication).toMatchObject({
      key: { kind: 'embedded' },
      algorithms: undefined,
      issuer: undefined,
      audience: undefined,
      clockSkewSec: 30,
      tokenCacheSize: 10_000,
      usersFile: '/tmp/tams-x/users.json',
      claims: { scopeClaim: 'scope', scopePrefix: 'tams-api/', rolesClaim: 'roles', authClassesClaim: 'auth_classes' },
    });
  });

  it.each([
    [{ AUTH_JWKS_URL: 'https://idp.example/jwks', AUTH_HS256_SECRET: 'x'.repeat(32) }, 'AUTH_HS256_SECRET'],
    [{ AUTH_PUBLIC_KEY_FILE: '/k.pem', AUTH_JWKS_URL: 'https://idp.example/jwks' }, 'AUTH_PUBLIC_KEY_FILE'],
    [{ AUTH_JWKS_URL: 'http://idp.example/jwks' }, 'AUTH_JWKS_URL'],
    [{ AUTH_JWKS_URL: 'not a url' }, 'AUTH_JWKS_URL'],
    [{ AUTH_HS256_SECRET: 'short' }, 'AUTH_HS256_SECRET'],
    [{ AUTH_ALGORITHMS: 'none' }, 'AUTH_ALGORITHMS'],
    [{ AUTH_ALGORITHMS: 'ES256,None' }, 'AUTH_ALGORITHMS'],
    [{ AUTH_ALGORITHMS: 'RS256' }, 'AUTH_ALGORITHMS'],
    [{ AUTH_HS256_SECRET: 'x'.repeat(32), AUTH_ALGORITHMS: 'RS256' }, 'AUTH_ALGORITHMS'],
    [{ AUTH_JWKS_URL: 'https://idp.example/jwks', AUTH_ALGORITHMS: 'HS256' }, 'AUTH_ALGORITHMS'],
    [{ AUTH_CLOCK_SKEW_SEC: '3600' }, 'AUTH_CLOCK_SKEW_SEC'],
    [{ AUTH_TOKEN_CACHE_SIZE: '-1' }, 'AUTH_TOKEN_CACHE_SIZE'],
    [{ AUTH_ROLE_SCOPES: '{"viewer":["look"]}' }, 'AUTH_ROLE_SCOPES'],
    [{ AUTH_ROLE_SCOPES: '[1]' }, 'AUTH_ROLE_SCOPES'],
    [{ NODE_ENV: 'production', TAMS_AUTH: 'off' }, 'TAMS_AUTH'],
  ])('refuses %j naming %s', (env, variable) => {
    expect(refused(env)).toBe(variable);
  });

  it('accepts http JWKS URLs on loopback only', () => {
    expect(loadConfig({ AUTH_JWKS_URL: 'http://127.0.0.1:8080/jwks' }).authentication.key).toEqual({ kind: 'jwks', url: 'http://127.0.0.1:8080/jwks' });
    expect(loadConfig({ AUTH_JWKS_URL: 'http://localhost/jwks' }).authentication.key.kind).toBe('jwks');
  });
});
