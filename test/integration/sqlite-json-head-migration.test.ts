/**
 * Migration 4 gives every segment row its `json_head` (the segment's JSON up to its closing
 * brace) in place of its timerange text and optional fields; REST listings write it out as it
 * is, records are read back from it. A database written at version 3 must come
 * out of the migration with heads equal to what the store writes for the same segments today,
 * for every kind of stored text: quotes, backslashes, control characters and non-ASCII in ids,
 * optional fields, and uncontrolled get_urls (which listings keep apart).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations';
import { jsonHeadParts, segmentJsonTail } from '../../src/adapters/sql-common/rows';
import { segmentJsonHeadSql } from '../../src/adapters/sqlite/rows';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { addSegments } from '../contract/contract-fixtures';
import { parseTimeRange } from '../../src/domain/timerange';

const NOW = '2024-01-01T00:00:00.000Z';
const flowId = 'c0ffee00-0000-4000-8000-000000000001';

/** [object_id, timerange, extra] as version 3 stored them. */
const ROWS: [string, string, string | null][] = [
  ['plain', '[0:0_1:0)', null],
  ['quoted "id" \\ with\nnewline\u0001', '[1:0_2:0)', '{"key_frame_count":3}'],
  ['non-ascii é 日本 \u2028 \u007f', '[2:0_3:0]', '{"ts_offset":"0:5","object_timerange":"[2:0_4:0)","sample_count":25}'],
  ['with-urls', '(3:0_4:0)', '{"key_frame_count":1,"get_urls":[{"url":"https://elsewhere.example/a?b=\\"c\\"","label":"e \\\\ é"}]}'],
  ['only-urls', '[4:0_5:0)', '{"get_urls":[{"url":"https://elsewhere.example/b","label":"b"}]}'],
  ['controls \t \b \f \r \u001e end', '[5:0_6:0)', '{}'],
  // UTF-8 storage does not keep a lone surrogate as it came: the head must say what the column holds.
  ['lone \ud800 surrogate', '[6:0_7:0)', '{"get_urls":[{"url":"https://elsewhere.example/l","label":"l"}]}'],
];

let dir: string;
let filename: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tams-sqlite-json-head-'));
  filename = join(dir, 'v3.db');
  const db = new Database(filename);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)');
  MIGRATIONS.slice(0, 3).forEach((sql, i) => {
    db.exec(sql);
    db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (?, ?)').run(i + 1, NOW);
  });
  const flow = { id: flowId, source_id: 'c0ffee00-0000-4000-8000-0000000000ff', format: 'urn:x-nmos:format:data', created: NOW };
  db.prepare('INSERT INTO flows (id, source_id, format, created, doc) VALUES (?, ?, ?, ?, ?)').run(flowId, flow.source_id, flow.format, NOW, JSON.stringify(flow));
  const insert = db.prepare('INSERT INTO segments (flow_id, end_ns, start_ns, timerange_text, object_id, extra) VALUES (?, ?, ?, ?, ?, ?)');
  ROWS.forEach(([objectId, text, extra], i) => insert.run(flowId, BigInt(i + 1) * 1_000_000_000n, BigInt(i) * 1_000_000_000n, text, objectId, extra));
  db.close();
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('migration 4: segment JSON heads', () => {
  it('fills each existing row with the head the store writes for it, in place of timerange_text and extra', async () => {
    const store = new SqliteMetadataStore({ filename });
    // The same segments written today, through the store (get_urls as registered).
    const fresh = new SqliteMetadataStore({ filename: ':memory:' });
    try {
      await store.init();
      await fresh.init();
      await fresh.putFlow({ id: flowId, source_id: 'c0ffee00-0000-4000-8000-0000000000ff', format: 'urn:x-nmos:format:data', container: 'application/json' }, NOW);
      const outcomes = await addSegments(fresh, 
        flowId,
        ROWS.map(([objectId, text, extra]) => ({
          object_id: objectId,
          timerange: parseTimeRange(text),
          timerange_text: text,
          ...(extra === null ? {} : (JSON.parse(extra) as object)),
        })),
        NOW,
      );
      expect(outcomes.map((o) => o.error)).toEqual(ROWS.map(() => undefined));
      const headsOf = (s: SqliteMetadataStore): unknown[] => s.database.prepare('SELECT json_head FROM segments ORDER BY end_ns').pluck().all();
      const heads = headsOf(store);
      expect(heads).toHaveLength(ROWS.length);
      expect(heads).toEqual(headsOf(fresh));
      // What the head says of the object is what its column holds (a lone surrogate included,
      // which UTF-8 storage does not keep as it came).
      const ids = store.database.prepare('SELECT object_id FROM segments ORDER BY end_ns').pluck().all();
      expect(heads.map((h) => jsonHeadParts(h as string).objectId)).toEqual(ids);
      expect(ids[ids.length - 1]).not.toBe(ROWS[ROWS.length - 1]![0]);
      const columns = store.database.prepare("SELECT name FROM pragma_table_info('segments')").pluck().all();
      expect(columns).toContain('json_head');
      expect(columns).not.toContain('extra');
      expect(columns).not.toContain('timerange_text');
    } finally {
      await store.close();
      await fresh.close();
    }
  });

  it('reads back what a head was written from, and refuses a text that is not one', () => {
    const db = new Database(':memory:');
    try {
      for (const [objectId, text, extra] of ROWS.slice(0, -1)) {
        const head = db.prepare(`SELECT ${segmentJsonHeadSql('?', '?')}`).pluck().get(objectId, segmentJsonTail(text, extra)) as string;
        expect(jsonHeadParts(head)).toEqual({ objectId, timerangeText: text, optional: extra === '{}' ? null : extra });
      }
    } finally {
      db.close();
    }
    expect(() => jsonHeadParts('')).toThrow(/json_head/);
    expect(() => jsonHeadParts(',"get_urls":[]')).toThrow(/json_head/);
  });

  it('lists the migrated rows as texts equal to their records', async () => {
    const store = new SqliteMetadataStore({ filename });
    try {
      await store.init();
      const query = { timerange: parseTimeRange('_') };
      const records = await store.listSegments(flowId, query, { limit: 10 });
      const texts = await store.listSegmentTexts(flowId, query, { limit: 10 });
      expect(texts.items.map((t) => JSON.parse(`${t.json_head}}`) as unknown)).toEqual(
        records.items.map((r) => {
          const { flow_id: _f, timerange: _t, timerange_text, get_urls: _u, object_timerange_of_object: _o, ...fields } = r;
          return { ...fields, timerange: timerange_text };
        }),
      );
      expect(texts.items.map((t) => t.get_urls)).toEqual(records.items.map((r) => r.get_urls));
      expect(texts.items.map((t) => t.has_object_timerange)).toEqual(records.items.map((r) => r.object_timerange !== undefined));
    } finally {
      await store.close();
    }
  });
});
