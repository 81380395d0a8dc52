/**
 * The VAST Database client the metadata store adapter works with: transactions over one bucket,
 * and `withTransaction`, which runs a piece of work in a transaction and commits it, rolls it back
 * when the work fails, and runs the whole work again in a new transaction when VAST reports a
 * conflict (409: another transaction wrote the same row first), a bounded number of times with
 * exponential backoff and equal jitter. Only the whole work can be repeated: what it read in the
 * failed transaction may no longer hold, so it must read again.
 *
 * A 409 is also how VAST answers states no rerun cures (a bucket not enabled for tables, a
 * schema that exists): those come back after `maxRuns` runs; the caller's work should check
 * before creating (CreateOptions.ifNotExists).
 */
import { backoffDelayMs } from '../transport/retry-policy';
import { VastProtocolError } from '../protocol/vast-protocol-error';
import { VastRequestError } from '../transport/vast-request-error';
import { commonHeaders, type SelectSettings, type VastRequester } from './transaction-context';
import { VastTransaction } from './vast-transaction';

export interface ConflictRetryOptions {
  /**
   * Runs of the work in all, the first included. Default 10: every event-writing transaction
   * of the store conflicts with every other one open beside it (the outbox counter), so a busy
   * store with several replicas needs more than a few (up to about 2.6 s of waits in all).
   */
  readonly maxRuns?: number;
  /** Ceiling of the first wait; it doubles for each later one. Default 20 ms. */
  readonly baseDelayMs?: number;
  /** No wait is longer. Default 500 ms. */
  readonly maxDelayMs?: number;
}

export interface VastConflictEvent {
  /** The run that conflicted (1 for the first). */
  readonly run: number;
  readonly delayMs: number;
  /** The request VAST refused ("commit transaction", "update rows of gateway/flows", ...). */
  readonly operation: string;
}

export interface VastClientOptions {
  readonly transport: VastRequester;
  /** The bucket holding the gateway's schema (VAST_BUCKET). */
  readonly bucket: string;
  /** Sent as `tabular-client-name`. Default `tams-gateway`. */
  readonly clientName?: string;
  /** Select paging; defaults as the Python SDK's QueryConfig: 4 sub-splits, 131072 rows each per request, 8 row groups. */
  readonly select?: Partial<SelectSettings>;
  /** Listing page size (`tabular-max-keys`). Default 1000, as the Python SDK's. */
  readonly listPageSize?: number;
  readonly conflictRetry?: ConflictRetryOptions;
  /** Told of every rerun after a conflict, before its wait. */
  readonly onConflict?: (event: VastConflictEvent) => void;
  /** The jitter source, in [0, 1). */
  readonly random?: () => number;
}

const UINT64_MAX = (1n << 64n) - 1n;

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`VAST client option ${name} must be a positive integer, not ${value}`);
  return value;
}

export class VastClient {
  private readonly transport: VastRequester;
  private readonly bucket: string;
  private readonly clientName: string;
  private readonly select: SelectSettings;
  private readonly listPageSize: number;
  private readonly retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  private readonly onConflict: ((event: VastConflictEvent) => void) | undefined;
  private readonly random: () => number;

  constructor(options: VastClientOptions) {
    this.transport = options.transport;
    this.bucket = options.bucket;
    this.clientName = options.clientName ?? 'tams-gateway';
    this.select = {
      numSubSplits: positiveInteger('select.numSubSplits', options.select?.numSubSplits ?? 4),
      limitRowsPerSubSplit: positiveInteger('select.limitRowsPerSubSplit', options.select?.limitRowsPerSubSplit ?? 128 * 1024),
      rowGroupsPerSubSplit: positiveInteger('select.rowGroupsPerSubSplit', options.select?.rowGroupsPerSubSplit ?? 8),
    };
    this.listPageSize = positiveInteger('listPageSize', options.listPageSize ?? 1000);
    this.retry = {
      maxAttempts: positiveInteger('conflictRetry.maxRuns', options.conflictRetry?.maxRuns ?? 10),
      baseDelayMs: positiveInteger('conflictRetry.baseDelayMs', options.conflictRetry?.baseDelayMs ?? 20),
      maxDelayMs: positiveInteger('conflictRetry.maxDelayMs', options.conflictRetry?.maxDelayMs ?? 500),
    };
    this.onConflict = options.onConflict;
    this.random = options.random ?? Math.random;
  }

  /** Begins a transaction; the caller must commit or roll it back. */
  async begin(): Promise<VastTransaction> {
    const response = await this.transport.request({
      method: 'POST',
      operation: 'begin transaction',
      path: [],
      verb: 'transaction',
      headers: commonHeaders(0n, this.clientName),
    });
    const header = response.headers['tabular-txid'];
    const text = Array.isArray(header) ? header[0] : header;
    if (text === undefined || !/^\d{1,20}$/.test(text) || BigInt(text) > UINT64_MAX) {
      throw new VastProtocolError('malformed', `begin transaction: no transaction id in the answer (tabular-txid ${JSON.stringify(text ?? null)})`);
    }
    return new VastTransaction(BigInt(text), {
      transport: this.transport,
      bucket: this.bucket,
      clientName: this.clientName,
      select: this.select,
      listPageSize: this.listPageSize,
    });
  }

  /**
   * Runs `work` in a new transaction and commits it. A failure of the work rolls the transaction
   * back and is thrown; a conflict (at a write or at commit) reruns the whole work in a new
   * transaction, up to `maxRuns` runs, and the last conflict is thrown after that.
   */
  async withTransaction<T>(work: (tx: VastTransaction) => Promise<T>, options: ConflictRetryOptions = {}): Promise<T> {
    const policy = {
      maxAttempts: positiveInteger('maxRuns', options.maxRuns ?? this.retry.maxAttempts),
      baseDelayMs: options.baseDelayMs ?? this.retry.baseDelayMs,
      maxDelayMs: options.maxDelayMs ?? this.retry.maxDelayMs,
    };
    for (let run = 1; ; run += 1) {
      const tx = await this.begin();
      let result: T;
      try {
        result = await work(tx);
        await tx.commit();
        return result;
      } catch (error) {
        await rollbackQuietly(tx);
        if (!(error instanceof VastRequestError) || error.kind !== 'conflict' || run >= policy.maxAttempts) throw error;
        const delayMs = backoffDelayMs(run, policy, this.random);
        this.report({ run, delayMs, operation: error.operation });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  private report(event: VastConflictEvent): void {
    try {
      this.onConflict?.(event);
    } catch {
      // A reporting hook that fails must not change what happens to the work.
    }
  }
}

/**
 * Rolls back a transaction the work left open, or whose commit failed (VAST may have ended it
 * already: whatever the rollback answers then changes nothing for the caller, who gets the
 * work's own error).
 */
async function rollbackQuietly(tx: VastTransaction): Promise<void> {
  if (tx.state === 'committed' || tx.state === 'rolled_back') return;
  try {
    await tx.rollback();
  } catch {
    // See above: the work's error is the one that matters.
  }
}
