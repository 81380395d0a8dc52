import { TamsError } from './errors';

/** A TAMS timestamp as signed nanoseconds. */
export type Nanos = bigint;

export const NANOS_PER_SECOND = 1_000_000_000n;

const TIMESTAMP_RE = /^(-?)(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8})$/;

/**
 * Stores keep nanoseconds in signed 64-bit integers (with the extremes reserved for
 * "unbounded"), so a timestamp must lie within about +/-292 years of the epoch: seconds up to
 * 9,223,372,035. Anything beyond is refused as invalid rather than silently wrapped.
 */
export const MAX_TIMESTAMP_SECONDS = 9_223_372_035n;

/** Parses `{sign?}{seconds}:{nanoseconds}` strictly; returns undefined when malformed. */
export function tryParseTimestamp(text: string): Nanos | undefined {
  const m = TIMESTAMP_RE.exec(text);
  if (!m) return undefined;
  const seconds = BigInt(m[2] as string);
  if (seconds > MAX_TIMESTAMP_SECONDS) return undefined;
  const magnitude = seconds * NANOS_PER_SECOND + BigInt(m[3] as string);
  return m[1] === '-' ? -magnitude : magnitude;
}

export function parseTimestamp(text: string): Nanos {
  const ts = tryParseTimestamp(text);
  if (ts === undefined) throw new TamsError('bad_timestamp', `Invalid timestamp: ${JSON.stringify(text)}`);
  return ts;
}

export function formatTimestamp(ns: Nanos): string {
  const negative = ns < 0n;
  const magnitude = negative ? -ns : ns;
  const seconds = magnitude / NANOS_PER_SECOND;
  const nanos = magnitude % NANOS_PER_SECOND;
  return `${negative ? '-' : ''}${seconds}:${nanos}`;
}
