/**
 * The SQLite database under a gateway's store, for benches and tests that read or write its
 * rows directly (the gateway itself only knows the MetadataStore port).
 */
import type Database from 'better-sqlite3';
import { SqliteMetadataStore } from '../src/adapters/sqlite/sqlite-metadata-store';
import type { MetadataStore } from '../src/ports/metadata-store';

export function sqliteDatabase(store: MetadataStore): Database.Database {
  if (!(store instanceof SqliteMetadataStore)) throw new Error('this reads SQLite rows: the gateway must run with TAMS_STORE=sqlite');
  return store.database;
}
