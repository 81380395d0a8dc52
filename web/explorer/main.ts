/**
 * The live explorer (/explorer/): sources and their flows, a flow's segments on a timeline
 * drawn to scale with its gaps, a player for a chosen window, and segments registered by any
 * client drawn as their events arrive (GraphQL subscriptions).
 */
import { FLOW_FORMATS, groupBySource, matchesLabel, matchesText } from './flow-filter';
import { GatewayApi, storeToken, storedToken } from './gateway-api';
import {
  FLOW_CREATED_SUBSCRIPTION,
  FLOW_DELETED_SUBSCRIPTION,
  FLOW_SEGMENTS_QUERY,
  FLOWS_QUERY,
  type FlowSegmentsResult,
  type FlowSummary,
  type FlowsResult,
  SEGMENTS_ADDED_SUBSCRIPTION,
  SEGMENTS_DELETED_SUBSCRIPTION,
  type SegmentNode,
  type SegmentsAddedEvent,
} from './operations';
import { Player } from './player';
import { SegmentSet, type Span, type TimelineSegment, toTimelineSegment } from './timeline-layout';
import { TimelineView } from './timeline-view';
import { formatTimerange } from './timerange';
import './explorer.css';

/** Flows listed at most (pages of FLOW_PAGE); the filters narrow a bigger store. */
const MAX_FLOWS = 1000;
const FLOW_PAGE = 100;
/** The latest segments drawn at most (pages of SEGMENT_PAGE): a long flow shows its end. */
const MAX_SEGMENTS = 5000;
const SEGMENT_PAGE = 500;
/** Flow creations and deletions arrive in bursts: one reload of the list after a burst. */
const FLOW_RELOAD_DELAY_MS = 300;

function element<T extends HTMLElement | SVGElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

/** The GraphQL path: `?graphql=` when given (GRAPHQL_UNDER_BASE_PATH), else /graphql. */
function graphqlPath(): string {
  const given = new URLSearchParams(location.search).get('graphql');
  return given !== null && given.startsWith('/') ? given : '/graphql';
}

function hlsUrl(flowId: string, window: Span | undefined): string {
  const url = new URL(`/hls/flows/${encodeURIComponent(flowId)}.m3u8`, location.href);
  if (window !== undefined) url.searchParams.set('timerange', formatTimerange(window.start, window.end));
  return url.href;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function segmentsOf(nodes: readonly SegmentNode[]): TimelineSegment[] {
  return nodes.map((n) => toTimelineSegment(n.objectId, n.timerange)).filter((s): s is TimelineSegment => s !== undefined);
}

class Explorer {
  private readonly api = new GatewayApi(graphqlPath(), storedToken());
  private flows: FlowSummary[] = [];
  private flowsTruncated = false;
  /** Bumped by every listing of the flows: only the latest one's result is shown. */
  private listSequence = 0;
  private selected: FlowSummary | undefined;
  private segments = new SegmentSet();
  private segmentsTruncated = false;
  /** For each read of the segments under way, the segments heard of meanwhile, added to its result. */
  private readonly heardDuringFetches = new Set<TimelineSegment[]>();
  /** Bumped by every read of the segments: only the latest one's result is drawn. */
  private fetchSequence = 0;
  /** Bumped whenever the selected flow changes, so late answers for the previous one are dropped. */
  private generation = 0;
  private window: Span | undefined;
  private flowSubscriptions: (() => void)[] = [];
  private listSubscriptions: (() => void)[] = [];
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly timeline = new TimelineView(element<SVGSVGElement>('timeline'), (w) => this.choose(w));
  private readonly player = new Player(element<HTMLVideoElement>('player'), element('player-status'), () => this.token);
  private token = storedToken();

  start(): void {
    const tokenInput = element<HTMLInputElement>('token');
    tokenInput.value = this.token;
    element<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.token = tokenInput.value.trim();
      storeToken(this.token);
      this.api.setToken(this.token);
      this.restartSubscriptions();
      void this.loadFlows();
    });
    const format = element<HTMLSelectElement>('filter-format');
    for (const urn of FLOW_FORMATS) format.append(new Option(urn.replace(/^urn:x-[a-z]+:format:/, ''), urn));
    format.addEventListener('change', () => void this.loadFlows());
    element('filter-text').addEventListener('input', () => this.renderFlows());
    element('filter-label').addEventListener('input', () => this.renderFlows());
    element('filters').addEventListener('submit', (event) => event.preventDefault());
    element('play-window').addEventListener('click', () => this.playWindow());
    element('play-live').addEventListener('click', () => {
      if (this.selected !== undefined) this.player.play(hlsUrl(this.selected.id, undefined));
    });
    element('stop').addEventListener('click', () => this.player.stop());
    this.api.onReconnected(() => {
      // Events sent while the socket was down are gone: read the state again.
      void this.loadFlows();
      void this.loadSegments();
    });
    this.restartSubscriptions();
    void this.loadFlows();
  }

  private status(text: string, error = false): void {
    const line = element('connection');
    line.textContent = text;
    line.classList.toggle('error', error);
  }

  private restartSubscriptions(): void {
    for (const stop of this.listSubscriptions) stop();
    const reloadSoon = (): void => {
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => void this.loadFlows(), FLOW_RELOAD_DELAY_MS);
    };
    const observer = { next: reloadSoon, error: (message: string) => this.status(`live flow list stopped: ${message}`, true) };
    this.listSubscriptions = [
      this.api.subscribe(FLOW_CREATED_SUBSCRIPTION, {}, observer),
      this.api.subscribe(FLOW_DELETED_SUBSCRIPTION, {}, observer),
    ];
    if (this.selected !== undefined) this.subscribeToFlow(this.selected.id);
  }

  private async loadFlows(): Promise<void> {
    const format = element<HTMLSelectElement>('filter-format').value;
    const filter = format === '' ? undefined : { format };
    // A listing that started earlier (another format, before a flow was created) may end later.
    const sequence = ++this.listSequence;
    const flows: FlowSummary[] = [];
    let after: string | null = null;
    let truncated = false;
    try {
      for (;;) {
        const page: FlowsResult = await this.api.query<FlowsResult>(FLOWS_QUERY, { filter, after, first: FLOW_PAGE });
        if (sequence !== this.listSequence) return;
        flows.push(...page.flows.nodes);
        after = page.flows.pageInfo.endCursor;
        if (!page.flows.pageInfo.hasNextPage || after === null || flows.length >= MAX_FLOWS) {
          truncated = page.flows.pageInfo.hasNextPage;
          break;
        }
      }
    } catch (err) {
      if (sequence === this.listSequence) this.status(`cannot list flows: ${(err as Error).message}`, true);
      return;
    }
    this.status('connected');
    this.flows = flows;
    this.flowsTruncated = truncated;
    this.renderFlows();
  }

  private renderFlows(): void {
    const text = element<HTMLInputElement>('filter-text').value;
    const label = element<HTMLInputElement>('filter-label').value;
    const shown = this.flows.filter((f) => matchesText(f, text) && matchesLabel(f, label));
    const groups = groupBySource(shown);
    const list = element<HTMLUListElement>('sources');
    list.replaceChildren(
      ...groups.map((group) => {
        const item = document.createElement('li');
        item.dataset.sourceId = group.sourceId;
        const heading = document.createElement('div');
        heading.className = 'source-label';
        heading.textContent = group.label ?? '(no label)';
        const id = document.createElement('div');
        id.className = 'source-id';
        id.textContent = `source ${group.sourceId}`;
        const flows = document.createElement('ul');
        flows.className = 'flows';
        for (const flow of group.flows) flows.append(this.flowItem(flow));
        item.append(heading, id, flows);
        return item;
      }),
    );
    list.dataset.flowCount = String(shown.length);
    list.dataset.sourceCount = String(groups.length);
    element('flow-summary').textContent =
      `${shown.length} of ${this.flows.length} flows${this.flowsTruncated ? ` (the first ${this.flows.length} listed; narrow by format)` : ''}, ${groups.length} sources`;
  }

  private flowItem(flow: FlowSummary): HTMLLIElement {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.flowId = flow.id;
    button.setAttribute('aria-pressed', String(this.selected?.id === flow.id));
    const label = document.createElement('span');
    label.textContent = flow.label ?? '(no label)';
    const format = document.createElement('span');
    format.className = 'flow-format';
    format.textContent = [flow.format.replace(/^urn:x-[a-z]+:format:/, ''), flow.codec].filter(Boolean).join(' · ');
    const id = document.createElement('div');
    id.className = 'flow-id';
    id.textContent = flow.id;
    button.append(label, format, id);
    button.addEventListener('click', () => this.selectFlow(flow));
    item.append(button);
    return item;
  }

  private selectFlow(flow: FlowSummary): void {
    this.selected = flow;
    this.generation += 1;
    this.segments = new SegmentSet();
    this.window = undefined;
    this.player.stop();
    for (const button of document.querySelectorAll<HTMLButtonElement>('#sources button[data-flow-id]')) {
      button.setAttribute('aria-pressed', String(button.dataset.flowId === flow.id));
    }
    element('flow-title').textContent = flow.label ?? flow.id;
    element('flow-meta').textContent = [flow.id, flow.format, flow.codec, flow.container].filter(Boolean).join(' · ');
    element('timeline').dataset.flowId = flow.id;
    element<HTMLButtonElement>('play-window').disabled = false;
    element<HTMLButtonElement>('play-live').disabled = false;
    this.subscribeToFlow(flow.id);
    this.draw();
    void this.loadSegments();
  }

  private subscribeToFlow(flowId: string): void {
    for (const stop of this.flowSubscriptions) stop();
    const generation = this.generation;
    const onError = (message: string): void => this.note(`live updates stopped: ${message}`, true);
    this.flowSubscriptions = [
      this.api.subscribe<SegmentsAddedEvent>(SEGMENTS_ADDED_SUBSCRIPTION, { flowIds: [flowId] }, {
        next: (data) => {
          if (generation !== this.generation) return;
          for (const segment of segmentsOf(data.flowSegmentsAdded.segments)) {
            this.segments.add(segment);
            for (const heard of this.heardDuringFetches) heard.push(segment);
          }
          this.draw();
        },
        error: onError,
      }),
      // A deletion may take any part of the flow: read what is left.
      this.api.subscribe(SEGMENTS_DELETED_SUBSCRIPTION, { flowIds: [flowId] }, { next: () => void this.loadSegments(), error: onError }),
    ];
  }

  private async loadSegments(): Promise<void> {
    const flow = this.selected;
    if (flow === undefined) return;
    // A read that started earlier (before a deletion, or for the previous flow) may end later: its result is stale.
    const sequence = ++this.fetchSequence;
    const current = (): boolean => sequence === this.fetchSequence;
    const fetched = new SegmentSet();
    const heard: TimelineSegment[] = [];
    this.heardDuringFetches.add(heard);
    let after: string | null = null;
    let truncated = false;
    try {
      for (;;) {
        const page: FlowSegmentsResult = await this.api.query<FlowSegmentsResult>(FLOW_SEGMENTS_QUERY, { id: flow.id, after, first: SEGMENT_PAGE });
        if (!current()) return;
        if (page.flow === null) {
          this.note('this flow no longer exists', true);
          break;
        }
        for (const segment of segmentsOf(page.flow.segments.nodes)) fetched.add(segment);
        after = page.flow.segments.pageInfo.endCursor;
        if (!page.flow.segments.pageInfo.hasNextPage || after === null) break;
        if (fetched.size >= MAX_SEGMENTS) {
          truncated = true;
          break;
        }
      }
    } catch (err) {
      if (current()) this.note(`cannot read segments: ${(err as Error).message}`, true);
      return;
    } finally {
      this.heardDuringFetches.delete(heard);
    }
    for (const segment of heard) fetched.add(segment);
    this.segments = fetched;
    this.segmentsTruncated = truncated;
    this.draw();
  }

  private note(text: string, error = false): void {
    const line = element('timeline-note');
    line.textContent = text;
    line.classList.toggle('error', error);
  }

  private draw(): void {
    const span = this.segments.span();
    this.timeline.show(this.segments.sorted(), span);
    this.timeline.select(this.window ?? span);
    element('window').textContent = this.window === undefined ? (span === undefined ? '' : `${formatTimerange(span.start, span.end)} (all)`) : formatTimerange(this.window.start, this.window.end);
    const timeline = element('timeline');
    const count = this.segments.size;
    this.note(
      this.selected === undefined
        ? ''
        : count === 0
          ? 'no segments yet: they appear here as they are registered'
          : `${plural(count, 'segment')}${this.segmentsTruncated ? ` (the latest ${count}; earlier ones not drawn)` : ''}, ${plural(Number(timeline.dataset.gapCount ?? 0), 'gap')}${span === undefined ? '' : `, ${formatTimerange(span.start, span.end)}`}`,
    );
  }

  private choose(window: Span): void {
    this.window = window;
    this.draw();
  }

  private playWindow(): void {
    if (this.selected === undefined) return;
    const window = this.window ?? this.segments.span();
    this.player.play(hlsUrl(this.selected.id, window));
  }
}

new Explorer().start();
