/**
 * loadStorageBackendsFile with real files in a temporary directory: good files give the
 * backends with their defaults, and every kind of mistake stops with one line naming the file,
 * the entry and the problem, never a credential.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/config';
import { loadStorageBackendsFile } from '../../../src/storage-backends-file';

const ID_A = '5b0e8c6e-7a1f-4b52-9d8e-2f4c1a3b6d70';
const ID_B = 'c3d1f0a2-94b7-4e6a-8f21-7e5d9c0b1a43';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const TOKEN = 'FwoGZXIvYXdzEXAMPLETOKEN';

let dir: string;
let counter = 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-backends-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeFile(content: string): string {
  counter += 1;
  const file = path.join(dir, `backends-${counter}.json`);
  fs.writeFileSync(file, content);
  return file;
}

function writeBackends(backends: unknown[]): string {
  return writeFile(JSON.stringify({ backends }, null, 2));
}

/** The smallest valid entry: AWS S3 through the default credential chain. */
function minimal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: ID_A, label: 'aws-media', store_type: 'http_object_store', provider: 'AWS', store_product: 's3', bucket: 'tams-media', ...overrides };
}

function without(entry: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...entry };
  delete copy[key];
  return copy;
}

function loadError(file: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadStorageBackendsFile(file, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('TAMS_STORAGE_BACKENDS_FILE');
    expect((error as Error).message).not.toContain('\n');
    expect((error as Error).message.startsWith(`TAMS_STORAGE_BACKENDS_FILE: ${file}: `)).toBe(true);
    for (const secret of [SECRET, KEY_ID, TOKEN]) expect((error as Error).message).not.toContain(secret);
    return error as ConfigError;
  }
  throw new Error(`${file} loaded without an error`);
}

describe('loadStorageBackendsFile: good files', () => {
  it('fills in the defaults of a minimal AWS entry, credentials from the default chain', () => {
    expect(loadStorageBackendsFile(writeBackends([minimal()]), {})).toEqual([
      {
        backend: { id: ID_A, label: 'aws-media', store_type: 'http_object_store', provider: 'AWS', store_product: 's3', region: 'us-east-1', default_storage: false },
        endpoint: 'https://s3.us-east-1.amazonaws.com',
        bucket: 'tams-media',
        region: 'us-east-1',
        pathStyle: false,
        keyPrefix: '',
        credentials: { kind: 'default-chain' },
        plainUrls: false,
        conditionalWrites: true,
        requestTimeoutMs: 5000,
        maxAttempts: 3,
      },
    ]);
    expect(loadStorageBackendsFile(writeBackends([minimal({ region: 'eu-west-2' })]), {})[0]!.endpoint).toBe('https://s3.eu-west-2.amazonaws.com');
  });

  it('reads every field: a MinIO backend with credentials from the environment, and a VAST one inline', () => {
    const file = writeBackends([
      {
        id: ID_A,
        label: 'minio',
        store_type: 'http_object_store',
        provider: 'MinIO',
        store_product: 'minio',
        region: 'eu-local-1',
        availability_zone: 'rack-a',
        bucket: 'tams.media',
        prefix: '/tams/media-2026/',
        endpoint: 'http://127.0.0.1:9000/',
        path_style: true,
        credentials: { access_key_id_env: 'S3_KEY_ID', secret_access_key_env: 'S3_SECRET', session_token_env: 'S3_TOKEN' },
        tags: { auth_classes: ['news', 'sport'], site: 'london' },
        default_storage: true,
        plain_urls: true,
        request_timeout_ms: 2500,
        max_attempts: 10,
      },
      {
        id: ID_B,
        label: 'vast',
        store_type: 'http_object_store',
        provider: 'VAST',
        store_product: 'vast',
        bucket: 'archive',
        endpoint: 'https://[2001:db8::1]:8443',
        path_style: true,
        credentials: { access_key_id: KEY_ID, secret_access_key: SECRET },
      },
    ]);
    const [minio, vast] = loadStorageBackendsFile(file, { S3_KEY_ID: KEY_ID, S3_SECRET: SECRET, S3_TOKEN: TOKEN });
    expect(minio).toEqual({
      backend: {
        id: ID_A,
        label: 'minio',
        store_type: 'http_object_store',
        provider: 'MinIO',
        store_product: 'minio',
        region: 'eu-local-1',
        availability_zone: 'rack-a',
        default_storage: true,
        tags: { auth_classes: ['news', 'sport'], site: 'london' },
      },
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'tams.media',
      region: 'eu-local-1',
      pathStyle: true,
      keyPrefix: 'tams/media-2026',
      credentials: { kind: 'static', accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: TOKEN },
      plainUrls: true,
      conditionalWrites: true,
      requestTimeoutMs: 2500,
      maxAttempts: 10,
    });
    expect(vast).toMatchObject({
      endpoint: 'https://[2001:db8::1]:8443',
      credentials: { kind: 'static', accessKeyId: KEY_ID, secretAccessKey: SECRET },
      // Not a product known to refuse conditional PUTs: write-once cannot be relied on there.
      conditionalWrites: false,
      backend: { default_storage: false, region: 'us-east-1' },
    });
    expect(vast!.credentials).not.toHaveProperty('sessionToken');
  });

  it('never puts a credential in the backend it shows to clients', () => {
    const file = writeBackends([
      minimal({ credentials: { access_key_id: KEY_ID, secret_access_key: SECRET, session_token: TOKEN } }),
      minimal({ id: ID_B, label: 'from-env', credentials: { access_key_id_env: 'K', secret_access_key_env: 'S', session_token_env: 'T' } }),
    ]);
    for (const config of loadStorageBackendsFile(file, { K: KEY_ID, S: SECRET, T: TOKEN })) {
      const shown = JSON.stringify(config.backend);
      for (const secret of [SECRET, KEY_ID, TOKEN, 'K', 'S', 'T']) expect(shown).not.toContain(`"${secret}"`);
      expect(Object.keys(config.backend).sort()).toEqual(['default_storage', 'id', 'label', 'provider', 'region', 'store_product', 'store_type']);
    }
  });

  it('lets conditional_writes override the product default, both ways', () => {
    const file = writeBackends([minimal({ conditional_writes: false }), minimal({ id: ID_B, label: 'ceph', store_product: 'ceph', endpoint: 'https://rgw.example.com', conditional_writes: true })]);
    expect(loadStorageBackendsFile(file, {}).map((c) => c.conditionalWrites)).toEqual([false, true]);
    const products = writeBackends([minimal({ store_product: 'AWS' }), minimal({ id: ID_B, label: 'b', store_product: 'MinIO', endpoint: 'http://minio:9000', path_style: true })]);
    expect(loadStorageBackendsFile(products, {}).map((c) => c.conditionalWrites)).toEqual([true, true]);
  });

  it('accepts a file saved with a UTF-8 byte order mark', () => {
    expect(loadStorageBackendsFile(writeFile(`\uFEFF${JSON.stringify({ backends: [minimal()] })}`), {})).toHaveLength(1);
  });
});

describe('loadStorageBackendsFile: the file', () => {
  it.each([
    ['missing', null, 'cannot be read (ENOENT)'],
    ['not JSON', '{\n  "backends": [\n    {"id": }\n  ]\n}', 'is not valid JSON: Unexpected token \'}\''],
    ['a trailing comma', '{\n  "backends": [],\n}', 'is not valid JSON: Expected double-quoted property name at line 3, column 1'],
    ['empty', '', 'is not valid JSON: Unexpected end of JSON input'],
    ['a bare array', JSON.stringify([minimal()]), 'must hold a JSON object {"backends": [...]}'],
    ['an unknown top-level key', JSON.stringify({ backends: [minimal()], defaults: {} }), 'unknown key "defaults" at the top level'],
    ['backends not an array', JSON.stringify({ backends: minimal() }), '"backends" must be an array'],
    ['backends empty', JSON.stringify({ backends: [] }), '"backends" is empty; list at least one backend, or unset TAMS_STORAGE_BACKENDS_FILE'],
  ])('%s: one line naming the file', (_kind, content, expected) => {
    const file = content === null ? path.join(dir, 'absent.json') : writeFile(content);
    expect(loadError(file).message.startsWith(`TAMS_STORAGE_BACKENDS_FILE: ${file}: ${expected}`)).toBe(true);
  });

  it('does not echo the file text a JSON error is in (it may hold a secret)', () => {
    const file = writeFile(`{"backends": [{"credentials": {"secret_access_key": "${SECRET}" "x"}}]}`);
    expect(loadError(file).message).toMatch(/is not valid JSON: Expected ',' or '}' after property value at line 1, column \d+$/);
  });
});

describe('loadStorageBackendsFile: a bad entry', () => {
  const named = `backends[0] (id "${ID_A}", label "aws-media")`;

  it.each<[string, unknown, string]>([
    ['not an object', 'aws', 'backends[0]: must be an object, got "aws"'],
    ['an unknown key', minimal({ bukcet: 'x' }), `${named}: unknown key "bukcet" (did you mean bucket?); known keys: id, label,`],
    ['an unknown key, nothing near', minimal({ colour: 'blue' }), `${named}: unknown key "colour"; known keys:`],
    ['no id', without(minimal(), 'id'), 'backends[0] (label "aws-media"): id is required'],
    ['an id not a UUID', minimal({ id: 'media-1' }), 'backends[0] (id "media-1", label "aws-media"): id "media-1" must be a lower-case UUID'],
    ['an upper-case UUID', minimal({ id: ID_A.toUpperCase() }), 'must be a lower-case UUID'],
    ['a numeric id', minimal({ id: 7 }), 'backends[0] (label "aws-media"): id must be a non-empty string, got 7'],
    ['no label', without(minimal(), 'label'), `backends[0] (id "${ID_A}"): label is required`],
    ['an empty label', minimal({ label: ' ' }), 'label must be a non-empty string, got " "'],
    ['no store_type', without(minimal(), 'store_type'), `${named}: store_type is required`],
    ['another store_type', minimal({ store_type: 's3' }), `${named}: store_type must be "http_object_store", got "s3"`],
    ['no provider', without(minimal(), 'provider'), `${named}: provider is required`],
    ['no store_product', without(minimal(), 'store_product'), `${named}: store_product is required`],
    ['a region with a space', minimal({ region: 'eu west 1' }), 'region "eu west 1" must be 1 to 64 of A-Z a-z 0-9 . _ -'],
    ['a region naming no AWS endpoint', minimal({ region: 'garage' }), 'region "garage" is not an AWS region like eu-west-1; set endpoint'],
    ['no bucket', without(minimal(), 'bucket'), `${named}: bucket is required`],
    ['a short bucket', minimal({ bucket: 'ab' }), 'bucket "ab" is not a valid S3 bucket name: it must be 3 to 63 characters long'],
    ['a long bucket', minimal({ bucket: 'a'.repeat(64) }), 'must be 3 to 63 characters long'],
    ['an upper-case bucket', minimal({ bucket: 'My_Bucket' }), 'may hold only lower-case letters, digits, dots and hyphens'],
    ['a bucket starting with a hyphen', minimal({ bucket: '-media' }), 'must start and end with a letter or digit'],
    ['a bucket with two dots', minimal({ bucket: 'a..b', path_style: true }), 'must not hold two adjacent dots'],
    ['a bucket like an IP address', minimal({ bucket: '192.168.1.1', path_style: true }), 'must not look like an IP address'],
    ['a reserved bucket prefix', minimal({ bucket: 'xn--media' }), 'must not start with xn--'],
    ['a reserved bucket suffix', minimal({ bucket: 'media-s3alias' }), 'must not end with -s3alias'],
    ['a dotted bucket, virtual-hosted over https', minimal({ bucket: 'media.example' }), 'bucket "media.example" holds dots, so over https path_style must be true'],
    ['a prefix with an empty segment', minimal({ prefix: 'a//b' }), 'prefix "a//b" must be /-separated segments of A-Z a-z 0-9 - . _ ~'],
    ['a prefix climbing up', minimal({ prefix: '../media' }), 'prefix "../media" must be'],
    ['a prefix with a space', minimal({ prefix: 'my media' }), 'prefix "my media" must be'],
    ['a prefix of slashes only', minimal({ prefix: '/' }), 'prefix "/" must be'],
    ['an ftp endpoint', minimal({ endpoint: 'ftp://s3.example.com' }), 'endpoint "ftp://s3.example.com" must be an absolute http(s) URL'],
    ['an endpoint not a URL', minimal({ endpoint: 's3.example.com' }), 'endpoint "s3.example.com" must be an absolute http(s) URL'],
    ['an endpoint with a path', minimal({ endpoint: 'https://s3.example.com/tams' }), 'endpoint "https://s3.example.com/tams" must have no path, query or fragment'],
    ['an endpoint with a query', minimal({ endpoint: 'https://s3.example.com/?x=1' }), 'must have no path, query or fragment'],
    ['an endpoint with an empty query', minimal({ endpoint: 'https://s3.example.com?' }), 'must have no path, query or fragment'],
    ['an endpoint with a user', minimal({ endpoint: 'https://admin:pw@s3.example.com' }), 'endpoint must not carry user or password (use credentials)'],
    ['an IPv4 endpoint, virtual-hosted', minimal({ endpoint: 'http://10.0.0.5:9000' }), 'endpoint "http://10.0.0.5:9000" is an IP address, so path_style must be true'],
    ['an IPv6 endpoint, virtual-hosted', minimal({ endpoint: 'http://[::1]:9000' }), 'is an IP address, so path_style must be true'],
    ['a path_style string', minimal({ path_style: 'yes' }), `${named}: path_style must be true or false, got "yes"`],
    ['a default_storage string', minimal({ default_storage: 'true' }), 'default_storage must be true or false, got "true"'],
    ['a plain_urls number', minimal({ plain_urls: 1 }), 'plain_urls must be true or false, got 1'],
    ['a conditional_writes null', minimal({ conditional_writes: null }), 'conditional_writes must be true or false, got null'],
    ['a zero timeout', minimal({ request_timeout_ms: 0 }), 'request_timeout_ms must be an integer from 1 to 600000, got 0'],
    ['a fractional timeout', minimal({ request_timeout_ms: 1.5 }), 'request_timeout_ms must be an integer from 1 to 600000, got 1.5'],
    ['a timeout as a string', minimal({ request_timeout_ms: '5000' }), 'request_timeout_ms must be an integer from 1 to 600000, got "5000"'],
    ['no attempt', minimal({ max_attempts: 0 }), 'max_attempts must be an integer from 1 to 10, got 0'],
    ['too many attempts', minimal({ max_attempts: 11 }), 'max_attempts must be an integer from 1 to 10, got 11'],
    ['tags as a list', minimal({ tags: ['news'] }), 'tags must be an object of names to a string or an array of strings, got ["news"]'],
    ['a numeric tag', minimal({ tags: { priority: 1 } }), 'tags.priority must be a string or an array of strings, got 1'],
    ['auth_classes holding a number', minimal({ tags: { auth_classes: ['news', 2] } }), 'tags.auth_classes must be a string or an array of strings, got ["news",2]'],
    ['an empty availability_zone', minimal({ availability_zone: '' }), 'availability_zone must be a non-empty string, got ""'],
  ])('%s', (_kind, entry, expected) => {
    const file = writeBackends([entry]);
    expect(loadError(file).message).toContain(`${file}: `);
    expect(loadError(file).message).toContain(expected);
  });

  it.each<[string, unknown, NodeJS.ProcessEnv, string]>([
    ['credentials not an object', 'AKIA', {}, 'credentials must be an object (or left out for the AWS default provider chain)'],
    ['credentials null', null, {}, 'credentials must be an object'],
    ['credentials empty', {}, {}, 'credentials needs access_key_id and secret_access_key, or access_key_id_env and secret_access_key_env'],
    ['a misspelt credentials key', { access_key_id: KEY_ID, secret_acess_key: SECRET }, {}, 'credentials: unknown key "secret_acess_key" (did you mean secret_access_key?)'],
    ['no secret inline', { access_key_id: KEY_ID }, {}, 'credentials needs access_key_id and secret_access_key'],
    ['an empty secret inline', { access_key_id: KEY_ID, secret_access_key: '' }, {}, 'credentials.secret_access_key must be a non-empty string'],
    ['a numeric secret inline', { access_key_id: KEY_ID, secret_access_key: 12345 }, {}, 'credentials.secret_access_key must be a non-empty string'],
    ['a secret inline ending in a newline', { access_key_id: KEY_ID, secret_access_key: `${SECRET}\n` }, {}, 'credentials.secret_access_key has leading or trailing whitespace'],
    ['a bad session token inline', { access_key_id: KEY_ID, secret_access_key: SECRET, session_token: [] }, {}, 'credentials.session_token must be a non-empty string'],
    ['both forms', { access_key_id: KEY_ID, secret_access_key_env: 'S' }, { S: SECRET }, 'credentials mixes keys (access_key_id) with environment variable names (secret_access_key_env): use one form'],
    ['only the key id variable', { access_key_id_env: 'K' }, { K: KEY_ID }, 'credentials needs both access_key_id_env and secret_access_key_env'],
    ['a bad variable name', { access_key_id_env: 'K', secret_access_key_env: '$SECRET' }, { K: KEY_ID }, 'credentials.secret_access_key_env must be an environment variable name, got "$SECRET"'],
    ['an unset variable', { access_key_id_env: 'K', secret_access_key_env: 'TAMS_S3_SECRET' }, { K: KEY_ID }, 'credentials.secret_access_key_env names TAMS_S3_SECRET, which is not set'],
    ['an empty variable', { access_key_id_env: 'K', secret_access_key_env: 'S' }, { K: KEY_ID, S: '' }, 'credentials.secret_access_key_env names S, which is not set'],
    ['an unset session token variable', { access_key_id_env: 'K', secret_access_key_env: 'S', session_token_env: 'T' }, { K: KEY_ID, S: SECRET }, 'credentials.session_token_env names T, which is not set'],
    ['a variable ending in a newline', { access_key_id_env: 'K', secret_access_key_env: 'S' }, { K: `${KEY_ID}\n`, S: SECRET }, 'K (credentials.access_key_id_env) has leading or trailing whitespace (a newline from a file?)'],
  ])('%s', (_kind, credentials, env, expected) => {
    const file = writeBackends([minimal({ credentials })]);
    expect(loadError(file, env).message).toContain(`${file}: ${named}: ${expected}`);
  });
});

describe('loadStorageBackendsFile: the file as a whole', () => {
  it('refuses a second default, naming both entries', () => {
    const file = writeBackends([minimal({ default_storage: true }), minimal({ id: ID_B, label: 'second', default_storage: true })]);
    expect(loadError(file).message).toBe(
      `TAMS_STORAGE_BACKENDS_FILE: ${file}: backends[1] (id "${ID_B}", label "second"): default_storage is also true on backends[0] (id "${ID_A}", label "aws-media"); at most one backend may be the default`,
    );
  });

  it('refuses a repeated id or label, naming both entries', () => {
    const ids = writeBackends([minimal(), minimal({ label: 'other' })]);
    expect(loadError(ids).message).toBe(
      `TAMS_STORAGE_BACKENDS_FILE: ${ids}: backends[1] (id "${ID_A}", label "other"): id is also the id of backends[0] (id "${ID_A}", label "aws-media"); ids must be unique`,
    );
    const labels = writeBackends([minimal(), minimal({ id: ID_B })]);
    expect(loadError(labels).message).toContain(`backends[1] (id "${ID_B}", label "aws-media"): label is also the label of backends[0]`);
  });

  it('names the entry by its place when it is later in the list', () => {
    const file = writeBackends([minimal(), minimal({ id: ID_B, label: 'second', bucket: 'B' })]);
    expect(loadError(file).message).toContain(`${file}: backends[1] (id "${ID_B}", label "second"): bucket "B" is not a valid S3 bucket name`);
  });

  it('cuts long values short in messages', () => {
    const file = writeBackends([minimal({ store_type: 'x'.repeat(500) })]);
    const message = loadError(file).message;
    expect(message).toContain(`got "${'x'.repeat(76)}...`);
    expect(message.length).toBeLessThan(file.length + 300);
  });
});
