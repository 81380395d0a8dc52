/**
 * Hostile review of b9b7cd3 (PostgreSQL leases claimed with FOR UPDATE SKIP LOCKED; reverted to
 * the upsert after this review, object-storage.ts ACQUIRE_LEASE says why). The port's
 * contract (MetadataStore.acquireLease): "true when it was free, expired, or already held by
 * `holder`; false while another holder's lease runs". The SQLite store (and this store before
 * b9b7cd3: INSERT ... ON CONFLICT DO UPDATE ... WHERE holder = excluded.holder OR expired) answer
 * so under any concurrency, since a waiting upsert re-checks the row once the other commits.
 * SKIP LOCKED and ON CONFLICT DO NOTHING answer false instead whenever the row is being
 * written by anyone, the holder itself included. The tests marked "was a DEFECT" showed those cases.
 */
import { Client } from 'pg';
import { PostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import type { MetadataStore } from '../../src/ports/metadata-store';
import { describePostgres, TEST_DATABASE_URL, TestSchemas } from '../support/postgres';

describePostgres('PostgreSQL store review (b9b7cd3): leases', () => {
  const schemas = new TestSchemas();
  let schema: string;
  let a: PostgresMetadataStore;
  let b: PostgresMetadataStore;
  let admin: Client;

  beforeAll(async () => {
    schema = schemas.next();
    a = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 8, schema });
    b = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 8, schema });
    await Promise.all([a.init(), b.init()]);
    admin = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await Promise.all([a?.close(), b?.close()]);
    await schemas.dropAll();
  });

  /** The lease rules every store must follow, one call at a time (run on SQLite and PostgreSQL alike). */
  async function sequentialRules(store: MetadataStore, p: string): Promise<boolean[]> {
    return [
      await store.acquireLease(`${p}:1`, 'x', 1000, 0), // free: true
      await store.acquireLease(`${p}:1`, 'y', 1000, 500), // another's, running: false
      await store.acquireLease(`${p}:1`, 'x', 1000, 900), // renewed by its holder (to 1,900): true
      await store.acquireLease(`${p}:1`, 'y', 1000, 1500), // still running thanks to the renewal: false
      await store.acquireLease(`${p}:1`, 'x', 1000, 5000), // its own, expired, taken again by the same holder: true
      await store.acquireLease(`${p}:1`, 'y', 1000, 6000), // expired (at 6,000): another takes it over: true
      await store.acquireLease(`${p}:1`, 'x', 1000, 6100), // the old holder: false
      await store.acquireLease(`${p}:1`, 'y', 1000, 7000), // exactly at expiry, the holder: true
      await store.acquireLease(`${p}:1`, 'x', 1000, 8000), // exactly at expiry (expires_ms <= now), another: true
      await (async () => {
        await store.releaseLease(`${p}:1`, 'y'); // not y's: nothing happens
        return store.acquireLease(`${p}:1`, 'y', 1000, 8100); // x still holds it: false
      })(),
      await (async () => {
        await store.releaseLease(`${p}:1`, 'x'); // x gives it up early
        return store.acquireLease(`${p}:1`, 'y', 1000, 8200); // free: true
      })(),
    ];
  }

  it('follows the SQLite store one call at a time: free, running, renewed, expired, taken over, released', async () => {
    const sqlite = new SqliteMetadataStore({ filename: ':memory:' });
    await sqlite.init();
    try {
      const expected = await sequentialRules(sqlite, 'seq');
      expect(expected).toEqual([true, false, true, false, true, true, false, true, true, false, true]);
      expect(await sequentialRules(a, 'seq')).toEqual(expected);
    } finally {
      await sqlite.close();
    }
  });

  it('gives an expired lease to exactly one of its old holder renewing and another claiming at once, on two replicas', async () => {
    for (let round = 0; round < 20; round++) {
      const name = `renew-vs-claim-${round}`;
      expect(await a.acquireLease(name, 'old', 1000, 0)).toBe(true);
      const [renewed, claimed] = await Promise.all([a.acquireLease(name, 'old', 1000, 5000), b.acquireLease(name, 'new', 1000, 5000)]);
      expect([renewed, claimed].filter(Boolean)).toHaveLength(1);
    }
  });

  it('waits for a statement writing the lease row, then answers from what it committed (the upsert re-checks; SKIP LOCKED would have answered false at once)', async () => {
    expect(await a.acquireLease('busy', 'x', 60_000, 0)).toBe(true);
    await admin.query('BEGIN');
    await admin.query("SELECT * FROM leases WHERE name = 'busy' FOR UPDATE");
    const claim = b.acquireLease('busy', 'y', 1000, 1000);
    // x's lease runs to 60,000: after the writer ends without a change, y is refused.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await admin.query('ROLLBACK');
    expect(await claim).toBe(false);
    // A writer that releases it meanwhile: the waiting claim then finds it free.
    await admin.query('BEGIN');
    await admin.query("DELETE FROM leases WHERE name = 'busy'");
    const after = b.acquireLease('busy', 'y', 1000, 1000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await admin.query('COMMIT');
    expect(await after).toBe(true);
  });

  it('a holder taking a free lease on two replicas at once is told true by both (was a DEFECT with SKIP LOCKED)', async () => {
    // Two calls by one holder (a worker's claim and its renewal, or one process's holder id on a
    // retried request): both must answer true, as SQLite and the upsert before b9b7cd3 do. Here
    // `made` (ON CONFLICT DO NOTHING) answers nothing to the second, and `renewed` read a
    // snapshot without the row.
    const answers: boolean[][] = [];
    for (let round = 0; round < 20; round++) {
      const name = `self-race-${round}`;
      answers.push(await Promise.all([a.acquireLease(name, 'h', 1000, 0), b.acquireLease(name, 'h', 1000, 0)]));
      expect(await a.acquireLease(name, 'other', 1000, 10)).toBe(false); // h holds it
    }
    expect(answers.filter((pair) => pair.includes(false))).toEqual([]);
  });

  it('a holder taking over another\'s expired lease on two replicas at once is told true by both (was a DEFECT with SKIP LOCKED)', async () => {
    const answers: boolean[][] = [];
    for (let round = 0; round < 20; round++) {
      const name = `self-claim-${round}`;
      expect(await a.acquireLease(name, 'old', 1000, 0)).toBe(true);
      answers.push(await Promise.all([a.acquireLease(name, 'h', 1000, 5000), b.acquireLease(name, 'h', 1000, 5000)]));
      expect(await a.acquireLease(name, 'old', 1000, 5010)).toBe(false); // h holds it
    }
    expect(answers.filter((pair) => pair.includes(false))).toEqual([]);
  });

  it('a claim of an expired lease while its old holder releases it is told true (was a DEFECT with SKIP LOCKED)', async () => {
    expect(await a.acquireLease('released', 'old', 1000, 0)).toBe(true);
    // The old holder's releaseLease (the store's own statement) caught before its commit.
    await admin.query('BEGIN');
    await admin.query("DELETE FROM leases WHERE name = 'released' AND holder = 'old'");
    const claim = b.acquireLease('released', 'new', 1000, 5000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await admin.query('COMMIT');
    // Serially: before the release, the lease is expired (true); after it, free (true).
    expect(await claim).toBe(true);
  });
});
