/**
 * The PostgreSQL seeder (src/adapters/postgres/seed.ts) writes the rows the store writes when a
 * client allocates objects on a backend and registers segments on them with key_frame_count 1:
 * the same segments, flow, one flow seeded in one schema and registered through the store in
 * another, compared row by row (storage keys aside: both are fresh uuids) and listed through
 * the store page by page.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { PostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store';
import { seedPostgresSegments } from '../../src/adapters/postgres/seed';
import type { Flow, NewSegment, ObjectRecord, SegmentRecord } from '../../src/domain/entities';
import { formatTimeRange, parseTimeRange, range, ETERNITY } from '../../src/domain/timerange';
import type { MetadataStore, SegmentQuery } from '../../src/ports/metadata-store';
import { describePostgres, TEST_DATABASE_URL, TestSchemas } from '../support/postgres';

const NOW = '2024-01-01T00:00:00.000Z';
const STORAGE_ID = '7f0c8a53-7a3e-4c1e-9a57-0d1f4e2b9c11';
const KEY_RE = /^([0-9a-f]{2})\/([0-9a-f]{2})\/(\1\2[0-9a-f]{4}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$/;

type Row = Record<string, unknown>;

function videoFlow(id: string): Flow {
  return { id, source_id: randomUUID(), format: 'urn:x-nmos:format:video', codec: 'video/h264', container: 'video/mp2t' };
}

/** Registers `count` segments of `duration` from `start` as a client does: allocate the objects, then register. */
async function register(store: MetadataStore, flowId: string, start: bigint, duration: bigint, count: number): Promise<void> {
  const segments: NewSegment[] = [];
  for (let i = 0; i < count; i++) {
    const s = start + BigInt(i) * duration;
    const text = formatTimeRange(range(s, s + duration));
    segments.push({ object_id: `${flowId}/${s}`, timerange: parseTimeRange(text), timerange_text: text, key_frame_count: 1 });
  }
  const uuid = (): string => randomUUID();
  await store.allocateObjects(
    flowId,
    segments.map((s) => {
      const u = uuid();
      return { id: s.object_id, storage_id: STORAGE_ID, key: `${u.slice(0, 2)}/${u.slice(2, 4)}/${u}` };
    }),
    NOW,
  );
  const outcomes = await store.addSegments(flowId, segments, NOW);
  expect(outcomes.filter((o) => o.error !== undefined)).toEqual([]);
}

/** Every row of the schema naming the flow's segments and objects, keys checked and masked. */
async function rowsOf(schema: string, flowId: string): Promise<Record<string, Row[]>> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`SET search_path = ${schema}`);
    const segments = (await client.query('SELECT * FROM segments WHERE flow_id = $1 ORDER BY end_ns', [flowId])).rows as Row[];
    const objects = (await client.query('SELECT * FROM objects WHERE first_referenced_by_flow = $1 ORDER BY id', [flowId])).rows as Row[];
    const instances = (await client.query('SELECT i.* FROM object_instances i JOIN objects o ON o.id = i.object_id WHERE o.first_referenced_by_flow = $1 ORDER BY i.object_id', [flowId])).rows as Row[];
    const flows = (await client.query('SELECT segment_count, segments_updated FROM flows WHERE id = $1', [flowId])).rows as Row[];
    const outbox = (await client.query("SELECT event_type FROM outbox WHERE event_type = 'flows/segments_added' AND flow_id = $1", [flowId])).rows as Row[];
    // One key per object, the same in its row, its instance and its segment.
    const keyOf = new Map(objects.map((o) => [o.id, o.storage_key]));
    for (const o of objects) expect(o.storage_key).toMatch(KEY_RE);
    for (const i of instances) expect(i.storage_key).toBe(keyOf.get(i.object_id));
    for (const s of segments) expect(s.object_storage_key).toBe(keyOf.get(s.object_id));
    const mask = (rows: Row[], column: string): Row[] => rows.map((r) => ({ ...r, [column]: '<key>' }));
    return {
      segments: mask(segments, 'object_storage_key'),
      objects: mask(objects, 'storage_key'),
      instances: mask(instances, 'storage_key'),
      flows,
      outbox,
    };
  } finally {
    await client.end();
  }
}

/** Every page of a listing, pages of 2, storage keys masked. */
async function listAll(store: MetadataStore, flowId: string, query: SegmentQuery): Promise<SegmentRecord[][]> {
  const pages: SegmentRecord[][] = [];
  let after: unknown;
  do {
    const page = await store.listSegments(flowId, query, { limit: 2, ...(after === undefined ? {} : { after }) });
    pages.push(page.items.map((s) => ({ ...s, object_instances: s.object_instances?.map((i) => ({ ...i, key: '<key>' })) })));
    after = page.next;
  } while (after !== undefined);
  return pages;
}

describePostgres('PostgreSQL seeder', () => {
  const schemas = new TestSchemas();
  const registeredSchema = schemas.next();
  const seededSchema = schemas.next();
  let registered: PostgresMetadataStore;
  let seeded: PostgresMetadataStore;

  beforeAll(async () => {
    registered = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 2, schema: registeredSchema });
    seeded = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 2, schema: seededSchema });
    await Promise.all([registered.init(), seeded.init()]);
  });

  afterAll(async () => {
    await Promise.all([registered.close(), seeded.close()]);
    await schemas.dropAll();
  });

  it.each([
    ['2 s segments from 0', 0n, 2_000_000_000n, 7],
    ['40 ms segments across zero', -100_000_000n, 40_000_000n, 6],
    ['one-nanosecond segments', 5_000_000_000n, 1n, 3],
  ])('writes the rows registration writes: %s', async (_what, start, duration, count) => {
    const flowId = randomUUID();
    await registered.putFlow(videoFlow(flowId), NOW);
    await seeded.putFlow(videoFlow(flowId), NOW);
    await register(registered, flowId, start, duration, count);
    // In two chunks, so the second continues the first.
    const result = await seedPostgresSegments({ connectionString: TEST_DATABASE_URL, schema: seededSchema }, flowId, count, duration, {
      storage: { id: STORAGE_ID, keyPrefix: '' },
      startNs: start,
      now: NOW,
      chunk: 4,
    });
    expect(result).toEqual({ startNs: start, endNs: start + BigInt(count) * duration });

    const want = await rowsOf(registeredSchema, flowId);
    const got = await rowsOf(seededSchema, flowId);
    expect(want.segments).toHaveLength(count);
    expect(got.segments).toEqual(want.segments);
    expect(got.objects).toEqual(want.objects);
    expect(got.instances).toEqual(want.instances);
    expect(got.flows).toEqual(want.flows);
    // Registration writes an event; the seeder none (documented).
    expect(want.outbox).toHaveLength(1);
    expect(got.outbox).toHaveLength(0);

    const window = range(start + duration, start + 5n * duration);
    for (const query of [
      { timerange: ETERNITY },
      { timerange: ETERNITY, reverse: true },
      { timerange: window },
      { timerange: window, reverse: true, object_timerange: false },
      { timerange: ETERNITY, object_id: `${flowId}/${start + 2n * duration}` },
    ] satisfies SegmentQuery[]) {
      expect(await listAll(seeded, flowId, query)).toEqual(await listAll(registered, flowId, query));
    }
    const maskObject = (o: ObjectRecord | undefined): unknown => ({ ...o, instances: o?.instances?.map((i) => ({ ...i, key: '<key>' })) });
    expect(maskObject(await seeded.getObject(`${flowId}/${start}`))).toEqual(maskObject(await registered.getObject(`${flowId}/${start}`)));
  });

  it('appends after the flow\'s last segment, and the store registers after the seeded ones', async () => {
    const flowId = randomUUID();
    await seeded.putFlow(videoFlow(flowId), NOW);
    const connection = { connectionString: TEST_DATABASE_URL, schema: seededSchema };
    await seedPostgresSegments(connection, flowId, 3, 2_000_000_000n, { storage: { id: STORAGE_ID, keyPrefix: 'media/' }, now: NOW });
    const second = await seedPostgresSegments(connection, flowId, 2, 2_000_000_000n, { now: NOW });
    expect(second).toEqual({ startNs: 6_000_000_000n, endNs: 10_000_000_000n });
    await register(seeded, flowId, 10_000_000_000n, 2_000_000_000n, 1);
    // After the last segment by time (its end's text sorts before 8000000000's).
    expect(await seedPostgresSegments(connection, flowId, 1, 2_000_000_000n, { now: NOW })).toEqual({ startNs: 12_000_000_000n, endNs: 14_000_000_000n });
    const page = await seeded.listSegments(flowId, { timerange: ETERNITY }, { limit: 10 });
    expect(page.items.map((s) => s.timerange_text)).toEqual(['[0:0_2:0)', '[2:0_4:0)', '[4:0_6:0)', '[6:0_8:0)', '[8:0_10:0)', '[10:0_12:0)', '[12:0_14:0)']);
    expect(page.items[0]?.object_instances?.[0]?.key).toMatch(/^media\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/);
    // External objects: no storage.
    expect(page.items[3]?.object_instances).toBeUndefined();
    const overlapping = await seeded.addSegments(flowId, [{ object_id: 'x', timerange: parseTimeRange('[9:0_11:0)'), timerange_text: '[9:0_11:0)', get_urls: [{ url: 'https://x.example/x', label: 'x' }] }], NOW);
    expect(overlapping[0]?.error?.code).toBe('segment_overlap');
  });
});
