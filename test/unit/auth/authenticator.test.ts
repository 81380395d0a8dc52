import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config';
import { DEVELOPMENT_PRINCIPAL } from '../../../src/domain/principal';
import { authenticationWarnings, createAuthenticator, type AuthOutcome, type Authenticator } from '../../../src/auth/authenticator';
import { authenticateConnection } from '../../../src/auth/connection-auth';
import { addUser } from '../../../src/auth/basic-users';
import { embeddedTokens } from '../../support/auth-tokens';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'tams';

function reasonOf(outcome: AuthOutcome): string {
  return outcome.ok ? 'ok' : outcome.failure.reason;
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('authenticator', () => {
  let dir: string;
  let authenticator: Authenticator;
  let tokens: Awaited<ReturnType<typeof embeddedTokens>>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-authn-'));
    const config = loadConfig({ TAMS_DATA_DIR: dir, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
    authenticator = createAuthenticator(config);
    tokens = await embeddedTokens(dir, ISSUER, AUDIENCE);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('turns a bearer token into a principal with its scopes and auth classes', async () => {
    const token = await tokens.sign({ sub: 'alice', scope: 'tams-api/read', roles: ['editor'], auth_classes: ['news'] });
    expect(await authenticator.authenticate({ authorization: `Bearer ${token}` })).toEqual({
      ok: true,
      principal: { subject: 'alice', name: 'alice', scopes: ['read', 'write'], authClasses: ['news'], method: 'bearer', authenticated: true, expiresAtMs: expect.any(Number) },
    });
    expect(await authenticator.authenticate({ authorization: `bearer   ${token}` })).toMatchObject({ ok: true });
    expect(await authenticator.authenticate({ accessToken: token })).toMatchObject({ ok: true, principal: { method: 'access_token' } });
  });

  it('keeps the token\'s exp on the principal, and tells when it no longer holds', async () => {
    const token = await tokens.sign({ sub: 'dora', scope: 'tams-api/read' });
    const outcome = await authenticator.authenticate({ authorization: `Bearer ${token}` });
    if (!outcome.ok) throw new Error('refused');
    const { expiresAtMs } = outcome.principal;
    expect(expiresAtMs).toBeGreaterThan(Date.now());
    expect(authenticator.isCurrent(outcome.principal)).toBe(true);
    expect(authenticator.isCurrent(outcome.principal, (expiresAtMs ?? 0) - 1)).toBe(true);
    expect(authenticator.isCurrent(outcome.principal, expiresAtMs)).toBe(false);
  });

  it('works a cached token\'s principal out once, per method, and shares it frozen', async () => {
    const token = await tokens.sign({ sub: 'carol', scope: 'tams-api/read', auth_classes: ['sport'] });
    const first = await authenticator.authenticate({ authorization: `Bearer ${token}` });
    const again = await authenticator.authenticate({ authorization: `Bearer ${token}` });
    const viaQuery = await authenticator.authenticate({ accessToken: token });
    if (!first.ok || !again.ok || !viaQuery.ok) throw new Error('the token was refused');
    expect(again.principal).toBe(first.principal);
    expect(Object.isFrozen(first.principal)).toBe(true);
    expect(viaQuery.principal).not.toBe(first.principal);
    expect(viaQuery.principal).toEqual({ ...first.principal, method: 'access_token' });
    // Another token of the same subject is its own principal, with its own scopes.
    const other = await authenticator.authenticate({ authorization: `Bearer ${await tokens.sign({ sub: 'carol', scope: 'tams-api/admin' })}` });
    expect(other).toMatchObject({ ok: true, principal: { subject: 'carol', authClasses: [] } });
    expect(other.ok && other.principal.scopes).not.toEqual(first.principal.scopes);
  });

  it('refuses missing, malformed, doubled and bad credentials with a precise reason', async () => {
    const token = await tokens.sign();
    const cases: [Parameters<Authenticator['authenticate']>[0], string][] = [
      [{}, 'no credentials'],
      [{ authorization: '' }, 'no credentials'],
      [{ authorization: 'Bearer' }, 'malformed Authorization header'],
      [{ authorization: `Token ${token}` }, 'unsupported Authorization scheme "Token"'],
      [{ authorization: `Bearer ${token}`, accessToken: token }, 'credentials in both the Authorization header and access_token'],
      [{ accessToken: [token, token] }, 'access_token given more than once'],
      [{ accessToken: '' }, 'empty token'],
      [{ authorization: `Bearer ${await tokens.sign({ sub: undefined })}` }, 'token has no sub claim'],
      [{ authorization: 'Basic !!!' }, 'malformed Basic credentials'],
      [{ authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` }, 'malformed Basic credentials'],
    ];
    for (const bad of tokens.bad) cases.push([{ authorization: `Bearer ${bad.token}` }, bad.reason]);
    for (const [credentials, reason] of cases) {
      expect({ credentials, reason: reasonOf(await authenticator.authenticate(credentials)) }).toEqual({ credentials, reason });
    }
  });

  it('challenges with Bearer, invalid_token when a token was refused, and Basic once users exist', async () => {
    const none = await authenticator.authenticate({});
    const badToken = await authenticator.authenticate({ authorization: 'Bearer x.y.z' });
    if (none.ok || badToken.ok) throw new Error('expected failures');
    expect(authenticator.challenges(none.failure)).toEqual(['Bearer realm="tams"']);
    expect(authenticator.challenges(badToken.failure)).toEqual(['Bearer realm="tams", error="invalid_token"']);

    await addUser(path.join(dir, 'users.json'), { name: 'ingest', scopes: ['write'], authClasses: ['sport'] }, 'ingest-password');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(authenticator.challenges(none.failure)).toEqual(['Bearer realm="tams"', 'Basic realm="tams", charset="UTF-8"']);
    expect(await authenticator.authenticate({ authorization: basic('ingest', 'ingest-password') })).toEqual({
      ok: true,
      principal: { subject: 'ingest', name: 'ingest', scopes: ['write'], authClasses: ['sport'], method: 'basic', authenticated: true },
    });
    expect(reasonOf(await authenticator.authenticate({ authorization: basic('ingest', 'nope-nope') }))).toBe('wrong password');
    expect(reasonOf(await authenticator.authenticate({ authorization: basic('nobody', 'nope-nope') }))).toBe('unknown user');
  });

  it('authenticates GraphQL WebSocket connections from connectionParams or the upgrade request', async () => {
    const token = await tokens.sign({ sub: 'ws-user' });
    const subject = async (outcome: Promise<AuthOutcome>): Promise<string> => {
      const o = await outcome;
      return o.ok ? o.principal.subject : `refused: ${o.failure.reason}`;
    };
    expect(await subject(authenticateConnection(authenticator, { authorization: `Bearer ${token}` }))).toBe('ws-user');
    expect(await subject(authenticateConnection(authenticator, { Authorization: `Bearer ${token}` }))).toBe('ws-user');
    expect(await subject(authenticateConnection(authenticator, { token }))).toBe('ws-user');
    expect(await subject(authenticateConnection(authenticator, { access_token: token }))).toBe('ws-user');
    expect(await subject(authenticateConnection(authenticator, { authorization: basic('ingest', 'ingest-password') }))).toBe('ingest');
    expect(await subject(authenticateConnection(authenticator, undefined, { headers: {}, url: `/graphql?access_token=${token}` }))).toBe('ws-user');
    expect(await subject(authenticateConnection(authenticator, {}, { headers: { authorization: `Bearer ${token}` }, url: '/graphql' }))).toBe('ws-user');
    expect(await subject(authenticateConnection(authenticator, undefined))).toBe('refused: no credentials');
    expect(await subject(authenticateConnection(authenticator, { token: 42 }))).toBe('refused: malformed credentials in connectionParams');
    expect(await subject(authenticateConnection(authenticator, { token, authorization: `Bearer ${token}` }))).toBe('refused: malformed credentials in connectionParams');
    expect(await subject(authenticateConnection(authenticator, { token: tokens.bad[0]!.token }))).toBe(`refused: ${tokens.bad[0]!.reason}`);
  });

  it('with TAMS_AUTH=off gives everyone the development principal, and says so', async () => {
    const off = createAuthenticator(loadConfig({ TAMS_DATA_DIR: dir, TAMS_AUTH: 'off' }));
    expect(off.enabled).toBe(false);
    expect(await off.authenticate({})).toEqual({ ok: true, principal: DEVELOPMENT_PRINCIPAL });
    expect(await off.authenticate({ authorization: 'Bearer garbage' })).toEqual({ ok: true, principal: DEVELOPMENT_PRINCIPAL });
    expect(authenticationWarnings(loadConfig({ TAMS_AUTH: 'off' }))).toEqual([expect.stringContaining('TAMS_AUTH=off')]);
  });

  it('warns when an external key is used without issuer or audience checks', () => {
    expect(authenticationWarnings(loadConfig({}))).toEqual([]);
    expect(authenticationWarnings(loadConfig({ AUTH_JWKS_URL: 'https://idp.example/jwks' }))).toEqual([expect.stringContaining('AUTH_ISSUER and AUTH_AUDIENCE not set')]);
    expect(authenticationWarnings(loadConfig({ AUTH_JWKS_URL: 'https://idp.example/jwks', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' }))).toEqual([]);
  });
});
