/**
 * Hostile review of the gateway's web pages and GraphQL IDE (src/http/web-pages.ts,
 * src/http/graphql-ide.ts, dist/web built by scripts/build-web.js) on real gateways: the IDE
 * only with GRAPHQL_LANDING_PAGE, the page CSP on every HTML answer, traversal and header
 * injection through the page paths, HEAD as GET. The two defects it found (HEAD /graphql
 * refused, fastify's own body for an undecodable path) are fixed.
 */
import { startHarness, type Harness } from '../support/gateway-harness';
import { isTamsErrorBody, rawRequest } from '../support/raw-http';
import { WEB_PAGE_CSP } from '../../src/http/security-headers';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('hostile web pages: GRAPHQL_LANDING_PAGE=false', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', GRAPHQL_LANDING_PAGE: 'false' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('serves no IDE, at /graphql or below it, to a browser without credentials', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await rawRequest(h.base, '/graphql', { accept: BROWSER }, method);
      expect({ method, html: (res.headers['content-type'] ?? '').startsWith('text/html') }).toEqual({ method, html: false });
      expect(res.body).not.toContain('<html');
    }
    for (const path of ['/graphql/ide/', '/graphql/ide/index.html', '/graphql/ide/main.js']) {
      const res = await rawRequest(h.base, path, { accept: BROWSER });
      expect({ path, status: res.status }).toEqual({ path, status: expect.any(Number) as number });
      expect({ path, served: res.status < 400 }).toEqual({ path, served: false });
      expect(res.body).not.toContain('<html');
    }
  });

  it('still serves the explorer (static files only) under the page CSP', async () => {
    const page = await rawRequest(h.base, '/explorer/', { accept: BROWSER });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(WEB_PAGE_CSP);
  });
});

describe('hostile web pages: GRAPHQL_LANDING_PAGE=true, TAMS_AUTH=on', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', GRAPHQL_LANDING_PAGE: 'true', GRAPHQL_INTROSPECTION: 'false' });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Script and style files an index.html names. */
  const assetsOf = (html: string): string[] => [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);

  it('puts the page CSP on every HTML answer: each page, its index.html, HEAD, and a 304 revalidation', async () => {
    for (const path of ['/explorer/', '/explorer/index.html', '/graphql']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await rawRequest(h.base, path, { accept: BROWSER }, method);
        expect({ path, method, status: res.status, csp: res.headers['content-security-policy'] }).toEqual({ path, method, status: 200, csp: WEB_PAGE_CSP });
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        if (method === 'GET') {
          const again = await rawRequest(h.base, path, { accept: BROWSER, 'if-none-match': res.headers.etag! });
          expect({ path, status: again.status, csp: again.headers['content-security-policy'] }).toEqual({ path, status: 304, csp: WEB_PAGE_CSP });
        }
      }
    }
    // A page's own scripts load from its origin only, and answer with their own type under nosniff.
    const explorer = await rawRequest(h.base, '/explorer/', { accept: BROWSER });
    for (const asset of assetsOf(explorer.body)) {
      expect(asset).not.toMatch(/^[a-z]+:|^\/\//i);
      const res = await rawRequest(h.base, `/explorer/${asset}`);
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
      expect(res.headers['content-type']).toMatch(/^text\/(javascript|css)/);
    }
  });

  it('serves nothing outside the built pages and reflects nothing into headers, whatever the path', async () => {
    const attempts = [
      '/explorer/../package.json',
      '/explorer/%2e%2e/package.json',
      '/explorer/%2e%2e%2f%2e%2e%2fpackage.json',
      '/explorer/..%5c..%5cpackage.json',
      '/explorer//etc/passwd',
      '/explorer/%2fetc%2fpasswd',
      '/explorer/index.html%00.js',
      '/explorer/.build-inputs.json',
      '/explorer/%2ebuild-inputs.json',
      '/graphql/ide/../../package.json',
      '/graphql/ide/%2e%2e%2f%2e%2e%2fsrc%2fconfig.ts',
      '/graphql/ide/..%2f..%2f..%2fschema%2fschema.graphql',
      '/explorer/%0d%0aSet-Cookie:%20hijacked=1',
      '/explorer/x%0d%0aLocation:%20https://evil.example',
      '/explorer/%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    ];
    for (const attempt of attempts) {
      const res = await rawRequest(h.base, attempt, { accept: BROWSER });
      expect({ attempt, served: res.status < 300 }).toEqual({ attempt, served: false });
      expect({ attempt, leaked: /"name": "tams|root:x:|loadConfig|type Query/.test(res.body) }).toEqual({ attempt, leaked: false });
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers.location ?? '').not.toContain('evil.example');
      // A refusal is never HTML with the attacker's text in it.
      if ((res.headers['content-type'] ?? '').startsWith('text/html')) expect(res.body).not.toContain('<script>alert');
    }
  });

  it('keeps its own redirect of the bare prefix on its own origin, whatever the Host or path tricks', async () => {
    for (const path of ['/explorer', '/explorer?next=https://evil.example', '//explorer']) {
      const res = await rawRequest(h.base, path, { host: 'evil.example', 'x-forwarded-host': 'evil.example' });
      if (res.status === 308) expect(res.headers.location).toBe('/explorer/');
      expect(res.headers.location ?? '').not.toContain('evil');
    }
  });

  it('answers GraphQL over HTTP, not the IDE, for a browser GET that carries an operation, and refuses it without credentials', async () => {
    const res = await rawRequest(h.base, `/graphql?query=${encodeURIComponent('{ flows { items { id } } }')}`, { accept: BROWSER });
    expect(res.status).toBe(401);
    expect(res.body).not.toContain('<html');
    const ext = await rawRequest(h.base, `/graphql?extensions=${encodeURIComponent('{}')}`, { accept: BROWSER });
    expect(ext.body).not.toContain('<html');
  });

  // needsNoCredentials() let only GET of the GraphQL path through as anonymous while
  // opensIde() serves GET and HEAD (RFC 9110 9.3.2: HEAD answers as GET without a body).
  it('HEAD /graphql from a browser answers as GET of the same URL, the IDE (was 401)', async () => {
    const get = await rawRequest(h.base, '/graphql', { accept: BROWSER });
    expect(get.status).toBe(200);
    const head = await rawRequest(h.base, '/graphql', { accept: BROWSER }, 'HEAD');
    expect({ status: head.status, type: head.headers['content-type'], csp: head.headers['content-security-policy'] }).toEqual({
      status: 200,
      type: get.headers['content-type'],
      csp: WEB_PAGE_CSP,
    });
  });

  // Before app.ts gave Fastify a `frameworkErrors` handler, a request target with an undecodable
  // escape (FST_ERR_BAD_URL) was answered by fastify itself, on every route.
  it('an undecodable escape in a page or HLS path gets the TAMS error body (was fastify\'s own)', async () => {
    for (const path of ['/explorer/%ff', '/graphql/ide/%c0%af', '/hls/flows/%ff.m3u8', '/hls/flows/00000000-0000-4000-8000-000000000000/segments/%ff.ts']) {
      const res = await rawRequest(h.base, path);
      expect({ path, status: res.status, tams: isTamsErrorBody(res.body) }).toEqual({ path, status: 400, tams: true });
    }
  });
});
