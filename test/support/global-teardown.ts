/**
 * jest globalTeardown: the spec-parity check. Reads what every worker recorded (see
 * parity-recorder.ts), prints the report and, when the whole suite ran, fails the run if an
 * operation of TimeAddressableMediaStore.yaml was never exercised or a response carried a
 * status the spec does not declare for its operation (apart from the generic allow-list in
 * parity-report.ts). "Exercised" means answered one of the operation's declared 2xx statuses at
 * least once (by the harness client or checkedFetch; fuzz and malformed requests do not
 * count): an operation seen only with failure statuses (a vanished route answering 404, a 401
 * to every test) is listed apart and fails the run too. A filtered run (path or name pattern,
 * --onlyChanged, ...) only prints it.
 *
 * Set TAMS_PARITY_KEEP=1 to keep the recorded lines (their directory is printed).
 */
import fs from 'node:fs';
import type { GlobalConfig, ProjectConfig } from 'jest';
import { PARITY_DIR_ENV, readParityLines } from './parity-recorder';
import { computeParity, formatParityReport, parityFailed, partialRunReasons } from './parity-report';
import { listOperations, specAvailable, specDir } from './tams-spec';

function print(text: string): void {
  // A raw write: console.log inside a global hook is decorated with a stack trace by jest.
  process.stdout.write(`\n${text}\n`);
}

export default function globalTeardown(globalConfig: GlobalConfig, projectConfig?: ProjectConfig): void {
  const dir = process.env[PARITY_DIR_ENV];
  try {
    if (!specAvailable()) {
      const where = `spec not found at ${specDir()} (set TAMS_SPEC_DIR)`;
      if (process.env.CI === 'true') throw new Error(`TAMS spec parity: ${where}; the spec is required when CI=true`);
      print(`TAMS spec parity: skipped, ${where}`);
      return;
    }
    if (dir === undefined) {
      print(`TAMS spec parity: skipped, $${PARITY_DIR_ENV} is not set (globalSetup did not run)`);
      return;
    }
    const lines = readParityLines(dir);
    const result = computeParity(lines, listOperations());
    const report = formatParityReport(result);
    const partial = partialRunReasons(globalConfig, projectConfig, lines);
    if (partial.length > 0) {
      print(`${report}\n  (not enforced: partial run, ${partial.join('; ')})`);
      return;
    }
    if (parityFailed(result)) {
      print(report);
      throw new Error('TAMS spec parity check failed (report above)');
    }
    print(report);
  } finally {
    if (dir !== undefined && fs.existsSync(dir)) {
      if (process.env.TAMS_PARITY_KEEP) print(`TAMS spec parity: recorded lines kept in ${dir}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}
