import fc from 'fast-check';
import {
  EMPTY,
  TimeRange,
  compareTimeRanges,
  covers,
  equalTimeRanges,
  formatTimeRange,
  intersection,
  overlaps,
  parseTimeRange,
  range,
  span,
  tryParseTimeRange,
} from '../../../src/domain/timerange';
import { formatTimestamp } from '../../../src/domain/timestamp';

/** The pattern of the official schema (api/schemas/timerange.json). */
const SPEC_TIMERANGE =
  /^(\[|\()?(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?(_(-?(0|[1-9][0-9]*):(0|[1-9][0-9]{0,8}))?)?(\]|\))?$/;

const S = 1_000_000_000n;

/**
 * Bounds drawn mostly from a few nanoseconds around a few seconds, so that generated ranges
 * often share, touch or straddle boundaries; sometimes from far away, to exercise bigint.
 */
const nanos: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: -2, max: 2 }), fc.integer({ min: -2, max: 2 })).map(([s, n]) => BigInt(s) * S + BigInt(n)) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(9_223_372_035n * S), max: 9_223_372_035n * S }) },
);
const bound = fc.option(nanos, { nil: null });

const timeRange: fc.Arbitrary<TimeRange> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(EMPTY) },
  { weight: 12, arbitrary: fc.tuple(bound, bound).map(([a, b]) => range(a, b)) },
);

/** Membership of the instant `t`, written with the module's own operations. */
const contains = (tr: TimeRange, t: bigint): boolean => covers(tr, range(t, t + 1n));

/** Instants at and beside every finite bound of the given ranges: where answers change. */
function probes(...trs: TimeRange[]): bigint[] {
  const out: bigint[] = [];
  for (const tr of trs) {
    for (const b of [tr.start, tr.end]) if (b !== null) out.push(b - 1n, b, b + 1n);
  }
  return out.length > 0 ? out : [0n];
}

const sign = (n: number): number => (n > 0 ? 1 : n < 0 ? -1 : 0);

describe('timerange parsing matches the app note 0008 meaning', () => {
  const marked = fc.record({
    open: fc.constantFrom('[', '('),
    start: fc.option(nanos, { nil: undefined }),
    end: fc.option(nanos, { nil: undefined }),
    close: fc.constantFrom(']', ')'),
  });

  it('t is in the parsed range iff the written bounds and markers admit it', () => {
    fc.assert(
      fc.property(marked, nanos, ({ open, start, end, close }, extra) => {
        const text = `${open}${start === undefined ? '' : formatTimestamp(start)}_${end === undefined ? '' : formatTimestamp(end)}${close}`;
        const tr = parseTimeRange(text);
        const admits = (t: bigint): boolean =>
          (start === undefined || (open === '[' ? t >= start : t > start)) &&
          (end === undefined || (close === ']' ? t <= end : t < end));
        const points = [extra, ...[start, end].flatMap((b) => (b === undefined ? [] : [b - 1n, b, b + 1n]))];
        for (const t of points) if (contains(tr, t) !== admits(t)) return false;
        // Empty exactly when no integer nanosecond is admitted.
        const lowest = start === undefined ? null : open === '[' ? start : start + 1n;
        const highest = end === undefined ? null : close === ']' ? end : end - 1n;
        const expectEmpty = lowest !== null && highest !== null && highest < lowest;
        return tr.empty === expectEmpty;
      }),
      { numRuns: 3000 },
    );
  });

  it('a single timestamp, bare or in [ ], is the instant', () => {
    fc.assert(
      fc.property(nanos, (t) => {
        const a = parseTimeRange(formatTimestamp(t));
        const b = parseTimeRange(`[${formatTimestamp(t)}]`);
        return equalTimeRanges(a, b) && contains(a, t) && !contains(a, t - 1n) && !contains(a, t + 1n);
      }),
    );
  });

  it('everything the parser accepts matches the schema pattern', () => {
    const unit = fc.constantFrom('[', ']', '(', ')', '_', '0', '1', '5', ':', '-', ' ');
    const text = fc.oneof(fc.string({ unit, maxLength: 16 }), fc.stringMatching(SPEC_TIMERANGE));
    fc.assert(
      fc.property(text, (t) => tryParseTimeRange(t) === undefined || SPEC_TIMERANGE.test(t)),
      { numRuns: 3000 },
    );
  });
});

describe('formatting', () => {
  it('parse(format(tr)) equals tr, structurally', () => {
    fc.assert(fc.property(timeRange, (tr) => {
      expect(parseTimeRange(formatTimeRange(tr))).toEqual(tr);
    }));
  });

  it('format output always matches the schema pattern', () => {
    fc.assert(fc.property(timeRange, (tr) => SPEC_TIMERANGE.test(formatTimeRange(tr))));
  });

  it('format is canonical: ranges with the same meaning have the same text', () => {
    fc.assert(
      fc.property(timeRange, timeRange, (a, b) => equalTimeRanges(a, b) === (formatTimeRange(a) === formatTimeRange(b))),
    );
  });
});

describe('algebra', () => {
  it('overlaps is symmetric', () => {
    fc.assert(fc.property(timeRange, timeRange, (a, b) => overlaps(a, b) === overlaps(b, a)));
  });

  it('overlaps(a, b) iff the intersection is non-empty', () => {
    fc.assert(fc.property(timeRange, timeRange, (a, b) => overlaps(a, b) === !intersection(a, b).empty));
  });

  it('overlaps(a, b) iff some instant is in both', () => {
    fc.assert(
      fc.property(timeRange, timeRange, (a, b) => {
        const shared = probes(a, b).some((t) => contains(a, t) && contains(b, t));
        return overlaps(a, b) === shared;
      }),
    );
  });

  it('intersection is commutative', () => {
    fc.assert(fc.property(timeRange, timeRange, (a, b) => {
      expect(intersection(a, b)).toEqual(intersection(b, a));
    }));
  });

  it('intersection is covered by both operands, pointwise equal to "in a and in b"', () => {
    fc.assert(
      fc.property(timeRange, timeRange, (a, b) => {
        const i = intersection(a, b);
        if (!covers(a, i) || !covers(b, i)) return false;
        return probes(a, b).every((t) => contains(i, t) === (contains(a, t) && contains(b, t)));
      }),
    );
  });

  it('intersection is the largest range covered by both', () => {
    fc.assert(
      fc.property(timeRange, timeRange, timeRange, (a, b, r) =>
        !(covers(a, r) && covers(b, r)) || covers(intersection(a, b), r),
      ),
    );
  });

  it('intersection with itself is itself; with EMPTY is EMPTY', () => {
    fc.assert(fc.property(timeRange, (a) => equalTimeRanges(intersection(a, a), a) && intersection(a, EMPTY).empty));
  });

  it('covers is reflexive', () => {
    fc.assert(fc.property(timeRange, (a) => covers(a, a)));
  });

  it('covers is transitive', () => {
    // Build chains a ⊇ b ⊇ c by intersecting, since random triples rarely nest.
    fc.assert(
      fc.property(timeRange, timeRange, timeRange, (a, x, y) => {
        const b = intersection(a, x);
        const c = intersection(b, y);
        return covers(a, b) && covers(b, c) && covers(a, c);
      }),
    );
    fc.assert(
      fc.property(timeRange, timeRange, timeRange, (a, b, c) => !(covers(a, b) && covers(b, c)) || covers(a, c)),
    );
  });

  it('covers is antisymmetric up to equality', () => {
    fc.assert(
      fc.property(timeRange, timeRange, (a, b) => (covers(a, b) && covers(b, a)) === equalTimeRanges(a, b)),
    );
  });

  it('covers(a, b) iff every instant of b is in a', () => {
    fc.assert(
      fc.property(timeRange, timeRange, (a, b) => {
        if (b.empty) return covers(a, b);
        // A non-empty b with an unbounded side is covered only if a is unbounded on that side.
        if (b.start === null && a.start !== null && !a.empty) return !covers(a, b);
        if (b.end === null && a.end !== null && !a.empty) return !covers(a, b);
        const inB = probes(a, b).filter((t) => contains(b, t));
        return covers(a, b) === inB.every((t) => contains(a, t));
      }),
    );
  });

  it('span covers both and is commutative', () => {
    fc.assert(
      fc.property(timeRange, timeRange, (a, b) => {
        const s = span(a, b);
        return covers(s, a) && covers(s, b) && equalTimeRanges(s, span(b, a));
      }),
    );
  });

  it('span is the smallest range covering both', () => {
    fc.assert(
      fc.property(timeRange, timeRange, timeRange, (a, b, r) => !(covers(r, a) && covers(r, b)) || covers(r, span(a, b))),
    );
  });

  it('a range covers b iff span(a, b) equals a', () => {
    fc.assert(fc.property(timeRange, timeRange, (a, b) => covers(a, b) === equalTimeRanges(span(a, b), a)));
  });
});

describe('compareTimeRanges is a total order consistent with equalTimeRanges', () => {
  it('reflexive', () => {
    fc.assert(fc.property(timeRange, (a) => compareTimeRanges(a, a) === 0 && equalTimeRanges(a, a)));
  });

  it('antisymmetric', () => {
    fc.assert(
      fc.property(timeRange, timeRange, (a, b) => sign(compareTimeRanges(a, b)) === -sign(compareTimeRanges(b, a))),
    );
  });

  it('transitive', () => {
    fc.assert(
      fc.property(timeRange, timeRange, timeRange, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(compareTimeRanges) as [TimeRange, TimeRange, TimeRange];
        return compareTimeRanges(x, y) <= 0 && compareTimeRanges(y, z) <= 0 && compareTimeRanges(x, z) <= 0;
      }),
    );
    fc.assert(
      fc.property(timeRange, timeRange, timeRange, (a, b, c) =>
        !(compareTimeRanges(a, b) <= 0 && compareTimeRanges(b, c) <= 0) || compareTimeRanges(a, c) <= 0,
      ),
    );
  });

  it('compare is 0 exactly when the ranges are structurally equal', () => {
    fc.assert(
      fc.property(timeRange, timeRange, (a, b) => {
        const same = a.empty === b.empty && a.start === b.start && a.end === b.end;
        return (compareTimeRanges(a, b) === 0) === same && equalTimeRanges(a, b) === same;
      }),
    );
  });

  it('agrees with ordering by (start, end) with null start as -inf and null end as +inf', () => {
    const key = (tr: TimeRange): [number, bigint, number, bigint] => [
      tr.start === null ? 0 : 1,
      tr.start ?? 0n,
      tr.end === null ? 1 : 0,
      tr.end ?? 0n,
    ];
    const cmpKey = (a: TimeRange, b: TimeRange): number => {
      const [ka, kb] = [key(a), key(b)];
      for (let i = 0; i < 4; i++) {
        const x = ka[i] as number | bigint;
        const y = kb[i] as number | bigint;
        if (x < y) return -1;
        if (x > y) return 1;
      }
      return 0;
    };
    const nonEmpty = timeRange.filter((tr) => !tr.empty);
    fc.assert(
      fc.property(nonEmpty, nonEmpty, (a, b) => sign(compareTimeRanges(a, b)) === cmpKey(a, b)),
    );
  });
});
