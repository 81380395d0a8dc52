/**
 * Starts a real gateway (SQLite file + local media directory in a fresh temp dir) on a
 * loopback port, and a client that checks every JSON response against the official TAMS
 * schema of the operation it hit (when the spec folder is available).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { createGateway, Gateway } from '../../src/main';
import { recordHarnessStart, recordResponse } from './parity-recorder';
import { listOperations, specAvailable, validateResponse } from './tams-spec';

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

/**
 * Statuses any operation may answer although the YAML does not list them for each one
 * (body too large, unsupported content type); their body must still be a TAMS error.
 */
const GENERIC_STATUSES = new Set([413, 415]);

function assertErrorBody(method: string, urlPath: string, status: number, body: unknown): void {
  const b = body as Record<string, unknown> | undefined;
  if (typeof b?.type !== 'string' || typeof b.summary !== 'string' || typeof b.time !== 'string') {
    throw new Error(`${method} ${urlPath} -> ${status} without a TAMS error body: ${JSON.stringify(body)}`);
  }
}

let templates: { method: string; re: RegExp; operationId: string }[] | undefined;

/** The operationId a request hits (`undefined`: not a TAMS operation, or no spec to tell). */
export function operationOf(method: string, pathname: string, basePath: string): string | undefined {
  if (!specAvailable()) return undefined;
  templates ??= listOperations().map((o) => ({
    method: o.method,
    operationId: o.operationId,
    re: new RegExp(`^${o.path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  // Outside the configured prefix nothing is a TAMS operation.
  if (!pathname.startsWith(basePath)) return undefined;
  const rel = pathname.slice(basePath.length) || '/';
  return templates.find((t) => t.method === method && t.re.test(rel))?.operationId;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  recordHarnessStart();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-test-'));
  // Authentication is on by default in the product; suites about other things opt out of it.
  // Test webhooks point at loopback receivers; the audit trail goes to the temp dir, not the test output.
  const config = loadConfig({
    TAMS_DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'silent',
    TAMS_AUTH: 'off',
    TAMS_WEBHOOK_ALLOW_PRIVATE: 'true',
    AUDIT_LOG_FILE: path.join(dataDir, 'audit.log'),
    ...env,
  });
  const gateway = await createGateway(config);
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const address = gateway.app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  const base = `http://127.0.0.1:${address.port}`;

  const request = async (method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<TamsResponse> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${base}${urlPath}`, init);
    const text = await res.text();
    let parsed: unknown = text === '' ? undefined : text;
    if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    const pathname = new URL(`${base}${urlPath}`).pathname;
    const operationId = operationOf(method, pathname, config.basePath);
    // Recorded before the checks below so a non-conforming response still counts for parity.
    if (operationId !== undefined) recordResponse(operationId, method, res.status, urlPath);
    if (operationId !== undefined && GENERIC_STATUSES.has(res.status)) {
      assertErrorBody(method, urlPath, res.status, parsed);
    } else if (operationId !== undefined) {
      const verdict = validateResponse(operationId, res.status, parsed);
      if (!verdict.ok) {
        throw new Error(`${method} ${urlPath} -> ${res.status} does not conform to ${operationId}: ${verdict.errors}\nbody: ${text.slice(0, 2000)}`);
      }
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };

  return {
    gateway,
    base,
    dataDir,
    request,
    auditLines: () => (config.auditLogFile === undefined ? [] : readAuditLines(config.auditLogFile)),
    async close() {
      await gateway.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
