/**
 * Starts a real gateway (SQLite file + local media directory in a fresh temp dir; or, with
 * `store: 'postgres'` or TAMS_TEST_STORE=postgres, a fresh schema of the test PostgreSQL, dropped
 * by close(); with `store: 'vast'` or TAMS_TEST_STORE=vast, the fake VAST server of
 * vast-fake-server.ts on loopback, one per gateway) on a loopback port, and a client that checks every response against the official TAMS schema of
 * the operation it hit (when the spec folder is available), through checkedFetch. The
 * gateway's origin is registered with checkedFetch, so requests sent with it to `base` are
 * matched below TAMS_BASE_PATH.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config';
import { createGateway, Gateway } from '../../src/main';
import type { Clock } from '../../src/ports/clock';
import { checkedFetch, parseBody, registerGatewayOrigin, unregisterGatewayOrigin } from './checked-fetch';
import { recordHarnessStart } from './parity-recorder';
import { TEST_DATABASE_URL, TestSchemas } from './postgres';
import { EMBEDDED_KEY_FILE, loadOrCreateEmbeddedKey } from '../../src/auth/embedded-keys';
import { FAKE_VAST_CREDENTIALS, FakeVastServer } from './vast-fake-server';

export interface TamsResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
  text: string;
}

export interface Harness {
  gateway: Gateway;
  base: string;
  dataDir: string;
  /** The PostgreSQL schema the gateway runs in, or undefined on SQLite. */
  schema: string | undefined;
  request(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<TamsResponse>;
  /** The audit trail written so far (AUDIT_LOG_FILE), one parsed object per line. */
  auditLines(): AuditLine[];
  close(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON lines
export type AuditLine = any;

/** The JSON lines of an audit file ([] while it does not exist). */
export function readAuditLines(file: string): AuditLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l): AuditLine => JSON.parse(l));
}

/** The operationId a request hits (moved to checked-fetch.ts; re-exported for the suites that import it here). */
export { operationOf } from './checked-fetch';

export interface HarnessOptions {
  /** The gateway's clock (default the system clock): a test that moves time controls expiries and garbage collection. */
  clock?: Clock;
  /**
   * The metadata store (default: TAMS_TEST_STORE, else sqlite). `postgres` runs the gateway as a
   * replica would, in a fresh schema of TEST_DATABASE_URL (the file must use describePostgres
   * for the skip rule): migrated at start, a TAMS_SECRET, the embedded key from a
   * TAMS_EMBEDDED_KEY_FILE, the local media directory declared shared.
   */
  store?: 'sqlite' | 'postgres' | 'vast';
  /** With `postgres`: connect through this URL instead (e.g. a proxy in front of TEST_DATABASE_URL). */
  databaseUrl?: string;
  /** With `vast`: this fake server (left running by close; two gateways on one are two replicas) instead of one of its own. */
  fakeVast?: FakeVastServer;
  /** With `vast`: the schema (default `gateway`). */
  vastSchema?: string;
}

/** A replica's PostgreSQL settings over a fresh schema, with the shared secrets a replica needs. */
function postgresEnv(dataDir: string, schema: string, databaseUrl: string): Record<string, string> {
  loadOrCreateEmbeddedKey(dataDir);
  return {
    TAMS_STORE: 'postgres',
    DATABASE_URL: databaseUrl,
    TAMS_PG_SCHEMA: schema,
    TAMS_PG_POOL_SIZE: '4',
    TAMS_MIGRATE_ON_START: 'true',
    TAMS_SECRET: randomBytes(32).toString('base64'),
    TAMS_EMBEDDED_KEY_FILE: path.join(dataDir, EMBEDDED_KEY_FILE),
    TAMS_LOCAL_MEDIA_SHARED: 'true',
  };
}

/** The store TAMS_TEST_STORE names (sqlite when unset). */
function testStore(): 'sqlite' | 'postgres' | 'vast' {
  const named = process.env.TAMS_TEST_STORE;
  return named === 'postgres' || named === 'vast' ? named : 'sqlite';
}

/** A replica's VAST settings over the fake server, with the shared secrets a replica needs. */
function vastEnv(dataDir: string, fake: FakeVastServer, schema: string): Record<string, string> {
  loadOrCreateEmbeddedKey(dataDir);
  return {
    TAMS_STORE: 'vast',
    VAST_ENDPOINT: fake.endpoint,
    VAST_ACCESS_KEY: FAKE_VAST_CREDENTIALS.accessKeyId,
    VAST_SECRET_KEY: FAKE_VAST_CREDENTIALS.secretAccessKey,
    VAST_BUCKET: 'tams',
    VAST_SCHEMA: schema,
    TAMS_SECRET: randomBytes(32).toString('base64'),
    TAMS_EMBEDDED_KEY_FILE: path.join(dataDir, EMBEDDED_KEY_FILE),
    TAMS_LOCAL_MEDIA_SHARED: 'true',
  };
}

export async function startHarness(env: Record<string, string> = {}, options: HarnessOptions = {}): Promise<Harness> {
  recordHarnessStart();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-test-'));
  const store = options.store ?? testStore();
  const schemas = store === 'postgres' ? new TestSchemas() : undefined;
  const schema = schemas?.next();
  const ownFakeVast = store === 'vast' && options.fakeVast === undefined ? await FakeVastServer.start() : undefined;
  const fakeVast = store === 'vast' ? (options.fakeVast ?? ownFakeVast) : undefined;
  // Authentication is on by default in the product; suites about other things opt out of it.
  // Test webhooks point at loopback receivers; the audit trail goes to the temp dir, not the test output.
  const config = loadConfig({
    TAMS_DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'silent',
    TAMS_AUTH: 'off',
    TAMS_WEBHOOK_ALLOW_PRIVATE: 'true',
    AUDIT_LOG_FILE: path.join(dataDir, 'audit.log'),
    ...(schema === undefined ? {} : postgresEnv(dataDir, schema, options.databaseUrl ?? TEST_DATABASE_URL)),
    ...(fakeVast === undefined ? {} : vastEnv(dataDir, fakeVast, options.vastSchema ?? 'gateway')),
    ...env,
  });
  let gateway: Gateway;
  try {
    gateway = await createGateway(config, options.clock);
  } catch (err) {
    await schemas?.dropAll();
    await ownFakeVast?.close();
    throw err;
  }
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const address = gateway.app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  const base = `http://127.0.0.1:${address.port}`;
  registerGatewayOrigin(base, config.basePath);
  // The METRICS_PORT listener serves /metrics only: nothing there is a TAMS operation.
  const metricsBase = gateway.metricsPort === undefined ? undefined : `http://127.0.0.1:${gateway.metricsPort}`;
  if (metricsBase !== undefined) registerGatewayOrigin(metricsBase, null);

  const request = async (method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<TamsResponse> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await checkedFetch(`${base}${urlPath}`, init, { basePath: config.basePath, source: 'harness' });
    const text = await res.text();
    const parsed = parseBody(text, res.headers.get('content-type'));
    return { status: res.status, headers: res.headers, body: parsed, text };
  };

  return {
    gateway,
    base,
    dataDir,
    schema,
    request,
    auditLines: () => (config.auditLogFile === undefined ? [] : readAuditLines(config.auditLogFile)),
    async close() {
      await gateway.close();
      unregisterGatewayOrigin(base);
      if (metricsBase !== undefined) unregisterGatewayOrigin(metricsBase);
      fs.rmSync(dataDir, { recursive: true, force: true });
      await schemas?.dropAll();
      await ownFakeVast?.close();
    },
  };
}
