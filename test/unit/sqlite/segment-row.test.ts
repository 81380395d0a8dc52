/**
 * A segment window row comes out of SQLite as one text (segmentRowSql, read with `pluck`) and
 * is taken apart by readSegmentRow. These run the real expression in SQLite, so what the
 * statement writes and what the reader expects cannot drift apart.
 */
import Database from 'better-sqlite3';
import { fitsSegmentRow, type SegmentRow } from '../../../src/adapters/sql-common/rows';
import { readSegmentRow, segmentRowSql } from '../../../src/adapters/sqlite/rows';
import { SqliteMetadataStore } from '../../../src/adapters/sqlite/sqlite-metadata-store';

interface Columns {
  end_ns: bigint;
  start_ns: bigint;
  object_storage_id: string | null;
  object_storage_key: string | null;
  object_own_timerange: string | null;
  json_head: string;
  init_object_id: string | null;
}

const db = new Database(':memory:');
db.exec(`CREATE TABLE segments (end_ns INTEGER, start_ns INTEGER, object_storage_id TEXT, object_storage_key TEXT,
  object_own_timerange TEXT, json_head TEXT, init_object_id TEXT)`);

function roundTrip(columns: Columns, withObjectTimerange: boolean): SegmentRow {
  db.exec('DELETE FROM segments');
  db.prepare(`INSERT INTO segments VALUES (@end_ns, @start_ns, @object_storage_id, @object_storage_key, @object_own_timerange,
    @json_head, @init_object_id)`).run(columns);
  const text = db.prepare(`SELECT ${segmentRowSql(withObjectTimerange)} FROM segments s`).pluck().get() as string;
  return readSegmentRow(text);
}

const full: Columns = {
  end_ns: 4_000_000_000n,
  start_ns: 2_000_000_000n,
  object_storage_id: '6d7f7a8e-0000-4000-8000-000000000001',
  object_storage_key: 'ab/cd/6d7f7a8e-0000-4000-8000-000000000002',
  object_own_timerange: '[0:0_4:0)',
  json_head: '{"object_id":"o \\u001e \\"q\\"","timerange":"[2:0_4:0)","key_frame_count":1',
  init_object_id: 'init \u001e "x" \u001e',
};

describe('segment window rows as one text', () => {
  it('gives back every field, the init object id read to the end whatever it holds', () => {
    expect(roundTrip(full, true)).toEqual({
      endNs: '4000000000',
      startNs: '2000000000',
      storageId: full.object_storage_id,
      storageKey: full.object_storage_key,
      objectTimerange: '[0:0_4:0)',
      head: full.json_head,
      initObjectId: full.init_object_id,
    });
  });

  it('gives null for absent fields, and no object timerange unless the statement asks for it', () => {
    const bare: Columns = { ...full, object_storage_id: null, object_storage_key: null, object_own_timerange: null, init_object_id: null };
    expect(roundTrip(bare, true)).toEqual({
      endNs: '4000000000',
      startNs: '2000000000',
      storageId: null,
      storageKey: null,
      objectTimerange: null,
      head: full.json_head,
      initObjectId: null,
    });
    expect(roundTrip(full, false).objectTimerange).toBeNull();
    expect(roundTrip({ ...full, init_object_id: '' }, false).initObjectId).toBe('');
  });

  it('keeps unbounded and negative bounds exact', () => {
    const row = roundTrip({ ...full, end_ns: 9223372036854775807n, start_ns: -9223372036854775808n }, false);
    expect(BigInt(row.endNs)).toBe(9223372036854775807n);
    expect(BigInt(row.startNs)).toBe(-9223372036854775808n);
  });

  it('refuses to allocate an object whose storage id or key could not go into a row', async () => {
    expect(fitsSegmentRow('ab/cd/ef')).toBe(true);
    expect(fitsSegmentRow('ab\u001ecd')).toBe(false);
    const store = new SqliteMetadataStore({ filename: ':memory:' });
    await store.init();
    try {
      const flowId = '6d7f7a8e-0000-4000-8000-0000000000aa';
      await store.putFlow({ id: flowId, source_id: '6d7f7a8e-0000-4000-8000-0000000000bb', format: 'urn:x-nmos:format:data', container: 'application/json' }, '2026-01-01T00:00:00Z');
      await expect(store.allocateObjects(flowId, [{ id: 'a', storage_id: 'local', key: 'k/a' }, { id: 'b', storage_id: 'local', key: 'k\u001eb' }], '2026-01-01T00:00:00Z')).rejects.toThrow(/U\+001E/);
      // Nothing of the batch was stored.
      expect(store.database.prepare('SELECT count(*) FROM objects').pluck().get()).toBe(0);
    } finally {
      await store.close();
    }
  });
});
