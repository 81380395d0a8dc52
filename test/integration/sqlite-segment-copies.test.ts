/**
 * Migration 2 copies what the segment window used to join from `objects` (storage of the
 * media and init objects, the media object's own timerange) into each segment row. A
 * database written at version 1 must come out of the migration with those copies filled,
 * and segments stored afterwards must carry the same values a join would have given.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { parseTimeRange } from '../../src/domain/timerange';

const NOW = '2024-01-01T00:00:00.000Z';
const flowId = 'b7d1c3e2-0000-4000-8000-000000000001';
const sourceId = 'b7d1c3e2-0000-4000-8000-0000000000ff';

let dir: string;
let filename: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tams-sqlite-copies-'));
  filename = join(dir, 'v1.db');
  const db = new Database(filename);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)');
  db.exec(MIGRATIONS[0] as string);
  db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (1, ?)').run(NOW);
  // Its media objects have init objects: init_segments (the column and the document).
  const flow = { id: flowId, source_id: sourceId, format: 'urn:x-nmos:format:video', created: NOW, essence_parameters: { init_segments: true } };
  db.prepare('INSERT INTO flows (id, source_id, format, created, doc, init_segments) VALUES (?, ?, ?, ?, ?, 1)').run(
    flowId,
    sourceId,
    flow.format,
    NOW,
    JSON.stringify(flow),
  );
  const object = db.prepare(`INSERT INTO objects (id, storage_id, storage_key, allocated_for_flow, role, registered,
      timerange, init_object_id, first_referenced_by_flow, created) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`);
  object.run('m1', 'st', 'k/m1', flowId, 'media', '[0:0_4:0)', 'i1', flowId, NOW);
  object.run('i1', 'st', 'k/i1', flowId, 'init', null, null, flowId, NOW);
  object.run('m2', null, null, null, 'media', '[2:0_4:0)', null, flowId, NOW);
  const segment = db.prepare(`INSERT INTO segments (flow_id, end_ns, start_ns, timerange_text, object_id, init_object_id)
    VALUES (?, ?, ?, ?, ?, ?)`);
  segment.run(flowId, 2_000_000_000n, 0n, '[0:0_2:0)', 'm1', 'i1');
  segment.run(flowId, 4_000_000_000n, 2_000_000_000n, '[2:0_4:0)', 'm2', null);
  db.close();
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('segment rows carry copies of their objects', () => {
  it('fills the copies of existing segments when migrating from version 1', async () => {
    const store = new SqliteMetadataStore({ filename });
    try {
      await store.init();
      const page = await store.listSegments(flowId, { timerange: parseTimeRange('_') }, { limit: 10 });
      expect(page.items).toEqual([
        {
          flow_id: flowId,
          object_id: 'm1',
          init_object_id: 'i1',
          timerange: parseTimeRange('[0:0_2:0)'),
          timerange_text: '[0:0_2:0)',
          object_instances: [{ storage_id: 'st', key: 'k/m1' }],
          init_object_instances: [{ storage_id: 'st', key: 'k/i1' }],
          object_timerange_of_object: '[0:0_4:0)',
        },
        {
          flow_id: flowId,
          object_id: 'm2',
          timerange: parseTimeRange('[2:0_4:0)'),
          timerange_text: '[2:0_4:0)',
          object_timerange_of_object: '[2:0_4:0)',
        },
      ]);
      const versions = store.database.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
      expect(versions).toEqual(MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await store.close();
    }
  });

  it('copies the registered object, not the segment, when an object is used again', async () => {
    const store = new SqliteMetadataStore({ filename });
    try {
      await store.init();
      const text = '[4:0_6:0)';
      const outcomes = await store.addSegments(
        flowId,
        [{ object_id: 'm1', init_object_id: 'i1', timerange: parseTimeRange(text), timerange_text: text }],
        NOW,
      );
      expect(outcomes.map((o) => o.error)).toEqual([undefined]);
      const page = await store.listSegments(flowId, { timerange: parseTimeRange(text) }, { limit: 10 });
      expect(page.items).toHaveLength(1);
      expect(page.items[0]).toMatchObject({
        object_id: 'm1',
        object_instances: [{ storage_id: 'st', key: 'k/m1' }],
        init_object_instances: [{ storage_id: 'st', key: 'k/i1' }],
        object_timerange_of_object: '[0:0_4:0)',
      });
    } finally {
      await store.close();
    }
  });

  it('reads the window from the segments table alone', async () => {
    const store = new SqliteMetadataStore({ filename });
    try {
      await store.init();
      const plan = store.explainListSegments(flowId, { timerange: parseTimeRange('[0:0_4:0)') });
      expect(plan.filter((line) => /objects|\bo\b|\bio\b/.test(line))).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
