import { TamsError } from './errors';
import { Nanos, formatTimestamp, tryParseTimestamp } from './timestamp';

/**
 * A TAMS timerange. Because timestamps are integer nanoseconds, every range is held in
 * half-open form: `start` inclusive, `end` exclusive, `null` meaning unbounded.
 * `(a_` becomes `[a+1ns_`, `_b]` becomes `_b+1ns)`. Ranges that contain no instant are
 * `EMPTY` (`()`), whatever markers they were written with.
 */
export interface TimeRange {
  readonly start: Nanos | null;
  readonly end: Nanos | null;
  readonly empty: boolean;
}

export const EMPTY: TimeRange = Object.freeze({ start: null, end: null, empty: true });
export const ETERNITY: TimeRange = Object.freeze({ start: null, end: null, empty: false });

const TS = '-?(?:0|[1-9][0-9]*):(?:0|[1-9][0-9]{0,8})';
const TIMERANGE_RE = new RegExp(`^([\\[(])?(${TS})?(?:(_)(${TS})?)?([\\])])?$`);

/** Builds a range from half-open bounds, normalising ranges with no instants to EMPTY. */
export function range(start: Nanos | null, end: Nanos | null): TimeRange {
  if (start !== null && end !== null && end <= start) return EMPTY;
  return { start, end, empty: false };
}

export function tryParseTimeRange(text: string): TimeRange | undefined {
  const m = TIMERANGE_RE.exec(text);
  if (!m) return undefined;
  const [, open, startText, sep, endText, close] = m;
  if (text === '()') return EMPTY;
  if (startText === undefined && sep === undefined) return undefined;
  if (sep === undefined) {
    // An instant: `[t]`, `t`, never with exclusive markers.
    if (startText === undefined) return undefined;
    if (open === '(' || close === ')') return undefined;
    if ((open === undefined) !== (close === undefined)) return undefined;
    const t = tryParseTimestamp(startText);
    if (t === undefined) return undefined;
    return range(t, t + 1n);
  }
  // App note 0008: a marker beside an omitted timestamp is ignored (`[_10:0)`, `(_)`).
  let start: Nanos | null = null;
  let end: Nanos | null = null;
  if (startText !== undefined) {
    const t = tryParseTimestamp(startText);
    if (t === undefined) return undefined;
    start = open === '(' ? t + 1n : t;
  }
  if (endText !== undefined) {
    const t = tryParseTimestamp(endText);
    if (t === undefined) return undefined;
    end = close === ')' ? t : t + 1n;
  }
  return range(start, end);
}

export function parseTimeRange(text: string): TimeRange {
  const tr = tryParseTimeRange(text);
  if (tr === undefined) throw new TamsError('bad_timerange', `Invalid timerange: ${JSON.stringify(text)}`);
  return tr;
}

/**
 * Canonical text: inclusive start `[`, exclusive end `)`, instants as `[t]`, `_` for
 * eternity and `()` for never.
 */
export function formatTimeRange(tr: TimeRange): string {
  if (tr.empty) return '()';
  if (tr.start !== null && tr.end !== null && tr.end === tr.start + 1n) return `[${formatTimestamp(tr.start)}]`;
  const start = tr.start === null ? '' : `[${formatTimestamp(tr.start)}`;
  const end = tr.end === null ? '' : `${formatTimestamp(tr.end)})`;
  return `${start}_${end}`;
}

export function isEternity(tr: TimeRange): boolean {
  return !tr.empty && tr.start === null && tr.end === null;
}

function startBefore(a: Nanos | null, b: Nanos | null): boolean {
  return a === null ? b !== null : b !== null && a < b;
}

function endBefore(a: Nanos | null, b: Nanos | null): boolean {
  return b === null ? a !== null : a !== null && a < b;
}

/** True when the two ranges share at least one instant. */
export function overlaps(a: TimeRange, b: TimeRange): boolean {
  if (a.empty || b.empty) return false;
  const aStartsBeforeBEnds = a.start === null || b.end === null || a.start < b.end;
  const bStartsBeforeAEnds = b.start === null || a.end === null || b.start < a.end;
  return aStartsBeforeBEnds && bStartsBeforeAEnds;
}

/** True when every instant of `inner` is in `outer`. The empty range is covered by anything. */
export function covers(outer: TimeRange, inner: TimeRange): boolean {
  if (inner.empty) return true;
  if (outer.empty) return false;
  return !startBefore(inner.start, outer.start) && !endBefore(outer.end, inner.end);
}

export function intersection(a: TimeRange, b: TimeRange): TimeRange {
  if (!overlaps(a, b)) return EMPTY;
  const start = startBefore(a.start, b.start) ? b.start : a.start;
  const end = endBefore(a.end, b.end) ? a.end : b.end;
  return range(start, end);
}

/** The smallest range that covers both. */
export function span(a: TimeRange, b: TimeRange): TimeRange {
  if (a.empty) return b;
  if (b.empty) return a;
  const start = startBefore(a.start, b.start) ? a.start : b.start;
  const end = endBefore(a.end, b.end) ? b.end : a.end;
  return range(start, end);
}

/** Orders by start (unbounded first), then by end (earlier first); empty ranges sort last. */
export function compareTimeRanges(a: TimeRange, b: TimeRange): number {
  if (a.empty || b.empty) return a.empty === b.empty ? 0 : a.empty ? 1 : -1;
  if (startBefore(a.start, b.start)) return -1;
  if (startBefore(b.start, a.start)) return 1;
  if (endBefore(a.end, b.end)) return -1;
  if (endBefore(b.end, a.end)) return 1;
  return 0;
}

export function equalTimeRanges(a: TimeRange, b: TimeRange): boolean {
  return compareTimeRanges(a, b) === 0;
}
