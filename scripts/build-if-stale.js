#!/usr/bin/env node
// `npm start` runs the built server; rebuild first when any source is newer than dist/, and the
// web pages (scripts/build-web.js) when any of theirs is newer than dist/web.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const marker = path.join(root, 'dist', 'src', 'main.js');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

// What tsconfig.build.json compiles: its `include` entries are folder globs (src/, bench/) or
// single files (the bench runs test/support's fake VAST server); absent entries are skipped.
function newestIncluded() {
  const { include } = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8'));
  let newest = 0;
  for (const entry of include) {
    const full = path.join(root, entry.replace(/\/\*\*\/\*\.ts$/, ''));
    if (!fs.existsSync(full)) continue;
    newest = Math.max(newest, fs.statSync(full).isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

const built = fs.existsSync(marker) ? fs.statSync(marker).mtimeMs : 0;
const sources = Math.max(
  newestIncluded(),
  fs.statSync(path.join(root, 'package.json')).mtimeMs,
  fs.statSync(path.join(root, 'tsconfig.json')).mtimeMs,
  fs.statSync(path.join(root, 'tsconfig.build.json')).mtimeMs,
);
if (sources > built) {
  process.stdout.write('building (dist/ is stale)...\n');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: root,
  });
  fs.utimesSync(marker, new Date(), new Date());
}
const { buildWeb, webStaleness } = require('./build-web');
const webReason = webStaleness();
if (webReason !== undefined) {
  process.stdout.write(`building web pages (${webReason})...\n`);
  buildWeb({ quiet: true }).catch((err) => {
    process.stderr.write(`web build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
