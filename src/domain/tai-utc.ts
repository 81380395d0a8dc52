import { NANOS_PER_SECOND, type Nanos } from './timestamp';

/**
 * TAMS timestamps count TAI seconds since 1970-01-01T00:00:00 TAI (the PTP epoch); wall-clock
 * times (HLS EXT-X-PROGRAM-DATE-TIME, JavaScript dates) are UTC, which lags TAI by the leap
 * seconds inserted since 1972. Each entry: the UTC instant (unix seconds) from which TAI-UTC
 * is `offset` seconds. From IERS Bulletin C; a new leap second needs a new entry here (none
 * has been announced after the one at the end of 2016).
 */
const LEAP_SECONDS: readonly { utcSec: bigint; offset: bigint }[] = [
  ['1972-01-01', 10], ['1972-07-01', 11], ['1973-01-01', 12], ['1974-01-01', 13], ['1975-01-01', 14],
  ['1976-01-01', 15], ['1977-01-01', 16], ['1978-01-01', 17], ['1979-01-01', 18], ['1980-01-01', 19],
  ['1981-07-01', 20], ['1982-07-01', 21], ['1983-07-01', 22], ['1985-07-01', 23], ['1988-01-01', 24],
  ['1990-01-01', 25], ['1991-01-01', 26], ['1992-07-01', 27], ['1993-07-01', 28], ['1994-07-01', 29],
  ['1996-01-01', 30], ['1997-07-01', 31], ['1999-01-01', 32], ['2006-01-01', 33], ['2009-01-01', 34],
  ['2012-07-01', 35], ['2015-07-01', 36], ['2017-01-01', 37],
].map(([date, offset]) => ({ utcSec: BigInt(Date.parse(`${date as string}T00:00:00Z`) / 1000), offset: BigInt(offset as number) }));

/** 1972-01-01T00:00:00 UTC as a TAI timestamp: before it TAI-UTC was not a whole number of seconds. */
export const FIRST_LEAP_TABLE_TAI: Nanos = ((LEAP_SECONDS[0] as { utcSec: bigint }).utcSec + 10n) * NANOS_PER_SECOND;

/** TAI-UTC in seconds at a UTC instant (unix seconds) from 1972 on. */
export function taiMinusUtcAtUtc(utcSec: bigint): bigint {
  let offset = 10n;
  for (const leap of LEAP_SECONDS) {
    if (utcSec < leap.utcSec) break;
    offset = leap.offset;
  }
  return offset;
}

/**
 * The UTC instant (unix nanoseconds) of a TAI timestamp, or undefined before 1972 (no
 * integer offset applies; a timeline that starts at 0:0 is not a wall clock anyway). An
 * instant inside an inserted leap second (UTC 23:59:60) has no unix time of its own: it maps
 * to the first instant of the next day.
 */
export function taiToUtc(tai: Nanos): Nanos | undefined {
  if (tai < FIRST_LEAP_TABLE_TAI) return undefined;
  let offset = 10n;
  for (const leap of LEAP_SECONDS) {
    // The entry applies from its UTC instant, which is utcSec + offset on the TAI timeline;
    // the second before that is the inserted leap second, still counted in the old offset.
    const startsAt = (leap.utcSec + leap.offset) * NANOS_PER_SECOND;
    if (tai < startsAt - NANOS_PER_SECOND) break;
    if (tai < startsAt) return leap.utcSec * NANOS_PER_SECOND;
    offset = leap.offset;
  }
  return tai - offset * NANOS_PER_SECOND;
}

/** The TAI timestamp of a UTC instant (unix nanoseconds) from 1972 on. */
export function utcToTai(utc: Nanos): Nanos {
  const sec = utc >= 0n ? utc / NANOS_PER_SECOND : (utc - NANOS_PER_SECOND + 1n) / NANOS_PER_SECOND;
  return utc + taiMinusUtcAtUtc(sec) * NANOS_PER_SECOND;
}

/** ISO 8601 UTC with milliseconds (`2017-01-01T00:00:00.000Z`), truncating below the millisecond. */
export function formatUtc(utc: Nanos): string {
  const ms = utc >= 0n ? utc / 1_000_000n : (utc - 999_999n) / 1_000_000n;
  return new Date(Number(ms)).toISOString();
}
