/**
 * When a failed VAST request is sent again, and how long the transport waits
 * (src/adapters/vast/transport/retry-policy.ts). The same rules over real sockets are in
 * test/integration/vast-transport.test.ts.
 */
import { backoffDelayMs, isRetryable, type AttemptOutcome, type RetrySafety } from '../../src/adapters/vast/transport/retry-policy';

const READ: RetrySafety = { idempotent: true, retryOnConflict: false };
const WRITE: RetrySafety = { idempotent: false, retryOnConflict: false };
const SAFE_WRITE: RetrySafety = { idempotent: false, retryOnConflict: true };

describe('VAST retry decisions', () => {
  it.each<[string, AttemptOutcome, [boolean, boolean, boolean]]>([
    ['503 SlowDown', { type: 'answer', status: 503, vastCode: 'SlowDown' }, [true, true, true]],
    ['503 without SlowDown', { type: 'answer', status: 503, vastCode: undefined }, [true, false, false]],
    ['409', { type: 'answer', status: 409, vastCode: 'InvalidBucketState' }, [false, false, true]],
    ['500', { type: 'answer', status: 500, vastCode: 'InternalError' }, [false, false, false]],
    ['404', { type: 'answer', status: 404, vastCode: 'NoSuchKey' }, [false, false, false]],
    ['403', { type: 'answer', status: 403, vastCode: 'SignatureDoesNotMatch' }, [false, false, false]],
    ['no connection', { type: 'unsent' }, [true, true, true]],
    ['a lost request', { type: 'lost', retryable: true }, [true, false, false]],
    ['an answer too long', { type: 'lost', retryable: false }, [false, false, false]],
  ])('%s: read, write, write safe after a conflict', (_name, outcome, [read, write, safeWrite]) => {
    expect([isRetryable(outcome, READ), isRetryable(outcome, WRITE), isRetryable(outcome, SAFE_WRITE)]).toEqual([read, write, safeWrite]);
  });
});

describe('VAST retry waits', () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };

  it('doubles the ceiling each retry up to the maximum, with half of it fixed', () => {
    const lowest = [1, 2, 3, 4, 5, 6].map((retry) => backoffDelayMs(retry, policy, () => 0));
    const highest = [1, 2, 3, 4, 5, 6].map((retry) => backoffDelayMs(retry, policy, () => 0.999999));
    expect(lowest).toEqual([50, 100, 200, 400, 500, 500]);
    expect(highest).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads waits between the bounds with the random source', () => {
    const waits = Array.from({ length: 200 }, () => backoffDelayMs(3, policy, Math.random));
    for (const wait of waits) {
      expect(wait).toBeGreaterThanOrEqual(200);
      expect(wait).toBeLessThanOrEqual(400);
    }
    expect(new Set(waits).size).toBeGreaterThan(20);
  });
});
