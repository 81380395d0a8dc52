/** The nesting pre-check of the JSON body parser, on its own. */
import { nestsDeeperThan } from '../../../src/http/json-body';

describe('JSON nesting depth', () => {
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(nestsDeeperThan('[[[]]]', 3)).toBe(false);
    expect(nestsDeeperThan('[[[[]]]]', 3)).toBe(true);
    expect(nestsDeeperThan('{"a":{"b":[1,{"c":2}]}}', 4)).toBe(false);
    expect(nestsDeeperThan('{"a":{"b":[1,{"c":{}}]}}', 4)).toBe(true);
    expect(nestsDeeperThan(JSON.stringify({ s: '[[[[[[{{{{{', t: 'a\\"[[[[[[', u: '\\\\' }), 1)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify([{ s: 'x\\' }, [[]]]), 2)).toBe(true);
    expect(nestsDeeperThan('[[[]]]]]]][[[', 3)).toBe(false);
    expect(nestsDeeperThan('"unterminated [[[[', 1)).toBe(false);
  });
});
