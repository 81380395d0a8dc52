import { formatTimerange, formatTimestamp, parseTimerange, parseTimestamp } from '../../../web/explorer/timerange';

describe('explorer timeranges', () => {
  it('reads TAMS timestamps to the nanosecond, signs included', () => {
    expect(parseTimestamp('10:500000000')).toBe(10_500_000_000n);
    expect(parseTimestamp('-3:1')).toBe(-3_000_000_001n);
    expect(parseTimestamp('1700000000:999999999')).toBe(1_700_000_000_999_999_999n);
    expect(parseTimestamp('1.5')).toBeUndefined();
    expect(parseTimestamp('1:1234567890')).toBeUndefined();
    expect(formatTimestamp(-3_000_000_001n)).toBe('-3:1');
  });

  it('reads a range as an inclusive start and an exclusive end', () => {
    expect(parseTimerange('[0:0_10:0)')).toEqual({ start: 0n, end: 10_000_000_000n });
    expect(parseTimerange('(0:0_10:0]')).toEqual({ start: 1n, end: 10_000_000_001n });
    expect(parseTimerange('[5:0_)')).toEqual({ start: 5_000_000_000n, end: undefined });
    expect(parseTimerange('_')).toEqual({ start: undefined, end: undefined });
    expect(parseTimerange('[5:0]')).toEqual({ start: 5_000_000_000n, end: 5_000_000_001n });
  });

  it('tells empty ranges from malformed ones', () => {
    expect(parseTimerange('()')).toBeNull();
    expect(parseTimerange('[5:0_5:0)')).toBeNull();
    expect(parseTimerange('[5:0_x)')).toBeUndefined();
    expect(parseTimerange('nonsense')).toBeUndefined();
  });

  it('writes the canonical form back', () => {
    expect(formatTimerange(2_000_000_000n, 4_500_000_000n)).toBe('[2:0_4:500000000)');
  });
});
