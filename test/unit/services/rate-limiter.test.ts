import { MemoryRateLimitCounters } from '../../../src/adapters/memory/memory-rate-limit-counters';
import type { RateLimitCounters } from '../../../src/ports/rate-limit-counters';
import { ACTIONS, type AccessAction } from '../../../src/services/access-policy';
import {
  RATE_LIMIT_RULES,
  RateLimitedError,
  RateLimiter,
  perWindowFromPerMinute,
  rateLimitIdentity,
  restRuleOf,
} from '../../../src/services/rate-limiter';
import { DEVELOPMENT_PRINCIPAL } from '../../../src/domain/principal';

function clock(start = 1_000_000): { nowMs: () => number; advance: (ms: number) => void } {
  let now = start;
  return { nowMs: () => now, advance: (ms) => (now += ms) };
}

const limits = { read: 3, write: 2, graphql_list: 3, graphql_mutation: 2, graphql_cost: 1000, auth_failure: 2 };

describe('MemoryRateLimitCounters', () => {
  it('counts hits in a fixed window that starts with the first hit, then starts again', async () => {
    const time = clock();
    const counters = new MemoryRateLimitCounters(time);
    expect(await counters.peek('k')).toEqual({ count: 0, resetInMs: 0 });
    expect(await counters.hit('k', 1000)).toEqual({ count: 1, resetInMs: 1000 });
    time.advance(400);
    expect(await counters.hit('k', 1000)).toEqual({ count: 2, resetInMs: 600 });
    expect(await counters.peek('k')).toEqual({ count: 2, resetInMs: 600 });
    expect(await counters.hit('other', 1000)).toEqual({ count: 1, resetInMs: 1000 });
    time.advance(600);
    expect(await counters.peek('k')).toEqual({ count: 0, resetInMs: 0 });
    expect(await counters.hit('k', 1000)).toEqual({ count: 1, resetInMs: 1000 });
    await counters.close();
  });
});

describe('MemoryRateLimitCounters amounts', () => {
  it('adds the amount of each hit (a GraphQL operation adds its cost)', async () => {
    const counters = new MemoryRateLimitCounters(clock());
    expect(await counters.hit('k', 1000, 150)).toEqual({ count: 150, resetInMs: 1000 });
    expect(await counters.hit('k', 1000)).toEqual({ count: 151, resetInMs: 1000 });
    expect(await counters.hit('k', 1000, 49)).toEqual({ count: 200, resetInMs: 1000 });
    await counters.close();
  });

  it('refuses an operation whose cost takes the window over the limit, and what follows it', async () => {
    const counters = new MemoryRateLimitCounters(clock());
    const limiter = new RateLimiter(counters, { windowMs: 10_000, perWindow: limits });
    expect(await limiter.take('graphql', 'graphql_cost', 'sub:a', 600)).toBeUndefined();
    expect(await limiter.take('graphql', 'graphql_cost', 'sub:a', 400)).toBeUndefined();
    expect(await limiter.take('graphql', 'graphql_cost', 'sub:a', 1)).toMatchObject({ rule: 'graphql_cost', status: 429 });
    expect(await limiter.take('graphql', 'graphql_cost', 'sub:b', 1000)).toBeUndefined();
    await counters.close();
  });
});

describe('RateLimiter', () => {
  it('allows the limit per window and identity, then refuses with the seconds left in the window', async () => {
    const time = clock();
    const counters = new MemoryRateLimitCounters(time);
    const rejected = jest.fn();
    const limiter = new RateLimiter(counters, { windowMs: 10_000, perWindow: limits }, { rejected });
    for (let i = 0; i < 3; i++) expect(await limiter.take('rest', 'read', 'sub:a')).toBeUndefined();
    time.advance(2_500);
    const refusal = await limiter.take('rest', 'read', 'sub:a');
    expect(refusal).toBeInstanceOf(RateLimitedError);
    expect(refusal).toMatchObject({ code: 'rate_limited', status: 429, graphqlCode: 'RATE_LIMITED', retryAfterSec: 8, rule: 'read' });
    expect(refusal?.message).toBe('Too many read requests: retry in 8 s');
    expect(rejected).toHaveBeenCalledWith('rest', 'read');
    // Other identities and other rules have budgets of their own.
    expect(await limiter.take('rest', 'read', 'sub:b')).toBeUndefined();
    expect(await limiter.take('rest', 'write', 'sub:a')).toBeUndefined();
    time.advance(7_500);
    expect(await limiter.take('rest', 'read', 'sub:a')).toBeUndefined();
    await counters.close();
  });

  it('records failures without deciding, and reports exhaustion without counting', async () => {
    const counters = new MemoryRateLimitCounters(clock());
    const limiter = new RateLimiter(counters, { windowMs: 60_000, perWindow: limits });
    expect(await limiter.exhausted('rest', 'auth_failure', 'ip:1')).toBeUndefined();
    await limiter.record('auth_failure', 'ip:1');
    expect(await limiter.exhausted('rest', 'auth_failure', 'ip:1')).toBeUndefined();
    await limiter.record('auth_failure', 'ip:1');
    expect(await limiter.exhausted('rest', 'auth_failure', 'ip:1')).toMatchObject({ retryAfterSec: 60 });
    expect(await limiter.exhausted('rest', 'auth_failure', 'ip:2')).toBeUndefined();
    await counters.close();
  });

  it('lets requests through when the counters fail, and says so once per window', async () => {
    const broken: RateLimitCounters = {
      hit: () => Promise.reject(new Error('Redis away')),
      peek: () => Promise.reject(new Error('Redis away')),
      close: async () => undefined,
    };
    const countersFailed = jest.fn();
    const limiter = new RateLimiter(broken, { windowMs: 60_000, perWindow: limits }, { countersFailed });
    expect(await limiter.take('graphql', 'graphql_mutation', 'sub:a')).toBeUndefined();
    expect(await limiter.exhausted('rest', 'auth_failure', 'ip:1')).toBeUndefined();
    await limiter.record('auth_failure', 'ip:1');
    expect(countersFailed).toHaveBeenCalledTimes(1);
  });
});

describe('rate-limit rules and identities', () => {
  it('takes each limit per minute pro rata to the window, at least 1', () => {
    const perMinute = { read: 600, write: 60, graphql_list: 30, graphql_mutation: 1, graphql_cost: 1000, auth_failure: 120 };
    expect(perWindowFromPerMinute(perMinute, 60_000)).toEqual(perMinute);
    expect(perWindowFromPerMinute(perMinute, 1_000)).toEqual({ read: 10, write: 1, graphql_list: 1, graphql_mutation: 1, graphql_cost: 17, auth_failure: 2 });
    expect(Object.keys(perWindowFromPerMinute(perMinute, 5_000)).sort()).toEqual([...RATE_LIMIT_RULES].sort());
  });

  it('classes every REST action as a read or a write', () => {
    const reads = (Object.keys(ACTIONS) as AccessAction[]).filter((a) => restRuleOf(a) === 'read');
    expect(reads.sort()).toEqual(
      [
        'root.read', 'service.read', 'storage_backends.list', 'profiles.list', 'profile.read', 'webhooks.list', 'webhook.read', 'sources.list',
        'source.read', 'flows.list', 'flow.read', 'segments.list', 'object.read', 'delete_requests.list', 'delete_request.read', 'principal.read',
      ].sort(),
    );
    expect(restRuleOf('flow.delete')).toBe('write');
    expect(restRuleOf('webhook.update')).toBe('write');
  });

  it('keys authenticated callers by subject and the others by address', () => {
    expect(rateLimitIdentity({ subject: 'alice', scopes: ['read'], authClasses: [], method: 'bearer', authenticated: true }, '10.0.0.1')).toBe('sub:alice');
    expect(rateLimitIdentity(DEVELOPMENT_PRINCIPAL, '10.0.0.1')).toBe('ip:10.0.0.1');
  });
});
