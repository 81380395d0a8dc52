#!/usr/bin/env node
// Bundles the browser pages the gateway serves (src/http/web-pages.ts): every folder web/<page>/
// with a main.tsx or main.ts becomes dist/web/<page>/, self-contained, so a page loads nothing
// from another origin (air-gapped networks have no CDN).
//
//   node scripts/build-web.js              build every page
//   node scripts/build-web.js --if-stale   build only when a page's sources changed since the last build
//
// A page folder holds main.tsx (or main.ts), index.html and any static files (css, images),
// copied as they are. index.html names the bundle `main.js` and, when main imports css,
// `main.css`; both are emitted with a content hash in their names (cached for ever) and
// index.html is rewritten to name them. Fonts and images the css refers to are emitted as
// hashed files beside it (or stay inline when already data: URLs). An import of a URL, or a css
// or html file naming another origin, fails the build.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const WEB = path.join(ROOT, 'web');
const OUT = path.join(ROOT, 'dist', 'web');
/** Written last: the files each page was built from, for --if-stale. */
const MANIFEST = path.join(OUT, '.build-inputs.json');
const ENTRIES = ['main.tsx', 'main.ts'];
/** Not copied: sources esbuild reads, and editor/type-check files. */
const NOT_STATIC = /\.(tsx?|d\.ts)$|^tsconfig\.json$/;
const ASSET_LOADERS = { '.woff2': 'file', '.woff': 'file', '.ttf': 'file', '.svg': 'file', '.png': 'file', '.jpg': 'file', '.gif': 'file' };
/** In css and html: a reference to another origin (`//host` or a scheme other than data: and blob:). */
const FOREIGN_URL = /(?:url\(\s*['"]?|@import\s+['"]|\s(?:src|href)\s*=\s*['"]?)\s*(?!data:|blob:)(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

/** The page folders: web/<page>/ holding an entry. */
function pages() {
  if (!fs.existsSync(WEB)) return [];
  return fs
    .readdirSync(WEB, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && ENTRIES.some((name) => fs.existsSync(path.join(WEB, entry.name, name))))
    .map((entry) => entry.name)
    .sort();
}

function filesUnder(dir) {
  const files = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...filesUnder(full));
    else files.push(full);
  }
  return files;
}

/** Refuses imports of URLs: everything a page runs comes from node_modules or the repository. */
const noRemoteImports = {
  name: 'no-remote-imports',
  setup(build) {
    build.onResolve({ filter: /^([a-z][a-z0-9+.-]*:)?\/\//i }, (args) => {
      if (args.path.startsWith('data:')) return undefined;
      return { errors: [{ text: `${args.path} is on another origin: web pages must work offline, bundle it from npm instead` }] };
    });
  },
};

function checkNoForeignUrls(file, text) {
  const found = FOREIGN_URL.exec(text);
  if (found !== null) {
    const at = text.slice(Math.max(0, found.index - 40), found.index + 80).replace(/\s+/g, ' ');
    throw new Error(`${path.relative(ROOT, file)} refers to another origin (web pages must work offline): ...${at}...`);
  }
}

async function buildPage(esbuild, page, outDir) {
  const source = path.join(WEB, page);
  const entry = ENTRIES.map((name) => path.join(source, name)).find((file) => fs.existsSync(file));
  const tsconfig = path.join(WEB, 'tsconfig.json');
  const result = await esbuild.build({
    entryPoints: { main: entry },
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    jsx: 'automatic',
    outdir: outDir,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    loader: { ...ASSET_LOADERS, '.graphql': 'text' },
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'linked',
    metafile: true,
    absWorkingDir: ROOT,
    logLevel: 'warning',
    ...(fs.existsSync(tsconfig) ? { tsconfig } : {}),
    plugins: [noRemoteImports],
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => path.resolve(ROOT, file));
  const bundle = (ext) => outputs.find((file) => path.basename(file).startsWith('main-') && file.endsWith(ext));
  const names = { 'main.js': bundle('.js'), 'main.css': bundle('.css') };
  for (const file of outputs) if (file.endsWith('.css')) checkNoForeignUrls(file, fs.readFileSync(file, 'utf8'));
  const inputs = Object.keys(result.metafile.inputs)
    .filter((input) => !input.includes('node_modules/') && !input.includes(':'))
    .map((input) => path.resolve(ROOT, input));
  const bundled = new Set(inputs);

  for (const file of filesUnder(source)) {
    const relative = path.relative(source, file);
    if (NOT_STATIC.test(path.basename(file)) || bundled.has(file)) continue;
    const target = path.join(outDir, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (relative !== 'index.html') {
      fs.copyFileSync(file, target);
      continue;
    }
    let html = fs.readFileSync(file, 'utf8');
    checkNoForeignUrls(file, html);
    html = html.replace(/(["'])(?:\.\/)?(main\.(?:js|css))\1/g, (_match, quote, name) => {
      if (names[name] === undefined) throw new Error(`web/${page}/index.html names ${name}, which the build did not emit (does main import its css?)`);
      return `${quote}${path.basename(names[name])}${quote}`;
    });
    fs.writeFileSync(target, html);
  }
  if (!fs.existsSync(path.join(outDir, 'index.html'))) throw new Error(`web/${page}/ has no index.html`);
  // Repository files the bundle was made of (node_modules is covered by package-lock.json).
  return inputs.map((input) => path.relative(ROOT, input));
}

/** Replaces dist/web by `fresh`; another build swapping at the same moment only costs a retry. */
function swapIn(fresh) {
  const old = `${OUT}.old-${process.pid}`;
  for (let attempt = 1; ; attempt++) {
    try {
      if (fs.existsSync(OUT)) fs.renameSync(OUT, old);
      fs.renameSync(fresh, OUT);
      break;
    } catch (err) {
      if (attempt === 5 || !['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes(err.code)) throw err;
    } finally {
      fs.rmSync(old, { recursive: true, force: true });
    }
  }
}

/**
 * Builds every page into a fresh folder, then swaps it in, so a gateway (or another build)
 * running at the same time never serves half a page.
 */
async function buildWeb({ quiet = false } = {}) {
  const esbuild = require('esbuild');
  const fresh = `${OUT}.tmp-${process.pid}`;
  fs.rmSync(fresh, { recursive: true, force: true });
  fs.mkdirSync(fresh, { recursive: true });
  try {
    const inputs = {};
    for (const page of pages()) {
      const started = Date.now();
      inputs[page] = await buildPage(esbuild, page, path.join(fresh, page));
      if (!quiet) process.stdout.write(`web: built dist/web/${page}/ in ${Date.now() - started} ms\n`);
    }
    fs.writeFileSync(path.join(fresh, path.basename(MANIFEST)), `${JSON.stringify({ inputs }, null, 1)}\n`);
    swapIn(fresh);
  } catch (err) {
    fs.rmSync(fresh, { recursive: true, force: true });
    throw err;
  }
}

function mtimeOf(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
}

/** Newest modification under web/ (folders too: a removed file changes its folder). */
function newestUnder(dir) {
  let newest = fs.statSync(dir).mtimeMs;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Why dist/web must be rebuilt, or undefined when it is up to date. */
function webStaleness() {
  if (!fs.existsSync(WEB)) return undefined;
  if (!fs.existsSync(MANIFEST)) return 'dist/web is not built';
  const built = fs.statSync(MANIFEST).mtimeMs;
  const { inputs } = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  if (pages().join() !== Object.keys(inputs).sort().join()) return 'the pages under web/ changed';
  const sources = [__filename, path.join(ROOT, 'package-lock.json'), ...Object.values(inputs).flat().map((input) => path.join(ROOT, input))];
  const newest = Math.max(newestUnder(WEB), ...sources.map(mtimeOf));
  return newest > built ? 'a source of dist/web changed' : undefined;
}

module.exports = { buildWeb, webStaleness };

if (require.main === module) {
  const ifStale = process.argv.includes('--if-stale');
  const reason = ifStale ? webStaleness() : 'asked to';
  if (reason === undefined) process.exit(0);
  if (ifStale) process.stdout.write(`building web pages (${reason})...\n`);
  buildWeb().catch((err) => {
    process.stderr.write(`web build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
