/**
 * The PostgreSQL store's rules across processes: two store instances on one schema, each with
 * its own pool (as two gateway replicas), racing each other.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { MIGRATIONS } from '../../src/adapters/postgres/migrations';
import { PostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store';
import type { Flow, NewSegment } from '../../src/domain/entities';
import { TamsError } from '../../src/domain/errors';
import { parseTimeRange } from '../../src/domain/timerange';
import { describePostgres, TEST_DATABASE_URL, TestSchemas } from '../support/postgres';

const NOW = '2024-01-01T00:00:00.000Z';

function seg(objectId: string, timerange: string): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, get_urls: [{ url: `https://media.example/${objectId}`, label: 'ext' }] };
}

function flow(): Flow {
  return { id: randomUUID(), source_id: randomUUID(), format: 'urn:x-nmos:format:video' };
}

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describePostgres('PostgreSQL store: two replicas on one database', () => {
  const schemas = new TestSchemas();
  let a: PostgresMetadataStore;
  let b: PostgresMetadataStore;

  beforeEach(async () => {
    const schema = schemas.next();
    a = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 8, schema });
    b = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 8, schema });
    // Both migrate at once, as replicas starting together do: the advisory lock makes it safe.
    await Promise.all([a.init(), b.init()]);
  });

  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  afterAll(async () => {
    await schemas.dropAll();
  });

  it('lets exactly one of two overlapping registrations on one flow win', async () => {
    const f = flow();
    await a.putFlow(f, NOW);
    const rounds = 40;
    const results = await Promise.all(
      Array.from({ length: rounds }, (_, i) => {
        // Two segments overlapping each other, each registered by another replica.
        const first = a.addSegments(f.id, [seg(`a-${i}`, `[${i * 10}:0_${i * 10 + 6}:0)`)], NOW);
        const second = b.addSegments(f.id, [seg(`b-${i}`, `[${i * 10 + 4}:0_${i * 10 + 9}:0)`)], NOW);
        return Promise.all([first, second]);
      }),
    );
    for (const [first, second] of results) {
      const errors = [first[0]!.error, second[0]!.error];
      expect(errors.filter((e) => e === undefined)).toHaveLength(1);
      const loser = errors.find((e) => e !== undefined);
      expect(loser).toBeInstanceOf(TamsError);
      expect(loser?.code).toBe('segment_overlap');
    }
    const stored = await a.listSegments(f.id, { timerange: parseTimeRange('_') }, { limit: 1000 });
    expect(stored.items).toHaveLength(rounds);
    expect(await b.countSegments(f.id)).toBe(rounds);
  });

  it('checks each segment of two racing batches against the segments the other stored', async () => {
    const f = flow();
    await a.putFlow(f, NOW);
    const both = await Promise.all([
      a.addSegments(f.id, [seg('x1', '[0:0_10:0)'), seg('x2', '[10:0_20:0)')], NOW),
      b.addSegments(f.id, [seg('y1', '[5:0_15:0)'), seg('y2', '[30:0_40:0)')], NOW),
    ]);
    const stored = (await a.listSegments(f.id, { timerange: parseTimeRange('_') }, { limit: 100 })).items.map((s) => s.timerange_text);
    // Whichever ran second saw the first's segments: its overlapping one failed alone.
    expect(stored.length).toBe(both.flat().filter((o) => o.error === undefined).length);
    for (let i = 1; i < stored.length; i++) {
      const previous = parseTimeRange(stored[i - 1]!);
      const current = parseTimeRange(stored[i]!);
      expect(current.start! >= previous.end!).toBe(true);
    }
  });

  it('drops migration 1\'s exclusion constraint when it upgrades a store (migration 2); registration still refuses overlaps', async () => {
    const schema = schemas.next();
    const admin = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    await admin.connect();
    const constraints = async (): Promise<number> =>
      Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_constraint WHERE conrelid = 'segments'::regclass AND conname = 'segments_no_overlap'")).rows[0]?.n);
    try {
      // A store as version 1 left it, with a segment stored.
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await admin.query('CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public');
      await admin.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied text NOT NULL)');
      await admin.query(MIGRATIONS[0]!);
      await admin.query("INSERT INTO schema_migrations (version, applied) VALUES (1, 'then')");
      expect(await constraints()).toBe(1);
      const f = flow();
      const old = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, schema });
      const store = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, schema });
      try {
        await store.init();
        expect(await constraints()).toBe(0);
        await old.init();
        const versions = await admin.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        expect(versions.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
        await store.putFlow(f, NOW);
        expect((await store.addSegments(f.id, [seg('s', '[0:0_10:0)')], NOW))[0]!.error).toBeUndefined();
        // Another replica, racing: the flow's lock is what keeps the rule now.
        const [first, second] = await Promise.all([old.addSegments(f.id, [seg('t', '[9:0_12:0)')], NOW), store.addSegments(f.id, [seg('u', '[10:0_12:0)')], NOW)]);
        expect(first[0]!.error).toMatchObject({ code: 'segment_overlap' });
        expect(second[0]!.error).toBeUndefined();
      } finally {
        await Promise.all([old.close(), store.close()]);
      }
    } finally {
      await admin.end();
    }
  });

  it('gives a lease to exactly one of many holders racing on two replicas, free, renewed or expired', async () => {
    for (let round = 0; round < 10; round++) {
      const name = `race-${round}`;
      const holders = Array.from({ length: 16 }, (_, i) => `h${i}`);
      const free = await Promise.all(holders.map((h, i) => (i % 2 === 0 ? a : b).acquireLease(name, h, 1000, 10_000)));
      expect(free.filter(Boolean)).toHaveLength(1);
      const winner = holders[free.indexOf(true)]!;
      // Renewed by its holder while others try: still one.
      const renewal = await Promise.all(holders.map((h, i) => (i % 2 === 0 ? b : a).acquireLease(name, h, 1000, 10_500)));
      expect(renewal.map((got, i) => got && holders[i])).toEqual(holders.map((h) => h === winner && h));
      // Expired (it ran to 11,500): one of the others takes it over.
      const others = holders.filter((h) => h !== winner);
      const expired = await Promise.all(others.map((h, i) => (i % 2 === 0 ? a : b).acquireLease(name, h, 1000, 11_500)));
      expect(expired.filter(Boolean)).toHaveLength(1);
      expect(await a.acquireLease(name, winner, 1000, 11_600)).toBe(false);
    }
  });

  it('hands a tailing reader every event once, in seq order, while both replicas write', async () => {
    const start = await a.lastEventSeq();
    const seen: number[] = [];
    let last = start;
    let writing = true;
    const reader = (async () => {
      while (writing || (await b.lastEventSeq()) > last) {
        const events = await b.readEvents(last, 50);
        for (const e of events) {
          seen.push(e.seq);
          last = e.seq;
        }
        if (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const writers = [a, b, a, b].map(async (store) => {
      for (let i = 0; i < 25; i++) {
        const f = flow();
        await store.putFlow(f, NOW);
        await store.updateFlow(f.id, (x) => ({ ...x, label: `l${i}` }), NOW);
      }
    });
    await Promise.all(writers);
    writing = false;
    await reader;
    const table = (await a.readEvents(start, 100_000)).map((e) => e.seq);
    expect(table).toHaveLength(4 * 25 * 3);
    // No gap (nothing skipped), nothing twice, ascending.
    expect(seen).toEqual(table);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe(seen[i - 1]! + 1);
  });

  it('tells listeners on one replica of a commit made on the other', async () => {
    let heard = 0;
    const unsubscribe = b.onCommit(() => {
      heard += 1;
    });
    try {
      await a.putFlow(flow(), NOW);
      await eventually(() => heard > 0);
    } finally {
      unsubscribe();
    }
  });

  it('reconnects the LISTEN connection when it drops, telling listeners once it is back', async () => {
    let heard = 0;
    const unsubscribe = b.onCommit(() => {
      heard += 1;
    });
    try {
      const pid = b.listenerPid;
      expect(pid).toBeDefined();
      const admin = new Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
      try {
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      } finally {
        await admin.end();
      }
      await eventually(() => heard > 0 && b.listenerPid !== undefined && b.listenerPid !== pid);
      const before = heard;
      await a.putFlow(flow(), NOW);
      await eventually(() => heard > before);
    } finally {
      unsubscribe();
    }
  });

  it('gives a lease to one replica only', async () => {
    for (let round = 0; round < 20; round++) {
      const name = `lease-${round}`;
      const got = await Promise.all([a.acquireLease(name, 'replica-a', 10_000, 1000), b.acquireLease(name, 'replica-b', 10_000, 1000)]);
      expect(got.filter(Boolean)).toHaveLength(1);
    }
    expect(await b.acquireLease('lease-0', 'replica-b', 10_000, 20_000)).toBe(true);
    expect(await a.acquireLease('lease-0', 'replica-a', 10_000, 20_001)).toBe(false);
  });

  it('answers unavailable (503), not a pg error, when the database cannot be reached', async () => {
    const down = new PostgresMetadataStore({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectTimeoutMs: 500 });
    try {
      await expect(down.getFlow(randomUUID())).rejects.toMatchObject({ code: 'unavailable', status: 503 });
      expect(await down.ping()).toBe(false);
    } finally {
      await down.close();
    }
  });

  it('answers unavailable when a statement outlives the statement timeout', async () => {
    const schema = schemas.next();
    const slow = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, schema, statementTimeoutMs: 200 });
    const admin = new Client({ connectionString: TEST_DATABASE_URL });
    await slow.init();
    await admin.connect();
    try {
      const f = flow();
      await slow.putFlow(f, NOW);
      // Another session holds the flow's row: the update waits past the timeout.
      await admin.query('BEGIN');
      await admin.query(`SELECT 1 FROM "${schema}".flows WHERE id = $1 FOR UPDATE`, [f.id]);
      await expect(slow.updateFlow(f.id, (x) => ({ ...x, label: 'late' }), NOW)).rejects.toMatchObject({ code: 'unavailable' });
      await admin.query('ROLLBACK');
      expect((await slow.getFlow(f.id))?.label).toBeUndefined();
    } finally {
      await admin.end();
      await slow.close();
    }
  });
});
