import type { Redis } from 'ioredis';
import { connectRedis, type RedisConnection, type RedisConnectionOptions } from './redis-connection';
import type { RateLimitCounters, WindowCount } from '../../ports/rate-limit-counters';

/**
 * Count and window in one server-side step: replicas hitting the same key at once each get
 * their own count, and the window is timed by the Redis clock, the same for all of them.
 */
const HIT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

const PEEK = `
local count = redis.call('GET', KEYS[1])
if not count then return {0, 0} end
return {tonumber(count), redis.call('PTTL', KEYS[1])}
`;

interface CounterScripts {
  rateLimitHit(key: string, windowMs: number, amount: number): Promise<[number, number]>;
  rateLimitPeek(key: string): Promise<[number, number]>;
}

export interface RedisCountersOptions extends RedisConnectionOptions {
  /** Prepended to every key, so the gateway shares a Redis with other users safely. */
  keyPrefix?: string;
}

/** Rate-limit counters in Redis (REDIS_URL), shared by every gateway replica pointing at it. */
export class RedisRateLimitCounters implements RateLimitCounters {
  private readonly redis: Redis & CounterScripts;

  /** On a connection someone else owns (closed by them); `connect` makes one of its own. */
  constructor(
    private readonly connection: RedisConnection,
    private readonly keyPrefix = 'tams:ratelimit:',
    private readonly ownsConnection = false,
  ) {
    connection.client.defineCommand('rateLimitHit', { numberOfKeys: 1, lua: HIT });
    connection.client.defineCommand('rateLimitPeek', { numberOfKeys: 1, lua: PEEK });
    this.redis = connection.client as Redis & CounterScripts;
  }

  static async connect(url: string, options: RedisCountersOptions = {}): Promise<RedisRateLimitCounters> {
    return new RedisRateLimitCounters(await connectRedis(url, options), options.keyPrefix, true);
  }

  async hit(key: string, windowMs: number, amount = 1): Promise<WindowCount> {
    const [count, resetInMs] = await this.redis.rateLimitHit(this.keyPrefix + key, windowMs, amount);
    return { count, resetInMs };
  }

  async peek(key: string): Promise<WindowCount> {
    const [count, resetInMs] = await this.redis.rateLimitPeek(this.keyPrefix + key);
    return { count, resetInMs: Math.max(resetInMs, 0) };
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.connection.close();
  }
}
