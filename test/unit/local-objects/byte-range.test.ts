import fc from 'fast-check';
import { parseByteRange } from '../../../src/adapters/local-objects/byte-range';

describe('parseByteRange', () => {
  it.each<[string | undefined, number, ReturnType<typeof parseByteRange>]>([
    // a-b
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=0-9', 10, { start: 0, end: 9 }],
    ['bytes=2-5', 10, { start: 2, end: 5 }],
    ['bytes=2-100', 10, { start: 2, end: 9 }],
    ['bytes=9-9', 10, { start: 9, end: 9 }],
    ['bytes=10-20', 10, 'unsatisfiable'],
    ['bytes=5-2', 10, undefined],
    // a-
    ['bytes=0-', 10, { start: 0, end: 9 }],
    ['bytes=7-', 10, { start: 7, end: 9 }],
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=99999999999999999999999-', 10, 'unsatisfiable'],
    ['bytes=0-99999999999999999999999', 10, { start: 0, end: 9 }],
    // -n
    ['bytes=-1', 10, { start: 9, end: 9 }],
    ['bytes=-4', 10, { start: 6, end: 9 }],
    ['bytes=-10', 10, { start: 0, end: 9 }],
    ['bytes=-500', 10, { start: 0, end: 9 }],
    ['bytes=-0', 10, 'unsatisfiable'],
    // empty object: nothing is satisfiable
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=-5', 0, 'unsatisfiable'],
    // unit is case-insensitive; optional whitespace around the spec
    ['Bytes=1-2', 10, { start: 1, end: 2 }],
    ['BYTES= 1-2 ', 10, { start: 1, end: 2 }],
    // whole body: no header, other units, malformed, multi-range
    [undefined, 10, undefined],
    ['', 10, undefined],
    ['bytes=', 10, undefined],
    ['bytes=-', 10, undefined],
    ['items=0-1', 10, undefined],
    ['bytes 0-1', 10, undefined],
    ['bytes=a-b', 10, undefined],
    ['bytes=1.5-2', 10, undefined],
    ['bytes=+1-2', 10, undefined],
    ['bytes=-1-2', 10, undefined],
    ['bytes=0x1-2', 10, undefined],
    ['bytes=0-1,4-5', 10, undefined],
    ['bytes=0-1, 4-5', 10, undefined],
    ['bytes=\u0661-2', 10, undefined],
  ])('%j of %d bytes -> %j', (header, size, expected) => {
    expect(parseByteRange(header, size)).toEqual(expected);
  });

  it('any range it returns lies inside the object and is non-empty', () => {
    const header = fc.oneof(
      fc.tuple(fc.nat(200), fc.nat(200)).map(([a, b]) => `bytes=${a}-${b}`),
      fc.nat(200).map((a) => `bytes=${a}-`),
      fc.nat(200).map((n) => `bytes=-${n}`),
    );
    fc.assert(
      fc.property(header, fc.nat(150), (h, size) => {
        const r = parseByteRange(h, size);
        if (r === undefined || r === 'unsatisfiable') return true;
        return Number.isSafeInteger(r.start) && r.start >= 0 && r.start <= r.end && r.end < size;
      }),
    );
  });
});
