/**
 * `npm run migrate -- --copy-from <file>`: copies an embedded SQLite store into an empty
 * PostgreSQL store, then checks the copy.
 *
 * The copy is row for row, table by table, in one PostgreSQL transaction (all or nothing) read
 * from one SQLite snapshot: every table the SQLite schema holds after its last migration is
 * listed in TABLES with its PostgreSQL column types, and a table or column this module does not
 * know stops the copy before anything is written (a newer SQLite migration must be taught here).
 * Worker leases are not copied: they belong to the processes of the old store.
 *
 * The check compares row counts per table, then what the two stores answer through the
 * MetadataStore port: service info, listings of sources, flows, profiles, webhooks and their
 * delivery positions, deletion requests, the outbox, and for a sample of flows the flow, its
 * segment count and pages of its segments (forwards and backwards), and the objects they name.
 */
import fs from 'node:fs';
import type { Client } from 'pg';
import type Database from 'better-sqlite3';
import type { MetadataStore, Page } from '../../ports/metadata-store';
import { ETERNITY } from '../../domain/timerange';
import { SqliteMetadataStore } from '../sqlite/sqlite-metadata-store';
import { PostgresMetadataStore } from './postgres-metadata-store';
import { createClient, type PostgresConnectionOptions } from './pool';

type PgType = 'text' | 'int8' | 'int4' | 'bool' | 'float8';

interface TableSpec {
  name: string;
  /** Primary key columns: the order rows are read in (keyset pages). */
  key: readonly string[];
  columns: Readonly<Record<string, PgType>>;
  /** How the rows go in, when a plain INSERT does not fit. */
  insert?: 'upsert-webhook-delivery' | 'identity';
}

const TEXT = 'text' as const;

/** In an order that lets each row's references exist first (PostgreSQL has no foreign keys here, but readers may run right after). */
export const TABLES: readonly TableSpec[] = [
  { name: 'settings', key: ['key'], columns: { key: TEXT, value: TEXT } },
  { name: 'sources', key: ['id'], columns: { id: TEXT, format: TEXT, label: TEXT, created: TEXT, updated: TEXT, doc: TEXT } },
  {
    name: 'flows',
    key: ['id'],
    columns: {
      id: TEXT, source_id: TEXT, format: TEXT, codec: TEXT, label: TEXT, profile_id: TEXT, status: TEXT, container: TEXT,
      frame_width: 'float8', frame_height: 'float8', init_segments: 'bool', read_only: 'bool', created: TEXT,
      metadata_updated: TEXT, segments_updated: TEXT, segment_count: 'int8', doc: TEXT,
    },
  },
  {
    name: 'objects',
    key: ['id'],
    columns: {
      id: TEXT, storage_id: TEXT, storage_key: TEXT, allocated_for_flow: TEXT, content_type: TEXT, role: TEXT,
      registered: 'bool', key_frame_count: 'int8', timerange: TEXT, init_object_id: TEXT, first_referenced_by_flow: TEXT,
      get_urls: TEXT, created: TEXT,
    },
  },
  { name: 'object_instances', key: ['object_id', 'storage_id'], columns: { object_id: TEXT, storage_id: TEXT, storage_key: TEXT, created: TEXT } },
  {
    name: 'segments',
    key: ['flow_id', 'end_ns'],
    columns: {
      flow_id: TEXT, end_ns: 'int8', start_ns: 'int8', object_id: TEXT, init_object_id: TEXT, json_head: TEXT,
      object_storage_id: TEXT, object_storage_key: TEXT, object_own_timerange: TEXT, init_storage_id: TEXT, init_storage_key: TEXT,
    },
  },
  { name: 'profiles', key: ['id'], columns: { id: TEXT, label: TEXT, created: TEXT, doc: TEXT } },
  { name: 'deletion_requests', key: ['id'], columns: { id: TEXT, flow_id: TEXT, created: TEXT, expiry: TEXT, doc: TEXT } },
  {
    name: 'outbox',
    key: ['seq'],
    columns: { seq: 'int8', event_type: TEXT, event_timestamp: TEXT, payload: TEXT, flow_id: TEXT, source_id: TEXT, context: TEXT },
  },
  { name: 'outbox_pruned', key: ['id'], columns: { id: 'int4', through_seq: 'int8', before: TEXT } },
  { name: 'gone_event_context', key: ['kind', 'id'], columns: { kind: TEXT, id: TEXT, context: TEXT, gone: TEXT } },
  // After the outbox: inserting a webhook makes its delivery position (a trigger), which the
  // copied position then replaces.
  { name: 'webhooks', key: ['id'], columns: { id: TEXT, url: TEXT, doc: TEXT } },
  {
    name: 'webhook_deliveries',
    key: ['webhook_id'],
    columns: { webhook_id: TEXT, cursor: 'int8', attempts: 'int8', next_attempt_ms: 'int8', last_error: TEXT },
    insert: 'upsert-webhook-delivery',
  },
  { name: 'object_gc_candidates', key: ['object_id'], columns: { object_id: TEXT } },
  {
    name: 'object_deletions',
    key: ['seq'],
    columns: { seq: 'int8', storage_id: TEXT, storage_key: TEXT, queued: TEXT, not_before: TEXT },
    insert: 'identity',
  },
];

/** SQLite tables deliberately left behind, with why. */
export const NOT_COPIED: Readonly<Record<string, string>> = {
  leases: 'worker leases belong to the processes of the old store',
  schema_migrations: 'each store records its own schema versions',
  sqlite_sequence: "SQLite's AUTOINCREMENT bookkeeping",
};

const BATCH = 2000;

export class CopyRefused extends Error {}

export interface TableCount {
  table: string;
  source: number;
  target: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface CopyReport {
  counts: TableCount[];
  checks: Check[];
  ok: boolean;
}

export interface CopyOptions {
  /** The SQLite file (tams.db) of the embedded store; it must exist. */
  sqliteFile: string;
  target: PostgresConnectionOptions;
  /** Flows whose segments are compared page by page (default 20, spread over the flows by id). */
  sampleFlows?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** What better-sqlite3 reads with safeIntegers: integers as BigInt. */
type SqliteValue = bigint | number | string | Buffer | null;

/** A SQLite value as the PostgreSQL array element of `type` (SQLite columns are loosely typed). */
function pgValue(value: SqliteValue, type: PgType): string | number | boolean | null {
  if (value === null) return null;
  if (Buffer.isBuffer(value)) throw new CopyRefused(`a BLOB where PostgreSQL expects ${type}`);
  switch (type) {
    case 'text':
    case 'int8':
    case 'int4':
      return typeof value === 'string' ? value : value.toString();
    case 'bool':
      return typeof value === 'string' ? value !== '0' && value !== '' : value !== 0 && value !== 0n;
    case 'float8':
      return Number(value);
  }
}

/** What the SQLite file holds that this copy does not know about, or [] when it knows it all. */
function unknownSchema(db: Database.Database): string[] {
  const problems: string[] = [];
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]);
  const specs = new Map(TABLES.map((t) => [t.name, t]));
  for (const name of tables) {
    if (NOT_COPIED[name] !== undefined) continue;
    const spec = specs.get(name);
    if (spec === undefined) {
      problems.push(`table ${name}`);
      continue;
    }
    const columns = (db.pragma(`table_info(${quote(name)})`) as { name: string }[]).map((c) => c.name);
    for (const column of columns) if (spec.columns[column] === undefined) problems.push(`column ${name}.${column}`);
    for (const column of Object.keys(spec.columns)) if (!columns.includes(column)) problems.push(`missing column ${name}.${column}`);
  }
  for (const spec of TABLES) if (!tables.includes(spec.name)) problems.push(`missing table ${spec.name}`);
  return problems;
}

/** The first table of the target holding a row (its outbox counter moved counts too), or undefined when it is empty. */
async function firstNonEmpty(client: Client): Promise<string | undefined> {
  for (const spec of TABLES) {
    const { rows } = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quote(spec.name)}) AS any`);
    if (rows[0]?.any === true) return spec.name;
  }
  const counter = await client.query<{ seq: bigint | string }>('SELECT seq FROM outbox_counter WHERE id = 1');
  if (BigInt(counter.rows[0]?.seq ?? 0) !== 0n) return 'outbox_counter';
  return undefined;
}

function insertSql(spec: TableSpec, columns: readonly string[]): string {
  const list = columns.map(quote).join(', ');
  const arrays = columns.map((c, i) => `$${i + 1}::${spec.columns[c] as PgType}[]`).join(', ');
  const base = `INSERT INTO ${quote(spec.name)} (${list})${spec.insert === 'identity' ? ' OVERRIDING SYSTEM VALUE' : ''} SELECT * FROM unnest(${arrays})`;
  if (spec.insert !== 'upsert-webhook-delivery') return base;
  const updates = columns.filter((c) => c !== 'webhook_id').map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ');
  return `${base} ON CONFLICT (webhook_id) DO UPDATE SET ${updates}`;
}

/** Copies one table in keyset pages of BATCH rows; returns the rows copied. */
async function copyTable(db: Database.Database, client: Client, spec: TableSpec): Promise<number> {
  const columns = Object.keys(spec.columns);
  const select = columns.map(quote).join(', ');
  const keyList = spec.key.map(quote).join(', ');
  const keyIndexes = spec.key.map((k) => columns.indexOf(k));
  const first = db.prepare(`SELECT ${select} FROM ${quote(spec.name)} ORDER BY ${keyList} LIMIT ${BATCH}`).raw(true).safeIntegers(true);
  const after = db
    .prepare(`SELECT ${select} FROM ${quote(spec.name)} WHERE (${keyList}) > (${spec.key.map(() => '?').join(', ')}) ORDER BY ${keyList} LIMIT ${BATCH}`)
    .raw(true)
    .safeIntegers(true);
  const sql = insertSql(spec, columns);
  let copied = 0;
  let last: SqliteValue[] | undefined;
  for (;;) {
    const rows = (last === undefined ? first.all() : after.all(...last)) as SqliteValue[][];
    if (rows.length === 0) break;
    const arrays = columns.map((column, i) => rows.map((row) => pgValue(row[i] ?? null, spec.columns[column] as PgType)));
    await client.query(sql, arrays);
    copied += rows.length;
    const tail = rows[rows.length - 1] as SqliteValue[];
    last = keyIndexes.map((i) => tail[i] ?? null);
    if (rows.length < BATCH) break;
  }
  return copied;
}

async function counts(db: Database.Database, client: Client): Promise<TableCount[]> {
  const result: TableCount[] = [];
  for (const spec of TABLES) {
    const source = Number(db.prepare(`SELECT count(*) FROM ${quote(spec.name)}`).pluck().get());
    const { rows } = await client.query<{ n: bigint | string }>(`SELECT count(*) AS n FROM ${quote(spec.name)}`);
    result.push({ table: spec.name, source, target: Number(rows[0]?.n ?? 0) });
  }
  return result;
}

function json(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** Where two JSON texts first differ, shortly. */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 40);
  return `SQLite …${a.slice(from, i + 40)}… PostgreSQL …${b.slice(from, i + 40)}…`;
}

class Comparison {
  readonly checks: Check[] = [];

  constructor(
    private readonly source: MetadataStore,
    private readonly target: MetadataStore,
  ) {}

  async same(name: string, read: (store: MetadataStore) => Promise<unknown>): Promise<void> {
    const [a, b] = [json(await read(this.source)), json(await read(this.target))];
    this.checks.push(a === b ? { name, ok: true } : { name, ok: false, detail: firstDifference(a, b) });
  }

  /** Up to `pages` pages, each store followed by its own cursor: items and the presence of a next page must agree. */
  async samePages<T>(name: string, pages: number, list: (store: MetadataStore, after: unknown) => Promise<Page<T>>): Promise<void> {
    let afterA: unknown;
    let afterB: unknown;
    for (let n = 1; n <= pages; n++) {
      const [a, b] = [await list(this.source, afterA), await list(this.target, afterB)];
      const [ja, jb] = [json(a.items), json(b.items)];
      if (ja !== jb || (a.next === undefined) !== (b.next === undefined)) {
        this.checks.push({ name, ok: false, detail: `page ${n}: ${ja === jb ? 'one store has a next page, the other not' : firstDifference(ja, jb)}` });
        return;
      }
      if (a.next === undefined) break;
      [afterA, afterB] = [a.next, b.next];
    }
    this.checks.push({ name, ok: true });
  }
}

/** Ids spread evenly over the sorted list, at most `count`. */
function spread(ids: readonly string[], count: number): string[] {
  if (ids.length <= count) return [...ids];
  return Array.from({ length: count }, (_, i) => ids[Math.floor((i * ids.length) / count)] as string);
}

/** What the two stores answer through the port, compared (flows sampled from the SQLite file `db` of `source`). */
export async function compareStores(db: Database.Database, source: MetadataStore, target: MetadataStore, sampleFlows: number): Promise<Check[]> {
  const c = new Comparison(source, target);
  const PAGE = { limit: 100 };
  await c.same('service info', (s) => s.getServiceInfo());
  await c.samePages('sources (first 10 pages of 100)', 10, (s, after) => s.listSources({}, { ...PAGE, after }));
  await c.samePages('flows (first 10 pages of 100)', 10, (s, after) => s.listFlows({}, { ...PAGE, after }));
  await c.samePages('profiles', 10, (s, after) => s.listProfiles({}, { ...PAGE, after }));
  await c.samePages('webhooks', 10, (s, after) => s.listWebhooks({}, { ...PAGE, after }));
  // `revision` is each store's own opaque token: left out.
  await c.same('webhook delivery positions', async (s) =>
    (await s.listWebhookDeliveries())
      .map(({ webhook, cursor, attempts, next_attempt_ms, last_error }) => ({ webhook, cursor, attempts, next_attempt_ms, last_error }))
      .sort((x, y) => (x.webhook.id < y.webhook.id ? -1 : 1)),
  );
  await c.samePages('deletion requests', 10, (s, after) => s.listDeletionRequests({ ...PAGE, after }));
  await c.same('last outbox seq', (s) => s.lastEventSeq());
  await c.same('outbox pruned', (s) => s.outboxPruned());
  await c.same('first 100 outbox events', (s) => s.readEvents(0, 100));
  const last = await source.lastEventSeq();
  await c.same('last 100 outbox events', (s) => s.readEvents(Math.max(0, last - 100), 100));
  await c.same('storage backends in use', async (s) => (await s.storageIdsInUse()).sort());
  const flowIds = spread(db.prepare('SELECT id FROM flows ORDER BY id').pluck().all() as string[], sampleFlows);
  for (const id of flowIds) {
    await c.same(`flow ${id}`, (s) => s.getFlow(id));
    await c.same(`flow ${id}: segment count`, (s) => s.countSegments(id));
    await c.samePages(`flow ${id}: segments (first 3 pages of 100)`, 3, (s, after) => s.listSegments(id, { timerange: ETERNITY }, { ...PAGE, after }));
    await c.samePages(`flow ${id}: segments backwards (first page)`, 1, (s, after) => s.listSegments(id, { timerange: ETERNITY, reverse: true }, { ...PAGE, after }));
    const objectIds = db.prepare('SELECT DISTINCT object_id FROM segments WHERE flow_id = ? ORDER BY end_ns LIMIT 20').pluck().all(id) as string[];
    if (objectIds.length > 0) await c.same(`flow ${id}: objects of its first segments`, (s) => s.getObjects(objectIds));
  }
  return c.checks;
}

/**
 * Copies the SQLite store at `options.sqliteFile` into the (migrated, empty) PostgreSQL store of
 * `options.target`, then compares them. Throws CopyRefused before writing anything when the
 * target holds data or the SQLite schema has something this copy does not know.
 */
export async function copyFromSqlite(options: CopyOptions): Promise<CopyReport> {
  const log = options.log ?? (() => undefined);
  if (!fs.existsSync(options.sqliteFile)) throw new CopyRefused(`${options.sqliteFile} does not exist`);
  // Opening brings the file to the current SQLite schema, as a gateway starting on it would.
  const source = new SqliteMetadataStore({ filename: options.sqliteFile });
  await source.init();
  const target = new PostgresMetadataStore(options.target);
  const client = createClient(options.target);
  client.on('error', () => undefined);
  try {
    await target.init();
    await client.connect();
    const db = source.database;
    const unknown = unknownSchema(db);
    if (unknown.length > 0) throw new CopyRefused(`the SQLite store has what this copy does not know: ${unknown.join(', ')}`);
    // One snapshot of the source (a gateway still writing to it would not tear the copy).
    db.exec('BEGIN');
    try {
      await client.query('BEGIN');
      try {
        // Two copies at once into one target: the second waits, then finds it not empty.
        await client.query("SELECT pg_advisory_xact_lock(hashtextextended('tams-copy-from-sqlite', 0))");
        const busy = await firstNonEmpty(client);
        if (busy !== undefined) throw new CopyRefused(`the PostgreSQL store is not empty (table ${busy} has rows): copy into a new database or schema (TAMS_PG_SCHEMA)`);
        for (const spec of TABLES) {
          const t0 = Date.now();
          const n = await copyTable(db, client, spec);
          log(`  ${spec.name}: ${n} rows (${Date.now() - t0} ms)`);
        }
        // Seqs continue after the copied (or pruned) events; queued deletions after the copied ones.
        await client.query(`UPDATE outbox_counter SET seq = greatest(
            (SELECT coalesce(max(seq), 0) FROM outbox), (SELECT coalesce(max(through_seq), 0) FROM outbox_pruned)) WHERE id = 1`);
        await client.query(`SELECT setval(pg_get_serial_sequence('object_deletions', 'seq'),
            (SELECT coalesce(max(seq), 0) + 1 FROM object_deletions), false)`);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      db.exec('COMMIT');
    }
    const tableCounts = await counts(db, client);
    const checks: Check[] = tableCounts.map((t) => ({ name: `rows in ${t.table}`, ok: t.source === t.target, ...(t.source === t.target ? {} : { detail: `SQLite ${t.source}, PostgreSQL ${t.target}` }) }));
    checks.push(...(await compareStores(db, source, target, options.sampleFlows ?? 20)));
    return { counts: tableCounts, checks, ok: checks.every((c) => c.ok) };
  } finally {
    await client.end().catch(() => undefined);
    await target.close();
    await source.close();
  }
}
