/** A counter's state in its current window. */
export interface WindowCount {
  /** Hits counted in the window so far. */
  count: number;
  /** Milliseconds until the window ends and the count starts again from zero. */
  resetInMs: number;
}

/**
 * Fixed-window hit counters for rate limits: in process for one gateway, in Redis when
 * several replicas must share them. A window starts with the first hit on a key and lasts
 * `windowMs`; counting is atomic per key, so replicas never lose each other's hits.
 */
export interface RateLimitCounters {
  /**
   * Counts `amount` hits (default 1; a GraphQL operation counts its estimated cost) on `key`
   * and answers the window's count, these hits included.
   */
  hit(key: string, windowMs: number, amount?: number): Promise<WindowCount>;
  /** The window's count without counting (0 when no window is open). */
  peek(key: string): Promise<WindowCount>;
  close(): Promise<void>;
}
