#!/usr/bin/env node
// `npm start` runs the built server; rebuild first when any source is newer than dist/.
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

const built = fs.existsSync(marker) ? fs.statSync(marker).mtimeMs : 0;
const sources = Math.max(
  newestMtime(path.join(root, 'src')),
  fs.existsSync(path.join(root, 'bench')) ? newestMtime(path.join(root, 'bench')) : 0,
  fs.statSync(path.join(root, 'package.json')).mtimeMs,
  fs.statSync(path.join(root, 'tsconfig.json')).mtimeMs,
);
if (sources > built) {
  process.stdout.write('building (dist/ is stale)...\n');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: root,
  });
  fs.utimesSync(marker, new Date(), new Date());
}
