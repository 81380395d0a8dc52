/**
 * VAST request targets (src/adapters/vast/transport/request-target.ts): the path and query a
 * request is sent with, and the query it is signed with.
 *
 * The property behind the module: for every target it accepts, the two public clients' ways of
 * canonicalising the request for SigV4 give the same text, so a signature is right whichever
 * one the cluster's verifier follows. Both are written out here from their sources:
 * - the Python SDK's signer, aws-requests-auth (aws_requests_auth/aws_auth.py): the path as
 *   `urllib.parse.quote(path, safe='/-_.~')` of the URL's (already escaped) path; the query as the
 *   URL's `key=value` strings sorted as text, a bare key getting `=`;
 * - SigV4 as the AWS SDKs (the Java client's AWS4Signer) do it: keys sorted, every key and value
 *   escaped per RFC 3986.
 * Targets it cannot sign unambiguously are refused, before anything is sent.
 */
import fc from 'fast-check';
import { InvalidVastTarget, resolveTarget, type VastTarget } from '../../src/adapters/vast/transport/request-target';

/** RFC 3986 escaping as SigV4 specifies it: everything but A-Z a-z 0-9 - . _ ~ as %XX. */
function rfc3986(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** Python's urllib.parse.quote(text, safe) (letters, digits and `_.-~` are always safe). */
function pythonQuote(text: string, safe: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9_.\-~]/.test(char) || safe.includes(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** aws-requests-auth's get_canonical_querystring over the query as sent. */
function pythonCanonicalQuery(search: string): string {
  return search
    .split('&')
    .sort()
    .filter((part) => part.split('=', 1)[0] !== '')
    .map((part) => {
      const at = part.indexOf('=');
      return at < 0 ? `${part}=` : `${part.slice(0, at)}=${part.slice(at + 1)}`;
    })
    .join('&');
}

/** SigV4's canonical query of decoded key/value pairs: sorted by key, both escaped. */
function sigV4CanonicalQuery(query: Record<string, string>): string {
  return Object.keys(query)
    .map((key) => [rfc3986(key), rfc3986(query[key]!)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

/** The query as a server receives it: split on & and =, each part %-decoded. */
function decodedQuery(search: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const part of search === '' ? [] : search.split('&')) {
    const at = part.indexOf('=');
    const key = decodeURIComponent(at < 0 ? part : part.slice(0, at));
    query[key] = at < 0 ? '' : decodeURIComponent(part.slice(at + 1));
  }
  return query;
}

describe('VAST request targets', () => {
  it('sends the verb bare and signs it as verb=', () => {
    expect(resolveTarget({ path: ['tams', 'gateway', 'segments'], verb: 'rows' })).toEqual({ path: '/tams/gateway/segments', search: 'rows', signingQuery: { rows: '' } });
    expect(resolveTarget({ path: [], verb: 'transaction' })).toEqual({ path: '/', search: 'transaction', signingQuery: { transaction: '' } });
    expect(resolveTarget({ path: ['tams'] })).toEqual({ path: '/tams', search: '', signingQuery: {} });
  });

  it('puts parameters after the verb, sorted, with / escaped on the wire and not in the signing query', () => {
    expect(resolveTarget({ path: ['b', 's', 't'], verb: 'table', params: { 'tabular-new-table-name': 's/t2', name: 'p1' } })).toEqual({
      path: '/b/s/t',
      search: 'table&name=p1&tabular-new-table-name=s%2Ft2',
      signingQuery: { table: '', name: 'p1', 'tabular-new-table-name': 's/t2' },
    });
  });

  it.each<[string, VastTarget]>([
    ['a space in a name', { path: ['my bucket'] }],
    ['a percent sign', { path: ['b', '50%'] }],
    ['a non-ASCII name', { path: ['b', 'café'] }],
    ['an empty segment', { path: ['b', '', 't'] }],
    ['a dot segment', { path: ['b', '..', 't'] }],
    ['a slash inside a segment', { path: ['b', 's/t'] }],
    ['four segments', { path: ['b', 's', 't', 'x'] }],
    ['an uppercase verb', { path: [], verb: 'Transaction' }],
    ['a value with a space', { path: ['b'], verb: 'schema', params: { 'tabular-new-schema-name': 'a b' } }],
    ['a value with a plus', { path: ['b'], verb: 'schema', params: { 'tabular-new-schema-name': 'a+b' } }],
    ['a key repeating the verb', { path: ['b'], verb: 'schema', params: { schema: 'x' } }],
    ['a prototype key', { path: ['b'], verb: 'schema', params: { __proto__x: 'x' } }],
    ['keys that sort differently as key=value', { path: ['b'], verb: 'schema', params: { name: 'a', 'name-prefix': 'b' } }],
  ])('refuses %s', (_why, target) => {
    expect(() => resolveTarget(target)).toThrow(InvalidVastTarget);
  });

  it('gives one canonical request for both public clients on every target it accepts', () => {
    const alphabet = fc.constantFrom(...'abcXYZ019-._~ /%+é'.split(''), 'ab', 'name', 'tabular-');
    const word = (max: number) => fc.string({ unit: alphabet, minLength: 0, maxLength: max });
    const target = fc.record({
      path: fc.array(word(4), { maxLength: 3 }),
      verb: fc.option(fc.constantFrom('rows', 'schema', 'table', 'data', 'transaction', 'column', 'stats', 'Bad', 'a-b'), { nil: undefined }),
      params: fc.dictionary(word(3), word(4), { maxKeys: 4 }),
    });
    let accepted = 0;
    fc.assert(
      fc.property(target, (t) => {
        const request: VastTarget = { path: t.path, params: t.params, ...(t.verb === undefined ? {} : { verb: t.verb }) };
        let resolved;
        try {
          resolved = resolveTarget(request);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidVastTarget);
          return;
        }
        accepted += 1;
        // The path: sent, signed (S3-style, unescaped once) and Python-quoted, all the same text.
        expect(pythonQuote(resolved.path, '/-_.~')).toBe(resolved.path);
        expect(resolved.path.split('/').map((segment) => rfc3986(decodeURIComponent(segment))).join('/')).toBe(resolved.path);
        // The query a server decodes is the one signed, and both canonical forms agree on it.
        expect(decodedQuery(resolved.search)).toEqual(resolved.signingQuery);
        expect(pythonCanonicalQuery(resolved.search)).toBe(sigV4CanonicalQuery(resolved.signingQuery));
      }),
      { numRuns: 2000 },
    );
    // The generator must reach the accepting side often enough for the property to mean something.
    expect(accepted).toBeGreaterThan(100);
  });
});
