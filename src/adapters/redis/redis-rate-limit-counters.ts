import { Redis } from 'ioredis';
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

export interface RedisCountersOptions {
  /** Prepended to every key, so the gateway shares a Redis with other users safely. */
  keyPrefix?: string;
  /** Connection lost and regained: told once per outage, not once per reconnection attempt. */
  onConnectionChange?: (event: { up: boolean; error?: Error }) => void;
}

const CONNECT_TIMEOUT_MS = 5000;

/** Rate-limit counters in Redis (REDIS_URL), shared by every gateway replica pointing at it. */
export class RedisRateLimitCounters implements RateLimitCounters {
  private constructor(
    private readonly redis: Redis & CounterScripts,
    private readonly keyPrefix: string,
  ) {}

  /** Connects before the gateway starts, so a wrong REDIS_URL stops the start instead of every request. */
  static async connect(url: string, options: RedisCountersOptions = {}): Promise<RedisRateLimitCounters> {
    const redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // While Redis is away a limit check fails at once (and the limiter lets the request
      // through) instead of queueing until it returns and holding every request meanwhile.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    redis.defineCommand('rateLimitHit', { numberOfKeys: 1, lua: HIT });
    redis.defineCommand('rateLimitPeek', { numberOfKeys: 1, lua: PEEK });
    // Changes are told from the first connection on; failures before it fail connect().
    let up: boolean | undefined;
    redis.on('ready', () => {
      if (up === false) options.onConnectionChange?.({ up: true });
      if (up !== undefined) up = true;
    });
    redis.on('error', (error: Error) => {
      if (up === true) options.onConnectionChange?.({ up: false, error });
      if (up !== undefined) up = false;
    });
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new Error(`cannot connect to Redis at ${redactedUrl(url)}: ${err instanceof Error ? err.message : String(err)}`);
    }
    up = true;
    return new RedisRateLimitCounters(redis as Redis & CounterScripts, options.keyPrefix ?? 'tams:ratelimit:');
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
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** The URL without its password, for messages. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return 'REDIS_URL';
  }
}
