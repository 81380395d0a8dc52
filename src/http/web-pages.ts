import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TamsError } from '../domain/errors';
import { webPageCsp } from './security-headers';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without credentials: a browser loading a page sends none (authentication-hook.ts). */
    openToAnonymous?: boolean;
  }
}

export interface WebPageOptions {
  /** The URL prefix the page's files are served under, ending with `/`: `/explorer/`. */
  prefix: string;
  /** The page's folder under dist/web: scripts/build-web.js builds web/<dir>/ there. */
  dir: string;
  /** Serve index.html at the prefix itself (and redirect the prefix without its `/`); default true. */
  index?: boolean;
  /** Where the built pages are; default dist/web of this package. */
  root?: string;
  /**
   * Origins the page may also fetch media from (its CSP's connect-src and media-src): the
   * explorer's, where segment URIs redirect to presigned URLs of S3 buckets. Default none.
   */
  mediaOrigins?: readonly string[];
}

export interface WebPage {
  /**
   * Sends the page's index.html, for a page also served at a URL of its own (the GraphQL IDE at
   * `/graphql`); its relative URLs resolve under the prefix all the same.
   */
  sendIndex(request: FastifyRequest, reply: FastifyReply): FastifyReply;
}

interface PageFile {
  body: Buffer;
  gzipped: Buffer | undefined;
  type: string;
  etag: string;
  cacheControl: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.graphql': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

/** esbuild's `[name]-[hash]` names: their content never changes under the same name. */
const HASHED = /-[A-Z0-9]{8}\.[a-z0-9]+$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Anything else (index.html first) is revalidated on every use, cheaply by its ETag. */
const REVALIDATE = 'no-cache';
const COMPRESSIBLE = /^(text\/|application\/(json|wasm)|image\/svg)/;
const MIN_GZIP_BYTES = 1024;

/** dist/web of this package, from src/http (ts-jest) or dist/src/http (built) alike. */
function defaultWebRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return path.join(dir, 'dist', 'web');
}

function filesUnder(dir: string, base = ''): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, base), { withFileTypes: true })) {
    // Dotfiles (build bookkeeping, editor files) are never served.
    if (entry.name.startsWith('.')) continue;
    const relative = base === '' ? entry.name : `${base}/${entry.name}`;
    if (entry.isDirectory()) files.push(...filesUnder(dir, relative));
    else if (entry.isFile()) files.push(relative);
  }
  return files;
}

function pageFile(body: Buffer, name: string): PageFile {
  const type = TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
  return {
    body,
    gzipped: COMPRESSIBLE.test(type) && body.length >= MIN_GZIP_BYTES ? gzipSync(body) : undefined,
    type,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    cacheControl: HASHED.test(name) ? IMMUTABLE : REVALIDATE,
  };
}

/**
 * index.html names its files relatively; a `<base>` makes them resolve under the prefix
 * wherever the page is served (`/explorer` without its slash, `/graphql` for the IDE).
 */
function withBase(html: Buffer, prefix: string): Buffer {
  const text = html.toString('utf8');
  const head = /<head(\s[^>]*)?>/i.exec(text);
  if (head === null) return html;
  const at = head.index + head[0].length;
  return Buffer.from(`${text.slice(0, at)}<base href="${prefix}">${text.slice(at)}`, 'utf8');
}

/**
 * The built files of one page, read on first use and kept: a bundle is a few megabytes at
 * most and never changes while the gateway runs (a rebuild is followed by a restart). Only
 * these files can be served: a request path is looked up among them, never joined to a
 * filesystem path, so no `..` or encoded trick reaches another file.
 */
class PageFiles {
  private files: Map<string, PageFile> | undefined;

  constructor(
    private readonly folder: string,
    private readonly prefix: string,
  ) {}

  /** The page's files, or undefined when it is not built (checked again on the next request). */
  load(): Map<string, PageFile> | undefined {
    if (this.files !== undefined) return this.files;
    if (!fs.existsSync(path.join(this.folder, 'index.html'))) return undefined;
    const files = new Map<string, PageFile>();
    for (const name of filesUnder(this.folder)) {
      const body = fs.readFileSync(path.join(this.folder, name));
      files.set(name, pageFile(name === 'index.html' ? withBase(body, this.prefix) : body, name));
    }
    this.files = files;
    return files;
  }
}

function notBuiltError(dir: string): TamsError {
  return new TamsError('not_found', `The ${dir} page is not built (dist/web/${dir}/ is missing): run npm run build`);
}

function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html');
}

/** A browser gets a readable page; anything else the TAMS error body (error-handler.ts). */
function sendNotBuilt(request: FastifyRequest, reply: FastifyReply, dir: string, csp: string): FastifyReply {
  const error = notBuiltError(dir);
  if (!wantsHtml(request)) throw error;
  return reply
    .code(error.status)
    .header('content-security-policy', csp)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Page not built</title></head>` +
        `<body><h1>The ${dir} page is not built</h1><p>dist/web/${dir}/ is missing. ` +
        `Run <code>npm run build</code> (or <code>node scripts/build-web.js</code>) and restart the gateway.</p></body></html>`,
    );
}

function sendFile(request: FastifyRequest, reply: FastifyReply, file: PageFile, csp: string): FastifyReply {
  void reply
    .header('content-security-policy', csp)
    .header('cache-control', file.cacheControl)
    .header('etag', file.etag)
    .header('vary', 'Accept-Encoding')
    .type(file.type);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  const gzip = file.gzipped !== undefined && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '');
  if (gzip) void reply.header('content-encoding', 'gzip');
  return reply.send(gzip ? file.gzipped : file.body);
}

/**
 * Serves a page built by scripts/build-web.js: its files under `prefix`, with their content
 * types, ETags, immutable caching for content-hashed names, gzip, and the page CSP (the
 * gateway's own origin, and `mediaOrigins` for media). Open to anonymous requests: a browser navigating sends no
 * token, and the files are the same for everyone; the page then sends the user's token with
 * its API calls. A page that is not built answers 404 saying how to build it.
 */
export function registerWebPage(app: FastifyInstance, options: WebPageOptions): WebPage {
  const { prefix, dir } = options;
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`web page prefix must start and end with '/': ${prefix}`);
  const page = new PageFiles(path.join(options.root ?? defaultWebRoot(), dir), prefix);
  const csp = webPageCsp(options.mediaOrigins);
  const config = { openToAnonymous: true };

  const serve = (request: FastifyRequest, reply: FastifyReply, name: string): FastifyReply => {
    const files = page.load();
    if (files === undefined) return sendNotBuilt(request, reply, dir, csp);
    const file = files.get(name);
    if (file === undefined) throw new TamsError('not_found', `No file ${prefix}${name} in the ${dir} page`);
    return sendFile(request, reply, file, csp);
  };

  const index = options.index ?? true;
  app.get<{ Params: { '*': string } }>(`${prefix}*`, { config }, async (request, reply) => {
    const name = request.params['*'];
    if (name === '' || name === 'index.html') {
      if (!index) throw new TamsError('not_found', `No page at ${request.url.split('?', 1)[0]}`);
      return serve(request, reply, 'index.html');
    }
    return serve(request, reply, name);
  });
  if (index) {
    const bare = prefix.slice(0, -1);
    if (bare !== '') app.get(bare, { config }, async (_request, reply) => reply.redirect(prefix, 308));
  }
  return { sendIndex: (request, reply) => serve(request, reply, 'index.html') };
}
