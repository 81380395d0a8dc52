/**
 * TAMS_STORE=vast and the VAST_* settings (src/vast-config.ts): required values, keys from the
 * environment or from files, the keys never printed, one-line ConfigErrors naming the variable
 * and never the secret, and the replica rules PostgreSQL has (one signing secret, one key).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../../src/config';
import { describeStore } from '../../../src/metadata-stores';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-vast-config-'));
const keyFile = path.join(dir, 'key.pem');
fs.writeFileSync(keyFile, 'not checked here: read at start');
const SECRET_KEY = 'sEcReT-vast-key-Never-Printed-0123456789';
const secretKeyFile = path.join(dir, 'vast-secret');
fs.writeFileSync(secretKeyFile, `${SECRET_KEY}\n`);

const VAST = {
  TAMS_STORE: 'vast',
  VAST_ENDPOINT: 'https://vast.example.com:8443/',
  VAST_ACCESS_KEY: 'AKIAVASTUSER',
  VAST_SECRET_KEY: SECRET_KEY,
  VAST_BUCKET: 'tams-db',
  TAMS_SECRET: randomBytes(32).toString('base64'),
  TAMS_EMBEDDED_KEY_FILE: keyFile,
  TAMS_LOCAL_MEDIA_SHARED: 'true',
};

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no ConfigError');
}

describe('TAMS_STORE=vast', () => {
  it('reads the endpoint, keys, bucket and schema (default tams)', () => {
    const config = loadConfig(VAST);
    expect(config.store).toBe('vast');
    expect(config.postgres).toBeUndefined();
    expect(config.vast).toMatchObject({ endpoint: 'https://vast.example.com:8443', bucket: 'tams-db', schema: 'tams', region: '', requestTimeoutMs: 30_000 });
    expect(config.vast?.keys.reveal()).toEqual({ accessKeyId: 'AKIAVASTUSER', secretAccessKey: SECRET_KEY });
    expect(config.migrateOnStart).toBe(true);
    expect(describeStore(config)).toBe('VAST Database https://vast.example.com:8443, bucket tams-db, schema tams');
  });

  it('never prints the keys: JSON, inspect and string conversion show [hidden]', () => {
    const config = loadConfig(VAST);
    const printed = [JSON.stringify(config), inspect(config, { depth: 10 }), String(config.vast?.keys), `${inspect(config.vast)}`].join('\n');
    expect(printed).not.toContain(SECRET_KEY);
    expect(printed).not.toContain('AKIAVASTUSER');
    expect(printed).toContain('[hidden]');
  });

  it('takes the keys from files (a mounted secret), trimmed', () => {
    const accessFile = path.join(dir, 'access');
    fs.writeFileSync(accessFile, 'AKIAFROMFILE\n');
    const { VAST_ACCESS_KEY: _a, VAST_SECRET_KEY: _s, ...rest } = VAST;
    const config = loadConfig({ ...rest, VAST_ACCESS_KEY_FILE: accessFile, VAST_SECRET_KEY_FILE: secretKeyFile });
    expect(config.vast?.keys.reveal()).toEqual({ accessKeyId: 'AKIAFROMFILE', secretAccessKey: SECRET_KEY });
  });

  it.each([
    [{ VAST_ENDPOINT: '' }, /^VAST_ENDPOINT: is required with TAMS_STORE=vast/],
    [{ VAST_ENDPOINT: 'ftp://vast.example.com' }, /^VAST_ENDPOINT: must be an http\(s\) URL/],
    [{ VAST_ENDPOINT: 'not a url' }, /^VAST_ENDPOINT: must be an http\(s\) URL/],
    [{ VAST_ENDPOINT: 'https://vast.example.com/tams-db' }, /^VAST_ENDPOINT: must be scheme:\/\/host\[:port\] without a path/],
    [{ VAST_ENDPOINT: 'https://user:pw@vast.example.com' }, /^VAST_ENDPOINT: must not hold credentials/],
    [{ VAST_ACCESS_KEY: '' }, /^VAST_ACCESS_KEY: is required with TAMS_STORE=vast/],
    [{ VAST_SECRET_KEY: '' }, /^VAST_SECRET_KEY: is required with TAMS_STORE=vast/],
    [{ VAST_SECRET_KEY_FILE: secretKeyFile }, /^VAST_SECRET_KEY_FILE: set only one of VAST_SECRET_KEY and VAST_SECRET_KEY_FILE/],
    [{ VAST_SECRET_KEY: '', VAST_SECRET_KEY_FILE: path.join(dir, 'missing') }, /^VAST_SECRET_KEY_FILE: cannot read .*missing: ENOENT/],
    [{ VAST_BUCKET: '' }, /^VAST_BUCKET: is required/],
    [{ VAST_BUCKET: 'Tams_DB' }, /^VAST_BUCKET: must be a bucket name/],
    [{ VAST_SCHEMA: 'a/b' }, /^VAST_SCHEMA: must be a plain identifier/],
    [{ VAST_REQUEST_TIMEOUT_MS: '5' }, /^VAST_REQUEST_TIMEOUT_MS: must be a whole number/],
    [{ VAST_CA_FILE: path.join(dir, 'no-ca.pem') }, /^VAST_CA_FILE: cannot read/],
    [{ TAMS_MIGRATE_ON_START: 'false' }, /^TAMS_MIGRATE_ON_START: false applies to TAMS_STORE=postgres only: the VAST tables are made/],
    [{ TAMS_SECRET: '' }, /^TAMS_SECRET: with TAMS_STORE=vast every replica must sign/],
    [{ TAMS_EMBEDDED_KEY_FILE: '' }, /^TAMS_EMBEDDED_KEY_FILE: with TAMS_STORE=vast and the embedded token key/],
    [{ TAMS_LOCAL_MEDIA_SHARED: '' }, /^TAMS_LOCAL_MEDIA_SHARED: with TAMS_STORE=vast the local media directory/],
  ])('refuses %j in one line, the secret never in it', (change, message) => {
    const env: Record<string, string> = { ...VAST, ...change };
    for (const [name, value] of Object.entries(change)) if (value === '') delete env[name];
    const error = configError(env);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(SECRET_KEY);
  });

  it('never echoes a key it refuses to read from a file', () => {
    const { VAST_SECRET_KEY: _s, ...rest } = VAST;
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '  \n');
    expect(configError({ ...rest, VAST_SECRET_KEY_FILE: empty }).message).toMatch(/^VAST_SECRET_KEY_FILE: .*empty is empty$/);
  });
});
