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

  it('refuses TAMS_AUTH=off in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', TAMS_AUTH: 'off' })).toThrow('TAMS_AUTH: off is refused when NODE_ENV=production');
    expect(loadConfig({ NODE_ENV: 'production' }).auth).toBe('on');
  });
});
