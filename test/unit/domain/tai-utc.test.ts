import { formatUtc, taiMinusUtcAtUtc, taiToUtc, utcToTai } from '../../../src/domain/tai-utc';

const S = 1_000_000_000n;
const unix = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;

describe('TAI to UTC with the leap-second table', () => {
  it('is 37 s since 2017-01-01, 36 s in the second half of 2015 and 2016, 10 s in 1972', () => {
    expect(taiMinusUtcAtUtc(unix('2017-01-01T00:00:00Z') / S)).toBe(37n);
    expect(taiMinusUtcAtUtc(unix('2026-12-07T10:00:00Z') / S)).toBe(37n);
    expect(taiMinusUtcAtUtc(unix('2016-12-31T23:59:59Z') / S)).toBe(36n);
    expect(taiMinusUtcAtUtc(unix('2015-07-01T00:00:00Z') / S)).toBe(36n);
    expect(taiMinusUtcAtUtc(unix('2015-06-30T23:59:59Z') / S)).toBe(35n);
    expect(taiMinusUtcAtUtc(unix('1972-01-01T00:00:00Z') / S)).toBe(10n);
  });

  it('converts a TAMS TAI timestamp to the UTC wall clock', () => {
    // 1700000037:0 TAI is 1700000000 s after the unix epoch in UTC.
    expect(formatUtc(taiToUtc(1_700_000_037n * S + 500_000_000n)!)).toBe('2023-11-14T22:13:20.500Z');
    expect(formatUtc(taiToUtc(unix('2016-06-01T12:00:00Z') + 36n * S)!)).toBe('2016-06-01T12:00:00.000Z');
  });

  it('round-trips UTC -> TAI -> UTC on both sides of every leap second', () => {
    for (const iso of ['1972-06-30T23:59:59.999Z', '1972-07-01T00:00:00Z', '1999-01-01T00:00:00Z', '2008-12-31T23:59:59.5Z', '2016-12-31T23:59:59.999Z', '2017-01-01T00:00:00.001Z']) {
      expect(formatUtc(taiToUtc(utcToTai(unix(iso)))!)).toBe(new Date(iso).toISOString());
    }
  });

  it('maps the inserted second 2016-12-31T23:59:60 to the first instant of 2017, and nothing earlier than 1972', () => {
    const lastOf2016 = utcToTai(unix('2016-12-31T23:59:59Z'));
    const leap = lastOf2016 + S + 250_000_000n;
    expect(formatUtc(taiToUtc(leap)!)).toBe('2017-01-01T00:00:00.000Z');
    expect(formatUtc(taiToUtc(lastOf2016 + 2n * S)!)).toBe('2017-01-01T00:00:00.000Z');
    expect(utcToTai(unix('2017-01-01T00:00:00Z')) - lastOf2016).toBe(2n * S);
    expect(taiToUtc(0n)).toBeUndefined();
    expect(taiToUtc(utcToTai(unix('1972-01-01T00:00:00Z')) - 1n)).toBeUndefined();
  });
});
