/**
 * Lanes of tests that need something from outside the repository: a Redis server, the nginx or
 * openssl binary, the TAMS spec folder. When it is missing:
 * - outside CI the lane's tests are reported skipped by jest (its summary counts them), and
 *   the reason is printed once per test file;
 * - with CI=true the lane fails with that reason, so a CI machine without it cannot pass.
 * A test that returns early when its service is missing would be counted as passed: lanes use
 * `describeNeeding` or `itNeeding` instead, which decide while jest collects the tests.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '../..');

export interface Requirement {
  /** What the lane needs, e.g. `Redis at redis://127.0.0.1:6379/15`. */
  what: string;
  /** Why it is not there and how to get it, or undefined when it is there. */
  missing: string | undefined;
}

export const inCi = (): boolean => process.env.CI === 'true';

/** Every requirement at once: missing when any one of them is. */
export function allOf(...requirements: Requirement[]): Requirement {
  const missing = requirements.filter((r) => r.missing !== undefined).map((r) => r.missing!);
  return { what: requirements.map((r) => r.what).join(' and '), missing: missing.length === 0 ? undefined : missing.join('; ') };
}

const printed = new Set<string>();

/** One plain line per missing requirement and test file (jest decorates console output with a stack). */
function printSkip(requirement: Requirement): void {
  const line = `SKIPPED (not run, not passed): tests that need ${requirement.what}: ${requirement.missing}`;
  if (printed.has(line)) return;
  printed.add(line);
  process.stdout.write(`${line}\n`);
}

function ciFailure(requirement: Requirement, name: string): Error {
  return new Error(`"${name}" needs ${requirement.what}, required when CI=true: ${requirement.missing}`);
}

/**
 * `describe` for a lane that needs `requirement`. Missing outside CI, the lane's tests are
 * collected under `describe.skip` (so each is listed as skipped); should the body itself read
 * what is missing while jest collects it (the spec's operation list, say), a placeholder test
 * stands for the tests it could not declare. Missing with CI=true, one test fails with the
 * reason.
 */
export function describeNeeding(requirement: Requirement, name: string, fn: () => void): void {
  if (requirement.missing === undefined) {
    describe(name, fn);
    return;
  }
  if (inCi()) {
    describe(name, () => {
      it(`needs ${requirement.what}`, () => {
        throw ciFailure(requirement, name);
      });
    });
    return;
  }
  printSkip(requirement);
  describe.skip(name, () => {
    try {
      fn();
    } catch {
      it(`needs ${requirement.what}`, () => undefined);
    }
  });
}

/** `it` for one test that needs `requirement`: skipped when it is missing outside CI, failed with CI=true. */
export function itNeeding(requirement: Requirement, name: string, fn: jest.ProvidesCallback, timeout?: number): void {
  if (requirement.missing === undefined) {
    it(name, fn, timeout);
    return;
  }
  if (inCi()) {
    it(name, () => {
      throw ciFailure(requirement, name);
    });
    return;
  }
  printSkip(requirement);
  it.skip(name, fn, timeout);
}

/** The executable `name` on PATH or in `extraDirs`, or undefined. */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs]) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A program the lane runs, found on PATH (or in `extraDirs`). */
export function executableRequirement(name: string, install: string, extraDirs: string[] = []): Requirement & { path: string | undefined } {
  const found = findExecutable(name, extraDirs);
  const where = extraDirs.length === 0 ? 'on PATH' : `on PATH or in ${extraDirs.join(', ')}`;
  return { what: `the ${name} binary`, missing: found === undefined ? `${name} not found ${where} (${install})` : undefined, path: found };
}

/**
 * A Redis server answering PING at `url`, probed while jest collects the tests (so the lane can
 * be skipped rather than pass): in a child process, since collection cannot wait for a promise.
 */
export function redisRequirement(url: string, timeoutMs = 3000): Requirement {
  const script = `
    const { Redis } = require('ioredis');
    const redis = new Redis(process.env.PROBE_REDIS_URL, { lazyConnect: true, connectTimeout: ${timeoutMs - 500}, maxRetriesPerRequest: 0, retryStrategy: () => null });
    let first;
    redis.on('error', (err) => { first = first || err; });
    redis.connect().then(() => redis.ping()).then(
      (pong) => { redis.disconnect(); process.exit(pong === 'PONG' ? 0 : 1); },
      (err) => { process.stderr.write(String((first || err).message || first || err)); process.exit(1); },
    );`;
  let missing: string | undefined;
  try {
    execFileSync(process.execPath, ['-e', script], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, PROBE_REDIS_URL: url },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: timeoutMs,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    missing = `no Redis answers at ${url} (${stderr || (err as Error).message}); start one (redis-server) or set TEST_REDIS_URL`;
  }
  return { what: `Redis at ${url}`, missing };
}
