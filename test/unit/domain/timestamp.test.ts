import fc from 'fast-check';
import { TamsError } from '../../../src/domain/errors';
import {
  MAX_TIMESTAMP_SECONDS,
  NANOS_PER_SECOND,
  formatTimestamp,
  parseTimestamp,
  tryParseTimestamp,
} from '../../../src/domain/timestamp';

/** The pattern of the official schema (api/schemas/timestamp.json). */
const SPEC_TIMESTAMP = /^-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8})$/;

describe('parseTimestamp', () => {
  it.each([
    ['0:0', 0n],
    ['1:0', NANOS_PER_SECOND],
    ['0:1', 1n],
    ['1:40000000', 1_040_000_000n],
    ['0:999999999', 999_999_999n],
    ['1694429247:40000000', 1_694_429_247_040_000_000n],
    ['-1:0', -NANOS_PER_SECOND],
    ['-0:1', -1n],
    ['-1:500000000', -1_500_000_000n],
  ])('parses %s', (text, expected) => {
    expect(parseTimestamp(text)).toBe(expected);
    expect(tryParseTimestamp(text)).toBe(expected);
  });

  it('treats -0:0 as zero (the schema allows the sign)', () => {
    expect(parseTimestamp('-0:0')).toBe(0n);
    expect(formatTimestamp(parseTimestamp('-0:0'))).toBe('0:0');
  });

  it('keeps nanosecond counts beyond 2^53 exactly (bigint), up to the 64-bit limit', () => {
    expect(parseTimestamp('9223372035:999999999')).toBe(MAX_TIMESTAMP_SECONDS * NANOS_PER_SECOND + 999_999_999n);
    expect(formatTimestamp(parseTimestamp('-9223372035:5'))).toBe('-9223372035:5');
    expect(parseTimestamp('1694429247:40000000')).toBe(1_694_429_247_040_000_000n);
  });

  it('refuses timestamps beyond what a signed 64-bit nanosecond count can hold', () => {
    expect(tryParseTimestamp('9223372036:0')).toBeUndefined();
    expect(tryParseTimestamp('-9223372036:0')).toBeUndefined();
    expect(tryParseTimestamp('123456789012345678901234567890:999999999')).toBeUndefined();
    expect(() => parseTimestamp('99999999999999999999999999:0')).toThrow(TamsError);
  });

  it.each([
    ['', 'empty'],
    ['0', 'no colon'],
    [':0', 'no seconds'],
    ['0:', 'no nanoseconds'],
    ['00:0', 'leading zero in seconds'],
    ['01:0', 'leading zero in seconds'],
    ['1:00', 'leading zero in nanoseconds'],
    ['1:01', 'leading zero in nanoseconds'],
    ['-01:0', 'leading zero after sign'],
    ['1:1000000000', 'nanoseconds > 999999999'],
    ['1:9999999999', 'ten nanosecond digits'],
    ['+1:0', 'plus sign'],
    ['--1:0', 'double sign'],
    ['- 1:0', 'space after sign'],
    [' 1:0', 'leading space'],
    ['1:0 ', 'trailing space'],
    ['1:0\n', 'trailing newline'],
    ['\t1:0', 'leading tab'],
    ['1 :0', 'inner space'],
    ['1:0:0', 'extra field'],
    ['1.5:0', 'decimal seconds'],
    ['1:0.5', 'decimal nanoseconds'],
    ['1e3:0', 'exponent'],
    ['0x1:0', 'hex'],
    ['a:0', 'letters'],
    ['\u0661:0', 'arabic-indic digit'],
    ['\uff11:0', 'fullwidth digit'],
    ['1_0:0', 'underscore separator'],
    ['1:0x', 'trailing garbage'],
    ['x1:0', 'leading garbage'],
    ['[1:0]', 'a timerange, not a timestamp'],
  ])('rejects %j (%s)', (text) => {
    expect(tryParseTimestamp(text)).toBeUndefined();
    expect(() => parseTimestamp(text)).toThrow(TamsError);
  });

  it('throws the registry error bad_timestamp (400) naming the input', () => {
    let caught: unknown;
    try {
      parseTimestamp('01:0');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TamsError);
    const err = caught as TamsError;
    expect(err.code).toBe('bad_timestamp');
    expect(err.status).toBe(400);
    expect(err.message).toContain('"01:0"');
  });
});

describe('formatTimestamp', () => {
  it.each([
    [0n, '0:0'],
    [1n, '0:1'],
    [-1n, '-0:1'],
    [999_999_999n, '0:999999999'],
    [NANOS_PER_SECOND, '1:0'],
    [-NANOS_PER_SECOND, '-1:0'],
    [-1_500_000_000n, '-1:500000000'],
    [1_694_429_247_040_000_000n, '1694429247:40000000'],
  ])('formats %p as %s', (ns, expected) => {
    expect(formatTimestamp(ns)).toBe(expected);
  });
});

describe('timestamp properties', () => {
  const limit = MAX_TIMESTAMP_SECONDS * NANOS_PER_SECOND + 999_999_999n;
  const nanos = fc.bigInt({ min: -limit, max: limit });
  const small = fc.bigInt({ min: -5n * NANOS_PER_SECOND, max: 5n * NANOS_PER_SECOND });
  const anyNanos = fc.oneof(nanos, small);

  it('parse(format(ns)) === ns', () => {
    fc.assert(fc.property(anyNanos, (ns) => parseTimestamp(formatTimestamp(ns)) === ns));
  });

  it('format always produces text matching the schema pattern', () => {
    fc.assert(fc.property(anyNanos, (ns) => SPEC_TIMESTAMP.test(formatTimestamp(ns))));
  });

  it('format(parse(text)) === text for every schema-valid text except -0:0', () => {
    const text = fc
      .tuple(
        fc.boolean(),
        fc.bigInt({ min: 0n, max: MAX_TIMESTAMP_SECONDS }),
        fc.integer({ min: 0, max: 999_999_999 }),
      )
      .filter(([neg, s, n]) => !(neg && s === 0n && n === 0))
      .map(([neg, s, n]) => `${neg ? '-' : ''}${s}:${n}`);
    fc.assert(fc.property(text, (t) => formatTimestamp(parseTimestamp(t)) === t));
  });

  it('accepts exactly the strings the schema pattern accepts, within the 64-bit range', () => {
    const alphabet = fc.constantFrom('0', '1', '9', ':', '-', '+', ' ', '.', '_', 'a', '\n');
    const arbitraryText = fc.string({ unit: alphabet, maxLength: 14 });
    const specText = fc.stringMatching(SPEC_TIMESTAMP);
    fc.assert(
      fc.property(fc.oneof(arbitraryText, specText), (t) => {
        const inRange = BigInt(/^-?(\d+)/.exec(t)?.[1] ?? '0') <= MAX_TIMESTAMP_SECONDS;
        return (tryParseTimestamp(t) !== undefined) === (SPEC_TIMESTAMP.test(t) && inRange);
      }),
      { numRuns: 2000 },
    );
  });
});
