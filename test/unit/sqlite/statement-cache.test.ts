import Database from 'better-sqlite3';
import { StatementCache, limitClause } from '../../../src/adapters/sqlite/statement-cache';

describe('StatementCache', () => {
  const db = new Database(':memory:');
  beforeAll(() => {
    db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
    for (let n = 1; n <= 20; n++) insert.run(n);
  });
  afterAll(() => db.close());

  it('prepares a text once and hands back the same statement', () => {
    const cache = new StatementCache(db, 4);
    const first = cache.get('SELECT n FROM t ORDER BY n LIMIT 3');
    expect(cache.get('SELECT n FROM t ORDER BY n LIMIT 3')).toBe(first);
    expect(first.pluck().all()).toEqual([1, 2, 3]);
    expect(cache.size).toBe(1);
  });

  it('keys statements by a short key and builds the SQL only the first time', () => {
    const cache = new StatementCache(db, 4);
    const build = jest.fn(() => `SELECT n FROM t ORDER BY n DESC ${limitClause(2)}`);
    const a = cache.keyed('desc2', build);
    const b = cache.keyed('desc2', build);
    expect(b).toBe(a);
    expect(build).toHaveBeenCalledTimes(1);
    expect(a.pluck().all()).toEqual([20, 19]);
  });

  it('never holds more than its maximum, dropping the oldest first', () => {
    const cache = new StatementCache(db, 3);
    const one = cache.get(`SELECT n FROM t ${limitClause(1)}`);
    cache.get(`SELECT n FROM t ${limitClause(2)}`);
    const three = cache.get(`SELECT n FROM t ${limitClause(3)}`);
    cache.get(`SELECT n FROM t ${limitClause(4)}`);
    expect(cache.size).toBe(3);
    expect(cache.get(`SELECT n FROM t ${limitClause(3)}`)).toBe(three);
    // The first was evicted: asking again prepares a new statement (and evicts the next oldest).
    expect(cache.get(`SELECT n FROM t ${limitClause(1)}`)).not.toBe(one);
    expect(cache.size).toBe(3);
  });

  it('configures each statement once, when it is prepared', () => {
    const configure = jest.fn((stmt: Database.Statement) => stmt.raw(true));
    const cache = new StatementCache(db, 2, configure);
    cache.get('SELECT n, n * 2 FROM t WHERE n = 5');
    const rows = cache.get('SELECT n, n * 2 FROM t WHERE n = 5').all();
    expect(rows).toEqual([[5, 10]]);
    expect(configure).toHaveBeenCalledTimes(1);
  });

  it('refuses a maximum that is not a positive integer', () => {
    expect(() => new StatementCache(db, 0)).toThrow(RangeError);
    expect(() => new StatementCache(db, 1.5)).toThrow(RangeError);
  });
});

describe('limitClause', () => {
  it('writes a non-negative integer limit into the SQL text', () => {
    expect(limitClause(31)).toBe('LIMIT 31');
    expect(limitClause(0)).toBe('LIMIT 0');
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('refuses %p (nothing but digits may reach the SQL text)', (n) => {
    expect(() => limitClause(n)).toThrow(RangeError);
  });
});
