/**
 * Which schema version a PostgreSQL store is at, read without changing anything: a gateway
 * started with TAMS_MIGRATE_ON_START=false checks it before opening the store, so an
 * unmigrated (or newer) schema stops the start with a clear message instead of failing queries.
 */
import { MIGRATIONS } from './migrations';
import { createClient, type PostgresConnectionOptions } from './pool';
import { toStoreError } from './errors';

export interface SchemaVersion {
  /** The newest version applied (0: none, or no schema at all). */
  applied: number;
  /** The newest version this code knows. */
  latest: number;
}

export async function postgresSchemaVersion(options: PostgresConnectionOptions): Promise<SchemaVersion> {
  const client = createClient(options);
  // A dropped connection is reported through the query that fails, not as a crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
    // search_path names the schema (when one is set): to_regclass finds the table only there.
    const table = await client.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
    let applied = 0;
    if (table.rows[0]?.t != null) {
      const row = await client.query<{ v: number }>('SELECT coalesce(max(version), 0)::integer AS v FROM schema_migrations');
      applied = Number(row.rows[0]?.v ?? 0);
    }
    return { applied, latest: MIGRATIONS.length };
  } catch (err) {
    throw toStoreError(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}
