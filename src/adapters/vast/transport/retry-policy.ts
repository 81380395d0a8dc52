/**
 * Which failed VAST requests are sent again, and after how long.
 *
 * - 503 SlowDown: always. The server shed the request before doing it (S3's meaning of
 *   SlowDown, and the Python SDK retries it for every method and never gives up on it early).
 * - Another 503: only when the request is idempotent, since nothing says the work was not begun.
 * - 409: only when the caller says the operation is safe to repeat. A 409 is how VAST reports a
 *   transaction conflict (the Python SDK's tests see it from concurrent renames), but also a
 *   state that retrying cannot change (InvalidBucketState, a bucket not enabled for tables): the
 *   caller knows which it can be.
 * - No connection (refused, unknown host, connect timeout, TLS handshake failure): always,
 *   since no byte of the request reached the server.
 * - A connection lost or a timeout after the request may have arrived: only when idempotent
 *   (the Python SDK retries connection errors for GET and HEAD only).
 *
 * The waits grow exponentially with "equal jitter": half the ceiling fixed, half random, so that
 * a retry after SlowDown always waits (full jitter may pick ~0) yet concurrent clients spread out.
 */

export interface RetryPolicy {
  /** Requests in all, the first included. */
  maxAttempts: number;
  /** The ceiling of the first wait; each later ceiling is twice the one before. */
  baseDelayMs: number;
  /** No wait is longer than this. */
  maxDelayMs: number;
}

/** How one attempt ended, as far as retrying is concerned. */
export type AttemptOutcome =
  | { type: 'answer'; status: number; vastCode: string | undefined }
  /** Nothing of the request reached the server. */
  | { type: 'unsent' }
  /** The request may have reached the server (and been acted on) before the failure. */
  | { type: 'lost'; retryable: boolean };

export interface RetrySafety {
  /** Repeating the request cannot change the result (GET and HEAD by default). */
  idempotent: boolean;
  /** A 409 may be repeated: the operation is safe to run again after a conflict. */
  retryOnConflict: boolean;
}

export function isRetryable(outcome: AttemptOutcome, safety: RetrySafety): boolean {
  switch (outcome.type) {
    case 'answer':
      if (outcome.status === 503) return outcome.vastCode === 'SlowDown' || safety.idempotent;
      if (outcome.status === 409) return safety.retryOnConflict;
      return false;
    case 'unsent':
      return true;
    case 'lost':
      return outcome.retryable && safety.idempotent;
  }
}

/** The wait before retry number `retry` (1 for the first retry), in ms. */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
