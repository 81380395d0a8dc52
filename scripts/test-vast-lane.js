#!/usr/bin/env node
// The VAST lanes of `npm test`:
// 1. the REST conformance suites again, each gateway on the fake VAST server of
//    test/support/vast-fake-server.ts (TAMS_TEST_STORE=vast; in-process, on loopback: always runs).
//    Left out, as in the PostgreSQL lane: rest-bad-input and rest-fuzz, which prove "nothing
//    changed" by hashing the SQLite tables (their inputs are refused at the edge, before any store).
// 2. the live lane: the store contract on a real VAST cluster when VAST_TEST_ENDPOINT,
//    VAST_TEST_ACCESS_KEY, VAST_TEST_SECRET_KEY and VAST_TEST_BUCKET are set (also in CI: no
//    cluster is reachable from CI, so it is skipped there with the reason printed).
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const jest = require.resolve('jest/bin/jest');

process.stdout.write('VAST lane: REST suites on the fake VAST server\n');
const rest = spawnSync(
  process.execPath,
  [jest, 'test/integration/rest-', '--testPathIgnorePatterns', 'rest-bad-input', 'rest-fuzz'],
  { stdio: 'inherit', cwd: root, env: { ...process.env, TAMS_TEST_STORE: 'vast' } },
);
if (rest.status !== 0) process.exit(rest.status ?? 1);

const names = ['VAST_TEST_ENDPOINT', 'VAST_TEST_ACCESS_KEY', 'VAST_TEST_SECRET_KEY', 'VAST_TEST_BUCKET'];
const missing = names.filter((name) => !process.env[name]);
if (missing.length > 0) {
  process.stdout.write(`SKIPPED (not run, not passed): VAST live lane: no live VAST cluster (${missing.join(', ')} unset)\n`);
  process.exit(0);
}
process.stdout.write(`VAST live lane: the store contract on ${process.env.VAST_TEST_ENDPOINT}, bucket ${process.env.VAST_TEST_BUCKET}\n`);
const live = spawnSync(process.execPath, [jest, 'test/contract/vast-live.contract.test.ts'], { stdio: 'inherit', cwd: root, env: process.env });
process.exit(live.status ?? 1);
