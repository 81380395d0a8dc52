import path from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8000,
      host: '127.0.0.1',
      dataDir: path.resolve('./data'),
      store: 'sqlite',
      publicUrl: undefined,
      basePath: '',
      auth: 'on',
      trustProxy: false,
      logLevel: 'info',
      minObjectTimeout: '3600:0',
      presignedUrlTimeout: '3600:0',
      presignedUrlTimeoutSec: 3600,
    });
  });

  it('reads every documented variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      TAMS_DATA_DIR: '/tmp/x',
      TAMS_PUBLIC_URL: 'https://tams.example.com/',
      TAMS_BASE_PATH: '/tams/v8.2/',
      TAMS_SERVICE_NAME: 'n',
      TAMS_SERVICE_DESCRIPTION: 'd',
      TAMS_MAX_BODY_BYTES: '4096',
      TAMS_MIN_OBJECT_TIMEOUT: '300:0',
      TAMS_PRESIGNED_URL_TIMEOUT: '30:0',
      TRUST_PROXY: '127.0.0.1,10.0.0.0/8',
      LOG_LEVEL: 'warn',
    });
    expect(c).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      dataDir: '/tmp/x',
      publicUrl: 'https://tams.example.com',
      basePath: '/tams/v8.2',
      serviceName: 'n',
      serviceDescription: 'd',
      maxBodyBytes: 4096,
      minObjectTimeout: '300:0',
      presignedUrlTimeoutSec: 30,
      trustProxy: '127.0.0.1,10.0.0.0/8',
      logLevel: 'warn',
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['TAMS_STORE', 'mongo'],
    ['TAMS_PUBLIC_URL', 'not a url'],
    ['TAMS_PUBLIC_URL', 'ftp://x'],
    ['TAMS_PUBLIC_URL', 'https://x/?q=1'],
    ['TAMS_BASE_PATH', 'no-slash'],
    ['TAMS_BASE_PATH', '/a b'],
    ['TAMS_MAX_BODY_BYTES', '-1'],
    ['TAMS_MIN_OBJECT_TIMEOUT', '299:999999999'],
    ['TAMS_MIN_OBJECT_TIMEOUT', '600'],
    ['TAMS_PRESIGNED_URL_TIMEOUT', '29:0'],
    // Longer than the object timeout (3600:0 by default): an object could be collected while its PUT URL is valid.
    ['TAMS_PRESIGNED_URL_TIMEOUT', '3600:1'],
    ['TAMS_AUTH', 'maybe'],
    ['TRUST_PROXY', 'yes please'],
    ['LOG_LEVEL', 'loud'],
    ['GRAPHQL_PREPARED_QUERIES', 'sometimes'],
    ['GRAPHQL_MAX_DIRECTIVES', '-1'],
    ['GRAPHQL_MAX_DIRECTIVES', 'many'],
    ['GRAPHQL_MAX_CHARACTERS', '10'],
    ['GRAPHQL_MAX_CHARACTERS', '1e9'],
    ['GRAPHQL_MAX_BODY_BYTES', '0'],
    ['GRAPHQL_MAX_BODY_BYTES', '2gb'],
    ['GRAPHQL_MAX_COST', '0'],
    ['GRAPHQL_MAX_DEPTH', '101'],
    ['TAMS_VERIFY_UPLOADS', 'yes'],
    ['TAMS_COPY_MULTIPART_THRESHOLD_BYTES', String(5 * 1024 * 1024 - 1)],
    // A single CopyObject copies at most 5 GiB: a higher threshold would send larger ones whole.
    ['TAMS_COPY_MULTIPART_THRESHOLD_BYTES', String(5 * 1024 ** 3 + 1)],
    ['TAMS_COPY_MULTIPART_THRESHOLD_BYTES', '5GiB'],
    ['TAMS_COPY_PART_BYTES', String(5 * 1024 * 1024 - 1)],
    ['TAMS_COPY_PART_BYTES', String(5 * 1024 ** 3 + 1)],
    ['TAMS_GC', 'true'],
    ['TAMS_GC_INTERVAL_MS', '999'],
    ['TAMS_GC_INTERVAL_MS', '86400001'],
    ['TAMS_GC_GRACE_SEC', '-1'],
    ['TAMS_GC_GRACE_SEC', '2592001'],
    ['TAMS_GC_BATCH', '0'],
    ['TAMS_GC_BATCH', '10001'],
    ['TAMS_WEBHOOK_PIPELINE', '0'],
    ['TAMS_WEBHOOK_PIPELINE', '65'],
    ['TAMS_WEBHOOK_PIPELINE', 'deep'],
    ['REDIS_REQUIRED', 'yes'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message.startsWith(`${name}: `)).toBe(true);
    expect((error as Error).message).not.toContain('\n');
  });

  it('has the GraphQL limits\' defaults, and reads each', () => {
    expect(loadConfig({}).graphql).toMatchObject({ maxDepth: 15, maxCost: 200_000, maxAliases: 30, maxDirectives: 50, maxTokens: 5000, maxCharacters: 100_000, maxBodyBytes: 512 * 1024 });
    const set = loadConfig({ GRAPHQL_MAX_DIRECTIVES: '7', GRAPHQL_MAX_CHARACTERS: '2000', GRAPHQL_MAX_BODY_BYTES: '65536' }).graphql;
    expect(set).toMatchObject({ maxDirectives: 7, maxCharacters: 2000, maxBodyBytes: 65536 });
  });

  it('has the S3 storage, upload-check, copy and garbage-collection defaults', () => {
    expect(loadConfig({})).toMatchObject({
      storageBackendsFile: undefined,
      verifyUploads: false,
      copyMultipartThresholdBytes: 5 * 1024 ** 3,
      copyPartBytes: 64 * 1024 ** 2,
      // The grace covers an upload to the local directory still arriving when its URL expired
      // (TAMS_REQUEST_TIMEOUT_MS, 900 s by default), so it is the longer of 600 s and that.
      gc: { enabled: true, intervalMs: 60_000, graceSec: 900, batch: 500 },
    });
    expect(loadConfig({ TAMS_REQUEST_TIMEOUT_MS: '60000' }).gc.graceSec).toBe(600);
    expect(loadConfig({ TAMS_REQUEST_TIMEOUT_MS: '1800500' }).gc.graceSec).toBe(1801);
  });

  it('reads the S3 storage, upload-check, copy and garbage-collection variables, at their bounds', () => {
    const low = loadConfig({
      TAMS_STORAGE_BACKENDS_FILE: 'deploy/backends.json',
      TAMS_VERIFY_UPLOADS: 'true',
      TAMS_COPY_MULTIPART_THRESHOLD_BYTES: String(5 * 1024 ** 2),
      TAMS_COPY_PART_BYTES: String(5 * 1024 ** 2),
      TAMS_GC: 'off',
      TAMS_GC_INTERVAL_MS: '1000',
      TAMS_GC_GRACE_SEC: '0',
      TAMS_GC_BATCH: '1',
    });
    expect(low).toMatchObject({
      // Resolved, not read: main.ts loads the file with the environment its credentials name.
      storageBackendsFile: path.resolve('deploy/backends.json'),
      verifyUploads: true,
      copyMultipartThresholdBytes: 5 * 1024 ** 2,
      copyPartBytes: 5 * 1024 ** 2,
      gc: { enabled: false, intervalMs: 1000, graceSec: 0, batch: 1 },
    });
    const high = loadConfig({
      TAMS_STORAGE_BACKENDS_FILE: '/etc/tams/missing.json',
      TAMS_COPY_MULTIPART_THRESHOLD_BYTES: String(5 * 1024 ** 3),
      TAMS_COPY_PART_BYTES: String(5 * 1024 ** 3),
      TAMS_GC: 'on',
      TAMS_GC_INTERVAL_MS: '86400000',
      TAMS_GC_GRACE_SEC: '2592000',
      TAMS_GC_BATCH: '10000',
    });
    expect(high).toMatchObject({
      storageBackendsFile: '/etc/tams/missing.json',
      copyMultipartThresholdBytes: 5 * 1024 ** 3,
      copyPartBytes: 5 * 1024 ** 3,
      gc: { enabled: true, intervalMs: 86_400_000, graceSec: 2_592_000, batch: 10_000 },
    });
    expect(loadConfig({ TAMS_STORAGE_BACKENDS_FILE: '' }).storageBackendsFile).toBeUndefined();
  });

  it('reads TAMS_WEBHOOK_PIPELINE (default 8, 1 to 64)', () => {
    expect(loadConfig({}).webhooks.pipeline).toBe(8);
    expect(loadConfig({ TAMS_WEBHOOK_PIPELINE: '1' }).webhooks.pipeline).toBe(1);
    expect(loadConfig({ TAMS_WEBHOOK_PIPELINE: '64' }).webhooks.pipeline).toBe(64);
    expect(loadConfig({}).redisRequired).toBe(false);
    expect(loadConfig({ REDIS_REQUIRED: 'true' }).redisRequired).toBe(true);
  });

  it('refuses TAMS_AUTH=off in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', TAMS_AUTH: 'off' })).toThrow('TAMS_AUTH: off is refused when NODE_ENV=production');
    expect(loadConfig({ NODE_ENV: 'production' }).auth).toBe('on');
  });
});
