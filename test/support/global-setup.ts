/**
 * jest globalSetup: a fresh directory for the spec-parity recorder (see parity-recorder.ts),
 * and the web pages built when their sources changed (tests serve dist/web, see web-pages.ts).
 * Workers are forked after this runs, so they inherit `$TAMS_PARITY_DIR`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PARITY_DIR_ENV } from './parity-recorder';

export default function globalSetup(): void {
  process.env[PARITY_DIR_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-parity-'));
  execFileSync(process.execPath, [path.resolve(__dirname, '../../scripts/build-web.js'), '--if-stale'], { stdio: 'inherit' });
}
