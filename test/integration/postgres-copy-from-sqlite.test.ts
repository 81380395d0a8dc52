/**
 * `npm run migrate -- --copy-from <tams.db>` (cli.ts, adapters/postgres/copy-from-sqlite.ts):
 * an embedded store seeded through the MetadataStore port (flows, segments with and without
 * init objects, objects with extra instances, profiles, webhooks with moved delivery cursors and
 * failures, a deletion request, service info, outbox events, pruned events, queued object
 * deletions) is copied into an empty PostgreSQL schema and reads back the same through the port;
 * a second copy into the now non-empty schema is refused with nothing written; a plain migrate
 * run reports the schema version.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { MIGRATIONS } from '../../src/adapters/postgres/migrations';
import { runCli } from '../../src/cli';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { PostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store';
import { compareStores, TABLES } from '../../src/adapters/postgres/copy-from-sqlite';
import type { Flow, NewSegment } from '../../src/domain/entities';
import { parseTimeRange } from '../../src/domain/timerange';
import { ETERNITY } from '../../src/domain/timerange';
import type { MetadataStore } from '../../src/ports/metadata-store';
import { describePostgres, TEST_DATABASE_URL, TestSchemas } from '../support/postgres';

function at(n: number): string {
  return new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();
}

function seg(objectId: string, timerange: string, extra: Partial<NewSegment> = {}): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, ...extra };
}

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string>): Promise<Cli> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    readStdin: async () => '',
    env,
  });
  return { code, stdout, stderr };
}

/** A store with a bit of everything the SQLite schema holds, written through the port. */
async function seed(store: MetadataStore): Promise<{ flowIds: string[] }> {
  await store.setServiceInfo({ name: 'copied store', description: 'before PostgreSQL' });
  const flowIds: string[] = [];
  for (let f = 0; f < 30; f++) {
    const flow: Flow = {
      id: randomUUID(),
      source_id: randomUUID(),
      format: 'urn:x-nmos:format:video',
      codec: 'video/h264',
      label: `flow ${f}`,
      tags: { n: String(f) },
      essence_parameters: { frame_width: 1920, frame_height: 1080, ...(f % 3 === 0 ? { init_segments: true } : {}) },
    };
    await store.putFlow(flow, at(f));
    flowIds.push(flow.id);
    const count = f === 0 ? 450 : 5;
    const objects = Array.from({ length: count }, (_, i) => `${flow.id}-o${i}`);
    const inits = f % 3 === 0 ? [`${flow.id}-init`] : [];
    await store.allocateObjects(flow.id, [...objects, ...inits].map((id) => ({ id, storage_id: 'local-id', key: `k/${id}`, content_type: 'video/mp2t' })), at(f));
    const segments = objects.map((id, i) =>
      seg(id, `[${i}:0_${i + 1}:0)`, { ...(f % 3 === 0 ? { init_object_id: `${flow.id}-init` } : {}), ...(i % 7 === 0 ? { ts_offset: '0:5', key_frame_count: 3 } : {}) }),
    );
    for (let i = 0; i < segments.length; i += 100) {
      const out = await store.addSegments(flow.id, segments.slice(i, i + 100), at(f + 1));
      expect(out.filter((o) => o.error !== undefined)).toEqual([]);
    }
  }
  // An unregistered allocation, an uncontrolled and a second controlled instance.
  await store.allocateObjects(flowIds[1]!, [{ id: 'never-registered', storage_id: 'local-id', key: 'k/never' }], at(40));
  await store.addObjectInstance(`${flowIds[1]!}-o0`, { url: 'https://cdn.example.com/o0', label: 'cdn' });
  await store.addObjectInstance(`${flowIds[1]!}-o1`, { storage_id: 's3-id', key: 'copies/o1' });
  // A removed instance queues its bytes for deletion.
  expect(await store.removeObjectInstance(`${flowIds[1]!}-o1`, { storage_id: 's3-id' }, at(41))).toBeDefined();
  for (let p = 0; p < 3; p++) await store.createProfile({ id: randomUUID(), label: `profile ${p}`, flow_metadata: { format: 'urn:x-nmos:format:video' } });
  const hooks = Array.from({ length: 3 }, (_, i) => ({ id: randomUUID(), url: `https://hook${i}.example.com/`, events: ['flows/updated'], status: 'created' as const }));
  for (const w of hooks) await store.putWebhook(w);
  // Events after the webhooks, then delivery positions that moved and failed.
  await store.updateFlow(flowIds[2]!, (flow) => ({ ...flow, label: 'relabelled' }), at(50));
  await store.deleteFlow(flowIds[29]!, at(51));
  flowIds.pop();
  const start = (await store.getWebhookDelivery(hooks[0]!.id))!.cursor;
  expect(await store.advanceWebhookCursor(hooks[0]!.id, start, start + 1)).toBe(true);
  await store.recordWebhookFailure(hooks[1]!.id, 2, 12345, 'answered 500');
  await store.putDeletionRequest({
    id: randomUUID(),
    flow_id: flowIds[3]!,
    timerange_to_delete: '[0:0_2:0)',
    timerange_remaining: '[1:0_2:0)',
    delete_flow: false,
    status: 'started',
    created: at(60),
    expiry: at(6000),
  });
  // The oldest events pruned: the outbox starts later, and the copy must continue past both.
  expect(await store.pruneEvents(at(0.5), 1)).toBe(1);
  return { flowIds };
}

describePostgres('migrate --copy-from a SQLite store into PostgreSQL', () => {
  const schemas = new TestSchemas();
  let dir: string;
  let sqliteFile: string;
  let flowIds: string[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-copy-'));
    sqliteFile = path.join(dir, 'tams.db');
    const store = new SqliteMetadataStore({ filename: sqliteFile });
    await store.init();
    ({ flowIds } = await seed(store));
    await store.close();
  }, 60_000);

  afterAll(async () => {
    await schemas.dropAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = (schema: string): Record<string, string> => ({
    TAMS_DATA_DIR: dir,
    TAMS_STORE: 'postgres',
    DATABASE_URL: TEST_DATABASE_URL,
    TAMS_PG_SCHEMA: schema,
    TAMS_PG_POOL_SIZE: '2',
  });

  it('copies every table, then finds the two stores equal by counts and through the port; a second copy is refused', async () => {
    const schema = schemas.next();
    const run = await cli(['migrate', '--copy-from', sqliteFile], env(schema));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`schema version 0 -> ${MIGRATIONS.length}`);
    expect(run.stdout).toMatch(/copied \d+ rows in [\d.]+ s; (\d+) of \1 checks equal/);
    expect(run.stdout).not.toContain('DIFFERENT');

    // Every table has rows (the seed covers all of them), and the same number on both sides.
    const client = new Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    await client.connect();
    const sqlite = new SqliteMetadataStore({ filename: sqliteFile });
    await sqlite.init();
    const pg = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 2, schema });
    await pg.init();
    try {
      for (const { name } of TABLES) {
        const source = Number(sqlite.database.prepare(`SELECT count(*) FROM ${name}`).pluck().get());
        const target = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${name}`)).rows[0]!.n);
        expect({ name, target }).toEqual({ name, target: source });
        expect({ name, nonEmpty: source > 0 }).toEqual({ name, nonEmpty: true });
      }
      // Beyond the command's own sampled check: every segment page of the big flow, and what comes next.
      for (const store of [sqlite, pg]) expect(await store.countSegments(flowIds[0]!)).toBe(450);
      const walk = async (store: MetadataStore): Promise<unknown[]> => {
        const items: unknown[] = [];
        let after: unknown;
        do {
          const page = await store.listSegments(flowIds[0]!, { timerange: ETERNITY }, { limit: 100, after });
          items.push(...page.items);
          after = page.next;
        } while (after !== undefined);
        return items;
      };
      expect(await walk(pg)).toEqual(await walk(sqlite));
      // The check can fail: one segment's JSON changed behind the store's back is found.
      await client.query("UPDATE segments SET json_head = replace(json_head, '\"0:5\"', '\"0:6\"') WHERE flow_id = $1 AND end_ns = $2", [flowIds[0]!, '8000000000']);
      const checks = await compareStores(sqlite.database, sqlite, pg, 30);
      expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([`flow ${flowIds[0]!}: segments (first 3 pages of 100)`]);
      await client.query("UPDATE segments SET json_head = replace(json_head, '\"0:6\"', '\"0:5\"') WHERE flow_id = $1 AND end_ns = $2", [flowIds[0]!, '8000000000']);
      expect((await compareStores(sqlite.database, sqlite, pg, 30)).filter((c) => !c.ok)).toEqual([]);
      expect(await pg.getWebhookDelivery((await sqlite.listWebhookDeliveries())[0]!.webhook.id)).toMatchObject({ cursor: expect.any(Number) });
      expect(await pg.pendingObjectDeletions(10)).toEqual(await sqlite.pendingObjectDeletions(10));
      // New events continue after the copied ones.
      const last = await pg.lastEventSeq();
      expect(last).toBe(await sqlite.lastEventSeq());
      await pg.updateFlow(flowIds[4]!, (flow) => ({ ...flow, label: 'after the copy' }), at(100));
      const next = await pg.readEvents(last, 10);
      expect(next.map((e) => e.seq)).toEqual([last + 1]);
      // The copied store still refuses an overlapping segment (the exclusion constraint holds on copied rows).
      const overlap = await pg.addSegments(flowIds[1]!, [seg(`${flowIds[1]!}-o0`, '[0:5_0:6)')], at(101));
      expect(overlap[0]!.error?.code).toBe('segment_overlap');

    } finally {
      await pg.close();
      await sqlite.close();
      await client.end();
    }

    const again = await cli(['migrate', '--copy-from', sqliteFile], env(schema));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/copy refused: the PostgreSQL store is not empty \(table \w+ has rows\)/);
  }, 120_000);

  it('refuses a missing file, --copy-from without TAMS_STORE=postgres, and a plain migrate reports the version', async () => {
    const schema = schemas.next();
    const missing = await cli(['migrate', '--copy-from', path.join(dir, 'nope.db')], env(schema));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
    expect(fs.existsSync(path.join(dir, 'nope.db'))).toBe(false);

    const sqliteOnly = await cli(['migrate', '--copy-from', sqliteFile], { TAMS_DATA_DIR: dir });
    expect(sqliteOnly.code).toBe(2);
    expect(sqliteOnly.stderr).toMatch(/TAMS_STORE: --copy-from copies into PostgreSQL/);

    const plain = await cli(['migrate'], env(schema));
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    expect(plain.stdout).toMatch(new RegExp(`PostgreSQL postgres://127\\.0\\.0\\.1:5432/test, schema \\w+ \\(pool 2\\): schema version ${MIGRATIONS.length}, nothing to apply`));
    const sqlite = await cli(['migrate'], { TAMS_DATA_DIR: dir });
    expect(sqlite).toMatchObject({ code: 0, stderr: '' });
    expect(sqlite.stdout).toContain(`SQLite ${sqliteFile}: at the current schema`);
  }, 60_000);
});
