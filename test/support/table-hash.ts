/**
 * Fingerprints of the gateway's stored state, to prove a request changed nothing: one sha256
 * over every row of every SQLite table, and the listing of the media directory.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { sqliteDatabase } from './sqlite-database';

export type Db = ReturnType<typeof sqliteDatabase>;

/** One sha256 over every row of every table: tables by name, rows ordered by all columns. */
export function tableHashes(db: Db): string {
  const hash = createHash('sha256');
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as { name: string }[];
  for (const { name } of tables) {
    const quoted = `"${name.replace(/"/g, '""')}"`;
    const columns = (db.pragma(`table_info(${quoted})`) as unknown[]).length;
    const orderBy = Array.from({ length: columns }, (_, i) => String(i + 1)).join(', ');
    const rows = db.prepare(`SELECT * FROM ${quoted} ORDER BY ${orderBy}`).raw().all() as unknown[][];
    hash.update(`table ${name} ${rows.length}\n`);
    for (const row of rows) hash.update(`${JSON.stringify(row, jsonSafe)}\n`);
  }
  return hash.digest('hex');
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `bigint:${value.toString()}`;
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('base64')}`;
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer') {
    return `bytes:${JSON.stringify(value)}`;
  }
  return value;
}

/** Relative paths and sizes of every file under `dir`, sorted. */
export function fileListing(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out.push(`${path.relative(dir, full)}:${fs.statSync(full).size}`);
  }
  return out.sort();
}
