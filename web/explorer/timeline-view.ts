/**
 * The timeline drawn in SVG: one bar per segment to scale, gaps hatched, an axis, and a window
 * chosen by dragging (a click picks the segment under the pointer). The element carries
 * data-segment-count and data-gap-count, the numbers drawn, for tests and tools.
 */
import { type Span, type TimelineSegment, layoutTimeline, nsAt, ticks, xOf } from './timeline-layout';
import { formatTimestamp, nsToSeconds } from './timerange';

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 96;
const BAR_TOP = 12;
const BAR_HEIGHT = 48;
const AXIS_Y = 76;
/** Pixels of half a tick label, about. */
const TICK_LABEL_ROOM = 40;
/** Below this many pixels a press and release is a click, not a drag. */
const CLICK_SLOP = 3;
/** Past this many seconds a timestamp is wall-clock time (TAI since 1970), shown as a TAI date. */
const WALL_CLOCK_SECONDS = 1e9;

function svg<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

function tickLabel(ns: bigint, step: bigint): string {
  const seconds = nsToSeconds(ns);
  if (Math.abs(seconds) >= WALL_CLOCK_SECONDS) {
    const iso = new Date(seconds * 1000).toISOString();
    return step >= 1_000_000_000n ? iso.slice(11, 19) : iso.slice(11, 23);
  }
  return step >= 1_000_000_000n ? `${ns / 1_000_000_000n} s` : `${seconds.toFixed(3)} s`;
}

export class TimelineView {
  private segments: readonly TimelineSegment[] = [];
  private view: Span | undefined;
  private selection: Span | undefined;
  private readonly bars = svg('g', { class: 'segments' });
  private readonly gaps = svg('g', { class: 'gaps' });
  private readonly axis = svg('g', { class: 'axis' });
  private readonly tooltip = svg('title', {});
  private readonly selectionRect = svg('rect', { class: 'selection', x: 0, y: BAR_TOP - 6, width: 0, height: BAR_HEIGHT + 12 });

  constructor(
    private readonly root: SVGSVGElement,
    private readonly onSelect: (window: Span) => void,
  ) {
    const defs = svg('defs', {});
    const hatch = svg('pattern', { id: 'gap-hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' });
    hatch.append(svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'gap-hatch-line' }));
    defs.append(hatch);
    root.append(this.tooltip, defs, this.gaps, this.bars, this.axis, this.selectionRect);
    root.setAttribute('height', String(HEIGHT));
    this.listen();
    new ResizeObserver(() => this.draw()).observe(root);
  }

  /** Draws `segments` (sorted by start) over `view`. */
  show(segments: readonly TimelineSegment[], view: Span | undefined): void {
    this.segments = segments;
    this.view = view;
    this.draw();
  }

  select(window: Span | undefined): void {
    this.selection = window;
    this.drawSelection();
  }

  private width(): number {
    return Math.max(1, this.root.clientWidth);
  }

  private draw(): void {
    const width = this.width();
    this.root.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
    this.gaps.replaceChildren();
    this.axis.replaceChildren();
    if (this.view === undefined) {
      this.bars.replaceChildren();
      this.root.dataset.segmentCount = '0';
      this.root.dataset.gapCount = '0';
      this.drawSelection();
      return;
    }
    const layout = layoutTimeline(this.segments, this.view, width);
    for (const gap of layout.gaps) {
      const rect = svg('rect', { class: 'gap', x: gap.x, y: BAR_TOP, width: gap.width, height: BAR_HEIGHT });
      rect.append(svg('title', {}));
      rect.lastChild!.textContent = `gap ${formatTimestamp(gap.start)} to ${formatTimestamp(gap.end)}`;
      this.gaps.append(rect);
    }
    // A live flow redraws on every event: the bars already there are moved, not made again.
    const bars = this.bars.children;
    layout.segments.forEach((bar, i) => {
      const rect = bars[i] ?? this.bars.appendChild(svg('rect', { class: 'segment', y: BAR_TOP, height: BAR_HEIGHT }));
      rect.setAttribute('x', String(bar.x));
      rect.setAttribute('width', String(bar.width));
    });
    while (bars.length > layout.segments.length) bars[bars.length - 1]!.remove();
    const tickCount = Math.max(2, Math.floor(width / 120));
    const at = ticks(this.view, tickCount);
    const step = at.length > 1 ? at[1]! - at[0]! : 1_000_000_000n;
    this.axis.append(svg('line', { class: 'axis-line', x1: 0, y1: AXIS_Y, x2: width, y2: AXIS_Y }));
    for (const t of at) {
      const x = xOf(t, this.view, width);
      this.axis.append(svg('line', { class: 'tick', x1: x, y1: AXIS_Y, x2: x, y2: AXIS_Y + 4 }));
      // Labels at the ends hang inwards, so neither is cut by the edge.
      const anchor = x < TICK_LABEL_ROOM ? 'start' : x > width - TICK_LABEL_ROOM ? 'end' : 'middle';
      const label = svg('text', { class: 'tick-label', x, y: AXIS_Y + 16, 'text-anchor': anchor });
      label.textContent = tickLabel(t, step);
      this.axis.append(label);
    }
    this.root.dataset.segmentCount = String(layout.segments.length);
    this.root.dataset.gapCount = String(layout.gaps.length);
    this.drawSelection();
  }

  private drawSelection(): void {
    if (this.view === undefined || this.selection === undefined) {
      this.selectionRect.setAttribute('width', '0');
      return;
    }
    const width = this.width();
    const x0 = Math.max(0, xOf(this.selection.start, this.view, width));
    const x1 = Math.min(width, xOf(this.selection.end, this.view, width));
    this.selectionRect.setAttribute('x', String(x0));
    this.selectionRect.setAttribute('width', String(Math.max(0, x1 - x0)));
  }

  private listen(): void {
    let pressedAt: number | undefined;
    const xOfEvent = (event: PointerEvent): number => event.clientX - this.root.getBoundingClientRect().left;
    const windowBetween = (a: number, b: number): Span | undefined => {
      if (this.view === undefined) return undefined;
      const width = this.width();
      return { start: nsAt(Math.min(a, b), this.view, width), end: nsAt(Math.max(a, b), this.view, width) };
    };
    this.root.addEventListener('pointerdown', (event) => {
      if (this.view === undefined) return;
      pressedAt = xOfEvent(event);
      this.root.setPointerCapture(event.pointerId);
    });
    this.root.addEventListener('pointermove', (event) => {
      if (pressedAt === undefined) {
        this.describeAt(xOfEvent(event));
        return;
      }
      this.selection = windowBetween(pressedAt, xOfEvent(event));
      this.drawSelection();
    });
    this.root.addEventListener('pointerup', (event) => {
      if (pressedAt === undefined || this.view === undefined) return;
      const from = pressedAt;
      pressedAt = undefined;
      const to = xOfEvent(event);
      let chosen = Math.abs(to - from) < CLICK_SLOP ? this.segmentAt(nsAt(to, this.view, this.width())) : windowBetween(from, to);
      if (chosen !== undefined && chosen.end <= chosen.start) chosen = undefined;
      this.selection = chosen ?? this.selection;
      this.drawSelection();
      if (chosen !== undefined) this.onSelect(chosen);
    });
  }

  /** The root's one tooltip names what is under the pointer (one title, not one per bar: a live flow redraws them all). */
  private describeAt(x: number): void {
    if (this.view === undefined) return;
    const ns = nsAt(x, this.view, this.width());
    const hit = this.segments.find((s) => s.start <= ns && ns < s.end);
    this.tooltip.textContent = hit === undefined ? `${formatTimestamp(ns)}: no segment` : `${hit.timerange}\nobject ${hit.objectId}`;
  }

  private segmentAt(ns: bigint): Span | undefined {
    const hit = this.segments.find((s) => s.start <= ns && ns < s.end);
    return hit === undefined ? undefined : { start: hit.start, end: hit.end };
  }
}
