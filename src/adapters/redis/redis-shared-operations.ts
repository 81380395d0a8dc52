import type { SharedOperations } from '../../ports/shared-operations';
import type { RedisConnection } from './redis-connection';

export interface RedisSharedOperationsOptions {
  /** Prepended to every key (default `tams:apq:`). */
  keyPrefix?: string;
  /** How long a registered operation is kept after it was last registered (default one day). */
  ttlMs?: number;
  /** Longer operation texts are not shared (each replica's own cache bounds them too). */
  maxCharacters?: number;
  /** A command failed (Redis away): the operation is served or kept by this replica alone. */
  failed?: (error: unknown) => void;
}

/** Automatic persisted queries in Redis, shared by every replica. */
export class RedisSharedOperations implements SharedOperations {
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly maxCharacters: number;

  constructor(
    private readonly connection: RedisConnection,
    private readonly options: RedisSharedOperationsOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? 'tams:apq:';
    this.ttlMs = options.ttlMs ?? 86_400_000;
    this.maxCharacters = options.maxCharacters ?? 100_000;
  }

  async get(hash: string): Promise<string | undefined> {
    if (!this.connection.up()) return undefined;
    try {
      return (await this.connection.client.get(this.prefix + hash)) ?? undefined;
    } catch (error) {
      this.options.failed?.(error);
      return undefined;
    }
  }

  async set(hash: string, text: string): Promise<void> {
    if (text.length > this.maxCharacters || !this.connection.up()) return;
    try {
      await this.connection.client.set(this.prefix + hash, text, 'PX', this.ttlMs);
    } catch (error) {
      this.options.failed?.(error);
    }
  }
}
