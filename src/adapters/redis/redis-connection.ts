import { Redis } from 'ioredis';

export interface RedisConnectionOptions {
  /** Connection lost and regained: told once per outage, not once per reconnection attempt. */
  onConnectionChange?: (event: { up: boolean; error?: Error }) => void;
}

/** One connection to REDIS_URL, shared by what the gateway keeps there (rate-limit counters, persisted queries). */
export interface RedisConnection {
  readonly client: Redis;
  /** Connected now (false during an outage, until ioredis reconnects). */
  up(): boolean;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 5000;

/** Connects before the gateway starts, so a wrong REDIS_URL stops the start instead of every request. */
export async function connectRedis(url: string, options: RedisConnectionOptions = {}): Promise<RedisConnection> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // While Redis is away a command fails at once (the caller degrades) instead of queueing
    // until it returns and holding every request meanwhile.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  // Changes are told from the first connection on; failures before it fail connectRedis().
  let up: boolean | undefined;
  client.on('ready', () => {
    if (up === false) options.onConnectionChange?.({ up: true });
    if (up !== undefined) up = true;
  });
  client.on('error', (error: Error) => {
    if (up === true) options.onConnectionChange?.({ up: false, error });
    if (up !== undefined) up = false;
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new Error(`cannot connect to Redis at ${redactedUrl(url)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  up = true;
  return {
    client,
    up: () => up === true && client.status === 'ready',
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** The URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return 'REDIS_URL';
  }
}
