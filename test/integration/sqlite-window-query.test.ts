/**
 * The segment window query must read only what it returns, wherever the window lies in a
 * long flow: the plan has to be a range on the (flow_id, end_ns) key with no scan.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedSegments } from '../../src/adapters/sqlite/seed';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { addSegments } from '../contract/contract-fixtures';
import type { NewSegment } from '../../src/domain/entities';
import { parseTimeRange } from '../../src/domain/timerange';
import type { SegmentQuery } from '../../src/ports/metadata-store';

const COUNT = 200_000;
const BATCH = 5_000;
const NOW = '2024-01-01T00:00:00.000Z';

const dir = mkdtempSync(join(tmpdir(), 'tams-sqlite-window-'));
const store = new SqliteMetadataStore({ filename: join(dir, 'window.db') });
const flowId = 'a5c4a2d8-0000-4000-8000-000000000001';

function oneSecond(i: number): NewSegment {
  const text = `[${i}:0_${i + 1}:0)`;
  return { object_id: `obj-${i}`, timerange: parseTimeRange(text), timerange_text: text };
}

beforeAll(async () => {
  await store.init();
  await store.putFlow({ id: flowId, source_id: 'a5c4a2d8-0000-4000-8000-0000000000ff', format: 'urn:x-nmos:format:video' }, NOW);
  for (let start = 0; start < COUNT; start += BATCH) {
    const batch = Array.from({ length: BATCH }, (_, k) => oneSecond(start + k));
    const outcomes = await addSegments(store, flowId, batch, NOW);
    if (outcomes.some((o) => o.error)) throw new Error('seeding failed');
  }
}, 300_000);

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function expectRangeSeek(query: SegmentQuery, after?: unknown): void {
  const plan = store.explainListSegments(flowId, query, after);
  expect(plan.some((line) => line.startsWith('SCAN'))).toBe(false);
  const main = plan[0] ?? '';
  expect(main).toMatch(/^SEARCH s USING PRIMARY KEY \(flow_id=\? AND end_ns>\? AND end_ns<\?\)$/);
}

describe('segment window on a flow of 200,000 segments', () => {
  it('holds every segment', async () => {
    expect(await store.countSegments(flowId)).toBe(COUNT);
  });

  it.each([
    ['the end', '[199970:0_200000:0)'],
    ['the middle', '[100000:0_100030:0)'],
    ['the start', '[0:0_30:0)'],
    ['an unbounded end', '[199970:0_'],
    ['everything', '_'],
  ])('seeks a range on (flow_id, end_ns) for a window at %s', (_where, window) => {
    const timerange = parseTimeRange(window);
    expectRangeSeek({ timerange });
    expectRangeSeek({ timerange, reverse: true });
    expectRangeSeek({ timerange }, { e: '150000000000000' });
    expectRangeSeek({ timerange, reverse: true }, { e: '150000000000000' });
  });

  it('returns the last 30 segments for a window at the end, both ways', async () => {
    const timerange = parseTimeRange('[199970:0_200000:0)');
    const page = await store.listSegments(flowId, { timerange }, { limit: 100 });
    const want = Array.from({ length: 30 }, (_, k) => oneSecond(199_970 + k).timerange_text);
    expect(page.items.map((s) => s.timerange_text)).toEqual(want);
    expect(page.next).toBeUndefined();
    const reversed = await store.listSegments(flowId, { timerange, reverse: true }, { limit: 100 });
    expect(reversed.items.map((s) => s.timerange_text)).toEqual([...want].reverse());
  });

  it('pages through the middle of the flow from a cursor', async () => {
    const timerange = parseTimeRange('[100000:500000000_');
    const first = await store.listSegments(flowId, { timerange }, { limit: 10 });
    expect(first.items[0]?.timerange_text).toBe('[100000:0_100001:0)');
    const second = await store.listSegments(flowId, { timerange }, { limit: 10, after: first.next });
    expect(second.items.map((s) => s.timerange_text)).toEqual(
      Array.from({ length: 10 }, (_, k) => oneSecond(100_010 + k).timerange_text),
    );
  });

  it('answers the flow timerange from the two ends', async () => {
    expect(await store.getFlowTimerange(flowId, parseTimeRange('_'))).toEqual(parseTimeRange(`[0:0_${COUNT}:0)`));
    expect(await store.getFlowTimerange(flowId, parseTimeRange('[150000:500000000_150002:0)'))).toEqual(
      parseTimeRange('[150000:0_150002:0)'),
    );
  });

  it('seeds a flow in bulk with seedSegments', async () => {
    const seeded = 'a5c4a2d8-0000-4000-8000-000000000002';
    await store.putFlow({ id: seeded, source_id: 'a5c4a2d8-0000-4000-8000-0000000000ff', format: 'urn:x-nmos:format:video' }, NOW);
    const started = Date.now();
    const result = await seedSegments(store, seeded, 100_000, 2_000_000_000n, { storageId: 'local' });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result).toEqual({ startNs: 0n, endNs: 200_000_000_000_000n });
    expect(await store.countSegments(seeded)).toBe(100_000);
    const page = await store.listSegments(seeded, { timerange: parseTimeRange('[199990:0_') }, { limit: 10 });
    expect(page.items.map((s) => s.timerange_text)).toEqual([
      '[199990:0_199992:0)',
      '[199992:0_199994:0)',
      '[199994:0_199996:0)',
      '[199996:0_199998:0)',
      '[199998:0_200000:0)',
    ]);
    expect(page.items[0]?.object_instances).toEqual([{ storage_id: 'local', key: `${seeded}/199990000000000` }]);
    const more = await seedSegments(store, seeded, 10, 2_000_000_000n);
    expect(more.startNs).toBe(200_000_000_000_000n);
    expect(await store.countSegments(seeded)).toBe(100_010);
  });
});
