/**
 * The fake VAST server's transactions: multi-version cells under SNAPSHOT ISOLATION with
 * write-write conflict detection.
 *
 * - A transaction reads the state committed when it began (its snapshot) plus its own writes;
 *   what others write is hidden from it until they commit AND it begins after that.
 * - Two transactions writing the same cell (updating or deleting one row, or changing one
 *   table's columns, or creating one name) conflict; the later one is refused with 409:
 *   - a write to a cell another transaction committed after this one's snapshot is refused at
 *     the write, in both modes (the first committer already won);
 *   - a write to a cell another open transaction has written but not committed is refused at
 *     the write in mode `at-write` (first writer wins, the modelled default: the only public
 *     evidence, the Python SDK's test_rename_column, shows the second of two concurrent renames
 *     of one column refused with 409 at the rename itself), and accepted in mode `at-commit`,
 *     where the commit of the later of the two is refused instead (first committer wins);
 *   - after a refusal the transaction is doomed (an assumption: VAST's behaviour is not public):
 *     every later request in it answers 409, its commit too, and only a rollback succeeds.
 * - Inserts create fresh cells and never conflict. Reads never conflict: write skew (two
 *   transactions each reading what the other writes) is allowed, as snapshot isolation allows it.
 */

export type ConflictDetection = 'at-write' | 'at-commit';

export type TransactionState = 'active' | 'committed' | 'aborted';

export class FakeTransaction {
  state: TransactionState = 'active';
  /** Why a write was refused, once one was: the transaction can then only be rolled back. */
  doomed: string | undefined;
  readonly writes = new Set<Versioned<unknown>>();

  constructor(
    readonly id: bigint,
    /** The commit sequence number it reads as of. */
    readonly snapshot: number,
  ) {}
}

/** A write the isolation rules refuse: the server answers 409. */
export class WriteConflict extends Error {
  override name = 'WriteConflict';
}

interface CommittedVersion<T> {
  readonly seq: number;
  readonly writer: bigint;
  /** null: deleted. */
  readonly value: T | null;
}

/** One row, or one catalog entry, with every version of it that a transaction may still read. */
export class Versioned<T> {
  private readonly committed: CommittedVersion<T>[] = [];
  /** Uncommitted versions by transaction id. */
  private readonly pending = new Map<bigint, T | null>();

  /** The version the transaction sees: its own write, else the last committed at its snapshot; undefined if none. */
  visibleTo(tx: FakeTransaction): T | null | undefined {
    if (this.pending.has(tx.id)) return this.pending.get(tx.id);
    for (let index = this.committed.length - 1; index >= 0; index -= 1) {
      const version = this.committed[index]!;
      if (version.seq <= tx.snapshot) return version.value;
    }
    return undefined;
  }

  /** Another transaction committed a version after `tx` began. */
  committedSince(tx: FakeTransaction): boolean {
    const last = this.committed[this.committed.length - 1];
    return last !== undefined && last.seq > tx.snapshot && last.writer !== tx.id;
  }

  /** Open transactions other than `tx` that wrote a version not yet committed. */
  pendingWritersOtherThan(tx: FakeTransaction): bigint[] {
    return [...this.pending.keys()].filter((writer) => writer !== tx.id);
  }

  setPending(tx: FakeTransaction, value: T | null): void {
    this.pending.set(tx.id, value);
  }

  commit(tx: FakeTransaction, seq: number): void {
    if (!this.pending.has(tx.id)) return;
    this.committed.push({ seq, writer: tx.id, value: this.pending.get(tx.id)! });
    this.pending.delete(tx.id);
  }

  discard(tx: FakeTransaction): void {
    this.pending.delete(tx.id);
  }
}

export class TransactionManager {
  private clock = 0;
  private nextId: bigint;
  private readonly transactions = new Map<bigint, FakeTransaction>();

  constructor(
    readonly mode: ConflictDetection,
    /** The first transaction id: above 2^63, so that ids are read as unsigned. */
    firstId = 18_000_000_000_000_000_001n,
  ) {
    this.nextId = firstId;
  }

  begin(): FakeTransaction {
    const tx = new FakeTransaction(this.nextId, this.clock);
    this.nextId += 1n;
    this.transactions.set(tx.id, tx);
    return tx;
  }

  /** A view of everything committed so far, for tests to inspect; it writes nothing. */
  latest(): FakeTransaction {
    return new FakeTransaction(0n, this.clock);
  }

  find(id: bigint): FakeTransaction | undefined {
    return this.transactions.get(id);
  }

  get openCount(): number {
    return [...this.transactions.values()].filter((tx) => tx.state === 'active').length;
  }

  /** Records `value` as `tx`'s version of the cell, or throws WriteConflict (and dooms `tx`). */
  write<T>(tx: FakeTransaction, cell: Versioned<T>, value: T | null, what: string): void {
    if (cell.committedSince(tx)) this.doom(tx, `${what} was changed by a transaction that committed after this one began`);
    if (this.mode === 'at-write') {
      const others = cell.pendingWritersOtherThan(tx);
      if (others.length > 0) this.doom(tx, `${what} is being changed by open transaction ${others[0]}`);
    }
    cell.setPending(tx, value);
    tx.writes.add(cell);
  }

  /** Commits, or throws WriteConflict after rolling `tx` back (first committer wins). */
  commit(tx: FakeTransaction): void {
    if (tx.doomed !== undefined) {
      this.rollback(tx);
      throw new WriteConflict(tx.doomed);
    }
    for (const cell of tx.writes) {
      if (cell.committedSince(tx)) {
        this.rollback(tx);
        throw new WriteConflict('a row or catalog entry it changed was changed by a transaction that committed first');
      }
    }
    this.clock += 1;
    for (const cell of tx.writes) cell.commit(tx, this.clock);
    tx.writes.clear();
    tx.state = 'committed';
  }

  rollback(tx: FakeTransaction): void {
    for (const cell of tx.writes) cell.discard(tx);
    tx.writes.clear();
    tx.state = 'aborted';
  }

  private doom(tx: FakeTransaction, reason: string): never {
    tx.doomed ??= reason;
    throw new WriteConflict(reason);
  }
}
