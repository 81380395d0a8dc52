/**
 * Migration 5 over real HTTP: a store written at version 4 (before metadata_version was kept
 * and source collections were inferred) gives every stored flow a metadata_version (a UUID,
 * v4 form; a version already stored is kept), and fills in the source collections of its flow
 * collections once, with the members' collected_by. A restart changes neither again.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations';
import { startHarness, type Harness } from '../support/gateway-harness';
import { checkedFetch } from '../support/checked-fetch';
import { describeWithSpec } from '../support/tams-spec';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

const NOW = '2024-01-01T00:00:00.000Z';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const id = (n: number): string => `c0ffee00-0000-4000-8000-${String(n).padStart(12, '0')}`;

const [SA, SB, SX, SK] = [id(101), id(102), id(103), id(104)];
const [A, B, X, K] = [id(1), id(2), id(3), id(4)];

const FLOWS: Json[] = [
  {
    id: A,
    source_id: SA,
    format: 'urn:x-nmos:format:video',
    codec: 'video/h264',
    container: 'video/mp2t',
    essence_parameters: { frame_rate: { numerator: 25, denominator: 1 }, frame_width: 1920, frame_height: 1080 },
    collected_by: [X],
  },
  { id: B, source_id: SB, format: 'urn:x-nmos:format:audio', codec: 'audio/aac', container: 'video/mp2t', essence_parameters: { sample_rate: 48000, channels: 2 }, collected_by: [X] },
  {
    id: X,
    source_id: SX,
    format: 'urn:x-nmos:format:multi',
    container: 'video/mp2t',
    flow_collection: [
      { id: A, role: 'video' },
      { id: B, role: 'audio' },
    ],
  },
  { id: K, source_id: SK, format: 'urn:x-nmos:format:audio', codec: 'audio/aac', container: 'video/mp2t', essence_parameters: { sample_rate: 48000, channels: 2 }, metadata_version: 'kept-from-before' },
];

describeWithSpec('migration 5: metadata_version and source collections for a version 4 store', () => {
  let dir: string;
  let h: Harness | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tams-sqlite-v4-'));
    const db = new Database(join(dir, 'tams.db'));
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)');
    MIGRATIONS.slice(0, 4).forEach((sql, i) => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (?, ?)').run(i + 1, NOW);
    });
    const source = db.prepare('INSERT INTO sources (id, format, created, updated, doc) VALUES (?, ?, ?, ?, ?)');
    const flow = db.prepare('INSERT INTO flows (id, source_id, format, codec, container, created, metadata_updated, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const f of FLOWS) {
      source.run(f.source_id, f.format, NOW, NOW, JSON.stringify({ id: f.source_id, format: f.format, created: NOW, updated: NOW }));
      const doc = { ...f, created: NOW, metadata_updated: NOW };
      flow.run(f.id, f.source_id, f.format, f.codec ?? null, f.container ?? null, NOW, NOW, JSON.stringify(doc));
    }
    db.close();
  });

  afterEach(async () => {
    await h?.close();
    h = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function get(path: string): Promise<Json> {
    const res = await h!.request('GET', path);
    expect({ path, status: res.status }).toEqual({ path, status: 200 });
    return res.body;
  }

  async function versions(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const f of FLOWS) out[f.id as string] = (await get(`/flows/${f.id as string}`)).metadata_version as string;
    return out;
  }

  it('gives every flow a version (keeping one already there) and fills in source collections once', async () => {
    h = await startHarness({ TAMS_DATA_DIR: dir });
    const first = await versions();
    for (const f of [A, B, X]) expect(first[f]).toMatch(UUID_V4);
    expect(new Set([first[A], first[B], first[X]]).size).toBe(3);
    expect(first[K]).toBe('kept-from-before');

    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ a: flow(id: "${A}") { metadataVersion } sx: source(id: "${SX}") { collection { sourceId role } } }` }),
    });
    expect(await res.json()).toEqual({ data: { a: { metadataVersion: first[A] }, sx: { collection: [{ sourceId: SA, role: 'video' }, { sourceId: SB, role: 'audio' }] } } });

    const sx = await get(`/sources/${SX}`);
    expect(sx.source_collection).toEqual([
      { id: SA, role: 'video' },
      { id: SB, role: 'audio' },
    ]);
    expect((await get(`/sources/${SA}`)).collected_by).toEqual([SX]);
    expect((await get(`/sources/${SB}`)).collected_by).toEqual([SX]);
    expect((await get(`/sources/${SK}`)).collected_by).toBeUndefined();
    const collected = (await get(`/sources?collected_by_ids=${SX}`)) as Json[];
    expect(collected.map((s) => s.id as string).sort()).toEqual([SA, SB]);
    const sourcesBefore = await Promise.all([SA, SB, SX, SK].map((s) => get(`/sources/${s}`)));

    // A restart: no new versions, no second filling in.
    await h.close();
    h = await startHarness({ TAMS_DATA_DIR: dir });
    expect(await versions()).toEqual(first);
    expect(await Promise.all([SA, SB, SX, SK].map((s) => get(`/sources/${s}`)))).toEqual(sourcesBefore);
  });
});
