/**
 * Hostile review of the VAST client and store foundation against the fake VAST server over
 * loopback sockets: window pages at edge timeranges equal to SQLite's, racing writers on one flow,
 * and how large a select answer the client's default paging lets through the transport.
 */
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { VastClient } from '../../src/adapters/vast/client/vast-client';
import { readEvents } from '../../src/adapters/vast/store/outbox';
import { createFlowGuard, registerSegments } from '../../src/adapters/vast/store/segment-registration';
import { listSegmentsPage } from '../../src/adapters/vast/store/segment-window';
import { ensureVastTables, vastStoreTables, type VastStoreTables } from '../../src/adapters/vast/store/vast-tables';
import type { Flow, NewSegment } from '../../src/domain/entities';
import { parseTimeRange } from '../../src/domain/timerange';
import type { Page, PageRequest, SegmentQuery } from '../../src/ports/metadata-store';
import type { VastTransport } from '../../src/adapters/vast/transport/vast-transport';
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
  transport: VastTransport;
}

async function setup(fakeOptions: FakeVastOptions = {}, transportOptions: { maxResponseBytes?: number } = {}): Promise<Setup> {
  const { server, transport, client, close } = await startFakeVastClient({ fake: fakeOptions, transport: transportOptions, client: { conflictRetry: { maxRuns: 60, baseDelayMs: 2, maxDelayMs: 30 } } });
  closers.push(close);
  await ensureVastTables(client, SCHEMA);
  return { server, client, tables: vastStoreTables(SCHEMA), transport };
}

function seg(objectId: string, timerange: string): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, get_urls: [{ label: 'origin', url: `https://media.example/${objectId}` }] };
}

async function allPages<T>(readPage: (after: unknown) => Promise<Page<T>>): Promise<T[][]> {
  return (await allPagesOf(readPage)).map((page) => page.items);
}

function pageRequest(limit: number, after: unknown): PageRequest {
  return after === undefined ? { limit } : { limit, after };
}

describe('window pages at edge timeranges, against SQLite', () => {
  const flowId = 'e0000000-0000-4000-8000-000000000001';
  const flow: Flow = { id: flowId, source_id: 'e0000000-0000-4000-8000-0000000000ff', format: 'urn:x-nmos:format:data' };
  // An unbounded start, touching segments, a gap, negative times, the largest timestamp, an unbounded end.
  const segments = [
    seg('u0', '_-100:0)'),
    seg('n1', '[-100:0_-1:999999999]'),
    seg('z1', '[0:0_1:0)'),
    seg('z2', '[1:0_1:1)'),
    seg('z3', '[1:1_2:0)'),
    seg('g1', '[10:0_11:0)'),
    seg('big', '[9223372034:0_9223372035:0)'),
    seg('end', '[9223372035:0_'),
  ];
  const windows = [
    '_',
    '()',
    '[1:0_1:0)',
    '[1:0]',
    '[1:1_1:1]',
    '(0:0_1:0)',
    '[1:0_1:1)',
    '_0:0)',
    '_0:0]',
    '(-100:0_0:0)',
    '[2:0_10:0)',
    '(2:0_10:0]',
    '[11:0_',
    '[9223372035:0]',
    '[9223372035:999999999]',
    '_-100:0)',
    '_-200:0]',
  ];

  it('every window, forwards and backwards, at limits 1, 2 and 5, pages exactly as SQLite', async () => {
    const s = await setup();
    const sqlite = new SqliteMetadataStore({ filename: ':memory:' });
    closers.push(() => sqlite.close());
    await sqlite.init();
    await sqlite.putFlow(flow, NOW);
    await s.client.withTransaction((tx) => createFlowGuard(tx, s.tables, flowId, flow.source_id));
    // One segment per batch, out of order, so the guard's bounds widen both ways.
    for (const segment of [...segments].reverse()) {
      const vast = await registerSegments(s.client, s.tables, flowId, [segment], NOW);
      const reference = await sqlite.addSegments(flowId, [{ ...segment }], NOW);
      expect(vast.map((o) => o.error?.code)).toEqual(reference.map((o) => o.error?.code));
    }
    for (const text of windows) {
      for (const reverse of [false, true]) {
        const query: SegmentQuery = { timerange: parseTimeRange(text), reverse };
        for (const limit of [1, 2, 5]) {
          const vastPages = await allPages((after) => listSegmentsPage(s.client, s.tables, flowId, query, pageRequest(limit, after)).then(({ items, next }) => (next === undefined ? { items } : { items, next })));
          const sqlitePages = await allPages((after) => sqlite.listSegments(flowId, query, pageRequest(limit, after)));
          expect({ text, reverse, limit, pages: vastPages }).toEqual({ text, reverse, limit, pages: sqlitePages });
        }
      }
    }
  });
});

describe('racing writers on one flow', () => {
  it('eight writers of overlapping and touching segments: the stored set never overlaps, the guard counts it, and events are gap-free', async () => {
    const s = await setup({ conflictDetection: 'at-commit' });
    await s.client.withTransaction((tx) => createFlowGuard(tx, s.tables, 'skew', 'skew-src'));
    // Writers i and i+1 overlap by half a second; even ones touch each other.
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => registerSegments(s.client, s.tables, 'skew', [seg(`w${i}`, `[${i}:0_${i + 1}:500000000)`)], NOW)),
    );
    const stored = s.server.committedRows(SCHEMA, 'segments').map((row) => [row.start_ns as bigint, row.end_ns as bigint] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    for (let i = 1; i < stored.length; i += 1) expect(stored[i]![0] >= stored[i - 1]![1]).toBe(true);
    expect(outcomes.filter((o) => o[0]?.error === undefined)).toHaveLength(stored.length);
    expect(s.server.committedRows(SCHEMA, 'flow_guards')).toEqual([expect.objectContaining({ segment_count: BigInt(stored.length) })]);
    const events = await s.client.withTransaction((tx) => readEvents(tx, s.tables, 0n, 100));
    expect(events.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(s.server.openTransactions).toBe(0);
  });
});

describe('select answer size with the client default paging', () => {
  it('with the default select settings (4 sub-splits x 131,072 rows per request) an answer over the transport 64 MiB limit is asked again for fewer rows, and the select pages through (was a DEFECT: it failed)', async () => {
    const s = await setup();
    const definition = { schema: SCHEMA, name: 'wide', columns: [{ name: 'text', type: 'utf8' as const, nullable: false }] };
    await s.client.withTransaction(async (tx) => {
      await tx.createTable(definition);
    });
    // 72,000 rows of 1 KiB: far fewer rows than one request may ask for (524,288), 70 MiB in all.
    const text = 'x'.repeat(1024);
    for (let batch = 0; batch < 4; batch += 1) {
      await s.client.withTransaction(async (tx) => {
        await tx.table(definition).insert(Array.from({ length: 18_000 }, () => ({ text })));
      });
    }
    const outcome = await s.client
      .withTransaction(async (tx) => tx.table(definition).count().then(async (count) => ({ count, rows: (await tx.table(definition).select()).length })))
      .catch((error: unknown) => error);
    
    expect(outcome).toEqual({ count: 72_000, rows: 72_000 });
  }, 120_000);
});
