/**
 * Hostile review of 0b63f43 (PostgreSQL ingest: the overlap constraint dropped, the flow's
 * advisory lock sent with BEGIN, one read and one write statement per registration, the
 * event's context computed by the outbox flush). What holds is pinned here: the same
 * operations on the SQLite and the PostgreSQL store leave the same outcomes, rows and outbox
 * events (context included); the flow lock is one key however the id is spelled; concurrent
 * registration and deletion on two stores keep segments apart and counts right. Tests named
 * DEFECT show what does not hold.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { PostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store';
import { seedPostgresSegments } from '../../src/adapters/postgres/seed';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import type { DeletionRequest, Flow, NewSegment } from '../../src/domain/entities';
import { parseTimeRange } from '../../src/domain/timerange';
import type { MetadataStore, SegmentOutcome } from '../../src/ports/metadata-store';
import { describePostgres, TEST_DATABASE_URL, TestSchemas } from '../support/postgres';
import { startHarness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';

const VIDEO = 'urn:x-nmos:format:video';
const EXT = [{ url: 'https://media.example/x', label: 'ext' }];

function at(n: number): string {
  return new Date(Date.UTC(2024, 0, 1, 0, 0, 0) + n * 1000).toISOString();
}

function seg(objectId: string, timerange: string, extra: Partial<NewSegment> = {}): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, ...extra };
}

function outcomes(list: SegmentOutcome[]): (string | null)[] {
  return list.map((o) => o.error?.code ?? null);
}

async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'no error';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** Every stored segment of a flow as [start, end) nanoseconds, in time order. */
async function spans(store: MetadataStore, flowId: string): Promise<[bigint, bigint][]> {
  const out: [bigint, bigint][] = [];
  let after: unknown;
  for (;;) {
    const page = await store.listSegments(flowId, { timerange: parseTimeRange('_') }, { limit: 1000, ...(after === undefined ? {} : { after }) });
    for (const s of page.items) {
      const tr = s.timerange;
      out.push([tr.start ?? -(2n ** 63n), tr.end ?? 2n ** 63n - 1n]);
    }
    if (page.next === undefined) return out;
    after = page.next;
  }
}

/** The script's log with each random metadata_version named by its first appearance (v1, v2...). */
function normalised(log: unknown[]): unknown {
  const names = new Map<string, string>();
  return JSON.parse(JSON.stringify(log, (key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (key !== 'metadata_version' || typeof value !== 'string') return value;
    if (!names.has(value)) names.set(value, `v${names.size + 1}`);
    return names.get(value);
  }));
}

function overlapping(list: [bigint, bigint][]): [bigint, bigint][][] {
  const bad: [bigint, bigint][][] = [];
  const sorted = [...list].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) if (sorted[i]![0] < sorted[i - 1]![1]) bad.push([sorted[i - 1]!, sorted[i]!]);
  return bad;
}

/**
 * One script of registrations, deletions and flow changes, run on a store; what it answers and
 * what the store holds after each step (flows, counts, segments, objects, the outbox with context).
 */
async function script(store: MetadataStore, ids: Record<string, string>): Promise<unknown[]> {
  const log: unknown[] = [];
  const F1 = ids.f1!;
  const F2 = ids.f2!;
  const S1 = ids.s1!;
  const snapshot = async (label: string): Promise<void> => {
    log.push({
      label,
      flows: await store.getFlows([F1, F2, ids.missing!]),
      counts: [await store.countSegments(F1), await store.countSegments(F2)],
      segments: [
        (await store.listSegments(F1, { timerange: parseTimeRange('_') }, { limit: 1000 })).items,
        (await store.listSegments(F2, { timerange: parseTimeRange('_') }, { limit: 1000 })).items,
      ],
      objects: await store.getObjects(['o1', 'o2', 'i1', 'e1', 'e2', 'nope']),
    });
  };
  const f1: Flow = { id: F1, source_id: S1, format: VIDEO, label: 'one', tags: { auth_classes: ['news'] } };
  const f2: Flow = { id: F2, source_id: S1, format: VIDEO, flow_collection: [{ id: F1, role: 'video' }] };
  await store.putFlow(f1, at(1));
  await store.putFlow(f2, at(2));
  await store.allocateObjects(F1, [
    { id: 'o1', storage_id: 'st', key: 'k/o1' },
    { id: 'o2', storage_id: 'st', key: 'k/o2' },
    { id: 'i1', storage_id: 'st', key: 'k/i1' },
  ], at(3));
  // Ordered batch: allocated object, recorded external object, re-use, an overlap inside the
  // batch, an unknown object without get_urls.
  log.push(outcomes(await store.addSegments(F1, [
    seg('o1', '[0:0_10:0)', { key_frame_count: 2 }),
    seg('e1', '[10:0_20:0)', { get_urls: EXT }),
    seg('o1', '[20:0_30:0)'),
    seg('o2', '[25:0_35:0)'),
    seg('nope', '[40:0_50:0)'),
  ], at(4))));
  await snapshot('ordered batch');
  // Unordered batch: against stored segments and earlier ones of the batch.
  log.push(outcomes(await store.addSegments(F1, [
    seg('e2', '[100:0_110:0)', { get_urls: EXT }),
    seg('o2', '[60:0_70:0)', { init_object_id: 'i1' }),
    seg('e1', '[65:0_75:0)'),
    seg('e1', '[5:0_6:0)'),
    seg('e1', '[30:0_31:0)', { key_frame_count: 7 }),
  ], at(5))));
  await snapshot('unordered batch');
  // Every segment fails: nothing written, segments_updated unchanged, no event.
  log.push(outcomes(await store.addSegments(F1, [seg('e1', '[0:0_1:0)'), seg('e1', '[1:0_2:0)')], at(6))));
  // An empty batch.
  log.push(outcomes(await store.addSegments(F1, [], at(7))));
  await snapshot('failing and empty batches');
  // Unbounded timeranges.
  log.push(outcomes(await store.addSegments(F2, [seg('e1', '[1000:0_')], at(8))));
  log.push(outcomes(await store.addSegments(F2, [seg('e1', '_')], at(9))));
  log.push(outcomes(await store.addSegments(F2, [seg('e1', '_0:0)'), seg('e1', '(500:0_600:0]'), seg('e1', '[2000:0_2001:0)')], at(10))));
  log.push(outcomes(await store.addSegments(F2, [seg('e1', '[-5:0_0:0)'), seg('e1', '[600:0_1000:0)')], at(11))));
  await snapshot('unbounded');
  // The context follows the flow's classes as they are when the event is written.
  await store.updateFlow(F1, (f) => ({ ...f, tags: { auth_classes: 'sport' } }), at(12));
  log.push(outcomes(await store.addSegments(F1, [seg('e1', '[200:0_201:0)')], at(13))));
  log.push(await store.deleteSegments(F1, parseTimeRange('[10:0_30:0)'), undefined, at(14)));
  log.push(await store.deleteSegments(F1, parseTimeRange('[0:0_300:0)'), 'e2', at(15)));
  log.push(await store.deleteSegments(F1, parseTimeRange('[500:0_600:0)'), undefined, at(16)));
  await snapshot('deleted');
  // A pending deletion of F2's segments: refused before the flow is even read.
  const request: DeletionRequest = { id: ids.request!, flow_id: F2, timerange_to_delete: '_', delete_flow: false, status: 'created', created: at(17), updated: at(17) };
  await store.putDeletionRequest(request);
  log.push(await errorCode(store.addSegments(F2, [seg('e1', '[3000:0_3001:0)')], at(18))));
  log.push(await errorCode(store.deleteSegments(F2, parseTimeRange('_'), undefined, at(18))));
  log.push(await errorCode(store.addSegments(ids.missing!, [seg('e1', '[0:0_1:0)')], at(18))));
  log.push(await errorCode(store.addSegments(ids.missing!, [], at(18))));
  // A deletion request naming a flow that does not exist: which comes first, refusal or not_found?
  await store.putDeletionRequest({ ...request, id: ids.request2!, flow_id: ids.missing!, delete_flow: true });
  log.push(await errorCode(store.addSegments(ids.missing!, [seg('e1', '[0:0_1:0)')], at(19))));
  // The worker's progress deletes under the request.
  log.push(await store.deleteSegments(F2, parseTimeRange('_'), undefined, at(20), { request: { ...request, status: 'started', updated: at(20) }, replaces: at(17) }));
  await store.deleteFlow(F1, at(21));
  await snapshot('flow deleted');
  log.push({ events: await store.readEventsWithContext(0, 1000) });
  return log;
}

describePostgres('PostgreSQL store review (0b63f43): segment writers and the flow lock', () => {
  const schemas = new TestSchemas();
  const stores: { close(): Promise<void> }[] = [];

  async function pgStore(schema = schemas.next()): Promise<PostgresMetadataStore> {
    const store = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 8, schema });
    await store.init();
    stores.push(store);
    return store;
  }

  async function admin(schema?: string): Promise<Client> {
    const client = new Client({ connectionString: TEST_DATABASE_URL, ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }) });
    await client.connect();
    stores.push({ close: () => client.end() });
    return client;
  }

  afterAll(async () => {
    for (const s of stores.reverse()) await s.close().catch(() => undefined);
    await schemas.dropAll();
  });

  it('answers, stores and records events (with their context) exactly as the SQLite store for one script of registrations and deletions', async () => {
    const ids = { f1: randomUUID(), f2: randomUUID(), s1: randomUUID(), missing: randomUUID(), request: randomUUID(), request2: randomUUID() };
    const sqlite = new SqliteMetadataStore({ filename: ':memory:' });
    await sqlite.init();
    stores.push(sqlite);
    const expected = await script(sqlite, ids);
    const actual = await script(await pgStore(), ids);
    expect(normalised(actual)).toEqual(normalised(expected));
    // The script did exercise what it claims to (read on the PostgreSQL side).
    expect(actual[0]).toEqual([null, null, null, 'segment_overlap', 'validation_failed']);
    expect(actual.slice(-8, -3)).toEqual(['flow_being_deleted', 'flow_being_deleted', 'not_found', 'not_found', 'flow_being_deleted']);
  });

  it('takes the one flow lock key whatever the id holds (quotes, backslashes, semicolons, non-ASCII): the key hashtextextended(\'tams-flow:\' || id) the seeder and older replicas take', async () => {
    const schema = schemas.next();
    const store = await pgStore(schema);
    const holder = await admin(schema);
    for (const id of ["it's", 'back\\slash', "x'); SELECT pg_sleep(5); --", 'ünï\u2028cødé', `${randomUUID()}\\'`]) {
      await store.putFlow({ id, source_id: randomUUID(), format: VIDEO }, at(1));
      await holder.query('BEGIN');
      await holder.query("SELECT pg_advisory_xact_lock(hashtextextended('tams-flow:' || $1, 0))", [id]);
      let done = false;
      const registering = store.addSegments(id, [seg('e', '[0:0_1:0)', { get_urls: EXT })], at(2)).then((r) => {
        done = true;
        return r;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect({ id, waitedForTheLock: !done }).toEqual({ id, waitedForTheLock: true });
      await holder.query('COMMIT');
      expect(outcomes(await registering)).toEqual([null]);
      expect(await store.countSegments(id)).toBe(1);
    }
  });

  it('keeps segments apart and segment_count right while two stores register, delete segments and work a deletion request on one flow', async () => {
    const schema = schemas.next();
    const a = await pgStore(schema);
    const b = await pgStore(schema);
    const f: Flow = { id: randomUUID(), source_id: randomUUID(), format: VIDEO };
    await a.putFlow(f, at(0));
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      const base = (i % 15) * 10;
      // Ordered batches, unordered ones and deletions over the same span, from both stores.
      work.push(a.addSegments(f.id, [seg(`a${i}`, `[${base}:0_${base + 4}:0)`, { get_urls: EXT }), seg(`a${i}`, `[${base + 4}:0_${base + 7}:0)`)], at(1)));
      work.push(b.addSegments(f.id, [seg(`b${i}`, `[${base + 6}:0_${base + 9}:0)`, { get_urls: EXT }), seg(`b${i}`, `[${base + 2}:0_${base + 3}:0)`)], at(1)));
      if (i % 4 === 3) work.push((i % 8 === 3 ? a : b).deleteSegments(f.id, parseTimeRange(`[${base}:0_${base + 10}:0)`), undefined, at(2)));
    }
    await Promise.all(work);
    const stored = await spans(a, f.id);
    expect(overlapping(stored)).toEqual([]);
    expect(await a.countSegments(f.id)).toBe(stored.length);
    // A deletion request worked by one store while the other registers: every write is ordered by the lock.
    const request: DeletionRequest = { id: randomUUID(), flow_id: f.id, timerange_to_delete: '_', delete_flow: true, status: 'started', created: at(3), updated: at(3) };
    await a.putDeletionRequest(request);
    const racing = await Promise.all([
      b.deleteFlow(f.id, at(4), { request: { ...request, status: 'done', updated: at(4) }, replaces: at(3) }),
      errorCode(a.addSegments(f.id, [seg('late', '[900:0_901:0)', { get_urls: EXT })], at(4))),
    ]);
    // Refused while the request runs, or the flow already gone: never stored.
    expect(racing[0]).toBe(true);
    expect(['flow_being_deleted', 'not_found']).toContain(racing[1]);
    expect(await a.getFlow(f.id)).toBeUndefined();
    expect(await b.countSegments(f.id)).toBe(0);
    expect(await spans(b, f.id)).toEqual([]);
  });

  it('never lets init_segments turn on while a segment without an init object is registered on the other store (both under the flow lock)', async () => {
    const schema = schemas.next();
    const a = await pgStore(schema);
    const b = await pgStore(schema);
    for (let round = 0; round < 15; round++) {
      const f: Flow = { id: randomUUID(), source_id: randomUUID(), format: VIDEO, essence_parameters: {} };
      await a.putFlow(f, at(0));
      const [updated, registered] = await Promise.all([
        errorCode(a.updateFlow(f.id, (flow) => ({ ...flow, essence_parameters: { ...(flow.essence_parameters ?? {}), init_segments: true } }), at(1))),
        b.addSegments(f.id, [seg(`plain-${round}`, '[0:0_1:0)', { get_urls: EXT })], at(1)).then((o) => o[0]?.error?.code ?? 'stored'),
      ]);
      // One of the two wins; the other is refused by the rule the winner made true.
      expect([['no error', 'validation_failed'], ['validation_failed', 'stored']]).toContainEqual([updated, registered]);
    }
  });

  it('records one unknown object named by two flows racing on two stores once: the loser re-uses it (unique violation run again)', async () => {
    const schema = schemas.next();
    const a = await pgStore(schema);
    const b = await pgStore(schema);
    for (let round = 0; round < 10; round++) {
      const f1: Flow = { id: randomUUID(), source_id: randomUUID(), format: VIDEO };
      const f2: Flow = { id: randomUUID(), source_id: randomUUID(), format: VIDEO };
      await a.putFlow(f1, at(0));
      await a.putFlow(f2, at(0));
      const object = `shared-${round}`;
      const [first, second] = await Promise.all([
        a.addSegments(f1.id, [seg(object, '[0:0_10:0)', { get_urls: EXT, key_frame_count: 3 })], at(1)),
        b.addSegments(f2.id, [seg(object, '[0:0_10:0)', { get_urls: EXT, key_frame_count: 3 })], at(1)),
      ]);
      expect([outcomes(first), outcomes(second)]).toEqual([[null], [null]]);
      const record = await a.getObject(object);
      expect(record?.referenced_by_flows).toEqual([f1.id, f2.id].sort());
      expect(record?.key_frame_count).toBe(3);
    }
  });

  it('a flow id holding U+0000 is refused as bad input (bad_request), never reported as a database outage; SQLite answers not_found / nothing', async () => {
    // Was a DEFECT (review of 0b63f43): the lock's escaped literal goes in a simple-protocol
    // query string, which cannot carry a NUL, and the server's refusal (08P01) read as an outage.
    // PostgreSQL text cannot hold U+0000 at all, so the PostgreSQL store refuses such text as
    // bad input (400) where SQLite stores it; the edges refuse such ids anyway (UUID checks).
    const store = await pgStore();
    const sqlite = new SqliteMetadataStore({ filename: ':memory:' });
    await sqlite.init();
    stores.push(sqlite);
    const id = 'a\u0000b';
    const on = async (s: MetadataStore): Promise<string[]> => [
      await errorCode(s.addSegments(id, [seg('e', '[0:0_1:0)', { get_urls: EXT })], at(1))),
      await errorCode(s.updateFlow(id, (f) => f, at(1))),
      await errorCode(s.deleteSegments(id, parseTimeRange('_'), undefined, at(1))),
    ];
    expect(await on(store)).toEqual(['bad_request', 'bad_request', 'bad_request']);
    expect(await on(sqlite)).toEqual(['not_found', 'no error', 'no error']);
    // A label holding U+0000: refused, nothing stored; the flow as it was.
    const f: Flow = { id: randomUUID(), source_id: randomUUID(), format: VIDEO, label: 'before' };
    await store.putFlow(f, at(0));
    expect(await errorCode(store.putFlow({ ...f, label: 'x\u0000y' }, at(1)))).toBe('bad_request');
    expect((await store.getFlow(f.id))?.label).toBe('before');
  });

  it('the seeder reads the flow\'s last segment under the flow lock, so a registration committing meanwhile is never overlapped (was a DEFECT: read before the lock)', async () => {
    const schema = schemas.next();
    const store = await pgStore(schema);
    const holder = await admin(schema);
    const f: Flow = { id: randomUUID(), source_id: randomUUID(), format: VIDEO };
    await store.putFlow(f, at(0));
    expect(outcomes(await store.addSegments(f.id, [seg('first', '[0:0_10:0)', { get_urls: EXT })], at(1)))).toEqual([null]);
    // A registration of [10.5 s, 11.5 s) is held just before its commit (its outbox flush waits
    // for the counter row), its segment written, the flow's lock held.
    await holder.query('BEGIN');
    await holder.query('SELECT seq FROM outbox_counter FOR UPDATE');
    const registering = store.addSegments(f.id, [seg('meanwhile', '[10:500000000_11:500000000)', { get_urls: EXT })], at(2));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The seed reads the flow's last end (10 s: the registration has not committed), then waits for the lock.
    const seeding = seedPostgresSegments({ connectionString: TEST_DATABASE_URL, schema }, f.id, 3, 1_000_000_000n, { chunk: 1 }).catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await holder.query('COMMIT');
    expect(outcomes(await registering)).toEqual([null]);
    await seeding;
    const stored = await spans(store, f.id);
    expect(overlapping(stored)).toEqual([]);
    expect(await store.countSegments(f.id)).toBe(stored.length);
  });

  it('the seeder given startNs inside stored segments refuses them with segment_overlap (was a DEFECT: nothing checked once the constraint went)', async () => {
    const schema = schemas.next();
    const store = await pgStore(schema);
    const f: Flow = { id: randomUUID(), source_id: randomUUID(), format: VIDEO };
    await store.putFlow(f, at(0));
    expect(outcomes(await store.addSegments(f.id, [seg('first', '[0:0_10:0)', { get_urls: EXT })], at(1)))).toEqual([null]);
    const seeded = await seedPostgresSegments({ connectionString: TEST_DATABASE_URL, schema }, f.id, 2, 3_000_000_000n, { startNs: 5_000_000_000n }).catch((err: unknown) => err);
    const stored = await spans(store, f.id);
    // Refusing the seed (an error) or seeding nothing that overlaps are both fine; overlaps are not.
    expect({ seeded: seeded instanceof Error ? 'refused' : 'seeded', overlaps: overlapping(stored) }).toEqual({ seeded: expect.any(String), overlaps: [] });
  });

  it('answers 400 (not 500) over REST for a label holding U+0000, and keeps the flow as it was', async () => {
    const h = await startHarness({}, { store: 'postgres' });
    try {
      const flow = videoFlow();
      const id = flow.id as string;
      expect((await h.request('PUT', `/flows/${id}`, flow)).status).toBe(201);
      const put = await h.request('PUT', `/flows/${id}`, { ...flow, label: 'a\u0000b' });
      expect(put.status).toBe(400);
      expect(put.body).toMatchObject({ type: 'BadRequest', summary: expect.stringMatching(/U\+0000/) });
      const label = await h.request('PUT', `/flows/${id}/label`, JSON.stringify('x\u0000y'));
      expect(label.status).toBe(400);
      expect((await h.request('GET', `/flows/${id}`)).body.label).toBe(flow.label);
    } finally {
      await h.close();
    }
  });
});
