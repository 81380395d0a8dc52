/**
 * TAMS timestamps and timeranges ("[0:0_10:0)", "_", "()") as bigint nanoseconds, for drawing
 * segments to scale without the rounding a float second count would bring.
 */

const NS_PER_SECOND = 1_000_000_000n;

/** A range with an inclusive start and an exclusive end; undefined ends are unbounded. */
export interface NsRange {
  start: bigint | undefined;
  end: bigint | undefined;
}

/** "10:500000000" or "-3:0" to nanoseconds; undefined when it is not a TAMS timestamp. */
export function parseTimestamp(text: string): bigint | undefined {
  const match = /^(-?)(\d+):(\d{1,9})$/.exec(text);
  if (match === null) return undefined;
  const magnitude = BigInt(match[2]!) * NS_PER_SECOND + BigInt(match[3]!);
  return match[1] === '-' ? -magnitude : magnitude;
}

export function formatTimestamp(ns: bigint): string {
  const sign = ns < 0n ? '-' : '';
  const magnitude = ns < 0n ? -ns : ns;
  return `${sign}${magnitude / NS_PER_SECOND}:${magnitude % NS_PER_SECOND}`;
}

/**
 * A TAMS timerange; undefined when malformed, null when empty ("()" or a range that holds no
 * instant). A single timestamp ("[5:0]") is the one-nanosecond range it names.
 */
export function parseTimerange(text: string): NsRange | null | undefined {
  if (text === '()') return null;
  const match = /^([[(]?)([^_[\]()]*)(?:(_)([^_[\]()]*))?([\])]?)$/.exec(text);
  if (match === null) return undefined;
  const [, open = '', first = '', separator, second = '', close = ''] = match;
  if (separator === undefined) {
    const at = parseTimestamp(first);
    if (at === undefined || (open === '(' || close === ')')) return at === undefined ? undefined : null;
    return { start: at, end: at + 1n };
  }
  const start = first === '' ? undefined : parseTimestamp(first);
  const end = second === '' ? undefined : parseTimestamp(second);
  if ((first !== '' && start === undefined) || (second !== '' && end === undefined)) return undefined;
  const range: NsRange = {
    start: start === undefined ? undefined : open === '(' ? start + 1n : start,
    end: end === undefined ? undefined : close === ']' ? end + 1n : end,
  };
  if (range.start !== undefined && range.end !== undefined && range.end <= range.start) return null;
  return range;
}

/** "[start_end)" in the canonical TAMS form. */
export function formatTimerange(start: bigint, end: bigint): string {
  return `[${formatTimestamp(start)}_${formatTimestamp(end)})`;
}

/** Seconds as a float, for labels and the player's clock only (never for placement arithmetic). */
export function nsToSeconds(ns: bigint): number {
  return Number(ns / 1_000_000n) / 1000;
}
