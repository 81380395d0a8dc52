/**
 * Records, for the spec-parity check, which TAMS operation every test response came from.
 *
 * jest's globalSetup (test/support/global-setup.ts) creates a fresh directory and puts it in
 * `$TAMS_PARITY_DIR`; each jest worker appends JSON lines to its own file there (named by its
 * pid, so concurrent workers never interleave writes), and globalTeardown
 * (test/support/global-teardown.ts) reads them all back. Without `$TAMS_PARITY_DIR` (a run
 * that does not use this repository's jest config) recording is a no-op.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PARITY_DIR_ENV = 'TAMS_PARITY_DIR';

/** One response: the operation it answered, the method sent and the status received. */
export interface ParityResponse {
  kind: 'response';
  operationId: string;
  method: string;
  status: number;
  /** The request path (truncated), to make an undeclared status easy to reproduce. */
  url?: string;
  /** Who sent the request (absent in lines of older runs: the harness). */
  source?: ParitySource;
}

/**
 * Who sent a request: the gateway harness client, checkedFetch (suites that need headers or
 * authentication), the fuzz suite, or a test that sends a malformed request on purpose. Only
 * 'harness' and 'fetch' answers count as exercising an operation and have their statuses
 * enforced.
 */
export type ParitySource = 'harness' | 'fetch' | 'fuzz' | 'malformed';

/** A test file started a gateway harness (lets teardown tell a partial run from a full one). */
export interface ParityHarnessStart {
  kind: 'harness';
  testFile: string;
}

export type ParityLine = ParityResponse | ParityHarnessStart;

const MAX_URL = 200;

function parityFile(): string | undefined {
  const dir = process.env[PARITY_DIR_ENV];
  if (!dir || !fs.existsSync(dir)) return undefined;
  return path.join(dir, `${process.pid}.jsonl`);
}

function append(line: ParityLine): void {
  const file = parityFile();
  if (file === undefined) return;
  fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
}

export function recordResponse(
  operationId: string,
  method: string,
  status: number,
  url: string,
  source: ParitySource = 'harness',
): void {
  append({ kind: 'response', operationId, method, status, url: url.length > MAX_URL ? `${url.slice(0, MAX_URL)}...` : url, source });
}

/** Called by startHarness: the current jest test file uses a gateway. */
export function recordHarnessStart(): void {
  if (process.env[PARITY_DIR_ENV] === undefined) return;
  const testFile = typeof expect === 'undefined' ? undefined : expect.getState().testPath;
  if (testFile) append({ kind: 'harness', testFile });
}

/** Every line written so far under `dir` (unparseable lines are skipped). */
export function readParityLines(dir: string): ParityLine[] {
  if (!fs.existsSync(dir)) return [];
  const lines: ParityLine[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()) {
    for (const text of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (text.trim() === '') continue;
      try {
        lines.push(JSON.parse(text) as ParityLine);
      } catch {
        // A worker killed mid-write leaves a truncated last line; the rest is still usable.
      }
    }
  }
  return lines;
}
