/**
 * PostgreSQL data for the `-pg` bench scenarios and `two-replicas` (bench/run.ts): gateway
 * environments over a schema of BENCH_PG_URL, one flow of N seeded segments per schema
 * (src/adapters/postgres/seed.ts), and the EXPLAIN of the window query.
 *
 * The big flow lives in a dedicated schema (bench_<N>, e.g. bench_10m) that later runs reuse: a
 * schema whose bench flow already holds N segments is used as it is; one holding fewer (an
 * interrupted seed: every chunk commits on its own) gets the rest appended. Small flows and the
 * ingest schema are made afresh each run and dropped after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { createGateway } from '../src/main';
import { seedPostgresSegments } from '../src/adapters/postgres/seed';
import { windowQuery } from '../src/adapters/postgres/segment-window';
import { loadOrCreateEmbeddedKey, EMBEDDED_KEY_FILE } from '../src/auth/embedded-keys';
import type { Flow } from '../src/domain/entities';
import { range } from '../src/domain/timerange';

export const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The bench flow of every seeded schema, and the local backend its objects are on (the data dir's storage-backend-id). */
const BENCH_FLOW_ID = '0b5e0000-be4c-4000-8000-00000000f10a';
const BENCH_SOURCE_ID = '0b5e0000-be4c-4000-8000-00000000501c';
const BENCH_STORAGE_ID = '0b5e0000-be4c-4000-8000-0000000057a6';

export interface PgSegmentData {
  dataDir: string;
  flowId: string;
  segments: number;
  schema: string;
  /** The gateway's environment: TAMS_STORE=postgres over `schema`, with the replica secrets. */
  env: Record<string, string>;
  /** Seconds spent seeding in this run (0: the seed was there). */
  seedSeconds: number;
}

/** `bench_10m` for 10,000,000, `bench_10k` for 10,000, else `bench_<n>`. */
export function benchSchema(segments: number): string {
  if (segments % 1_000_000 === 0) return `bench_${segments / 1_000_000}m`;
  if (segments % 1000 === 0) return `bench_${segments / 1000}k`;
  return `bench_${segments}`;
}

async function withClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withClient((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/**
 * A data dir for gateways on `schema`: the local backend's id fixed to the seeded objects' one,
 * media declared shared (every replica of the bench runs on this host), one embedded key and
 * one TAMS_SECRET for all of them, migrated at start.
 */
export function pgDataDir(schema: string): { dataDir: string; env: Record<string, string> } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-pg-'));
  fs.writeFileSync(path.join(dataDir, 'storage-backend-id'), BENCH_STORAGE_ID);
  loadOrCreateEmbeddedKey(dataDir);
  const env = {
    TAMS_STORE: 'postgres',
    DATABASE_URL: PG_URL,
    TAMS_PG_SCHEMA: schema,
    TAMS_MIGRATE_ON_START: 'true',
    TAMS_SECRET: randomBytes(32).toString('base64'),
    TAMS_EMBEDDED_KEY_FILE: path.join(dataDir, EMBEDDED_KEY_FILE),
    TAMS_LOCAL_MEDIA_SHARED: 'true',
  };
  return { dataDir, env };
}

/**
 * The bench flow of `segments` segments of `segmentNs` in `schema`: reused when complete,
 * completed when short, made when missing (`fresh`: the schema is dropped first). Seeding
 * progress is printed every 10%.
 */
export async function preparePgSegmentData(schema: string, segments: number, segmentNs: bigint, fresh: boolean): Promise<PgSegmentData> {
  if (fresh) await dropSchema(schema);
  const { dataDir, env } = pgDataDir(schema);
  // A gateway migrates the schema (made when missing) and writes the flow as a client would.
  const gateway = await createGateway(loadConfig({ TAMS_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env }));
  let have: number;
  try {
    const flow = await gateway.store.getFlow(BENCH_FLOW_ID);
    if (flow === undefined) {
      const made: Flow = {
        id: BENCH_FLOW_ID,
        source_id: BENCH_SOURCE_ID,
        label: `bench flow of ${segments} segments`,
        format: 'urn:x-nmos:format:video',
        codec: 'video/h264',
        container: 'video/mp2t',
        essence_parameters: { frame_width: 1920, frame_height: 1080 },
      };
      await gateway.store.putFlow(made, new Date().toISOString());
    }
    have = await withClient(async (c) => {
      const { rows } = await c.query<{ n: string }>(`SELECT segment_count::text AS n FROM "${schema}".flows WHERE id = $1`, [BENCH_FLOW_ID]);
      return Number(rows[0]?.n ?? 0);
    });
  } finally {
    await gateway.close();
  }
  if (have > segments) throw new Error(`PostgreSQL schema ${schema}: the bench flow holds ${have} segments, more than ${segments}: drop the schema (DROP SCHEMA ${schema} CASCADE)`);
  let seedSeconds = 0;
  if (have === segments && segments > 0) {
    process.stdout.write(`  PostgreSQL schema ${schema}: ${segments} segments already seeded (reused)\n`);
  } else if (have < segments) {
    const t0 = Date.now();
    let reported = 0;
    const missing = segments - have;
    await seedPostgresSegments({ connectionString: PG_URL, schema }, BENCH_FLOW_ID, missing, segmentNs, {
      storage: { id: BENCH_STORAGE_ID, keyPrefix: '' },
      onProgress: (done) => {
        if (missing >= 1_000_000 && done - reported >= missing / 10) {
          reported = done;
          process.stdout.write(`    ${have + done} of ${segments} segments after ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
        }
      },
    });
    // What autovacuum does to an insert-only table some time after (PostgreSQL 13+ vacuums after
    // inserts too): fresh planner statistics, and the visibility map set, so index-only probes
    // (the window's upper bound) need not visit the heap.
    await withClient((c) => c.query(`VACUUM (ANALYZE) "${schema}".segments, "${schema}".objects, "${schema}".object_instances, "${schema}".flows`));
    seedSeconds = (Date.now() - t0) / 1000;
    process.stdout.write(
      `  seeded ${missing} segments into PostgreSQL schema ${schema}${have > 0 ? ` (after the ${have} there)` : ''} in ${seedSeconds.toFixed(1)} s (${(missing / seedSeconds).toFixed(0)}/s, VACUUM (ANALYZE) included)\n`,
    );
  }
  return { dataDir, flowId: BENCH_FLOW_ID, segments, schema, env, seedSeconds };
}

/** Segments of the bench flow in `schema` (a count of the rows, not the flow's counter). */
export async function countSegments(schema: string, flowId: string): Promise<number> {
  return withClient(async (c) => {
    const { rows } = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".segments WHERE flow_id = $1`, [flowId]);
    return Number(rows[0]?.n ?? 0);
  });
}

/** Size of the schema's segments table with its indexes, for the record. */
export async function segmentsTableSize(schema: string): Promise<string> {
  return withClient(async (c) => {
    const { rows } = await c.query<{ size: string }>(`SELECT pg_size_pretty(pg_total_relation_size('"${schema}".segments')) AS size`);
    return rows[0]?.size ?? '?';
  });
}

/** The server's shared_buffers: the window query's p99 on a large flow depends on it (docs/postgres.md, Sizing). */
export async function sharedBuffers(): Promise<string> {
  return withClient(async (c) => {
    const { rows } = await c.query<{ shared_buffers: string }>('SHOW shared_buffers');
    return rows[0]?.shared_buffers ?? '?';
  });
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statement listSegments runs for the second page of a
 * 60-segment window (limit 30, so 31 rows asked for; the keyset cursor after the page's 30th
 * segment), as a prepared statement run 6 times first (the plan a gateway's connection uses
 * once the server may choose a generic plan). Returns the SQL, its parameters and the plan.
 */
export async function explainWindow(data: PgSegmentData, segmentNs: bigint): Promise<string> {
  const first = BigInt(Math.floor(data.segments / 2));
  const start = first * segmentNs;
  const end = start + 60n * segmentNs;
  const after = start + 30n * segmentNs; // the end of the first page's last segment: the cursor
  const { sql, params } = windowQuery(data.flowId, { timerange: range(start, end), object_timerange: true }, start, end, 31, after);
  return withClient(async (c) => {
    await c.query(`SET search_path = "${data.schema}"`);
    await c.query(`PREPARE bench_window AS ${sql.text}`);
    const args = params.map((p) => (typeof p === 'bigint' ? p.toString() : `'${String(p)}'`)).join(', ');
    for (let i = 0; i < 6; i++) await c.query(`EXECUTE bench_window(${args})`);
    const { rows } = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_window(${args})`);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    return `${sql.text}\n  parameters: ${args}\n${plan}`;
  });
}
