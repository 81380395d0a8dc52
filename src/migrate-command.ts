/**
 * `npm run migrate [-- --copy-from FILE]` (cli.ts): brings the selected metadata store to this
 * gateway's schema and exits; with --copy-from, then copies an embedded SQLite store into the
 * (empty) PostgreSQL one and prints the check of the copy.
 */
import path from 'node:path';
import { ConfigError, loadConfig } from './config';
import { describeStore, openMetadataStore, postgresOptions } from './metadata-stores';
import { copyFromSqlite, CopyRefused } from './adapters/postgres/copy-from-sqlite';

export interface MigrateIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
}

/** Resolves to the exit code: 0 done, 1 refused or a difference found (ConfigError is thrown: exit 2). */
export async function migrate(copyFrom: string | undefined, io: MigrateIo): Promise<number> {
  // Migrating serves nothing: the replica-only requirements (shared secret, key, media) do not apply.
  const config = loadConfig(io.env, { replica: false });
  if (copyFrom !== undefined && config.postgres === undefined) {
    throw new ConfigError('TAMS_STORE', '--copy-from copies into PostgreSQL: set TAMS_STORE=postgres and DATABASE_URL (the target)');
  }
  const opened = await openMetadataStore(config, { migrate: true });
  await opened.store.close();
  const where = describeStore(config);
  if (opened.version === undefined) io.stdout(`${where}: at the current schema\n`);
  else if (opened.migratedFrom === opened.version) io.stdout(`${where}: schema version ${opened.version}, nothing to apply\n`);
  else io.stdout(`${where}: schema version ${opened.migratedFrom} -> ${opened.version}\n`);
  if (copyFrom === undefined || config.postgres === undefined) return 0;

  const file = path.resolve(copyFrom);
  io.stdout(`copying ${file} into ${where}\n`);
  const t0 = Date.now();
  let report;
  try {
    report = await copyFromSqlite({ sqliteFile: file, target: postgresOptions(config.postgres), log: (line) => io.stdout(`${line}\n`) });
  } catch (err) {
    if (err instanceof CopyRefused) {
      io.stderr(`copy refused: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const failed = report.checks.filter((c) => !c.ok);
  const rows = report.counts.reduce((sum, t) => sum + t.source, 0);
  io.stdout(`copied ${rows} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${report.checks.length - failed.length} of ${report.checks.length} checks equal (row counts per table, listings through the store port)\n`);
  for (const check of failed) io.stdout(`  DIFFERENT: ${check.name}${check.detail === undefined ? '' : `: ${check.detail}`}\n`);
  if (!report.ok) {
    io.stderr('the copy differs from its source (see above): do not start gateways on it; drop the target schema and copy again\n');
    return 1;
  }
  return 0;
}
