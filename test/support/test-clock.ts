/**
 * A clock a test moves by hand (Clock of src/ports/clock.ts), for a gateway (startHarness's
 * `clock`), a worker or a service: it stands still between `advance` calls, so expiries, leases
 * and garbage-collection cutoffs are crossed exactly when the test says.
 *
 * It starts at the real time unless told otherwise. What is not dated by the gateway's clock
 * still runs on the real one (s3rver's check of X-Amz-Expires, the AWS SDK's request signing,
 * rows the SQLite store stamps with `new Date()`), so a test that moves this clock only forward
 * from the real time keeps both in the order they would have in service.
 */
import type { Clock } from '../../src/ports/clock';

export class TestClock implements Clock {
  private ms: number;

  /** `startMs`: milliseconds since the epoch (default: the real time now). */
  constructor(startMs: number = Date.now()) {
    this.ms = startMs;
  }

  nowMs(): number {
    return this.ms;
  }

  /** Moves the clock forward by `ms` (never back: nothing the gateway does expects that). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`TestClock: cannot advance by ${ms} ms`);
    this.ms += ms;
  }

  /** The time as the store is given it (ISO 8601, milliseconds, UTC). */
  iso(): string {
    return new Date(this.ms).toISOString();
  }
}
