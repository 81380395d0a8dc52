/**
 * Keeps raw `fetch` out of the tests: every HTTP request a test sends goes through
 * checkedFetch (test/support/checked-fetch.ts), which validates each answer of a TAMS
 * operation against the official spec (2xx bodies against their schema) and records it for
 * the parity report. A raw `fetch(` to a TAMS path would let a wrong body shape through.
 * Requests to non-TAMS paths (/graphql, /metrics, /media, signed URLs) go through
 * checkedFetch too: it knows to pass them unchecked.
 */
import fs from 'node:fs';
import path from 'node:path';

const TEST_ROOT = path.resolve(__dirname, '../..');

/** Files (relative to test/) allowed to call `fetch` directly, with why. */
const ALLOWED: Readonly<Record<string, string>> = {
  'support/checked-fetch.ts': 'the checked fetch itself: the one place that calls the global fetch',
  'contract/contract-fixtures.ts': '`fetch` there is a parameter of allPages (a page loader), not HTTP',
  'unit/test-support/no-raw-fetch.test.ts': 'this test, which names the pattern it looks for',
};

/** A call of the global fetch, or a way around the check (globalThis.fetch, an alias, `fetch` passed on). */
const RAW_FETCH = /(?<![\w$.])fetch\s*\(|\bglobalThis\s*\.\s*fetch\b|(?<![\w$.])fetch\s*(?:[,;)]|$)|=\s*fetch\b(?!\s*\()/;

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs|cjs)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Lines of `text` (1-based) that call fetch raw; comment lines are skipped. */
export function rawFetchLines(text: string): number[] {
  const found: number[] = [];
  text.split('\n').forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*(\*|\/\*)/.test(code)) return;
    if (RAW_FETCH.test(code)) found.push(i + 1);
  });
  return found;
}

describe('no raw fetch in test/', () => {
  it('recognises raw calls and leaves checked ones alone', () => {
    expect(rawFetchLines('const r = await fetch(`${h.base}/flows`);')).toEqual([1]);
    expect(rawFetchLines('return fetch (url, { method });')).toEqual([1]);
    expect(rawFetchLines('const f = globalThis.fetch;')).toEqual([1]);
    expect(rawFetchLines('const get = fetch;')).toEqual([1]);
    expect(rawFetchLines('await Promise.all(urls.map(fetch));')).toEqual([1]);
    expect(rawFetchLines('const r = await checkedFetch(`${h.base}/flows`);')).toEqual([]);
    expect(rawFetchLines('await loaders.fetch(id); // fetch(x) in a comment')).toEqual([]);
    expect(rawFetchLines(' * raw fetch( in a doc comment')).toEqual([]);
  });

  it('finds none outside the allow-list', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(TEST_ROOT)) {
      const relative = path.relative(TEST_ROOT, file).split(path.sep).join('/');
      if (relative in ALLOWED) continue;
      for (const line of rawFetchLines(fs.readFileSync(file, 'utf8'))) offenders.push(`test/${relative}:${line}`);
    }
    expect(offenders).toEqual([]);
  });

  it('allows only files that exist', () => {
    for (const relative of Object.keys(ALLOWED)) expect([relative, fs.existsSync(path.join(TEST_ROOT, relative))]).toEqual([relative, true]);
  });
});
