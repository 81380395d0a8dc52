/**
 * Where a VAST request goes: `/bucket/schema/table?verb&param=value`. VAST selects the
 * operation by a bare query verb (`?schema`, `?table`, `?rows`, `?transaction`, ...), sent
 * without `=` as both public clients send it, and signed as `verb=` (an empty value), as
 * SigV4 canonicalises a key without a value and as the Java client's own signer writes it.
 *
 * The public clients canonicalise differently where names need escaping: the Python SDK's signer
 * (aws-requests-auth) quotes the already-escaped path a second time and sorts `key=value` pairs as
 * strings with values escaped as by `quote_plus`; the Java client (AWS SDK v1 AWS4Signer) escapes
 * the raw path once and sorts by key. They agree exactly when every path segment and query
 * key is made of unreserved characters (A-Z a-z 0-9 - . _ ~), values also of `/` (always sent
 * as %2F), and the two sort orders agree. Those are the only requests this module builds: what a
 * VAST cluster does with the other spellings is unknown, so they are refused before sending.
 */

export interface VastTarget {
  /** `[bucket, schema, table]` or a prefix of it; `[]` is the root (`/?transaction`). */
  path: readonly string[];
  /** The operation's verb, the first query key, sent bare (`schema`, `rows`, `transaction`). */
  verb?: string;
  /** Further query parameters (`tabular-new-schema-name`, `name`, ...), sent as `key=value`. */
  params?: Readonly<Record<string, string>>;
}

export interface ResolvedTarget {
  /** The path as sent and as signed: the same characters, since none needs escaping. */
  path: string;
  /** The query as sent, without `?`: the verb bare, then the parameters sorted by key. */
  search: string;
  /** The query as signed: every key with its unescaped value (`''` for the verb). */
  signingQuery: Record<string, string>;
}

/** A request the transport refuses to build, with why. */
export class InvalidVastTarget extends Error {
  override name = 'InvalidVastTarget';
}

const UNRESERVED = /^[A-Za-z0-9._~-]+$/;
const VALUE = /^[A-Za-z0-9._~/-]*$/;
const VERB = /^[a-z][a-z0-9-]*$/;

function checkSegment(segment: string, index: number): void {
  // '.' and '..' are unreserved but a signer that normalises paths would drop or climb them.
  if (!UNRESERVED.test(segment) || segment === '.' || segment === '..') {
    throw new InvalidVastTarget(`path segment ${index} (${JSON.stringify(segment)}) must be made of A-Z a-z 0-9 - . _ ~ and not be . or ..`);
  }
}

/** `a` before `b` in code-unit order (what both SigV4 and Python's sort use on ASCII). */
function ascending(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function resolveTarget(target: VastTarget): ResolvedTarget {
  if (target.path.length > 3) throw new InvalidVastTarget('a VAST path has at most three segments: bucket, schema, table');
  target.path.forEach(checkSegment);
  const params = Object.entries(target.params ?? {});
  const verb = target.verb;
  if (verb !== undefined && !VERB.test(verb)) throw new InvalidVastTarget(`verb ${JSON.stringify(verb)} must be a lowercase word`);
  for (const [key, value] of params) {
    if (!UNRESERVED.test(key)) throw new InvalidVastTarget(`query key ${JSON.stringify(key)} must be made of A-Z a-z 0-9 - . _ ~`);
    if (!VALUE.test(value)) throw new InvalidVastTarget(`query value for ${key} must be made of A-Z a-z 0-9 - . _ ~ /`);
    if (key === verb) throw new InvalidVastTarget(`query key ${key} repeats the verb`);
    // Kept off plain objects' prototype slots, here and in the signer's copies of the query.
    if (key.startsWith('__')) throw new InvalidVastTarget(`query key ${key} must not start with __`);
  }

  const signingQuery: Record<string, string> = {};
  if (verb !== undefined) signingQuery[verb] = '';
  for (const [key, value] of params) signingQuery[key] = value;
  const sent = params
    .map(([key, value]) => [key, `${key}=${value.replace(/\//g, '%2F')}`] as const)
    .sort(([a], [b]) => ascending(a, b));
  const search = [...(verb === undefined ? [] : [[verb, verb] as const]), ...sent];
  // SigV4 sorts by key; the Python SDK's signer sorts the query's `key=value` strings as sent.
  // They differ when a key is a prefix of another followed by a character before '=' ('-', '.',
  // a digit), e.g. `name=a` and `name-prefix=b`: no signature would then satisfy both readings.
  const byKey = Object.keys(signingQuery).sort(ascending);
  const byText = [...search].sort(([, a], [, b]) => ascending(a, b)).map(([key]) => key);
  if (byKey.join('&') !== byText.join('&')) {
    throw new InvalidVastTarget(`query keys ${byKey.join(', ')} sort differently by key and by key=value`);
  }
  return {
    path: `/${target.path.join('/')}`,
    search: search.map(([, text]) => text).join('&'),
    signingQuery,
  };
}
