/**
 * Object instances change an object after its registration, so the copies of its storage and
 * URLs that migration 2 put into segment rows are rewritten by the store. These checks look
 * below the port: the copies match the object after every change, the rewrite finds rows
 * through the object indexes (no table scan), and a version-2 database upgrades in place.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { parseTimeRange } from '../../src/domain/timerange';

const NOW = '2024-01-01T00:00:00.000Z';
const VIDEO = 'urn:x-nmos:format:video';

interface CopyRow {
  object_id: string;
  object_storage_id: string | null;
  init_storage_id: string | null;
  json_head: string;
}

describe('object instances keep the segment copies in step', () => {
  let store: SqliteMetadataStore;

  beforeEach(async () => {
    store = new SqliteMetadataStore({ filename: ':memory:' });
    await store.init();
  });

  afterEach(async () => {
    await store.close();
  });

  it('rewrites storage and get_urls copies of every segment row of the object', async () => {
    const flowId = 'b7d1c3e2-0000-4000-8000-000000000001';
    await store.putFlow({ id: flowId, source_id: 'b7d1c3e2-0000-4000-8000-0000000000ff', format: VIDEO, essence_parameters: { init_segments: true } }, NOW);
    await store.allocateObjects(flowId, [
      { id: 'm', storage_id: 'st', key: 'k/m' },
      { id: 'i', storage_id: 'st', key: 'k/i' },
    ], NOW);
    const segs = Array.from({ length: 5 }, (_, n) => ({
      object_id: n < 3 ? 'm' : `m${n}`,
      init_object_id: 'i',
      timerange: parseTimeRange(`[${n}:0_${n + 1}:0)`),
      timerange_text: `[${n}:0_${n + 1}:0)`,
      key_frame_count: 1,
      // m3 and m4 are objects kept elsewhere (never allocated here): their URLs come with them.
      ...(n < 3 ? {} : { get_urls: [{ url: `https://ext.example/m${n}`, label: 'ext' }] }),
    }));
    expect((await store.addSegments(flowId, segs, NOW)).every((o) => o.error === undefined)).toBe(true);
    const rows = (): CopyRow[] =>
      store.database
        .prepare('SELECT object_id, object_storage_id, init_storage_id, json_head FROM segments ORDER BY end_ns')
        .all() as CopyRow[];

    await store.addObjectInstance('m', { url: 'https://copy.example/m', label: 'copy' });
    await store.removeObjectInstance('m', { storage_id: 'st' });
    await store.addObjectInstance('i', { url: 'https://copy.example/i', label: 'copy' });
    await store.removeObjectInstance('i', { storage_id: 'st' });
    rows().forEach((row, n) => {
      expect(row.init_storage_id).toBeNull();
      expect(row.object_storage_id).toBeNull(); // m: its controlled instance removed; the others never allocated
      // The whole text, in order: each row keeps its own timerange, get_urls comes last.
      expect(row.json_head).toBe(
        row.object_id === 'm'
          ? `{"object_id":"m","timerange":"[${n}:0_${n + 1}:0)","key_frame_count":1,"get_urls":[{"url":"https://copy.example/m","label":"copy"}]`
          : `{"object_id":"m${n}","timerange":"[${n}:0_${n + 1}:0)","key_frame_count":1,"get_urls":[{"url":"https://ext.example/m${n}","label":"ext"}]`,
      );
    });
  });

  it('finds the rows to rewrite through the object indexes', () => {
    const plan = (sql: string): string =>
      (store.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x') as { detail: string }[]).map((r) => r.detail).join('; ');
    expect(plan('SELECT flow_id, end_ns, json_head FROM segments WHERE object_id = ?')).toMatch(/USING (COVERING )?INDEX segments_object/);
    expect(plan('UPDATE segments SET object_storage_id = NULL, object_storage_key = NULL WHERE object_id = ?')).toMatch(
      /USING (COVERING )?INDEX segments_object/,
    );
    expect(plan('UPDATE segments SET init_storage_id = NULL, init_storage_key = NULL WHERE init_object_id = ?')).toMatch(
      /USING (COVERING )?INDEX segments_init_object/,
    );
  });
});

describe('migration 3', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tams-sqlite-v3-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades a version-2 database, keeping its data', async () => {
    const filename = join(dir, 'v2.db');
    const db = new Database(filename);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)');
    db.exec(MIGRATIONS[0] as string);
    db.exec(MIGRATIONS[1] as string);
    db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (1, ?), (2, ?)').run(NOW, NOW);
    const flow = { id: 'f', source_id: 's', format: VIDEO, created: NOW };
    db.prepare('INSERT INTO flows (id, source_id, format, created, doc) VALUES (?, ?, ?, ?, ?)').run('f', 's', VIDEO, NOW, JSON.stringify(flow));
    db.close();

    const store = new SqliteMetadataStore({ filename });
    try {
      await store.init();
      // Migration 5 gives the stored flow its metadata_version.
      expect(await store.getFlow('f')).toEqual({ ...flow, metadata_version: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) });
      await store.createProfile({ id: 'p', flow_metadata: {} });
      await store.putWebhook({ id: 'w', url: 'https://h.example', events: [], status: 'created' });
      await store.putDeletionRequest({ id: 'd', flow_id: 'f', timerange_to_delete: '_', delete_flow: true, status: 'created' });
      expect((await store.listProfiles({}, { limit: 10 })).items.map((p) => p.id)).toEqual(['p']);
      expect((await store.listWebhooks({}, { limit: 10 })).items.map((w) => w.id)).toEqual(['w']);
      expect((await store.listDeletionRequests({ limit: 10 })).items.map((d) => d.id)).toEqual(['d']);
      const versions = store.database.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
      expect(versions).toEqual(MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await store.close();
    }
  });
});
