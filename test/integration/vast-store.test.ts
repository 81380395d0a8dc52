/**
 * The VAST store foundation (src/adapters/vast/store/) over VastClient, VastTransport and real
 * loopback sockets against the fake VAST server (snapshot isolation, write-write conflicts):
 *
 * - ensureVastTables is idempotent and survives replicas creating the tables at once (one
 *   counter row, one version row);
 * - registration and window pages equal an in-memory SqliteMetadataStore's for the same
 *   segments (outcomes, records, cursors, reversed, object filter, unbounded ends);
 * - two writers racing overlapping segments on one flow: exactly one wins (the guard row's
 *   conflict, the loser run again); writers to different flows both succeed;
 * - outbox seqs are gap-free and in commit order under concurrency;
 * - 10,000 segments paged through, with the rows read and requests made per page.
 */
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { VastClient } from '../../src/adapters/vast/client/vast-client';
import { readEvents } from '../../src/adapters/vast/store/outbox';
import { createFlowGuard, registerSegments } from '../../src/adapters/vast/store/segment-registration';
import { listSegmentsPage, type WindowCost } from '../../src/adapters/vast/store/segment-window';
import { ensureVastTables, VAST_SCHEMA_VERSION, vastStoreTables, type VastStoreTables } from '../../src/adapters/vast/store/vast-tables';
import type { Flow, NewSegment } from '../../src/domain/entities';
import type { OutboxEvent } from '../../src/domain/events';
import { parseTimeRange } from '../../src/domain/timerange';
import type { Page, PageRequest, SegmentQuery, SegmentOutcome } from '../../src/ports/metadata-store';
import type { FakeVastOptions, FakeVastServer } from '../support/vast-fake-server';
import { allPages as allPagesOf, startFakeVastClient } from '../support/vast-fake-client';

const SCHEMA = 'gateway';
const NOW = '2024-01-01T00:00:00.000Z';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Setup {
  server: FakeVastServer;
  client: VastClient;
  tables: VastStoreTables;
  conflicts: string[];
}

async function setup(fakeOptions: FakeVastOptions = {}): Promise<Setup> {
  const conflicts: string[] = [];
  const { server, client, close } = await startFakeVastClient({
    fake: fakeOptions,
    client: { conflictRetry: { maxRuns: 200, baseDelayMs: 2, maxDelayMs: 50 }, onConflict: (event) => conflicts.push(event.operation) },
  });
  closers.push(close);
  await ensureVastTables(client, SCHEMA);
  return { server, client, tables: vastStoreTables(SCHEMA), conflicts };
}

async function addFlow(s: Setup, flowId: string, sourceId = `${flowId}-source`): Promise<void> {
  await s.client.withTransaction((tx) => createFlowGuard(tx, s.tables, flowId, sourceId));
}

function seg(objectId: string, timerange: string, extra: Partial<NewSegment> = {}): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, get_urls: [{ label: 'origin', url: `https://media.example/${objectId}` }], ...extra };
}

function outcomeCodes(outcomes: readonly SegmentOutcome[]): (string | undefined)[] {
  return outcomes.map((o) => o.error?.code);
}

async function sqliteBeside(flow: Flow): Promise<SqliteMetadataStore> {
  const store = new SqliteMetadataStore({ filename: ':memory:' });
  closers.push(() => store.close());
  await store.init();
  await store.putFlow(flow, NOW);
  return store;
}

async function allPages<T>(readPage: (after: unknown) => Promise<Page<T>>): Promise<T[][]> {
  return (await allPagesOf(readPage)).map((page) => page.items);
}

describe('ensureVastTables', () => {
  it('creates the tables once, and replicas starting at once make one counter row and one version row', async () => {
    const s = await setup();
    await Promise.all([ensureVastTables(s.client, 'racing'), ensureVastTables(s.client, 'racing'), ensureVastTables(s.client, 'racing')]);
    expect(await ensureVastTables(s.client, 'racing')).toBe(VAST_SCHEMA_VERSION);
    expect(s.server.committedRows('racing', 'outbox_counter')).toHaveLength(1);
    expect(s.server.committedRows('racing', 'schema_version')).toHaveLength(1);
    expect(await ensureVastTables(s.client, SCHEMA)).toBe(VAST_SCHEMA_VERSION);
    expect(s.server.committedRows(SCHEMA, 'outbox_counter')).toEqual([expect.objectContaining({ name: 'outbox', last_seq: 0n })]);
  });
});

describe('segment registration and the window, against SQLite', () => {
  const flowId = 'c1f0a5d2-0000-4000-8000-000000000001';
  const flow: Flow = { id: flowId, source_id: 'c1f0a5d2-0000-4000-8000-0000000000ff', format: 'urn:x-nmos:format:video' };

  const batches: NewSegment[][] = [
    [seg('o1', '[0:0_1:0)'), seg('o2', '[1:0_2:0)', { ts_offset: '0:5', key_frame_count: 3 }), seg('o3', '[2:0_3:0)')],
    // an overlap with a stored one, one with an earlier one of the batch, an empty one, a touching one
    [seg('o4', '[2:500000000_4:0)'), seg('o5', '[3:0_4:0)'), seg('o6', '[3:500000000_5:0)'), seg('o7', '()'), seg('o8', '[5:0_6:0]')],
    // out of order, with an unbounded end and an exclusive start
    [seg('o9', '(10:0_11:0)', { sample_offset: 2, sample_count: 48 }), seg('o10', '[8:0_9:0)', { object_timerange: '[7:0_9:0)' }), seg('o11', '[20:0_')],
    [seg('o12', '[6:0_7:0)'), seg('o13', '[25:0_30:0)')],
  ];

  const queries: SegmentQuery[] = [
    { timerange: parseTimeRange('_') },
    { timerange: parseTimeRange('_'), reverse: true },
    { timerange: parseTimeRange('[1:500000000_8:500000000)') },
    { timerange: parseTimeRange('[1:500000000_8:500000000)'), reverse: true },
    { timerange: parseTimeRange('[2:0_3:0)') },
    { timerange: parseTimeRange('[21:0_22:0)') },
    { timerange: parseTimeRange('[100:0_') },
    { timerange: parseTimeRange('_0:0)') },
    { timerange: parseTimeRange('()') },
    { timerange: parseTimeRange('_'), object_id: 'o3' },
    { timerange: parseTimeRange('_'), object_timerange: false },
  ];

  it('stores and refuses the same segments, and answers every window page as the SQLite store does', async () => {
    const s = await setup();
    const sqlite = await sqliteBeside(flow);
    await addFlow(s, flowId, flow.source_id);
    for (const batch of batches) {
      const vast = await registerSegments(s.client, s.tables, flowId, batch, NOW);
      const reference = await sqlite.addSegments(flowId, batch.map((b) => ({ ...b })), NOW);
      expect(outcomeCodes(vast)).toEqual(outcomeCodes(reference));
    }
    expect(outcomeCodes(await registerSegments(s.client, s.tables, flowId, batches[1] as NewSegment[], NOW))).toEqual(['segment_overlap', 'segment_overlap', 'segment_overlap', 'bad_timerange', 'segment_overlap']);

    for (const query of queries) {
      for (const limit of [1, 2, 3, 100]) {
        const vastPages = await allPages((after) => listSegmentsPage(s.client, s.tables, flowId, query, pageRequest(limit, after)).then(withoutCost));
        const sqlitePages = await allPages((after) => sqlite.listSegments(flowId, query, pageRequest(limit, after)));
        expect(vastPages).toEqual(sqlitePages);
      }
    }
    // a cursor from one store pages the other
    const first = await sqlite.listSegments(flowId, queries[0] as SegmentQuery, { limit: 2 });
    const next = await listSegmentsPage(s.client, s.tables, flowId, queries[0] as SegmentQuery, pageRequest(2, first.next));
    expect(next.items).toEqual((await sqlite.listSegments(flowId, queries[0] as SegmentQuery, pageRequest(2, first.next))).items);

    // the events, as SQLite writes them (seqs from 1, no flows/created here)
    const vastEvents = await s.client.withTransaction((tx) => readEvents(tx, s.tables, 0n, 100));
    const sqliteEvents = (await sqlite.readEvents(0, 100)).filter((e) => e.event_type === 'flows/segments_added');
    expect(vastEvents.map(withoutSeq)).toEqual(sqliteEvents.map(withoutSeq));
    expect(vastEvents.map((e) => e.seq)).toEqual(sqliteEvents.map((_, i) => i + 1));
    expect(vastEvents.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses an unknown flow and a malformed cursor as the SQL stores do', async () => {
    const s = await setup();
    await expect(registerSegments(s.client, s.tables, 'nope', [seg('o', '[0:0_1:0)')], NOW)).rejects.toMatchObject({ code: 'not_found' });
    await expect(listSegmentsPage(s.client, s.tables, 'nope', { timerange: parseTimeRange('_') }, { limit: 10, after: { e: 'x' } })).rejects.toMatchObject({ code: 'bad_cursor' });
    expect((await listSegmentsPage(s.client, s.tables, 'nope', { timerange: parseTimeRange('_') }, { limit: 10 })).items).toEqual([]);
  });
});

function pageRequest(limit: number, after: unknown): PageRequest {
  return after === undefined ? { limit } : { limit, after };
}

function withoutCost<T>(page: Page<T> & { cost: WindowCost }): Page<T> {
  const { cost: _cost, ...rest } = page;
  return rest;
}

function withoutSeq(event: OutboxEvent): Omit<OutboxEvent, 'seq'> {
  const { seq: _seq, ...rest } = event;
  return rest;
}

describe('concurrent writers', () => {
  for (const mode of ['at-write', 'at-commit'] as const) {
    it(`two writers of one flow racing overlapping segments: exactly one of each pair wins (conflicts ${mode})`, async () => {
      const s = await setup({ conflictDetection: mode });
      await addFlow(s, 'race');
      for (let i = 0; i < 10; i += 1) {
        const t = i * 10;
        const [a, b] = await Promise.all([
          registerSegments(s.client, s.tables, 'race', [seg(`a${i}`, `[${t}:0_${t + 2}:0)`)], NOW),
          registerSegments(s.client, s.tables, 'race', [seg(`b${i}`, `[${t + 1}:0_${t + 3}:0)`)], NOW),
        ]);
        expect([a[0]?.error?.code, b[0]?.error?.code].filter((c) => c === undefined)).toHaveLength(1);
        expect([a[0]?.error?.code, b[0]?.error?.code]).toContain('segment_overlap');
      }
      expect(s.conflicts.length).toBeGreaterThan(0);
      // first writer wins at the write: the loser is stopped at its first write, the guard row
      // Writers claim the outbox counter first (outbox.ts claimOutboxCounter): at-write, the loser is refused there.
      if (mode === 'at-write') expect(s.conflicts).toContain(`update rows of ${SCHEMA}/outbox_counter`);
      const stored = s.server.committedRows(SCHEMA, 'segments');
      expect(stored).toHaveLength(10);
      expect(s.server.committedRows(SCHEMA, 'flow_guards')).toEqual([expect.objectContaining({ segment_count: 10n })]);
    });
  }

  it('writers of different flows both succeed (run again when they meet at the counter row)', async () => {
    const s = await setup();
    const flows = ['f1', 'f2', 'f3', 'f4'];
    for (const f of flows) await addFlow(s, f);
    const outcomes = await Promise.all(
      flows.flatMap((f) => [0, 1, 2].map((k) => registerSegments(s.client, s.tables, f, [seg(`${f}-${k}`, `[${k}:0_${k + 1}:0)`)], NOW))),
    );
    expect(outcomes.flat().every((o) => o.error === undefined)).toBe(true);
    for (const f of flows) {
      const page = await listSegmentsPage(s.client, s.tables, f, { timerange: parseTimeRange('_') }, { limit: 10 });
      expect(page.items.map((i) => i.object_id)).toEqual([0, 1, 2].map((k) => `${f}-${k}`));
    }
  });

  it('outbox seqs are gap-free and in commit order under concurrency', async () => {
    const s = await setup();
    for (const f of ['g1', 'g2', 'g3']) await addFlow(s, f);
    // a reader tailing by seq while writers commit: what it has seen never gains a smaller seq later
    const seen: number[] = [];
    let done = false;
    const tail = (async () => {
      let last = 0n;
      while (!done) {
        const events = await s.client.withTransaction((tx) => readEvents(tx, s.tables, last, 1000));
        for (const e of events) seen.push(e.seq);
        last = BigInt(events[events.length - 1]?.seq ?? Number(last));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    await Promise.all(
      ['g1', 'g2', 'g3'].flatMap((f) => Array.from({ length: 6 }, (_, k) => registerSegments(s.client, s.tables, f, [seg(`${f}-${k}`, `[${k}:0_${k + 1}:0)`)], NOW))),
    );
    done = true;
    await tail;
    const all = await s.client.withTransaction((tx) => readEvents(tx, s.tables, 0n, 1000));
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    const rest = all.map((e) => e.seq).filter((q) => !seen.includes(q));
    expect([...seen, ...rest]).toEqual(all.map((e) => e.seq));
    expect(s.server.committedRows(SCHEMA, 'outbox_counter')).toEqual([expect.objectContaining({ last_seq: 18n })]);
  });
});

describe('paging through 10,000 segments', () => {
  it('walks every page forwards and backwards, each page reading about the rows it returns', async () => {
    const s = await setup();
    await addFlow(s, 'big');
    const all: NewSegment[] = Array.from({ length: 10_000 }, (_, i) => seg(`o${i}`, `[${i}:0_${i + 1}:0)`));
    for (let i = 0; i < all.length; i += 2000) {
      const outcomes = await registerSegments(s.client, s.tables, 'big', all.slice(i, i + 2000), NOW);
      expect(outcomes.every((o) => o.error === undefined)).toBe(true);
    }
    for (const reverse of [false, true]) {
      const costs: WindowCost[] = [];
      const requestsBefore = s.server.log.length;
      const bytesBefore = s.server.log.reduce((n, r) => n + r.bodyBytes, 0);
      const ids: string[] = [];
      let after: unknown = undefined;
      for (;;) {
        const page = await listSegmentsPage(s.client, s.tables, 'big', { timerange: parseTimeRange('_'), reverse }, pageRequest(100, after));
        ids.push(...page.items.map((i) => i.object_id));
        costs.push(page.cost);
        if (page.next === undefined) break;
        after = JSON.parse(JSON.stringify(page.next)) as unknown;
      }
      const expected = all.map((a) => a.object_id);
      expect(ids).toEqual(reverse ? expected.reverse() : expected);
      expect(costs).toHaveLength(100);
      const rowsRead = costs.reduce((n, c) => n + c.rowsRead, 0);
      const selects = costs.reduce((n, c) => n + c.selects, 0);
      const requests = s.server.log.length - requestsBefore;
      const requestBytes = s.server.log.reduce((n, r) => n + r.bodyBytes, 0) - bytesBefore;
      // at most the page, the next page's first row and a quarter more
      expect(Math.max(...costs.map((c) => c.rowsRead))).toBeLessThanOrEqual(127);
      process.stdout.write(
        `vast window ${reverse ? 'backward' : 'forward'}, 10,000 segments, pages of 100: ${rowsRead / costs.length} rows read, ${selects / costs.length} selects, ${requests / costs.length} requests, ${requestBytes / costs.length} request body bytes per page\n`,
      );
    }
    // a window in the middle, from its start
    const middle = await listSegmentsPage(s.client, s.tables, 'big', { timerange: parseTimeRange('[5000:500000000_5100:0)') }, { limit: 30 });
    expect(middle.items.map((i) => i.object_id)).toEqual(Array.from({ length: 30 }, (_, k) => `o${5000 + k}`));
    expect(middle.cost.rowsRead).toBeLessThanOrEqual(40);
  }, 120_000);
});
