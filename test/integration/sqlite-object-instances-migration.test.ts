/**
 * Migration 6 on a store written at version 5, when an object held its one controlled instance
 * in `objects.storage_id` / `storage_key` (copied into the segment rows): every such instance
 * becomes a row of `object_instances` and reads back as before through the store, a registered
 * object no segment uses any more becomes a garbage collection candidate (and only it), and a
 * segment deleted after the migration makes its objects candidates too. Candidates and
 * unregistered allocations alike are collected only when created before the cutoff given
 * (no PUT URL for them works any more); queued byte deletions do not keep a backend in use.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import type { ObjectStorageRef } from '../../src/domain/entities';
import { ETERNITY, parseTimeRange } from '../../src/domain/timerange';

const NOW = '2024-01-01T00:00:00.000Z';
const LATER = '2024-01-01T00:00:00.001Z';
const VIDEO = 'urn:x-nmos:format:video';
const id = (n: number): string => `c0ffee00-0000-4000-8000-${String(n).padStart(12, '0')}`;
const [FLOW, SOURCE] = [id(1), id(2)];
const [LOCAL, S3] = [id(901), id(902)];

/** The objects as version 5 stored them: [id, storage (or none), registered, init object]. */
const OBJECTS: [string, ObjectStorageRef | null, boolean, string | null][] = [
  ['media-1', { storage_id: LOCAL, key: '0a/1b/media-1-key' }, true, 'init-1'],
  ['init-1', { storage_id: LOCAL, key: '0a/1b/init-1-key' }, true, null],
  ['media-2', { storage_id: S3, key: 'prefix/ff/ee/media-2-key' }, true, null],
  // Its controlled instance was removed (version 3): only a URL is left.
  ['urls-only', null, true, null],
  // Registered once, its segments deleted before version 6.
  ['orphan', { storage_id: S3, key: 'prefix/00/11/orphan-key' }, true, null],
  ['allocated', { storage_id: LOCAL, key: '0a/1b/allocated-key' }, false, null],
];

/** Segments as version 5 stored them: [second, media object]. */
const SEGMENTS: [number, string][] = [
  [0, 'media-1'],
  [1, 'media-2'],
  [2, 'urls-only'],
];

const storageOf = (objectId: string): ObjectStorageRef | null => OBJECTS.find(([o]) => o === objectId)![1];
const initOf = (objectId: string): string | null => OBJECTS.find(([o]) => o === objectId)![3];

describe('migration 6: object instances and garbage collection candidates for a version 5 store', () => {
  let dir: string;
  let store: SqliteMetadataStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tams-sqlite-v5-'));
    const filename = join(dir, 'tams.db');
    const db = new Database(filename);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)');
    MIGRATIONS.slice(0, 5).forEach((sql, i) => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (?, ?)').run(i + 1, NOW);
    });
    const flow = { id: FLOW, source_id: SOURCE, format: VIDEO, container: 'video/mp2t', essence_parameters: { init_segments: true }, created: NOW, metadata_version: id(3) };
    db.prepare('INSERT INTO sources (id, format, created, updated, doc) VALUES (?, ?, ?, ?, ?)').run(SOURCE, VIDEO, NOW, NOW, JSON.stringify({ id: SOURCE, format: VIDEO, created: NOW, updated: NOW }));
    db.prepare('INSERT INTO flows (id, source_id, format, container, init_segments, created, segment_count, doc) VALUES (?, ?, ?, ?, 1, ?, ?, ?)').run(
      FLOW, SOURCE, VIDEO, 'video/mp2t', NOW, SEGMENTS.length, JSON.stringify(flow),
    );
    const object = db.prepare(`INSERT INTO objects (id, storage_id, storage_key, allocated_for_flow, role, registered, init_object_id, first_referenced_by_flow, get_urls, created)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const [objectId, storage, registered, init] of OBJECTS) {
      const urls = objectId === 'urls-only' ? [{ url: 'https://elsewhere.example/urls-only', label: 'elsewhere' }] : [];
      object.run(objectId, storage?.storage_id ?? null, storage?.key ?? null, FLOW, objectId.startsWith('init') ? 'init' : 'media', registered ? 1 : 0, init, registered ? FLOW : null, JSON.stringify(urls), NOW);
    }
    const segment = db.prepare(`INSERT INTO segments (flow_id, end_ns, start_ns, object_id, init_object_id, object_storage_id, object_storage_key, init_storage_id, init_storage_key, json_head)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const [second, objectId] of SEGMENTS) {
      const [storage, init] = [storageOf(objectId), initOf(objectId)];
      const initStorage = init === null ? null : storageOf(init);
      const urls = objectId === 'urls-only' ? ',"get_urls":[{"url":"https://elsewhere.example/urls-only","label":"elsewhere"}]' : '';
      segment.run(
        FLOW, BigInt(second + 1) * 1_000_000_000n, BigInt(second) * 1_000_000_000n, objectId, init,
        storage?.storage_id ?? null, storage?.key ?? null, initStorage?.storage_id ?? null, initStorage?.key ?? null,
        `{"object_id":${JSON.stringify(objectId)},"timerange":"[${second}:0_${second + 1}:0)"${urls}`,
      );
    }
    db.close();
    store = new SqliteMetadataStore({ filename });
    await store.init();
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes each stored instance a row of object_instances, read back as before', async () => {
    const rows = store.database.prepare('SELECT object_id, storage_id, storage_key AS key, created FROM object_instances ORDER BY object_id').all();
    const expected = OBJECTS.filter(([, storage]) => storage !== null)
      .map(([objectId, storage]) => ({ object_id: objectId, ...storage!, created: NOW }))
      .sort((a, b) => (a.object_id < b.object_id ? -1 : 1));
    expect(rows).toEqual(expected);

    for (const [objectId, storage] of OBJECTS) {
      expect({ objectId, instances: (await store.getObject(objectId))?.instances }).toEqual({ objectId, instances: storage === null ? [] : [storage] });
    }
    expect((await store.getObject('urls-only'))?.uncontrolled_urls).toEqual([{ url: 'https://elsewhere.example/urls-only', label: 'elsewhere' }]);

    const page = await store.listSegments(FLOW, { timerange: ETERNITY }, { limit: 10 });
    expect(page.items.map((s) => ({ object_id: s.object_id, object_instances: s.object_instances, init_object_instances: s.init_object_instances }))).toEqual([
      { object_id: 'media-1', object_instances: [storageOf('media-1')], init_object_instances: [storageOf('init-1')] },
      { object_id: 'media-2', object_instances: [storageOf('media-2')], init_object_instances: undefined },
      { object_id: 'urls-only', object_instances: undefined, init_object_instances: undefined },
    ]);

    expect((await store.storageIdsInUse()).sort()).toEqual([LOCAL, S3].sort());
    expect(store.database.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it('collects the registered object no segment uses and the old allocation only once they were created before the cutoff', async () => {
    expect(store.database.prepare('SELECT object_id FROM object_gc_candidates').pluck().all()).toEqual(['orphan']);
    // Created at NOW, not before it: a PUT URL for them may still work, so both stay.
    expect(await store.collectObjects(NOW, 100)).toEqual({ collected: 0, more: false });
    expect((await store.getObject('orphan'))?.registered).toBe(true);
    expect((await store.getObject('allocated'))?.registered).toBe(false);
    expect(await store.pendingObjectDeletions(100)).toEqual([]);
    expect(store.database.prepare('SELECT object_id FROM object_gc_candidates').pluck().all()).toEqual(['orphan']);

    expect((await store.collectObjects(LATER, 100)).collected).toBe(2);
    expect(await store.getObject('orphan')).toBeUndefined();
    expect(await store.getObject('allocated')).toBeUndefined();
    // Candidates first, then allocations never registered: the queue keeps that order.
    expect(await store.pendingObjectDeletions(100)).toEqual([storageOf('orphan'), storageOf('allocated')]);
    expect(await store.pendingObjectDeletions(100, [S3])).toEqual([storageOf('orphan')]);
    expect(store.database.prepare('SELECT object_id FROM object_gc_candidates').pluck().all()).toEqual([]);
    await store.completeObjectDeletions([storageOf('orphan')!, storageOf('allocated')!]);
    expect(await store.pendingObjectDeletions(100)).toEqual([]);
    expect((await store.collectObjects(LATER, 100)).collected).toBe(0);
    for (const kept of ['media-1', 'init-1', 'media-2', 'urls-only']) expect((await store.getObject(kept))?.registered).toBe(true);
  });

  it('counts only instances, not queued deletions, as a backend in use', async () => {
    // media-2 is the last object on S3 with an instance; orphan's bytes there are queued once collected.
    await store.deleteSegments(FLOW, parseTimeRange('[1:0_2:0)'), undefined, LATER);
    expect((await store.collectObjects(LATER, 100)).collected).toBe(3);
    expect((await store.pendingObjectDeletions(100, [S3])).sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual(
      [storageOf('orphan'), storageOf('media-2')].sort((a, b) => (a!.key < b!.key ? -1 : 1)),
    );
    expect(await store.storageIdsInUse()).toEqual([LOCAL]);
  });

  it('makes the objects of segments deleted after the migration candidates, init objects included', async () => {
    await store.deleteSegments(FLOW, parseTimeRange('[0:0_1:0)'), undefined, LATER);
    expect((await store.collectObjects(NOW, 100)).collected).toBe(0);
    expect((await store.collectObjects(LATER, 100)).collected).toBe(4);
    for (const gone of ['orphan', 'media-1', 'init-1', 'allocated']) expect(await store.getObject(gone)).toBeUndefined();
    expect((await store.pendingObjectDeletions(100)).sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual(
      [storageOf('orphan'), storageOf('media-1'), storageOf('init-1'), storageOf('allocated')].sort((a, b) => (a!.key < b!.key ? -1 : 1)),
    );
    expect((await store.getObject('media-2'))?.instances).toEqual([storageOf('media-2')]);
  });
});
