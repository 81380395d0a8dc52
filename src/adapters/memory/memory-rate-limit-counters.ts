import type { Clock } from '../../ports/clock';
import { systemClock } from '../../ports/clock';
import type { RateLimitCounters, WindowCount } from '../../ports/rate-limit-counters';

/** How often windows that ended are dropped, so one-off callers do not accumulate. */
const SWEEP_INTERVAL_MS = 60_000;

/** Rate-limit counters of one gateway process (the default without REDIS_URL). */
export class MemoryRateLimitCounters implements RateLimitCounters {
  private readonly windows = new Map<string, { count: number; endsAtMs: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: Clock = systemClock) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async hit(key: string, windowMs: number, amount = 1): Promise<WindowCount> {
    const now = this.clock.nowMs();
    let window = this.windows.get(key);
    if (window === undefined || window.endsAtMs <= now) {
      window = { count: 0, endsAtMs: now + windowMs };
      this.windows.set(key, window);
    }
    window.count += amount;
    return { count: window.count, resetInMs: window.endsAtMs - now };
  }

  async peek(key: string): Promise<WindowCount> {
    const now = this.clock.nowMs();
    const window = this.windows.get(key);
    if (window === undefined || window.endsAtMs <= now) return { count: 0, resetInMs: 0 };
    return { count: window.count, resetInMs: window.endsAtMs - now };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.windows.clear();
  }

  private sweep(): void {
    const now = this.clock.nowMs();
    for (const [key, window] of this.windows) if (window.endsAtMs <= now) this.windows.delete(key);
  }
}
