import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jwtVerify } from 'jose';
import { parseTtl, runCli } from '../../../src/cli';
import { loadOrCreateEmbeddedKey } from '../../../src/auth/embedded-keys';
import { BasicUsers, listUsers } from '../../../src/auth/basic-users';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('operator CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-cli-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function run(argv: string[], env: Record<string, string> = {}, stdin = ''): Promise<Run> {
    const out: Run = { code: -1, stdout: '', stderr: '' };
    out.code = await runCli(argv, {
      stdout: (t) => (out.stdout += t),
      stderr: (t) => (out.stderr += t),
      readStdin: async () => stdin,
      env: { TAMS_DATA_DIR: dir, ...env },
    });
    return out;
  }

  it('token prints one token alone on stdout, signed with the embedded key', async () => {
    const res = await run(['token', '--scopes', 'read,write', '--ttl', '2h', '--sub', 'ops', '--auth-classes', 'news,sport'], {
      AUTH_ISSUER: 'https://tams.local',
      AUTH_AUDIENCE: 'tams',
    });
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const key = loadOrCreateEmbeddedKey(dir);
    const { payload, protectedHeader } = await jwtVerify(res.stdout.trim(), key.publicKey, { issuer: 'https://tams.local', audience: 'tams' });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: key.kid, typ: 'JWT' });
    expect(payload).toMatchObject({ sub: 'ops', scope: 'tams-api/read tams-api/write', auth_classes: ['news', 'sport'] });
    expect((payload.exp as number) - (payload.iat as number)).toBe(7200);
  });

  it('token uses the HMAC secret when one is configured, and refuses when the gateway holds no signing key', async () => {
    const secret = 's'.repeat(40);
    const res = await run(['token', '--scopes', 'admin'], { AUTH_HS256_SECRET: secret });
    expect(res.code).toBe(0);
    await expect(jwtVerify(res.stdout.trim(), Buffer.from(secret))).resolves.toMatchObject({ payload: { scope: 'tams-api/admin' } });
    const jwks = await run(['token', '--scopes', 'read'], { AUTH_JWKS_URL: 'https://idp.example/jwks' });
    expect(jwks).toMatchObject({ code: 1, stdout: '' });
    expect(jwks.stderr).toContain('identity provider');
  });

  it('refuses bad usage with exit code 2 and nothing on stdout', async () => {
    for (const argv of [['token'], ['token', '--scopes', 'read,fly'], ['token', '--scopes', 'read', '--ttl', '1y'], ['token', '--nope'], ['frobnicate'], [], ['user', 'add']]) {
      const res = await run(argv);
      expect({ argv, code: res.code, stdout: res.stdout }).toEqual({ argv, code: 2, stdout: '' });
      expect(res.stderr).toMatch(/^error: /);
    }
    expect((await run(['token', '--scopes', 'read'], { AUTH_CLOCK_SKEW_SEC: 'x' })).code).toBe(2);
  });

  it('parses token lifetimes', () => {
    expect(parseTtl('90')).toBe(90);
    expect(parseTtl('90s')).toBe(90);
    expect(parseTtl('15m')).toBe(900);
    expect(parseTtl('1h')).toBe(3600);
    expect(parseTtl('7d')).toBe(604800);
    expect(() => parseTtl('0')).toThrow('--ttl');
    expect(() => parseTtl('400d')).toThrow('--ttl');
    expect(() => parseTtl('1.5h')).toThrow('--ttl');
  });

  it('user add / list / remove manage the Basic users file', async () => {
    const added = await run(['user', 'add', 'alice', '--scopes', 'read,write', '--auth-classes', 'news', '--password-stdin'], {}, 'alice-secret-pw\n');
    expect(added).toMatchObject({ code: 0, stdout: '' });
    const users = new BasicUsers(path.join(dir, 'users.json'));
    expect(await users.verify('alice', 'alice-secret-pw')).toMatchObject({ ok: true, user: { scopes: ['read', 'write'], authClasses: ['news'] } });

    const generated = await run(['user', 'add', 'bob', '--scopes', 'read']);
    expect(generated.code).toBe(0);
    const password = generated.stdout.trim();
    expect(password).toMatch(/^[\w-]{24}$/);
    expect(await new BasicUsers(path.join(dir, 'users.json')).verify('bob', password)).toMatchObject({ ok: true });

    expect((await run(['user', 'list'])).stdout).toBe('alice\tscopes=read,write\tauth_classes=news\nbob\tscopes=read\tauth_classes=\n');
    expect((await run(['user', 'remove', 'bob'])).code).toBe(0);
    expect((await run(['user', 'remove', 'bob'])).code).toBe(1);
    expect(listUsers(path.join(dir, 'users.json')).map((u) => u.name)).toEqual(['alice']);
  });

  it('user add follows AUTH_USERS_FILE', async () => {
    const file = path.join(dir, 'elsewhere', 'people.json');
    expect((await run(['user', 'add', 'carol', '--scopes', 'read', '--password-stdin'], { AUTH_USERS_FILE: file }, 'carol-password')).code).toBe(0);
    expect(listUsers(file).map((u) => u.name)).toEqual(['carol']);
  });
});
