import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TamsError } from '../domain/errors';

export interface JsonBodyOptions {
  /** TAMS_MAX_JSON_DEPTH: deepest nesting of arrays and objects accepted. */
  maxDepth: number;
  /** CORS_ORIGINS: origins (besides requests naming none) whose body without Content-Type is read as JSON. */
  untypedJsonOrigins: readonly string[];
}

type ParserDone = (err: Error | null, body?: unknown) => void;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether `text` nests arrays and objects deeper than `maxDepth`, found in one pass over the
 * characters before anything is parsed (strings are skipped whole). Malformed text may pass:
 * the parser refuses it next.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Jump to the closing quote: one not preceded by an odd number of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return false;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * The `application/json` parser: fastify's own (secure-json-parse, refusing `__proto__` and
 * `constructor.prototype` keys, the body limit applied while reading), behind a nesting
 * limit; an empty body parses as no body. Deeply nested input is refused with 400 before it is parsed, so no recursive code
 * further on (schema validation, GraphQL variables) can run out of stack on it.
 *
 * A body without `Content-Type` (scripts send JSON that way) is read as JSON too, but only
 * when the request names no `Origin` or one of CORS_ORIGINS. Such a request is a CORS
 * "simple" request: any web page can make a browser send one, with no preflight and with the
 * Basic credentials the browser holds for the gateway, so from any other origin it stays
 * 415, refused before the body is read (as is any type without a parser, `text/plain`
 * included where a scope removed that parser). GraphQL's own CSRF rule (Apollo's
 * `csrfPrevention`: a body without a type also needs an `apollo-require-preflight` header)
 * still applies after this one.
 */
export function useJsonBody(app: FastifyInstance, options: JsonBodyOptions): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  const parseText = (request: FastifyRequest, text: string, done: ParserDone): void => {
    // An empty body is no body: browser clients send every DELETE with this content type and
    // nothing after it. A route that needs a body refuses its absence itself.
    if (text === '') {
      done(null, undefined);
      return;
    }
    if (nestsDeeperThan(text, options.maxDepth)) {
      done(new TamsError('bad_request', `JSON body nests deeper than ${options.maxDepth} levels`), undefined);
      return;
    }
    void parse(request, text, done);
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseText(request, body as string, done);
  });

  const trusted = new Set(options.untypedJsonOrigins);
  // fastify hands this parser the bodies of every type it has no parser for, and those with none.
  app.addContentTypeParser('*', (request, payload, done) => {
    // No route: the 404 is answered without the body, as fastify does for a type it cannot parse.
    if (request.is404) {
      done(null, undefined);
      return;
    }
    if (request.headers['content-type'] !== undefined) {
      done(new TamsError('unsupported_media_type', 'This Content-Type is not supported: send JSON as application/json'), undefined);
      return;
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !trusted.has(origin)) {
      done(new TamsError('unsupported_media_type', 'A body without Content-Type is read as JSON only from no Origin or one of CORS_ORIGINS: send it as application/json'), undefined);
      return;
    }
    readText(payload, request.routeOptions.bodyLimit, request.headers['content-length']).then(
      (text) => parseText(request, text, done),
      (err: TamsError) => done(err, undefined),
    );
  });
}

/**
 * The whole body as UTF-8, as fastify reads a typed one: over `limit` bytes (declared or
 * received) it is refused with 413, and a body shorter or longer than its Content-Length
 * with 400.
 */
function readText(payload: NodeJS.ReadableStream, limit: number, declared: string | undefined): Promise<string> {
  const declaredLength = declared === undefined ? NaN : Number(declared);
  return new Promise((resolve, reject) => {
    if (declaredLength > limit) {
      reject(new TamsError('payload_too_large', `Request body is larger than ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (err?: TamsError): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      if (err !== undefined) reject(err);
    };
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += buf.length;
      if (received > limit) {
        finish(new TamsError('payload_too_large', `Request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(buf);
    };
    const onEnd = (): void => {
      finish();
      if (!Number.isNaN(declaredLength) && received !== declaredLength) {
        reject(new TamsError('bad_request', 'Request body size did not match Content-Length'));
        return;
      }
      resolve(Buffer.concat(chunks, received).toString('utf8'));
    };
    const onError = (): void => finish(new TamsError('bad_request', 'The request body could not be read'));
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
}
