/**
 * The gateway's own web pages (src/http/web-pages.ts) on a bare fastify app over a crafted
 * dist/web folder, and the GraphQL IDE (src/http/graphql-ide.ts) on real gateways.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandling } from '../../src/http/error-handler';
import { registerWebPage } from '../../src/http/web-pages';
import { WEB_PAGE_CSP, webPageCsp } from '../../src/http/security-headers';
import { checkedFetch } from '../support/checked-fetch';
import { startHarness, type Harness } from '../support/gateway-harness';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** node:http, not fetch: the path goes out exactly as written (fetch would resolve `..`). */
function raw(base: string, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request({ host: url.hostname, port: url.port, path: urlPath, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const directives = (csp: string): Map<string, string[]> => new Map(csp.split(';').map((d) => d.trim().split(' ')).map(([name, ...values]) => [name!, values]));

describe('web pages (web-pages.ts)', () => {
  let root: string;
  let app: FastifyInstance;
  let base: string;
  const bigScript = `console.log(${JSON.stringify('x'.repeat(5000))});\n`;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-web-'));
    const page = path.join(root, 'demo');
    fs.mkdirSync(path.join(page, 'fonts'), { recursive: true });
    fs.writeFileSync(path.join(page, 'index.html'), '<!doctype html><html><head><title>demo</title><script defer src="main-ABCD1234.js"></script></head><body></body></html>');
    fs.writeFileSync(path.join(page, 'main-ABCD1234.js'), bigScript);
    fs.writeFileSync(path.join(page, 'main-ABCD1234.css'), 'body{margin:0}');
    fs.writeFileSync(path.join(page, 'fonts', 'face-ZZZZ9999.woff2'), Buffer.from([0x77, 0x4f, 0x46, 0x32]));
    fs.writeFileSync(path.join(page, 'notes.txt'), 'plain');
    fs.writeFileSync(path.join(page, '.hidden'), 'secret');
    // What traversal would be after: a file beside the page folder.
    fs.writeFileSync(path.join(root, 'outside.txt'), 'outside the page');
    app = Fastify();
    installErrorHandling(app);
    registerWebPage(app, { prefix: '/demo/', dir: 'demo', root });
    registerWebPage(app, { prefix: '/absent/', dir: 'absent', root });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await app.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('serves index.html at the prefix with a <base>, and redirects the prefix without its slash', async () => {
    const page = await raw(base, '/demo/', { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.body.toString()).toContain('<head><base href="/demo/"><title>demo</title>');
    expect((await raw(base, '/demo/index.html')).status).toBe(200);
    const bare = await raw(base, '/demo');
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe('/demo/');
  });

  it('gives each file its content type, hashed names immutable caching, others revalidation by ETag', async () => {
    const cases: [string, string, string][] = [
      ['/demo/main-ABCD1234.js', 'text/javascript; charset=utf-8', 'public, max-age=31536000, immutable'],
      ['/demo/main-ABCD1234.css', 'text/css; charset=utf-8', 'public, max-age=31536000, immutable'],
      ['/demo/fonts/face-ZZZZ9999.woff2', 'font/woff2', 'public, max-age=31536000, immutable'],
      ['/demo/notes.txt', 'text/plain; charset=utf-8', 'no-cache'],
    ];
    for (const [url, type, cache] of cases) {
      const res = await raw(base, url);
      expect({ url, status: res.status, type: res.headers['content-type'], cache: res.headers['cache-control'] }).toEqual({ url, status: 200, type, cache });
    }
    const first = await raw(base, '/demo/notes.txt');
    expect(first.headers.etag).toMatch(/^"[\w-]+"$/);
    const again = await raw(base, '/demo/notes.txt', { 'if-none-match': first.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('sends large text files gzipped to clients that accept it, as they are to others', async () => {
    const zipped = await raw(base, '/demo/main-ABCD1234.js', { 'accept-encoding': 'gzip, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toContain('Accept-Encoding');
    expect(gunzipSync(zipped.body).toString()).toBe(bigScript);
    const plain = await raw(base, '/demo/main-ABCD1234.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(bigScript);
  });

  it("sets the page CSP: the gateway's own origin only", async () => {
    const res = await raw(base, '/demo/');
    expect(res.headers['content-security-policy']).toBe(WEB_PAGE_CSP);
    const csp = directives(WEB_PAGE_CSP);
    expect(csp.get('default-src')).toEqual(["'none'"]);
    for (const name of ['script-src', 'style-src', 'connect-src']) expect(csp.get(name)).toEqual(["'self'"]);
    expect(csp.get('img-src')).toEqual(["'self'", 'data:']);
    expect(csp.get('media-src')).toEqual(["'self'", 'blob:']);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(WEB_PAGE_CSP).not.toMatch(/unsafe|https?:|\*/);
  });

  it('serves nothing outside the page folder, and no dotfiles, whatever the path', async () => {
    const attempts = [
      '/demo/../outside.txt',
      '/demo/%2e%2e/outside.txt',
      '/demo/%2E%2E%2Foutside.txt',
      '/demo/..%2foutside.txt',
      '/demo/..%5coutside.txt',
      '/demo/fonts/../../outside.txt',
      '/demo//etc/passwd',
      '/demo/%2fetc%2fpasswd',
      '/demo/.hidden',
      '/demo/%2ehidden',
      '/demo/notes.txt%00.js',
      '/demo/fonts',
      '/demo/fonts/',
    ];
    for (const attempt of attempts) {
      const res = await raw(base, attempt);
      expect({ attempt, status: res.status }).toEqual({ attempt, status: expect.any(Number) as number });
      expect({ attempt, leaked: /outside the page|secret|root:/.test(res.body.toString()) }).toEqual({ attempt, leaked: false });
      expect({ attempt, served: res.status < 300 }).toEqual({ attempt, served: false });
    }
  });

  it('answers a 404 saying to run the build when the page is not built: a page for browsers, the TAMS error body for others', async () => {
    const browser = await raw(base, '/absent/', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    expect(browser.status).toBe(404);
    expect(browser.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(browser.body.toString()).toContain('npm run build');
    const api = await raw(base, '/absent/main-ABCD1234.js');
    expect(api.status).toBe(404);
    const body = JSON.parse(api.body.toString()) as { type: string; summary: string; time: string };
    expect(body.type).toBe('NotFound');
    expect(body.summary).toContain('run npm run build');
    expect(body.time).toEqual(expect.any(String));
    const missing = await raw(base, '/demo/missing.js');
    expect(missing.status).toBe(404);
    expect((JSON.parse(missing.body.toString()) as { type: string }).type).toBe('NotFound');
  });

  it('adds a page’s media origins to its connect-src and media-src only, on files, 304s and the not-built page alike', async () => {
    const bucket = 'https://media.s3.eu-west-1.amazonaws.com';
    const minio = 'http://127.0.0.1:9000';
    const withMedia = Fastify();
    installErrorHandling(withMedia);
    registerWebPage(withMedia, { prefix: '/demo/', dir: 'demo', root, mediaOrigins: [bucket, minio, bucket] });
    registerWebPage(withMedia, { prefix: '/absent/', dir: 'absent', root, mediaOrigins: [bucket] });
    const at = await withMedia.listen({ port: 0, host: '127.0.0.1' });
    try {
      const page = await raw(at, '/demo/');
      const csp = page.headers['content-security-policy'] as string;
      expect(csp).toBe(webPageCsp([bucket, minio]));
      const ours = directives(csp);
      expect(ours.get('connect-src')).toEqual(["'self'", bucket, minio]);
      expect(ours.get('media-src')).toEqual(["'self'", 'blob:', bucket, minio]);
      // Everything else is the page CSP's as it is without media origins.
      for (const [name, values] of directives(WEB_PAGE_CSP)) if (name !== 'connect-src' && name !== 'media-src') expect({ name, values: ours.get(name) }).toEqual({ name, values });
      const script = await raw(at, '/demo/main-ABCD1234.js');
      expect(script.headers['content-security-policy']).toBe(csp);
      expect((await raw(at, '/demo/main-ABCD1234.js', { 'if-none-match': script.headers.etag! })).headers['content-security-policy']).toBe(csp);
      const notBuilt = await raw(at, '/absent/', { accept: 'text/html' });
      expect({ status: notBuilt.status, csp: directives(notBuilt.headers['content-security-policy'] as string).get('connect-src') }).toEqual({ status: 404, csp: ["'self'", bucket] });
    } finally {
      await withMedia.close();
    }
    // The page served without the option keeps the plain policy.
    expect((await raw(base, '/demo/')).headers['content-security-policy']).toBe(WEB_PAGE_CSP);
    expect(webPageCsp([])).toBe(WEB_PAGE_CSP);
  });

  it('refuses media origins that are not bare http(s) origins', () => {
    for (const bad of ['127.0.0.1:9000', 'ftp://files.example', 'https://bucket.example/path', 'https://Bucket.example', "https://a.example 'unsafe-inline'", 'https://a.example;script-src *', '*', 'blob:', 'http://a.example:80']) {
      expect(() => webPageCsp([bad])).toThrow(/origin/);
      expect(() => registerWebPage(Fastify(), { prefix: '/demo/', dir: 'demo', root, mediaOrigins: [bad] })).toThrow(/origin/);
    }
  });

  it('refuses a prefix that does not start and end with a slash', () => {
    expect(() => registerWebPage(Fastify(), { prefix: '/demo', dir: 'demo', root })).toThrow(/prefix/);
  });
});

describe('GraphQL IDE (graphql-ide.ts)', () => {
  const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', GRAPHQL_LANDING_PAGE: 'true', GRAPHQL_INTROSPECTION: 'false' });
  });

  afterAll(async () => {
    await h.close();
  });

  it('answers a browser opening /graphql with the bundled GraphiQL page, without credentials, under the page CSP', async () => {
    const page = await raw(h.base, '/graphql', { accept: browserAccept });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(WEB_PAGE_CSP);
    const html = page.body.toString();
    expect(html).toContain('<base href="/graphql/ide/">');
    // Everything it loads is the gateway's own.
    const sources = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThanOrEqual(2);
    for (const source of sources) {
      expect(source).not.toMatch(/^[a-z]+:|^\/\//i);
      const res = await raw(h.base, `/graphql/ide/${source}`);
      expect({ source, status: res.status }).toEqual({ source, status: 200 });
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
    const script = sources.find((s) => s.endsWith('.js'))!;
    // The schema is built into the bundle: the IDE needs no introspection.
    expect((await raw(h.base, `/graphql/ide/${script}`)).body.toString()).toContain('flowSegmentsAdded');
  });

  it('keeps GET /graphql with a query, or without an HTML Accept, GraphQL over HTTP', async () => {
    const token = await issueToken(tokenSigner(h.gateway.config), { subject: 'ide-test', scopes: ['read'], ttlSec: 300 }, h.gateway.config);
    const query = await checkedFetch(`${h.base}/graphql?query=${encodeURIComponent('{ service { type } }')}`, {
      headers: { accept: browserAccept, authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    });
    expect(query.status).toBe(200);
    expect(query.headers.get('content-type')).toMatch(/^application\/(graphql-response\+)?json/);
    expect(((await query.json()) as { data: unknown }).data).toEqual({ service: { type: expect.any(String) as string } });
    const json = await raw(h.base, '/graphql', { accept: 'application/json' });
    expect(json.headers['content-type']).not.toMatch(/html/);
    expect(json.body.toString()).not.toMatch(/<html/i);
  });

  it('follows GraphQL under TAMS_BASE_PATH: the page at its endpoint, its files below it', async () => {
    const under = await startHarness({ TAMS_BASE_PATH: '/tams/v8.2', GRAPHQL_UNDER_BASE_PATH: 'true', GRAPHQL_LANDING_PAGE: 'true' });
    try {
      const page = await raw(under.base, '/tams/v8.2/graphql', { accept: browserAccept });
      expect(page.status).toBe(200);
      const html = page.body.toString();
      expect(html).toContain('<base href="/tams/v8.2/graphql/ide/">');
      const script = /<script\b[^>]*\bsrc="([^"]+)"/.exec(html)![1]!;
      expect((await raw(under.base, `/tams/v8.2/graphql/ide/${script}`)).status).toBe(200);
      expect((await raw(under.base, '/graphql', { accept: browserAccept })).body.toString()).not.toMatch(/<html/i);
    } finally {
      await under.close();
    }
  });

  it('serves no IDE when GRAPHQL_LANDING_PAGE is off', async () => {
    const off = await startHarness({ GRAPHQL_LANDING_PAGE: 'false' });
    try {
      const page = await raw(off.base, '/graphql', { accept: browserAccept });
      expect(page.headers['content-type']).not.toMatch(/html/);
      expect(page.body.toString()).not.toMatch(/<html/i);
      expect(page.headers['content-security-policy']).not.toBe(WEB_PAGE_CSP);
      const onDisk = fs.readdirSync(path.resolve(__dirname, '../../dist/web/graphiql')).find((name) => name.endsWith('.js'))!;
      expect((await raw(off.base, `/graphql/ide/${onDisk}`)).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});
