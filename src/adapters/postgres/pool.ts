/**
 * The connection pool of the PostgreSQL store, and the two ways queries run on it: one at a
 * time on any pooled connection (`Db`), or several in one transaction on one connection (`Tx`,
 * BEGIN ... COMMIT, ROLLBACK on any error, the connection always released). Every failure goes
 * through toStoreError, so a client sees `unavailable` for an unreachable database, never a
 * raw pg error.
 */
import { Client, Pool, types, type PoolClient, type PoolConfig, type QueryConfig } from 'pg';
import { isRetryable, toStoreError } from './errors';

export interface PostgresConnectionOptions {
  /** `postgres://user@host:port/database` (libpq URL; sslmode etc. as pg reads them). */
  connectionString: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * How long to wait for a new connection, and for a free pooled one, before the call fails
   * with `unavailable` (default 5000 ms).
   */
  connectTimeoutMs?: number;
  /** Server-side statement_timeout of every pooled connection (default 30000 ms; 0: none). */
  statementTimeoutMs?: number;
  /**
   * Schema every query runs in (search_path of each connection; made by init() when missing).
   * Default: the server's search_path. Letters, digits and `_` only.
   */
  schema?: string;
}

const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const INT8_OID = 20;

/**
 * int8 values come back as BigInt: segment bounds are nanoseconds beyond 2^53. Callers turn
 * the small ones (counts, seqs, milliseconds) into numbers.
 */
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === INT8_OID ? (value: string) => BigInt(value) : (types.getTypeParser(oid, format) as unknown)) as typeof types.getTypeParser,
};

/** A statement run as a named prepared statement on each connection (parsed and planned once there). */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

let statementCount = 0;

/** Declares a prepared statement (a module-level constant: its name must always mean this text). */
export function statement(text: string): Statement {
  statementCount += 1;
  return { name: `tams_${statementCount}`, text };
}

export type Sql = Statement | string;

function config(sql: Sql, params: readonly unknown[]): QueryConfig<unknown[]> {
  return typeof sql === 'string' ? { text: sql, values: [...params] } : { name: sql.name, text: sql.text, values: [...params] };
}

/** Anything queries run on: the pool or one transaction's connection. */
export interface Queryable {
  rows<R>(sql: Sql, params?: readonly unknown[]): Promise<R[]>;
  row<R>(sql: Sql, params?: readonly unknown[]): Promise<R | undefined>;
  /** Rows as arrays of column values (no object per row: the window query). */
  arrays(sql: Sql, params?: readonly unknown[]): Promise<unknown[][]>;
  /** Runs a statement; returns how many rows it changed. */
  run(sql: Sql, params?: readonly unknown[]): Promise<number>;
}

/** The settings of every connection the store opens: pooled ones and the LISTEN one. */
export function connectionConfig(options: PostgresConnectionOptions): PoolConfig {
  if (options.schema !== undefined && !SCHEMA_RE.test(options.schema)) {
    throw new Error(`PostgreSQL schema name ${JSON.stringify(options.schema)}: letters, digits and _ only`);
  }
  const statementTimeout = options.statementTimeoutMs ?? 30_000;
  const result: PoolConfig = {
    connectionString: options.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    application_name: 'tams-gateway',
    types: typeParsers,
    keepAlive: true,
  };
  if (statementTimeout > 0) result.statement_timeout = statementTimeout;
  if (options.schema !== undefined) result.options = `-c search_path=${options.schema}`;
  return result;
}

export function createPool(options: PostgresConnectionOptions): Pool {
  const pool = new Pool({ ...connectionConfig(options), max: options.poolSize ?? 10 });
  // An idle connection dropped by the server must not crash the process: the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

/** A client outside the pool (the LISTEN connection), with the pool's settings. */
export function createClient(options: PostgresConnectionOptions): Client {
  return new Client(connectionConfig(options));
}

class ClientQueries implements Queryable {
  /**
   * `mapErrors` false inside a transaction: its errors reach Db.transaction as pg raised them,
   * which decides on a retry and maps them once.
   */
  constructor(
    protected readonly client: PoolClient | Pool,
    private readonly mapErrors: boolean,
  ) {}

  private fail(err: unknown): never {
    throw this.mapErrors ? toStoreError(err) : err;
  }

  async rows<R>(sql: Sql, params: readonly unknown[] = []): Promise<R[]> {
    try {
      return (await this.client.query(config(sql, params))).rows as R[];
    } catch (err) {
      this.fail(err);
    }
  }

  async row<R>(sql: Sql, params: readonly unknown[] = []): Promise<R | undefined> {
    return (await this.rows<R>(sql, params))[0];
  }

  async arrays(sql: Sql, params: readonly unknown[] = []): Promise<unknown[][]> {
    try {
      return (await this.client.query({ ...config(sql, params), rowMode: 'array' })).rows as unknown[][];
    } catch (err) {
      this.fail(err);
    }
  }

  async run(sql: Sql, params: readonly unknown[] = []): Promise<number> {
    try {
      return (await this.client.query(config(sql, params))).rowCount ?? 0;
    } catch (err) {
      this.fail(err);
    }
  }
}

/** One transaction's connection. */
export class Tx extends ClientQueries {
  constructor(client: PoolClient) {
    super(client, false);
  }
}

export interface TransactionOptions {
  /**
   * Key of a transaction-level advisory lock (`pg_advisory_xact_lock(hashtextextended(key, 0))`)
   * taken in the round trip that sends BEGIN, before anything else runs.
   */
  advisoryLock?: string;
}

/** How many times a transaction that lost a race with another one is run again. */
const ATTEMPTS = 4;

export class Db extends ClientQueries {
  constructor(private readonly pool: Pool) {
    super(pool, true);
  }

  /**
   * Runs `work` in one transaction (READ COMMITTED) on one connection: COMMIT when it resolves,
   * ROLLBACK when it throws. A transaction that failed only because a concurrent one won (a
   * deadlock, two inserts of one key) is run again from the start, a few times.
   */
  async transaction<T>(work: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(work, options);
      } catch (err) {
        if (attempt >= ATTEMPTS || !isRetryable(err)) throw toStoreError(err);
      }
    }
  }

  /** A dedicated connection for `work` (session-level state such as advisory locks), released after. */
  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toStoreError(err);
    }
    let broken: unknown;
    try {
      return await work(client);
    } catch (err) {
      broken = err;
      throw toStoreError(err);
    } finally {
      client.release(isConnectionLoss(broken) ? (broken as Error) : undefined);
    }
  }

  private async once<T>(work: (tx: Tx) => Promise<T>, options: TransactionOptions): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toStoreError(err);
    }
    let broken: Error | undefined;
    try {
      // One simple-protocol message: BEGIN and the lock cost one round trip, not two. A simple
      // query cannot carry U+0000 (the server refuses the message): such a key locks as U+FFFD,
      // and the work's own statements then refuse the text (errors.ts: bad_request).
      const key = options.advisoryLock?.replace(/\0/g, '\uFFFD');
      const lock = key === undefined ? '' : `; SELECT pg_advisory_xact_lock(hashtextextended(${client.escapeLiteral(key)}, 0))`;
      await client.query(`BEGIN${lock}`);
      const result = await work(new Tx(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection is gone or unusable: the pool must not hand it out again.
        broken = rollbackError instanceof Error ? rollbackError : new Error('ROLLBACK failed');
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}

function isConnectionLoss(err: unknown): boolean {
  const mapped = toStoreError(err);
  return typeof mapped === 'object' && mapped !== null && (mapped as { code?: unknown }).code === 'unavailable';
}
