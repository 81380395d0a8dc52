/**
 * The metadata store TAMS_STORE selects, opened for the gateway (main.ts) and for the operator
 * commands (cli.ts): the embedded SQLite file in TAMS_DATA_DIR, PostgreSQL at DATABASE_URL, or
 * VAST Database at VAST_ENDPOINT.
 * Everything past this module sees the MetadataStore port only.
 */
import path from 'node:path';
import { ConfigError, type Config, type PostgresConfig } from './config';
import type { MetadataStore } from './ports/metadata-store';
import { SqliteMetadataStore } from './adapters/sqlite/sqlite-metadata-store';
import { PostgresMetadataStore } from './adapters/postgres/postgres-metadata-store';
import { postgresSchemaVersion } from './adapters/postgres/schema-version';
import type { PostgresConnectionOptions } from './adapters/postgres/pool';
import { createVastMetadataStore } from './adapters/vast/open-vast-store';

export type StoreSelection = Pick<Config, 'store' | 'postgres' | 'migrateOnStart' | 'dataDir'> & Partial<Pick<Config, 'vast'>>;

/** The SQLite file of the embedded store. */
export function sqliteFile(dataDir: string): string {
  return path.join(dataDir, 'tams.db');
}

export function postgresOptions(pg: PostgresConfig): PostgresConnectionOptions {
  return {
    connectionString: pg.url,
    poolSize: pg.poolSize,
    connectTimeoutMs: pg.connectTimeoutMs,
    statementTimeoutMs: pg.statementTimeoutMs,
    ...(pg.schema === undefined ? {} : { schema: pg.schema }),
  };
}

/** One line saying which store, without secrets (for the start-up banner and the migrate command). */
export function describeStore(config: StoreSelection): string {
  if (config.store === 'vast' && config.vast !== undefined) return `VAST Database ${config.vast.endpoint}, bucket ${config.vast.bucket}, schema ${config.vast.schema}`;
  if (config.store === 'sqlite' || config.postgres === undefined) return `SQLite ${sqliteFile(config.dataDir)}`;
  const pg = config.postgres;
  return `PostgreSQL ${pg.redactedUrl}${pg.schema === undefined ? '' : `, schema ${pg.schema}`} (pool ${pg.poolSize})`;
}

/** A failure to reach the store at start, said with where it is (never the URL's credentials). */
function unreachable(config: StoreSelection, err: unknown): Error {
  return new Error(`${describeStore(config)}: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * Checks the PostgreSQL schema's version before the store is opened: a schema newer than this
 * code stops the start, and so does one behind it unless `migrate` (then init() migrates it).
 */
async function checkPostgresSchema(config: StoreSelection, pg: PostgresConfig, migrate: boolean): Promise<{ applied: number; latest: number }> {
  let version: { applied: number; latest: number };
  try {
    version = await postgresSchemaVersion(postgresOptions(pg));
  } catch (err) {
    throw unreachable(config, err);
  }
  const where = `${pg.redactedUrl}${pg.schema === undefined ? '' : ` (schema ${pg.schema})`}`;
  if (version.applied > version.latest) {
    throw new ConfigError('DATABASE_URL', `the PostgreSQL schema at ${where} is at version ${version.applied}, newer than this gateway knows (${version.latest}): run a gateway at least as new as the one that migrated it`);
  }
  if (version.applied < version.latest && !migrate) {
    throw new ConfigError(
      'TAMS_MIGRATE_ON_START',
      `the PostgreSQL schema at ${where} is at version ${version.applied}, this gateway needs ${version.latest}: run \`npm run migrate\` once with the same environment, or set TAMS_MIGRATE_ON_START=true`,
    );
  }
  return version;
}

export interface OpenedStore {
  store: MetadataStore;
  /** The schema version before this open (PostgreSQL only; SQLite migrates silently). */
  migratedFrom: number | undefined;
  /** The schema version now. */
  version: number | undefined;
}

/**
 * Opens (and initialises) the selected store. `migrate` (default: TAMS_MIGRATE_ON_START) lets
 * a PostgreSQL store be migrated; without it a schema behind this code stops the start.
 */
export async function openMetadataStore(config: StoreSelection, options: { migrate?: boolean } = {}): Promise<OpenedStore> {
  if (config.store === 'vast' && config.vast !== undefined) {
    const vast = config.vast;
    const store = createVastMetadataStore({
      endpoint: vast.endpoint,
      credentials: vast.keys.reveal(),
      bucket: vast.bucket,
      schema: vast.schema,
      region: vast.region,
      requestTimeoutMs: vast.requestTimeoutMs,
      ...(vast.ca === undefined ? {} : { ca: vast.ca }),
    });
    try {
      await store.init();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw unreachable(config, err);
    }
    return { store, migratedFrom: undefined, version: undefined };
  }
  if (config.store === 'sqlite' || config.postgres === undefined) {
    const sqlite = new SqliteMetadataStore({ filename: sqliteFile(config.dataDir) });
    await sqlite.init();
    return { store: sqlite, migratedFrom: undefined, version: undefined };
  }
  const pg = config.postgres;
  const version = await checkPostgresSchema(config, pg, options.migrate ?? config.migrateOnStart);
  const store = new PostgresMetadataStore(postgresOptions(pg));
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw unreachable(config, err);
  }
  return { store, migratedFrom: version.applied, version: version.latest };
}
