import type { FastifyInstance } from 'fastify';
import { TamsError } from '../domain/errors';

export interface JsonBodyOptions {
  /** TAMS_MAX_JSON_DEPTH: deepest nesting of arrays and objects accepted. */
  maxDepth: number;
}

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
 */
export function useJsonBody(app: FastifyInstance, options: JsonBodyOptions): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
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
  });
}
