/** The SQLite database under a gateway's store (one helper, shared with the benches). */
export { sqliteDatabase } from '../../bench/sqlite-database';
