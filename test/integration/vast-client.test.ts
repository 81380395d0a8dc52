/**
 * The VAST client (src/adapters/vast/client/) over VastTransport and real loopback sockets,
 * against the fake VAST server (test/support/vast-fake-server.ts), which verifies every
 * signature and reads every body with readers that are not the client's (flatc-generated
 * flatbuffers classes, apache-arrow's IPC reader and writer).
 *
 * - schemas, tables and columns are created, listed (page by page) and added;
 * - rows inserted come back from selects with every filter operator on int64, uint64, utf8 and
 *   bool (nulls and the types' extremes included), compared with a reference evaluated here;
 *   projection, `$row_id`, counts;
 * - 50,000 rows page through several requests and all four sub-splits, each row once; a limit
 *   stops early;
 * - updates and deletes by row id;
 * - isolation: another transaction's uncommitted writes are invisible, a snapshot does not see
 *   later commits, a table created in an open transaction is invisible to others;
 * - write-write conflicts: two transactions changing one row, the later refused (at the write
 *   or at commit, both modes of the fake); concurrent read-increment-write transactions under
 *   withTransaction apply exactly one increment per caller;
 * - 503 SlowDown and injected 409s are survived without double effects; request bodies stay
 *   under the slice budget, a row too wide is refused before sending, the fake refuses a body
 *   over 5 MiB; a wrong secret is refused with 403 and acts on nothing.
 */
import http from 'node:http';
import * as flatbuffers from 'flatbuffers';
import { allOf, anyOf, column, type ColumnConditions } from '../../src/adapters/vast/client/filter';
import { VastClient, type VastClientOptions } from '../../src/adapters/vast/client/vast-client';
import type { VastRecord, VastTableDefinition } from '../../src/adapters/vast/client/vast-table';
import type { VastTransaction } from '../../src/adapters/vast/client/vast-transaction';
import * as arrowfb from '../../src/adapters/vast/protocol/generated/arrow-schema_generated';
import * as ir from '../../src/adapters/vast/protocol/generated/computeir_generated';
import type { VastValue } from '../../src/adapters/vast/protocol/vast-columns';
import { SDK_SLICE_BUDGET_BYTES } from '../../src/adapters/vast/transport/request-limits';
import { VastRequestSigner } from '../../src/adapters/vast/transport/request-signer';
import { VastRequestError } from '../../src/adapters/vast/transport/vast-request-error';
import { VastTransport } from '../../src/adapters/vast/transport/vast-transport';
import { FAKE_MAX_REQUEST_BYTES, FAKE_VAST_CREDENTIALS, FakeVastServer, type FakeVastOptions } from '../support/vast-fake-server';
import { startFakeVastClient } from '../support/vast-fake-client';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Setup {
  server: FakeVastServer;
  client: VastClient;
  transport: VastTransport;
}

async function setup(fakeOptions: FakeVastOptions = {}, clientOptions: Partial<VastClientOptions> = {}): Promise<Setup> {
  const { server, transport, client, close } = await startFakeVastClient({ fake: fakeOptions, client: clientOptions });
  closers.push(close);
  return { server, client, transport };
}

async function failure(promise: Promise<unknown>): Promise<VastRequestError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VastRequestError) return error;
    throw error;
  }
  throw new Error('expected a VastRequestError');
}

const TYPED: VastTableDefinition = {
  schema: 'gateway',
  name: 'typed',
  columns: [
    { name: 'id', type: 'int64', nullable: false },
    { name: 'i', type: 'int64', nullable: true },
    { name: 'u', type: 'uint64', nullable: true },
    { name: 's', type: 'utf8', nullable: true },
    { name: 'b', type: 'bool', nullable: true },
  ],
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

const TYPED_ROWS = [
  { id: 0n, i: INT64_MIN, u: 0n, s: '', b: false },
  { id: 1n, i: -1n, u: 1n, s: 'a', b: true },
  { id: 2n, i: 0n, u: 2n ** 63n, s: 'abc', b: null },
  { id: 3n, i: 1n, u: UINT64_MAX, s: 'é', b: true },
  { id: 4n, i: INT64_MAX, u: 42n, s: 'z', b: false },
  { id: 5n, i: null, u: null, s: null, b: null },
  { id: 6n, i: 42n, u: 2n ** 63n - 1n, s: 'Zebra', b: true },
];

const COUNTERS: VastTableDefinition = {
  schema: 'gateway',
  name: 'counters',
  columns: [
    { name: 'name', type: 'utf8', nullable: false },
    { name: 'value', type: 'int64', nullable: false },
  ],
};

async function createTables(client: VastClient, ...tables: VastTableDefinition[]): Promise<void> {
  await client.withTransaction(async (tx) => {
    await tx.createSchema('gateway', { ifNotExists: true });
    for (const table of tables) await tx.createTable(table, { ifNotExists: true });
  });
}

const ids = (records: readonly VastRecord[]) => records.map((record) => record.id as bigint).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('VAST client against the fake server: catalog', () => {
  it('creates and lists schemas, tables and columns, adds columns, and skips what exists when asked', async () => {
    const { client, server } = await setup({}, { listPageSize: 2 });
    await client.withTransaction(async (tx) => {
      for (const name of ['gateway', 'a1', 'b2', 'c3', 'd4']) await tx.createSchema(name);
      await tx.createTable(TYPED);
      await tx.createTable(COUNTERS);
    });
    await client.withTransaction(async (tx) => {
      expect(await tx.listSchemas()).toEqual(['a1', 'b2', 'c3', 'd4', 'gateway']);
      expect(await tx.schemaExists('c3')).toBe(true);
      expect(await tx.schemaExists('c')).toBe(false);
      expect((await tx.listTables('gateway')).map((table) => table.name)).toEqual(['counters', 'typed']);
      expect(await tx.tableExists('gateway', 'typed')).toBe(true);
      expect(await tx.listColumns('gateway', 'typed')).toEqual(TYPED.columns);
    });
    // Five schemas two at a time: three pages.
    expect(server.log.filter((entry) => entry.method === 'GET' && entry.verb === 'schema' && entry.txid !== undefined).length).toBeGreaterThanOrEqual(3);

    await client.withTransaction(async (tx) => {
      await tx.createSchema('gateway', { ifNotExists: true });
      await tx.createTable(TYPED, { ifNotExists: true });
      await tx.table(TYPED).insert([{ id: 1n, i: 5n }]);
    });
    await client.withTransaction(async (tx) => {
      await tx.addColumns('gateway', 'typed', [{ name: 'added', type: 'utf8', nullable: true }]);
      const table = await tx.openTable('gateway', 'typed');
      expect(table.definition.columns.map((c) => c.name)).toEqual(['id', 'i', 'u', 's', 'b', 'added']);
      await table.insert([{ id: 2n, added: 'x' }]);
      expect(await table.select({ columns: ['id', 'added'] })).toEqual([
        { id: 1n, added: null },
        { id: 2n, added: 'x' },
      ]);
    });
    expect(server.openTransactions).toBe(0);
  });

  it('reports what VAST refuses: an existing schema (409), a missing table (404), a non-nullable added column (refused before sending)', async () => {
    const { client } = await setup();
    await createTables(client, TYPED);
    const tx = await client.begin();
    expect(await failure(tx.createSchema('gateway'))).toMatchObject({ kind: 'conflict', vastStatus: 409, vastCode: 'SchemaAlreadyExists' });
    await tx.rollback();
    const other = await client.begin();
    expect(await failure(other.table({ ...TYPED, name: 'missing' }).select())).toMatchObject({ kind: 'not_found', vastCode: 'NoSuchTable' });
    await expect(other.addColumns('gateway', 'typed', [{ name: 'x', type: 'int64', nullable: false }])).rejects.toThrow(/must be nullable/);
    await other.rollback();
  });
});

describe('VAST client against the fake server: rows', () => {
  type Op = Exclude<keyof ColumnConditions, 'isNull' | 'isValid'>;
  const COMPARISONS: [Op, (order: number) => boolean][] = [
    ['equal', (order) => order === 0],
    ['notEqual', (order) => order !== 0],
    ['less', (order) => order < 0],
    ['lessEqual', (order) => order <= 0],
    ['greater', (order) => order > 0],
    ['greaterEqual', (order) => order >= 0],
  ];
  const LITERALS: Record<string, VastValue[]> = {
    i: [INT64_MIN, -1n, 0n, 42n, INT64_MAX],
    u: [0n, 42n, 2n ** 63n - 1n, 2n ** 63n, UINT64_MAX],
    s: ['', 'a', 'abc', 'é', 'Zebra'],
    b: [false, true],
  };
  // The reference: JavaScript's own ordering (these strings order alike in UTF-16 and UTF-8).
  const order = (left: VastValue, right: VastValue) => (left < right ? -1 : left > right ? 1 : 0);

  it('selects with every operator on int64, uint64, utf8 and bool, as a reference evaluation says', async () => {
    const { client, server } = await setup();
    await createTables(client, TYPED);
    await client.withTransaction(async (tx) => {
      await tx.table(TYPED).insert(TYPED_ROWS);
    });
    let checked = 0;
    await client.withTransaction(async (tx) => {
      const table = tx.table(TYPED);
      for (const [name, literals] of Object.entries(LITERALS)) {
        for (const literal of literals) {
          for (const [op, holds] of COMPARISONS) {
            const expected = TYPED_ROWS.filter((row) => {
              const value = row[name as keyof typeof row];
              return value !== null && holds(order(value, literal));
            }).map((row) => row.id);
            const found = await table.select({ columns: ['id'], filter: [column(name)[op](literal)] });
            expect({ name, op, literal, ids: ids(found) }).toEqual({ name, op, literal, ids: expected });
            checked += 1;
          }
        }
        const nulls = TYPED_ROWS.filter((row) => row[name as keyof typeof row] === null).map((row) => row.id);
        expect(ids(await table.select({ filter: [column(name).isNull()] }))).toEqual(nulls);
        expect(ids(await table.select({ filter: [column(name).isValid()] }))).toEqual(TYPED_ROWS.map((row) => row.id).filter((id) => !nulls.includes(id)));
      }
    });
    expect(checked).toBe(17 * 6);
    // Every select was read and evaluated by the fake, none refused.
    const selects = server.log.filter((entry) => entry.verb === 'data');
    expect(selects.length).toBe(17 * 6 + 8);
    expect(selects.every((entry) => entry.status === 200)).toBe(true);
  });

  it('combines OR-groups with AND, projects columns in the asked order, returns $row_id and counts', async () => {
    const { client } = await setup();
    await createTables(client, TYPED);
    let rowIds: bigint[] = [];
    await client.withTransaction(async (tx) => {
      rowIds = await tx.table(TYPED).insert(TYPED_ROWS);
    });
    expect(rowIds).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n]);
    await client.withTransaction(async (tx) => {
      const table = tx.table(TYPED);
      const filter = allOf(anyOf(column('i').less(0n), column('i').isNull(), column('i').equal(42n)), anyOf(column('b').equal(true), column('b').isNull()));
      expect(ids(await table.select({ filter }))).toEqual([1n, 5n, 6n]);
      const projected = await table.select({ columns: ['s', 'id'], filter: [column('id').equal(3n)], withRowId: true });
      expect(projected).toEqual([{ s: 'é', id: 3n, $row_id: 3n }]);
      expect(Object.keys(projected[0]!)).toEqual(['s', 'id', '$row_id']);
      expect(await table.select({ columns: ['u'], filter: [column('u').greater(2n ** 63n)] })).toEqual([{ u: UINT64_MAX }]);
      expect(await table.count()).toBe(7);
      expect(await table.count([column('b').equal(false)])).toBe(2);
      expect(await table.select({ filter: [column('s').equal('no such')] })).toEqual([]);
    });
  });

  it('pages 50,000 rows through several requests and all four sub-splits, each row once; a limit stops early', async () => {
    const { client, server } = await setup({ rowGroupRows: 1000, maxRowsPerPage: 1500 }, { select: { numSubSplits: 4, limitRowsPerSubSplit: 2500, rowGroupsPerSubSplit: 2 } });
    const BIG: VastTableDefinition = {
      schema: 'gateway',
      name: 'big',
      columns: [
        { name: 'n', type: 'int64', nullable: false },
        { name: 'label', type: 'utf8', nullable: false },
      ],
    };
    await createTables(client, BIG);
    const count = 50_000;
    let inserted: bigint[] = [];
    await client.withTransaction(async (tx) => {
      inserted = await tx.table(BIG).insert(Array.from({ length: count }, (_, n) => ({ n: BigInt(n), label: `row-${n}` })));
    });
    expect(new Set(inserted).size).toBe(count);

    const before = server.log.length;
    const rows = await client.withTransaction((tx) => tx.table(BIG).select({ withRowId: true }));
    const selects = server.log.slice(before).filter((entry) => entry.verb === 'data');
    expect(rows).toHaveLength(count);
    const byN = [...rows].sort((a, b) => Number(a.n) - Number(b.n));
    expect(byN.map((row) => row.n)).toEqual(Array.from({ length: count }, (_, n) => BigInt(n)));
    expect(byN.map((row) => row.label)).toEqual(Array.from({ length: count }, (_, n) => `row-${n}`));
    expect(byN.map((row) => row.$row_id)).toEqual(inserted);
    expect(selects.length).toBeGreaterThan(3);
    expect(selects.reduce((sum, entry) => sum + entry.rows!, 0)).toBe(count);
    expect([...new Set(selects.flatMap((entry) => entry.subSplitsWithRows!))].sort()).toEqual([0, 1, 2, 3]);
    expect(selects.every((entry) => entry.limitRows === 2500 && entry.pages! >= 1)).toBe(true);
    // The log records answer bytes: at least 8 bytes of `n` per row came back over the wire.
    expect(selects.reduce((sum, entry) => sum + entry.responseBytes!, 0)).toBeGreaterThan(count * 8);

    const ranged = await client.withTransaction((tx) => tx.table(BIG).select({ columns: ['n'], filter: allOf(column('n').greaterEqual(10_000n), column('n').less(35_000n)) }));
    expect(ranged).toHaveLength(25_000);
    expect(new Set(ranged.map((row) => row.n)).size).toBe(25_000);
    expect(ranged.every((row) => (row.n as bigint) >= 10_000n && (row.n as bigint) < 35_000n)).toBe(true);

    const beforeLimit = server.log.length;
    const limited = await client.withTransaction((tx) => tx.table(BIG).select({ columns: ['n'], limit: 7_777 }));
    expect(limited).toHaveLength(7_777);
    expect(new Set(limited.map((row) => row.n)).size).toBe(7_777);
    const limitedSelects = server.log.slice(beforeLimit).filter((entry) => entry.verb === 'data');
    expect(limitedSelects.length).toBeLessThan(selects.length);
  });

  it('updates and deletes rows by $row_id, seen by later selects', async () => {
    const { client, server } = await setup();
    await createTables(client, TYPED);
    await client.withTransaction(async (tx) => {
      await tx.table(TYPED).insert(TYPED_ROWS);
    });
    await client.withTransaction(async (tx) => {
      const table = tx.table(TYPED);
      const targets = await table.select({ columns: ['id', 's'], filter: [column('b').equal(true)], withRowId: true });
      expect(ids(targets)).toEqual([1n, 3n, 6n]);
      await table.update(
        ['s', 'b'],
        targets.map((row) => ({ $row_id: row.$row_id as bigint, s: `${row.s as string}!`, b: false })),
      );
      const doomed = await table.select({ columns: [], filter: [column('i').isNull()], withRowId: true });
      await table.delete(doomed.map((row) => row.$row_id as bigint));
      // Its own writes are visible to it before commit.
      expect(await table.count([column('b').equal(true)])).toBe(0);
    });
    const committed = server.committedRows('gateway', 'typed');
    expect(committed.map((row) => [row.id, row.s, row.b])).toEqual([
      [0n, '', false],
      [1n, 'a!', false],
      [2n, 'abc', null],
      [3n, 'é!', false],
      [4n, 'z', false],
      [6n, 'Zebra!', false],
    ]);
    const tx = await client.begin();
    await expect(tx.table(TYPED).update(['s'], [{ $row_id: 1n }])).rejects.toThrow(/gives no value for s/);
    // A row that is gone is refused by the fake.
    expect(await failure(tx.table(TYPED).delete([5n]))).toMatchObject({ kind: 'rejected', vastStatus: 400 });
    await tx.rollback();
  });
});

// ---------------------------------------------------------------------------------------------

async function counterValue(tx: VastTransaction): Promise<{ rowId: bigint; value: bigint }> {
  const [row] = await tx.table(COUNTERS).select({ filter: [column('name').equal('c')], withRowId: true });
  return { rowId: row!.$row_id as bigint, value: row!.value as bigint };
}

function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return async () => {
    arrived += 1;
    if (arrived === parties) release();
    await all;
  };
}

describe('VAST client against the fake server: isolation', () => {
  it('hides uncommitted writes from other transactions and later commits from an earlier snapshot', async () => {
    const { client } = await setup();
    await createTables(client, COUNTERS);
    await client.withTransaction(async (tx) => {
      await tx.table(COUNTERS).insert([{ name: 'c', value: 1n }]);
    });

    const reader = await client.begin();
    const writer = await client.begin();
    const { rowId } = await counterValue(writer);
    await writer.table(COUNTERS).update(['value'], [{ $row_id: rowId, value: 2n }]);
    await writer.table(COUNTERS).insert([{ name: 'new', value: 9n }]);
    // The writer sees its own writes; the reader sees neither.
    expect((await counterValue(writer)).value).toBe(2n);
    expect(await writer.table(COUNTERS).count()).toBe(2);
    expect((await counterValue(reader)).value).toBe(1n);
    expect(await reader.table(COUNTERS).count()).toBe(1);
    await writer.commit();

    // The reader's snapshot predates the commit: still the old state.
    expect((await counterValue(reader)).value).toBe(1n);
    expect(await reader.table(COUNTERS).count()).toBe(1);
    await reader.commit();

    const later = await client.begin();
    expect((await counterValue(later)).value).toBe(2n);
    expect(await later.table(COUNTERS).count()).toBe(2);
    await later.rollback();
  });

  it('hides a table created in an open transaction, and discards a rolled-back one', async () => {
    const { client } = await setup();
    await createTables(client, COUNTERS);
    const creator = await client.begin();
    const other = await client.begin();
    await creator.createTable(TYPED);
    expect(await creator.tableExists('gateway', 'typed')).toBe(true);
    expect(await other.tableExists('gateway', 'typed')).toBe(false);
    await creator.rollback();
    await other.rollback();
    const after = await client.begin();
    expect((await after.listTables('gateway')).map((table) => table.name)).toEqual(['counters']);
    await after.rollback();
  });

  it.each(['at-write', 'at-commit'] as const)('refuses the later of two transactions changing one row (conflicts detected %s)', async (mode) => {
    const { client, server } = await setup({ conflictDetection: mode });
    await createTables(client, COUNTERS);
    await client.withTransaction(async (tx) => {
      await tx.table(COUNTERS).insert([{ name: 'c', value: 1n }]);
    });
    const first = await client.begin();
    const second = await client.begin();
    const { rowId } = await counterValue(first);
    await first.table(COUNTERS).update(['value'], [{ $row_id: rowId, value: 10n }]);
    if (mode === 'at-write') {
      expect(await failure(second.table(COUNTERS).delete([rowId]))).toMatchObject({ kind: 'conflict', vastStatus: 409, operation: 'delete rows of gateway/counters' });
      await first.commit();
      expect(await failure(second.commit())).toMatchObject({ kind: 'conflict', operation: 'commit transaction' });
    } else {
      await second.table(COUNTERS).delete([rowId]);
      await first.commit();
      expect(await failure(second.commit())).toMatchObject({ kind: 'conflict', vastStatus: 409, operation: 'commit transaction' });
    }
    // Writing a row another transaction committed after this one began is refused at the write.
    const stale = await client.begin();
    const fresh = await client.begin();
    await fresh.table(COUNTERS).update(['value'], [{ $row_id: rowId, value: 11n }]);
    await fresh.commit();
    expect(await failure(stale.table(COUNTERS).update(['value'], [{ $row_id: rowId, value: 12n }]))).toMatchObject({ kind: 'conflict' });
    await stale.rollback();
    expect(server.committedRows('gateway', 'counters').map((row) => row.value)).toEqual([11n]);
    expect(server.openTransactions).toBe(0);
  });

  it.each(['at-write', 'at-commit'] as const)('reruns conflicting read-increment-write transactions so that each caller applies exactly one increment (%s)', async (mode) => {
    const conflicts: string[] = [];
    const { client, server } = await setup({ conflictDetection: mode }, { conflictRetry: { maxRuns: 25, baseDelayMs: 2, maxDelayMs: 30 }, onConflict: (event) => conflicts.push(event.operation) });
    await createTables(client, COUNTERS);
    await client.withTransaction(async (tx) => {
      await tx.table(COUNTERS).insert([{ name: 'c', value: 0n }]);
    });
    const callers = 4;
    const everyoneRead = barrier(callers);
    const everyoneWrote = barrier(callers);
    const runs = Array.from({ length: callers }, () => 0);
    const results = await Promise.all(
      runs.map((_, caller) =>
        client.withTransaction(async (tx) => {
          runs[caller] = (runs[caller] ?? 0) + 1;
          const { rowId, value } = await counterValue(tx);
          // First runs all read the same value before anyone writes: they must collide. With
          // conflicts found at commit, they also all write before anyone commits.
          if (runs[caller] === 1) await everyoneRead();
          await tx.table(COUNTERS).update(['value'], [{ $row_id: rowId, value: value + 1n }]);
          if (runs[caller] === 1 && mode === 'at-commit') await everyoneWrote();
          return value + 1n;
        }),
      ),
    );
    expect(server.committedRows('gateway', 'counters').map((row) => row.value)).toEqual([BigInt(callers)]);
    expect([...results].sort()).toEqual([1n, 2n, 3n, 4n]);
    expect(runs.reduce((sum, run) => sum + run, 0)).toBe(callers + conflicts.length);
    if (mode === 'at-write') {
      // The three losers of the first round are refused at their update; nothing fails at commit.
      expect(conflicts.length).toBeGreaterThanOrEqual(callers - 1);
      expect(conflicts.every((operation) => operation === 'update rows of gateway/counters')).toBe(true);
    } else {
      // Every first-round update is accepted; the three later commits are refused.
      expect(conflicts.filter((operation) => operation === 'commit transaction').length).toBeGreaterThanOrEqual(callers - 1);
      expect(conflicts.every((operation) => operation === 'commit transaction' || operation === 'update rows of gateway/counters')).toBe(true);
    }
    expect(server.openTransactions).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('VAST client against the fake server: faults and limits', () => {
  it('survives 503 SlowDown on an insert and on a commit without applying anything twice', async () => {
    const { client, server } = await setup();
    await createTables(client, COUNTERS);
    server.failNext({ count: 2, answer: 'slow_down', verb: 'rows', method: 'POST' });
    server.failNext({ count: 1, answer: 'slow_down', verb: 'transaction', method: 'PUT' });
    const before = server.log.length;
    await client.withTransaction(async (tx) => {
      await tx.table(COUNTERS).insert([{ name: 'once', value: 1n }]);
    });
    const seen = server.log.slice(before).map((entry) => `${entry.method} ${entry.verb} ${entry.status}`);
    expect(seen).toEqual(['POST transaction 200', 'POST rows 503', 'POST rows 503', 'POST rows 200', 'PUT transaction 503', 'PUT transaction 200']);
    expect(server.committedRows('gateway', 'counters').map((row) => row.name)).toEqual(['once']);
  });

  it('reruns the whole work when a write is answered 409, leaving one effect', async () => {
    const { client, server } = await setup();
    await createTables(client, COUNTERS);
    server.failNext({ count: 1, answer: 'conflict', verb: 'rows', method: 'POST' });
    let runs = 0;
    await client.withTransaction(async (tx) => {
      runs += 1;
      await tx.table(COUNTERS).insert([{ name: 'a', value: 1n }]);
      await tx.table(COUNTERS).insert([{ name: 'b', value: 2n }]);
    });
    expect(runs).toBe(2);
    expect(server.committedRows('gateway', 'counters').map((row) => row.name)).toEqual(['a', 'b']);
    expect(server.openTransactions).toBe(0);
  });

  it('slices a large insert under the SDK budget, refuses a row too wide to send, and the fake refuses a body over 5 MiB', async () => {
    const { client, server } = await setup();
    const WIDE: VastTableDefinition = { schema: 'gateway', name: 'wide', columns: [{ name: 'n', type: 'int64', nullable: false }, { name: 'text', type: 'utf8', nullable: false }] };
    await createTables(client, WIDE);
    const rows = Array.from({ length: 60_000 }, (_, n) => ({ n: BigInt(n), text: `${n}:`.padEnd(120, 'x') }));
    const before = server.log.length;
    const rowIds = await client.withTransaction((tx) => tx.table(WIDE).insert(rows));
    const inserts = server.log.slice(before).filter((entry) => entry.verb === 'rows');
    expect(inserts.length).toBeGreaterThanOrEqual(2);
    expect(inserts.every((entry) => entry.status === 200 && entry.bodyBytes <= SDK_SLICE_BUDGET_BYTES)).toBe(true);
    expect(inserts.reduce((sum, entry) => sum + entry.bodyBytes, 0)).toBeGreaterThan(FAKE_MAX_REQUEST_BYTES);
    expect(rowIds).toEqual(rows.map((_, n) => BigInt(n)));
    expect(server.committedRows('gateway', 'wide').map((row) => row.n)).toEqual(rows.map((row) => row.n));

    const logged = server.log.length;
    const tooWide = await failure(client.withTransaction((tx) => tx.table(WIDE).insert([{ n: 1n, text: 'y'.repeat(SDK_SLICE_BUDGET_BYTES) }])));
    expect(tooWide).toMatchObject({ kind: 'request_too_large', code: 'payload_too_large', attempts: 0 });
    expect(server.log.slice(logged).map((entry) => `${entry.method} ${entry.verb}`)).toEqual(['POST transaction', 'DELETE transaction']);

    // The transport never sends such a body; a raw signed request shows the fake's own limit.
    const body = Buffer.alloc(FAKE_MAX_REQUEST_BYTES + 1, 1);
    const url = new URL(server.endpoint);
    const signing = await new VastRequestSigner(FAKE_VAST_CREDENTIALS, '').sign({ method: 'POST', host: url.host, path: '/tams/gateway/wide', query: { rows: '' }, body, date: new Date() });
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/tams/gateway/wide?rows', headers: { ...signing, 'content-length': String(body.length) } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      request.on('error', reject);
      request.end(body);
    });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('<Code>EntityTooLarge</Code>');
  });

  it('is refused with 403 SignatureDoesNotMatch under a wrong secret, and nothing is acted on', async () => {
    const { server } = await setup();
    const wrong = new VastTransport({ endpoint: server.endpoint, credentials: { ...FAKE_VAST_CREDENTIALS, secretAccessKey: `${FAKE_VAST_CREDENTIALS.secretAccessKey}x` } });
    closers.push(() => wrong.close());
    const client = new VastClient({ transport: wrong, bucket: 'tams' });
    const error = await failure(client.withTransaction(async () => undefined));
    expect(error).toMatchObject({ kind: 'forbidden', vastStatus: 403, vastCode: 'SignatureDoesNotMatch', attempts: 1 });
    expect(server.log.map((entry) => entry.status)).toEqual([403]);
    expect(server.openTransactions).toBe(0);
  });

  it('is refused a filter shape VAST does not take: an OR across two columns (a body written here with the flatc builders)', async () => {
    const { client, transport } = await setup();
    await createTables(client, TYPED);
    const tx = await client.begin();
    const builder = new flatbuffers.Builder(512);
    const fieldOf = (name: string) => {
      const nameOffset = builder.createString(name);
      const int = arrowfb.Int.createInt(builder, 64, true);
      arrowfb.Field.startField(builder);
      arrowfb.Field.addName(builder, nameOffset);
      arrowfb.Field.addNullable(builder, true);
      arrowfb.Field.addTypeType(builder, arrowfb.Type.Int);
      arrowfb.Field.addType(builder, int);
      return arrowfb.Field.endField(builder);
    };
    const fields = arrowfb.Schema.createFieldsVector(builder, [fieldOf('id'), fieldOf('i')]);
    arrowfb.Schema.startSchema(builder);
    arrowfb.Schema.addFields(builder, fields);
    const schema = arrowfb.Schema.endSchema(builder);
    const call = (name: string, args: number[]) => {
      const nameOffset = builder.createString(name);
      const argsOffset = ir.Call.createArgumentsVector(builder, args);
      ir.Call.startCall(builder);
      ir.Call.addName(builder, nameOffset);
      ir.Call.addArguments(builder, argsOffset);
      return ir.Expression.createExpression(builder, ir.ExpressionImpl.Call, ir.Call.endCall(builder));
    };
    const isNull = (position: number) => {
      const index = ir.FieldIndex.createFieldIndex(builder, position);
      ir.FieldRef.startFieldRef(builder);
      ir.FieldRef.addRefType(builder, ir.Deref.FieldIndex);
      ir.FieldRef.addRef(builder, index);
      return call('is_null', [ir.Expression.createExpression(builder, ir.ExpressionImpl.FieldRef, ir.FieldRef.endFieldRef(builder))]);
    };
    const filter = call('and', [call('or', [isNull(0), isNull(1)])]);
    const sourceName = builder.createString('');
    const projection = ir.Source.createProjectionVector(builder, [ir.FieldIndex.createFieldIndex(builder, 0)]);
    ir.Source.startSource(builder);
    ir.Source.addName(builder, sourceName);
    ir.Source.addSchema(builder, schema);
    ir.Source.addFilter(builder, filter);
    ir.Source.addProjection(builder, projection);
    builder.finish(ir.Relation.createRelation(builder, ir.RelationImpl.Source, ir.Source.endSource(builder)));
    const error = await failure(
      transport.request({
        method: 'GET',
        operation: 'select across columns',
        path: ['tams', 'gateway', 'typed'],
        verb: 'data',
        headers: { 'tabular-txid': tx.id.toString(), 'tabular-split': '0,1,8', 'tabular-num-of-subsplits': '1', 'tabular-start-row-id-0': '0,0' },
        body: Buffer.from(builder.asUint8Array()),
      }),
    );
    expect(error).toMatchObject({ kind: 'rejected', vastStatus: 400, vastCode: 'InvalidArgument' });
    expect(error.detail).toMatch(/an OR across columns id, i/);
    await tx.rollback();
  });
});
