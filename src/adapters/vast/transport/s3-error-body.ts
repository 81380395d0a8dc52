/**
 * VAST's error bodies are S3's: `<?xml ...?><Error><Code>SlowDown</Code><Message>Slow Down</Message>
 * <Resource/><RequestId>a00100000025</RequestId></Error>` (the shape the Java client's tests answer
 * with, and the fields the Python SDK's errors.from_response reads: Code and Message under the
 * root). The shape is flat and small, so a few element reads do, instead of an XML package the
 * gateway would otherwise not need. Anything that is not such a document gives `undefined`: the
 * status alone then says what happened.
 */

export interface S3ErrorBody {
  code?: string;
  message?: string;
  resource?: string;
  requestId?: string;
}

/** Error documents are a few hundred bytes; a longer body is not read past this. */
const READ_LIMIT = 64 * 1024;

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]+);/g, (whole, name: string) => {
    if (!name.startsWith('#')) return ENTITIES[name] ?? whole;
    const point = name.startsWith('#x') ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
    // A reference to no character is left as written rather than thrown on.
    return point <= 0x10ffff ? String.fromCodePoint(point) : whole;
  });
}

/**
 * The text of the first `<name>` element (an empty one for `<name/>`), or undefined. A linear
 * scan, not a regular expression: a pattern with an attribute part (`<Code\s[^>]*`) tried at each
 * of thousands of unclosed `<Code ` in a hostile 64 KiB body took most of a second.
 */
function field(document: string, name: string): string | undefined {
  const open = `<${name}`;
  const close = `</${name}`;
  let from = 0;
  // The first `>` at or after the last tag start looked at: reused while later starts lie before it.
  let nextGt = -1;
  for (;;) {
    const at = document.indexOf(open, from);
    if (at < 0) return undefined;
    const after = at + open.length;
    from = after;
    const next = document.charAt(after);
    if (next !== '>' && next !== '/' && !/\s/.test(next)) continue; // a longer name (`<CodeX`)
    if (nextGt < after) nextGt = document.indexOf('>', after);
    if (nextGt < 0) return undefined;
    if (document.charAt(nextGt - 1) === '/') return '';
    const textStart = nextGt + 1;
    const lt = document.indexOf('<', textStart);
    if (lt < 0) return undefined;
    if (document.startsWith(close, lt)) {
      let end = lt + close.length;
      while (end < document.length && /\s/.test(document.charAt(end))) end += 1;
      if (document.charAt(end) === '>') return decodeText(document.slice(textStart, lt)).trim();
    }
  }
}

export function parseS3ErrorBody(body: Buffer): S3ErrorBody | undefined {
  const text = body.subarray(0, READ_LIMIT).toString('utf8');
  // The document: an optional declaration, then one root element that closes.
  const root = /^\s*(?:<\?xml[^>]*\?>\s*)?<([A-Za-z][\w.-]*)(?:\s[^>]*)?>([\s\S]*)<\/\1\s*>\s*$/.exec(text);
  if (root === null) return undefined;
  const inner = root[2] ?? '';
  const parsed: S3ErrorBody = {};
  const code = field(inner, 'Code');
  const message = field(inner, 'Message');
  const resource = field(inner, 'Resource');
  const requestId = field(inner, 'RequestId');
  if (code !== undefined && code !== '') parsed.code = code;
  if (message !== undefined && message !== '') parsed.message = message;
  if (resource !== undefined && resource !== '') parsed.resource = resource;
  if (requestId !== undefined && requestId !== '') parsed.requestId = requestId;
  return Object.keys(parsed).length === 0 ? undefined : parsed;
}
