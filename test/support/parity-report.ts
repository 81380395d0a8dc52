/**
 * The spec-parity verdict computed by globalTeardown from the recorded responses: which
 * operations of TimeAddressableMediaStore.yaml were never exercised, and which
 * (operation, status) pairs were answered although the spec does not declare them.
 *
 * An operation counts as exercised only once it has answered one of its own declared 2xx
 * statuses: a route that disappeared (404) or that every test reached without the right
 * credentials (401, 403) would otherwise still count. Operations answered, but only with
 * other statuses, are listed apart.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GlobalConfig, ProjectConfig } from 'jest';
import { globsToMatcher } from 'jest-util';
import type { OperationSummary } from './tams-spec';
import type { ParityLine, ParityResponse } from './parity-recorder';

/**
 * Statuses any operation may answer although the YAML does not list them on every
 * operation. They come from layers in front of the handlers, not from the operation itself:
 * - 401: missing or invalid credentials (TAMS_AUTH=on);
 * - 403: authenticated but not allowed (also read-only flows and other refusals);
 * - 413: request body larger than TAMS_MAX_BODY_BYTES;
 * - 415: request body that is not application/json;
 * - 429: rate limited;
 * - 503: temporarily unavailable (shutting down, store busy).
 */
export const GENERIC_STATUS_ALLOW_LIST: ReadonlySet<number> = new Set([401, 403, 413, 415, 429, 503]);

export interface UndeclaredStatus {
  operationId: string;
  method: string;
  path: string;
  status: number;
  declared: number[];
  count: number;
  sources: string[];
  /** One request path that got this status. */
  example: string;
}

/** An operation that answered, but never with one of its declared success statuses. */
export interface FailuresOnly {
  operationId: string;
  method: string;
  path: string;
  /** Its declared 2xx statuses (none of which was seen). */
  success: number[];
  /** The statuses it did answer, ascending, with how often. */
  seen: { status: number; count: number }[];
  /** One request path that got one of them. */
  example: string;
}

export interface ParityResult {
  operations: number;
  /** Operations that answered one of their declared 2xx statuses (fuzz and malformed requests not counted). */
  exercised: number;
  responses: number;
  /** Operations not exercised: never answered at all, or only with failure statuses (see failuresOnly). */
  missing: OperationSummary[];
  /** The part of `missing` that did answer, but never with a declared 2xx status. */
  failuresOnly: FailuresOnly[];
  undeclared: UndeclaredStatus[];
  /**
   * Undeclared statuses seen only by the fuzz suite or by requests a test marked malformed
   * (checkedFetch's `malformed`). Reported, not enforced: those requests are malformed on
   * purpose (undecodable paths, 5000-character ids, undecodable cursors) and reach layers
   * that answer before any operation does (400 for a bad percent-encoding, 414 for a
   * too-long parameter); nor do they count as exercising an operation.
   */
  fuzzUndeclared: UndeclaredStatus[];
}

function isDeclared(operation: OperationSummary, status: number): boolean {
  return operation.statuses.includes(status) || GENERIC_STATUS_ALLOW_LIST.has(status);
}

/** The declared statuses of an operation that say it did its work: its 2xx. */
export function successStatuses(operation: OperationSummary): number[] {
  return operation.statuses.filter((s) => s >= 200 && s < 300);
}

/** Requests whose answers neither count as exercising an operation nor have their statuses enforced. */
function unenforced(line: ParityResponse): boolean {
  return line.source === 'fuzz' || line.source === 'malformed';
}

export function computeParity(lines: ParityLine[], operations: OperationSummary[]): ParityResult {
  const byId = new Map(operations.map((o) => [o.operationId, o]));
  const exercised = new Set<string>();
  const failures = new Map<string, { statuses: Map<number, number>; example: string }>();
  const undeclared = new Map<string, UndeclaredStatus>();
  const fuzzUndeclared = new Map<string, UndeclaredStatus>();
  let responses = 0;
  for (const line of lines) {
    if (line.kind !== 'response') continue;
    responses++;
    const operation = byId.get(line.operationId);
    if (!operation) continue; // recorded against another spec version: nothing to compare with
    const fuzz = unenforced(line);
    if (!fuzz) {
      if (successStatuses(operation).includes(line.status)) exercised.add(line.operationId);
      else {
        const seen = failures.get(line.operationId) ?? { statuses: new Map<number, number>(), example: line.url ?? '' };
        seen.statuses.set(line.status, (seen.statuses.get(line.status) ?? 0) + 1);
        failures.set(line.operationId, seen);
      }
    }
    if (isDeclared(operation, line.status)) continue;
    const target = fuzz ? fuzzUndeclared : undeclared;
    const key = `${line.operationId} ${line.status}`;
    const entry = target.get(key) ?? newUndeclared(operation, line);
    entry.count++;
    const source = line.source ?? 'harness';
    if (!entry.sources.includes(source)) entry.sources.push(source);
    target.set(key, entry);
  }
  const sorted = (m: Map<string, UndeclaredStatus>): UndeclaredStatus[] =>
    [...m.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method) || a.status - b.status);
  const missing = operations.filter((o) => !exercised.has(o.operationId));
  const failuresOnly = missing.flatMap((o): FailuresOnly[] => {
    const seen = failures.get(o.operationId);
    if (!seen) return [];
    const statuses = [...seen.statuses].sort((a, b) => a[0] - b[0]).map(([status, count]) => ({ status, count }));
    return [{ operationId: o.operationId, method: o.method, path: o.path, success: successStatuses(o), seen: statuses, example: seen.example }];
  });
  return {
    operations: operations.length,
    exercised: exercised.size,
    responses,
    missing,
    failuresOnly,
    undeclared: sorted(undeclared),
    fuzzUndeclared: sorted(fuzzUndeclared).filter((u) => !undeclared.has(`${u.operationId} ${u.status}`)),
  };
}

function newUndeclared(operation: OperationSummary, line: ParityResponse): UndeclaredStatus {
  return {
    operationId: operation.operationId,
    method: operation.method,
    path: operation.path,
    status: line.status,
    declared: operation.statuses,
    count: 0,
    sources: [],
    example: line.url ?? '',
  };
}

export function parityFailed(result: ParityResult): boolean {
  return result.missing.length > 0 || result.undeclared.length > 0;
}

/** A compact, human-readable report: one line per path template. */
export function formatParityReport(result: ParityResult): string {
  const out: string[] = [];
  const failed = new Set(result.failuresOnly.map((f) => f.operationId));
  const neverAnswered = result.missing.filter((o) => !failed.has(o.operationId));
  out.push(
    `TAMS spec parity: ${result.exercised}/${result.operations} operations exercised (answered a declared 2xx at least once; fuzz and malformed requests not counted), ` +
      `${result.responses} responses recorded; ${neverAnswered.length} never answered, ${result.failuresOnly.length} answered only with failure statuses, ` +
      `${result.undeclared.length} undeclared (operation, status) pairs (allowed anywhere: ${[...GENERIC_STATUS_ALLOW_LIST].join(', ')}).`,
  );
  if (neverAnswered.length > 0) {
    out.push('  never answered (path: methods):');
    const byPath = new Map<string, string[]>();
    for (const o of neverAnswered) byPath.set(o.path, [...(byPath.get(o.path) ?? []), o.method]);
    const width = Math.max(...[...byPath.keys()].map((p) => p.length));
    for (const [p, methods] of byPath) out.push(`    ${p.padEnd(width)}  ${methods.join(' ')}`);
  }
  if (result.failuresOnly.length > 0) {
    out.push('  answered only with failure statuses, never a declared 2xx (operation: statuses seen x count [2xx declared], e.g. request):');
    for (const f of result.failuresOnly) {
      const seen = f.seen.map((s) => `${s.status} x${s.count}`).join(', ');
      out.push(`    ${f.operationId}: ${seen} [${f.success.join(',')}] e.g. ${f.method} ${f.example}`);
    }
  }
  if (result.undeclared.length > 0) {
    out.push('  undeclared statuses (operation: status [declared] x count, source, e.g. request):');
    for (const u of result.undeclared) {
      out.push(
        `    ${u.operationId}: ${u.status} [${u.declared.join(',')}] x${u.count} (${u.sources.join('+')}) e.g. ${u.method} ${u.example}`,
      );
    }
  }
  if (result.fuzzUndeclared.length > 0) {
    out.push('  fuzz suite or malformed requests only, not enforced (status: operations):');
    const byStatus = new Map<number, string[]>();
    for (const u of result.fuzzUndeclared) byStatus.set(u.status, [...(byStatus.get(u.status) ?? []), u.operationId]);
    for (const [status, ids] of [...byStatus].sort((a, b) => a[0] - b[0])) out.push(`    ${status}: ${[...new Set(ids)].sort().join(' ')}`);
  }
  return out.join('\n');
}

/**
 * Reasons to believe this jest run did not run the whole suite (empty: a full run). The
 * parity check only fails full runs: a developer running one file would otherwise always see
 * "operation never exercised".
 */
export function partialRunReasons(globalConfig: GlobalConfig, projectConfig: ProjectConfig | undefined, lines: ParityLine[]): string[] {
  const reasons: string[] = [];
  const g = globalConfig as unknown as Record<string, unknown>;
  // jest 30: testPathPatterns is a TestPathPatterns object ({patterns: string[]});
  // jest <= 29: testPathPattern is a string. Positional CLI arguments end up here.
  const patterns = g.testPathPatterns as { patterns?: unknown } | undefined;
  if (Array.isArray(patterns?.patterns) && patterns.patterns.length > 0) reasons.push(`test path pattern ${JSON.stringify(patterns.patterns)}`);
  if (typeof g.testPathPattern === 'string' && g.testPathPattern !== '') reasons.push(`test path pattern ${JSON.stringify(g.testPathPattern)}`);
  if (Array.isArray(g.nonFlagArgs) && g.nonFlagArgs.length > 0 && reasons.length === 0) reasons.push(`test paths ${JSON.stringify(g.nonFlagArgs)}`);
  if (g.testNamePattern) reasons.push(`--testNamePattern ${JSON.stringify(g.testNamePattern)}`);
  for (const flag of ['onlyChanged', 'onlyFailures', 'findRelatedTests', 'lastCommit', 'watch', 'watchAll', 'listTests'] as const) {
    if (g[flag] === true) reasons.push(`--${flag}`);
  }
  if (typeof g.changedSince === 'string' && g.changedSince !== '') reasons.push(`--changedSince ${g.changedSince}`);
  if (g.shard) reasons.push('--shard');
  if (Array.isArray(g.selectProjects) && g.selectProjects.length > 0) reasons.push('--selectProjects');
  if (projectConfig) reasons.push(...unstartedHarnessFiles(projectConfig, lines));
  return reasons;
}

/**
 * Test files on disk (per the project's roots/testMatch/testPathIgnorePatterns) that start a
 * gateway harness but recorded no harness start in this run: the file count check, catching
 * filters the flags above miss. Every such file records at least one start in a full run.
 */
function unstartedHarnessFiles(projectConfig: ProjectConfig, lines: ParityLine[]): string[] {
  const started = new Set(lines.flatMap((l) => (l.kind === 'harness' ? [path.resolve(l.testFile)] : [])));
  const isTest = projectConfig.testMatch.length > 0 ? globsToMatcher(projectConfig.testMatch) : undefined;
  const ignored = projectConfig.testPathIgnorePatterns.map((p) => new RegExp(p));
  const harnessFiles: string[] = [];
  for (const root of projectConfig.roots) {
    if (!fs.existsSync(root)) continue;
    for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      if (isTest ? !isTest(file) : !/\.test\.ts$/.test(file)) continue;
      if (ignored.some((re) => re.test(file))) continue;
      if (/\bstartHarness\s*\(/.test(fs.readFileSync(file, 'utf8'))) harnessFiles.push(file);
    }
  }
  const notRun = harnessFiles.filter((f) => !started.has(path.resolve(f)));
  if (notRun.length === 0) return [];
  const names = notRun.map((f) => path.relative(projectConfig.rootDir, f)).sort();
  return [`${notRun.length} of ${harnessFiles.length} harness test files did not run (${names.join(', ')})`];
}
