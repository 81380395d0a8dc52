/**
 * The PostgreSQL the tests use: TEST_DATABASE_URL, by default the local server
 * (postgres://postgres@127.0.0.1:5432/test). Each test file makes its own schemas, named from
 * one random prefix, and drops them all (CASCADE) when it ends.
 *
 * Whether the server answers is decided before the file registers its tests (a jest file cannot
 * wait at its top level), by a short child process: unreachable in CI (`CI=true`) is a failing
 * test with the reason; elsewhere the file's tests are skipped with the reason printed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const PROBE = `
const { Client } = require('pg');
const client = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
client.connect().then(() => client.query('SELECT 1')).then(() => client.end()).then(
  () => process.exit(0),
  (err) => { process.stderr.write(String(err && err.message || err)); process.exit(1); });
`;

/** Why PostgreSQL cannot be used, or undefined when it answers. */
export function postgresUnreachable(url = TEST_DATABASE_URL): string | undefined {
  try {
    execFileSync(process.execPath, ['-e', PROBE, url], { timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return `PostgreSQL at ${url.replace(/\/\/[^@/]*@/, '//***@')} is unreachable: ${stderr || String(err)}`;
  }
}

/**
 * Registers `register` when PostgreSQL answers; otherwise a failing test in CI, or a skipped
 * one (with the reason printed) elsewhere.
 */
export function describePostgres(name: string, register: () => void): void {
  const reason = postgresUnreachable();
  if (reason === undefined) {
    register();
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL (TEST_DATABASE_URL)', () => {
        throw new Error(reason);
      });
    });
  } else {
    console.warn(`${name}: skipped. ${reason} (set TEST_DATABASE_URL; in CI this fails)`);
    describe.skip(name, () => {
      it.skip('needs PostgreSQL (TEST_DATABASE_URL)', () => undefined);
    });
  }
}

/** Schema names for one test file: `next()` a fresh one each call; dropAll() drops every one made. */
export class TestSchemas {
  readonly prefix = `tams_test_${randomBytes(5).toString('hex')}`;
  private count = 0;

  next(): string {
    this.count += 1;
    return `${this.prefix}_${this.count}`;
  }

  async dropAll(): Promise<void> {
    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [this.prefix]);
      for (const { nspname } of rows) await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
    } finally {
      await client.end();
    }
  }
}
