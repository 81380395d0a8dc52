import type { Database, Statement } from 'better-sqlite3';

/**
 * Prepared statements kept by SQL text, at most `max` of them (the oldest prepared is dropped
 * first), so statements built from request filters cannot grow without bound.
 */
export class StatementCache {
  private readonly statements = new Map<string, Statement>();

  constructor(
    private readonly db: Database,
    private readonly max: number,
    /** Applied to each statement once, when it is prepared (raw mode, safe integers...). */
    private readonly configure: (stmt: Statement) => Statement = (stmt) => stmt,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('StatementCache: max must be a positive integer');
  }

  /** The statement for this SQL text. */
  get(sql: string): Statement {
    return this.keyed(sql, () => sql);
  }

  /** The statement known by `key`, prepared from `sql()` the first time (a short key saves hashing long SQL). */
  keyed(key: string, sql: () => string): Statement {
    let stmt = this.statements.get(key);
    if (stmt === undefined) {
      stmt = this.configure(this.db.prepare(sql()));
      if (this.statements.size >= this.max) this.statements.delete(this.statements.keys().next().value as string);
      this.statements.set(key, stmt);
    }
    return stmt;
  }

  get size(): number {
    return this.statements.size;
  }
}

/**
 * `LIMIT n` as literal SQL text. A LIMIT given as a bound parameter costs a full re-prepare
 * (parse and plan) on every run: SQLite reads the bound value while planning (for its
 * ORDER BY ... LIMIT optimisation) and so marks the statement expired whenever that
 * parameter is bound again, which better-sqlite3 does on each call. Measured on the segment
 * window: about a third of the query's time. So the limit is written into the SQL text and
 * statements are cached per limit instead.
 */
export function limitClause(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`Invalid LIMIT ${limit}`);
  return `LIMIT ${limit}`;
}
