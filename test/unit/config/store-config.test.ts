/**
 * The store selection and replica settings of config.ts: TAMS_STORE, DATABASE_URL, TAMS_PG_*,
 * TAMS_MIGRATE_ON_START, TAMS_SECRET / TAMS_SECRET_FILE, TAMS_EMBEDDED_KEY_FILE and
 * TAMS_LOCAL_MEDIA_SHARED: defaults, accepted values, and one-line ConfigErrors.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, decodeSecret, loadConfig, redactDatabaseUrl } from '../../../src/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-store-config-'));
const SECRET = randomBytes(32).toString('base64');
const keyFile = path.join(dir, 'key.pem');
fs.writeFileSync(keyFile, 'not checked here: read at start');
const secretFile = path.join(dir, 'secret');
fs.writeFileSync(secretFile, `${randomBytes(40).toString('hex')}\n`);

/** A PostgreSQL replica's complete settings. */
const PG = {
  TAMS_STORE: 'postgres',
  DATABASE_URL: 'postgres://tams:hunter2@db.example:5432/tams?sslmode=require',
  TAMS_SECRET: SECRET,
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

describe('store selection', () => {
  it('defaults to SQLite, migrated at start, with the data dir secret', () => {
    expect(loadConfig({})).toMatchObject({ store: 'sqlite', postgres: undefined, migrateOnStart: true, signingSecret: undefined, localMediaShared: false });
    expect(loadConfig({}).authentication.embeddedKeyFile).toBeUndefined();
  });

  it('reads PostgreSQL with its defaults: pool 10, 5 s to connect, 30 s statements, no schema, no migration at start', () => {
    const c = loadConfig(PG);
    expect(c.store).toBe('postgres');
    expect(c.migrateOnStart).toBe(false);
    expect(c.postgres).toEqual({
      url: PG.DATABASE_URL,
      redactedUrl: 'postgres://db.example:5432/tams',
      poolSize: 10,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 30000,
      schema: undefined,
    });
    expect(c.signingSecret).toEqual(Buffer.from(SECRET, 'base64'));
    expect(c.authentication.embeddedKeyFile).toBe(keyFile);
  });

  it('reads every TAMS_PG_* setting and TAMS_MIGRATE_ON_START', () => {
    const c = loadConfig({ ...PG, TAMS_PG_POOL_SIZE: '3', TAMS_PG_CONNECT_TIMEOUT_MS: '250', TAMS_PG_STATEMENT_TIMEOUT_MS: '0', TAMS_PG_SCHEMA: 'tams_2', TAMS_MIGRATE_ON_START: 'true' });
    expect(c.postgres).toMatchObject({ poolSize: 3, connectTimeoutMs: 250, statementTimeoutMs: 0, schema: 'tams_2' });
    expect(c.migrateOnStart).toBe(true);
  });

  it.each([
    ['TAMS_STORE', { TAMS_STORE: 'mysql' }],
    ['DATABASE_URL', { ...PG, DATABASE_URL: '' }],
    ['DATABASE_URL', { ...PG, DATABASE_URL: 'mysql://tams:hunter2@db/tams' }],
    ['DATABASE_URL', { ...PG, DATABASE_URL: 'postgres://tams:hunter2@/tams' }],
    ['DATABASE_URL', { ...PG, DATABASE_URL: 'not a url hunter2' }],
    ['TAMS_PG_POOL_SIZE', { ...PG, TAMS_PG_POOL_SIZE: '0' }],
    ['TAMS_PG_POOL_SIZE', { ...PG, TAMS_PG_POOL_SIZE: 'ten' }],
    ['TAMS_PG_CONNECT_TIMEOUT_MS', { ...PG, TAMS_PG_CONNECT_TIMEOUT_MS: '50' }],
    ['TAMS_PG_STATEMENT_TIMEOUT_MS', { ...PG, TAMS_PG_STATEMENT_TIMEOUT_MS: '-1' }],
    ['TAMS_PG_STATEMENT_TIMEOUT_MS', { ...PG, TAMS_PG_STATEMENT_TIMEOUT_MS: '86400001' }],
    ['TAMS_PG_SCHEMA', { ...PG, TAMS_PG_SCHEMA: 'tams; DROP TABLE flows' }],
    ['TAMS_PG_SCHEMA', { ...PG, TAMS_PG_SCHEMA: '1tams' }],
    ['TAMS_MIGRATE_ON_START', { ...PG, TAMS_MIGRATE_ON_START: 'yes' }],
    ['TAMS_MIGRATE_ON_START', { TAMS_MIGRATE_ON_START: 'false' }],
    ['TAMS_SECRET', { TAMS_SECRET: 'short' }],
    ['TAMS_SECRET', { TAMS_SECRET: randomBytes(31).toString('hex') }],
    ['TAMS_SECRET', { TAMS_SECRET: randomBytes(31).toString('base64') }],
    ['TAMS_SECRET', { TAMS_SECRET: `${SECRET}!` }],
    ['TAMS_SECRET_FILE', { TAMS_SECRET: SECRET, TAMS_SECRET_FILE: secretFile }],
    ['TAMS_SECRET_FILE', { TAMS_SECRET_FILE: path.join(dir, 'missing') }],
    ['TAMS_SECRET_FILE', { TAMS_SECRET_FILE: keyFile }],
    ['TAMS_EMBEDDED_KEY_FILE', { TAMS_EMBEDDED_KEY_FILE: path.join(dir, 'missing.pem') }],
    ['TAMS_EMBEDDED_KEY_FILE', { TAMS_EMBEDDED_KEY_FILE: dir }],
    ['TAMS_LOCAL_MEDIA_SHARED', { TAMS_LOCAL_MEDIA_SHARED: 'yes' }],
  ])('%s: a bad value is refused in one line naming it, never echoing a password or secret', (variable, env) => {
    const err = configError(env);
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    expect(err.message).not.toContain('\n');
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain(SECRET);
  });

  it('with PostgreSQL, refuses to make per-replica secrets, keys or media: each missing one is named', () => {
    const { TAMS_SECRET: _secret, ...noSecret } = PG;
    expect(configError(noSecret).message).toMatch(/^TAMS_SECRET: with TAMS_STORE=postgres every replica must sign .* set TAMS_SECRET or TAMS_SECRET_FILE/);
    const { TAMS_EMBEDDED_KEY_FILE: _key, ...noKey } = PG;
    expect(configError(noKey).message).toMatch(/^TAMS_EMBEDDED_KEY_FILE: with TAMS_STORE=postgres and the embedded token key/);
    const { TAMS_LOCAL_MEDIA_SHARED: _shared, ...notShared } = PG;
    expect(configError(notShared).message).toMatch(/^TAMS_LOCAL_MEDIA_SHARED: .*TAMS_STORAGE_BACKENDS_FILE.*shares and set TAMS_LOCAL_MEDIA_SHARED=true/);
    expect(configError({ ...PG, TAMS_LOCAL_MEDIA_SHARED: 'false' }).variable).toBe('TAMS_LOCAL_MEDIA_SHARED');
  });

  it('with PostgreSQL, refuses Basic users kept in an unshared data dir; a set AUTH_USERS_FILE, a shared data dir or no such file start', () => {
    const dataDir = fs.mkdtempSync(path.join(dir, 'data-'));
    const s3Replica = { ...PG, TAMS_DATA_DIR: dataDir, TAMS_LOCAL_MEDIA_SHARED: 'false', TAMS_STORAGE_BACKENDS_FILE: path.join(dir, 'backends.json') };
    expect(loadConfig(s3Replica).store).toBe('postgres');
    fs.writeFileSync(path.join(dataDir, 'users.json'), '{}');
    const err = configError(s3Replica);
    expect(err.variable).toBe('AUTH_USERS_FILE');
    expect(err.message).toMatch(/^AUTH_USERS_FILE: with TAMS_STORE=postgres the Basic users in .*users\.json .* would be this replica's alone/);
    expect(loadConfig({ ...s3Replica, AUTH_USERS_FILE: path.join(dir, 'shared-users.json') }).authentication.usersFile).toBe(path.join(dir, 'shared-users.json'));
    expect(loadConfig({ ...s3Replica, TAMS_LOCAL_MEDIA_SHARED: 'true' }).store).toBe('postgres');
    expect(loadConfig({ ...s3Replica, TAMS_AUTH: 'off' }).store).toBe('postgres');
    expect(loadConfig({ ...s3Replica, TAMS_STORE: 'sqlite' }).store).toBe('sqlite');
  });

  it('with PostgreSQL, an external token key, auth off or S3 backends need no embedded key or shared media; migrate needs neither', () => {
    const { TAMS_EMBEDDED_KEY_FILE: _key, TAMS_LOCAL_MEDIA_SHARED: _shared, ...bare } = PG;
    expect(loadConfig({ ...bare, AUTH_HS256_SECRET: 'x'.repeat(32), TAMS_STORAGE_BACKENDS_FILE: path.join(dir, 'backends.json') }).store).toBe('postgres');
    expect(loadConfig({ ...bare, TAMS_AUTH: 'off', TAMS_LOCAL_MEDIA_SHARED: 'true' }).store).toBe('postgres');
    const { TAMS_SECRET: _secret, ...nothing } = bare;
    expect(loadConfig(nothing, { replica: false }).postgres?.redactedUrl).toBe('postgres://db.example:5432/tams');
  });

  it('reads TAMS_SECRET_FILE (trailing newline allowed) and uses TAMS_SECRET with SQLite too', () => {
    expect(loadConfig({ TAMS_SECRET_FILE: secretFile }).signingSecret?.length).toBe(40);
    expect(loadConfig({ TAMS_SECRET: SECRET }).signingSecret).toEqual(Buffer.from(SECRET, 'base64'));
  });
});

describe('decodeSecret and redactDatabaseUrl', () => {
  it('takes hex first, then standard or URL-safe base64, 32 bytes at least', () => {
    const bytes = randomBytes(32);
    expect(decodeSecret(bytes.toString('hex'))).toEqual(bytes);
    expect(decodeSecret(bytes.toString('base64'))).toEqual(bytes);
    expect(decodeSecret(bytes.toString('base64url'))).toEqual(bytes);
    expect(decodeSecret(` ${bytes.toString('base64')}\n`)).toEqual(bytes);
    expect(decodeSecret(randomBytes(31).toString('base64'))).toBeUndefined();
    expect(decodeSecret('x'.repeat(10))).toBeUndefined();
    expect(decodeSecret('')).toBeUndefined();
  });

  it('keeps scheme, host, port and database only', () => {
    expect(redactDatabaseUrl('postgresql://u:p@h:1/d?password=p')).toBe('postgresql://h:1/d');
    expect(redactDatabaseUrl('nonsense')).toBe('(unparsable URL)');
  });
});
