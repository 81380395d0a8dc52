import { ConfigError, loadConfig } from '../../../src/config';

describe('config: RATE_LIMIT_* and REDIS_URL', () => {
  it('has generous defaults, counted in process', () => {
    expect(loadConfig({})).toMatchObject({
      rateLimit: {
        enabled: true,
        windowSec: 60,
        readPerMinute: 600_000,
        writePerMinute: 60_000,
        graphqlListsPerMinute: 600_000,
        graphqlMutationsPerMinute: 60_000,
        graphqlCostPerMinute: 1_000_000_000,
        authFailuresPerMinute: 300,
      },
      redisUrl: undefined,
    });
  });

  it('reads every variable', () => {
    const c = loadConfig({
      RATE_LIMIT_ENABLED: 'false',
      RATE_LIMIT_WINDOW_SEC: '10',
      RATE_LIMIT_READ_PER_MINUTE: '100',
      RATE_LIMIT_WRITE_PER_MINUTE: '50',
      RATE_LIMIT_GRAPHQL_LISTS_PER_MINUTE: '40',
      RATE_LIMIT_GRAPHQL_MUTATIONS_PER_MINUTE: '30',
      RATE_LIMIT_GRAPHQL_COST_PER_MINUTE: '5000000000',
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '20',
      REDIS_URL: 'rediss://user:pw@redis.internal:6380/2',
    });
    expect(c.rateLimit).toEqual({
      enabled: false,
      windowSec: 10,
      readPerMinute: 100,
      writePerMinute: 50,
      graphqlListsPerMinute: 40,
      graphqlMutationsPerMinute: 30,
      graphqlCostPerMinute: 5_000_000_000,
      authFailuresPerMinute: 20,
    });
    expect(c.redisUrl).toBe('rediss://user:pw@redis.internal:6380/2');
  });

  it.each([
    ['RATE_LIMIT_ENABLED', 'yes'],
    ['RATE_LIMIT_WINDOW_SEC', '0'],
    ['RATE_LIMIT_WINDOW_SEC', '3601'],
    ['RATE_LIMIT_READ_PER_MINUTE', '0'],
    ['RATE_LIMIT_AUTH_FAILURES_PER_MINUTE', 'many'],
    ['RATE_LIMIT_GRAPHQL_COST_PER_MINUTE', '0'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', '127.0.0.1:6379'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}: `));
  });
});
