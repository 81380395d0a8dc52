import { SegmentSet, gapsBetween, layoutTimeline, nsAt, ticks, toTimelineSegment, type TimelineSegment } from '../../../web/explorer/timeline-layout';

const S = 1_000_000_000n;
const seg = (from: number, to: number): TimelineSegment => toTimelineSegment(`o${from}`, `[${from}:0_${to}:0)`)!;

describe('explorer timeline layout', () => {
  it('finds the gaps between segments, none between touching ones', () => {
    const segments = [seg(0, 2), seg(2, 4), seg(6, 8), seg(8, 10), seg(15, 16)];
    expect(gapsBetween(segments)).toEqual([
      { start: 4n * S, end: 6n * S },
      { start: 10n * S, end: 15n * S },
    ]);
  });

  it('places bars to scale on the view', () => {
    const segments = [seg(0, 2), seg(2, 4), seg(6, 10)];
    const layout = layoutTimeline(segments, { start: 0n, end: 10n * S }, 1000);
    expect(layout.segments.map((b) => [b.x, b.width])).toEqual([
      [0, 200],
      [200, 200],
      [600, 400],
    ]);
    expect(layout.gaps.map((g) => [g.x, g.width])).toEqual([[400, 200]]);
  });

  it('keeps only what meets the view, clipped to it, and a short segment visible', () => {
    const segments = [seg(0, 2), seg(2, 4), seg(6, 10)];
    const layout = layoutTimeline(segments, { start: 3n * S, end: 7n * S }, 400);
    expect(layout.segments.map((b) => [b.segment.objectId, b.x, b.width])).toEqual([
      ['o2', 0, 100],
      ['o6', 300, 100],
    ]);
    const long = layoutTimeline([toTimelineSegment('tiny', '[0:0_0:1)')!], { start: 0n, end: 3600n * S }, 500);
    expect(long.segments[0]!.width).toBe(1);
  });

  it('keeps nanosecond placement far from zero (TAI wall-clock times)', () => {
    const base = 1_700_000_000n * S;
    const a = toTimelineSegment('a', `[1700000000:0_1700000000:40000000)`)!;
    const b = toTimelineSegment('b', `[1700000000:40000000_1700000000:80000000)`)!;
    const layout = layoutTimeline([a, b], { start: base, end: base + 80_000_000n }, 800);
    expect(layout.segments.map((s) => [s.x, s.width])).toEqual([
      [0, 400],
      [400, 400],
    ]);
    expect(layout.gaps).toEqual([]);
    expect(nsAt(400, layout.view, 800)).toBe(base + 40_000_000n);
  });

  it('counts each segment once however often it is heard of', () => {
    const set = new SegmentSet();
    set.add(seg(4, 6));
    set.add(seg(0, 2));
    set.add(seg(4, 6));
    expect(set.size).toBe(2);
    expect(set.sorted().map((s) => s.objectId)).toEqual(['o0', 'o4']);
    expect(set.span()).toEqual({ start: 0n, end: 6n * S });
  });

  it('puts ticks on round instants', () => {
    expect(ticks({ start: 0n, end: 10n * S }, 5)).toEqual([0n, 2n * S, 4n * S, 6n * S, 8n * S, 10n * S]);
    expect(ticks({ start: 1n * S + 300_000_000n, end: 2n * S }, 3)).toEqual([1_500_000_000n, 2n * S]);
  });
});
