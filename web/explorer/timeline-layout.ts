/**
 * Where a flow's segments and the gaps between them fall on a timeline of a given width: pure
 * arithmetic over bigint nanoseconds (no DOM), so it is tested on its own.
 */
import { parseTimerange } from './timerange';

export interface TimelineSegment {
  objectId: string;
  timerange: string;
  /** Inclusive start, nanoseconds. */
  start: bigint;
  /** Exclusive end, nanoseconds. */
  end: bigint;
}

export interface Bar {
  x: number;
  width: number;
}

export interface Span {
  start: bigint;
  end: bigint;
}

export interface TimelineLayout {
  segments: (Bar & { segment: TimelineSegment })[];
  gaps: (Bar & Span)[];
  view: Span;
}

/** A segment as GraphQL gives it, or undefined when its timerange is not a bounded range. */
export function toTimelineSegment(objectId: string, timerange: string): TimelineSegment | undefined {
  const range = parseTimerange(timerange);
  if (range === null || range === undefined || range.start === undefined || range.end === undefined) return undefined;
  return { objectId, timerange, start: range.start, end: range.end };
}

/**
 * Segments of one flow keyed by start: a flow's segments never overlap, so a segment seen again
 * (a live event for one already listed, a refetch) replaces itself instead of doubling.
 */
export class SegmentSet {
  private readonly byStart = new Map<bigint, TimelineSegment>();
  private ordered: TimelineSegment[] | undefined = [];

  get size(): number {
    return this.byStart.size;
  }

  add(segment: TimelineSegment): void {
    this.byStart.set(segment.start, segment);
    this.ordered = undefined;
  }

  clear(): void {
    this.byStart.clear();
    this.ordered = [];
  }

  sorted(): readonly TimelineSegment[] {
    this.ordered ??= [...this.byStart.values()].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return this.ordered;
  }

  /** From the first start to the last end, or undefined while empty. */
  span(): Span | undefined {
    const all = this.sorted();
    if (all.length === 0) return undefined;
    let end = all[0]!.end;
    for (const s of all) if (s.end > end) end = s.end;
    return { start: all[0]!.start, end };
  }
}

/** Time between consecutive segments where no segment is. */
export function gapsBetween(sorted: readonly TimelineSegment[]): Span[] {
  const gaps: Span[] = [];
  let reached: bigint | undefined;
  for (const s of sorted) {
    if (reached !== undefined && s.start > reached) gaps.push({ start: reached, end: s.start });
    if (reached === undefined || s.end > reached) reached = s.end;
  }
  return gaps;
}

/** x in pixels of an instant on a view `width` pixels wide. */
export function xOf(ns: bigint, view: Span, width: number): number {
  const length = view.end - view.start;
  if (length <= 0n) return 0;
  return (Number(ns - view.start) / Number(length)) * width;
}

/** The instant at x pixels (clamped to the view). */
export function nsAt(x: number, view: Span, width: number): bigint {
  const share = Math.min(1, Math.max(0, width <= 0 ? 0 : x / width));
  return view.start + BigInt(Math.round(share * Number(view.end - view.start)));
}

/**
 * Bars of the segments and gaps that meet the view, to scale. A bar keeps at least
 * `minWidth` pixels so a short segment on a long view stays visible (it may then cover its
 * neighbours: their count is still exact in the layout).
 */
export function layoutTimeline(segments: readonly TimelineSegment[], view: Span, width: number, minWidth = 1): TimelineLayout {
  const bar = (start: bigint, end: bigint): Bar => {
    const x0 = xOf(start < view.start ? view.start : start, view, width);
    const x1 = xOf(end > view.end ? view.end : end, view, width);
    return { x: x0, width: Math.max(minWidth, x1 - x0) };
  };
  const inView = segments.filter((s) => s.end > view.start && s.start < view.end);
  return {
    view,
    segments: inView.map((segment) => ({ ...bar(segment.start, segment.end), segment })),
    gaps: gapsBetween(segments)
      .filter((g) => g.end > view.start && g.start < view.end)
      .map((g) => ({ ...bar(g.start, g.end), ...g })),
  };
}

/** Tick instants at a round step (1, 2, 5 x 10^n seconds or nanoseconds) giving about `count` ticks. */
export function ticks(view: Span, count: number): bigint[] {
  const length = view.end - view.start;
  if (length <= 0n || count <= 0) return [];
  const rough = length / BigInt(count);
  let step = 1n;
  outer: for (let power = 1n; ; power *= 10n) {
    for (const m of [1n, 2n, 5n]) {
      if (m * power >= rough) {
        step = m * power;
        break outer;
      }
    }
  }
  const first = view.start % step === 0n ? view.start : view.start - (((view.start % step) + step) % step) + step;
  const out: bigint[] = [];
  for (let t = first; t <= view.end; t += step) out.push(t);
  return out;
}
