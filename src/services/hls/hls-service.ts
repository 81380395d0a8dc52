import type { Flow, SegmentRecord } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { type HlsContainer, INIT_EXTENSION, hlsContainerOf } from '../../domain/hls-containers';
import { type HlsSegment, type HlsVariant, type SecondsFraction, buildMediaPlaylist, buildMultivariantPlaylist, liveWindow } from '../../domain/hls-playlist';
import { usesInitSegments } from '../../domain/init-segments';
import { ETERNITY, type TimeRange, equalTimeRanges, formatTimeRange, range, tryParseTimeRange } from '../../domain/timerange';
import { type Nanos, formatTimestamp, tryParseTimestamp } from '../../domain/timestamp';
import type { Clock } from '../../ports/clock';
import type { MetadataStore } from '../../ports/metadata-store';
import type { FlowService } from '../flow-service';
import type { ObjectStores } from '../object-stores';
import type { RequestContext } from '../request-context';
import { flowPlaylistPath, initPath, segmentPath } from './hls-paths';

export interface HlsOptions {
  presignedUrlTimeoutSec: number;
  /** TAMS_HLS_LIVE_SEGMENTS: segments of a live playlist when the flow has no `hls_segments` tag. */
  liveSegments: number;
  /** TAMS_HLS_MAX_SEGMENTS: the most segments any playlist lists (`hls_segments: inf` included). */
  maxSegments: number;
}

/**
 * Absolute URL of a gateway path with the query the edge carries onward (an `access_token`),
 * plus `params`.
 */
export type HlsUrl = (path: string, params?: Readonly<Record<string, string>>) => string;

/** Whether a flow's playlist can be served: HLS carries its container and no hls_exclude tag keeps it out. */
export function playsAsHls(flow: Pick<Flow, 'container' | 'tags' | 'essence_parameters'>): boolean {
  return !excluded(flow) && typeof hlsContainerOf(flow.container, usesInitSegments(flow)) !== 'string';
}

/** Segments read per store call. */
const STORE_PAGE = 1000;
/** Flows of a source a multivariant playlist looks at. */
const MAX_SOURCE_FLOWS = 100;
/** Half the largest integer a number holds exactly: a video's BANDWIDTH plus its audio's stays exact. */
const MAX_HLS_BANDWIDTH = Math.floor(Number.MAX_SAFE_INTEGER / 2);
const MAX_HLS_DIMENSION = 1_000_000;
const MAX_HLS_FRAME_RATE = 1_000_000;

function plausibleDimension(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0 && (value as number) <= MAX_HLS_DIMENSION;
}

/** What the flow's `hls_exclude` tag (application note 0003) says. */
function excluded(flow: Pick<Flow, 'tags'>): boolean {
  const tag = flow.tags?.hls_exclude;
  return (Array.isArray(tag) ? tag[0] : tag)?.toLowerCase() === 'true';
}

/** The flow's `hls_segments` tag (application note 0003): a count, `inf`, or undefined when absent or not a count. */
function hlsSegmentsTag(flow: Flow): number | 'inf' | undefined {
  const raw = flow.tags?.hls_segments;
  const tag = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (tag === undefined) return undefined;
  if (tag.toLowerCase() === 'inf') return 'inf';
  return /^[1-9][0-9]{0,8}$/.test(tag) ? Number(tag) : undefined;
}

function declaredSegmentDuration(flow: Flow): SecondsFraction | undefined {
  const d = flow.segment_duration as { numerator?: unknown; denominator?: unknown } | undefined;
  if (d === undefined || !Number.isInteger(d.numerator)) return undefined;
  const denominator = d.denominator === undefined ? 1 : d.denominator;
  if (!Number.isInteger(denominator)) return undefined;
  return { numerator: BigInt(d.numerator as number), denominator: BigInt(denominator as number) };
}

/** Whether the segment uses only part of its object (ADR 0036): HLS can only list whole objects. */
function usesPartOfObject(s: SegmentRecord): boolean {
  if (s.sample_count !== undefined || (s.sample_offset !== undefined && s.sample_offset !== 0)) return true;
  if (s.object_timerange === undefined) return false;
  const own = tryParseTimeRange(s.object_timerange);
  return own === undefined || !equalTimeRanges(own, s.timerange);
}

function toHlsSegment(s: SegmentRecord): HlsSegment {
  const segment: HlsSegment = {
    start: s.timerange.start as Nanos,
    end: s.timerange.end as Nanos,
    objectId: s.object_id,
    tsOffset: (s.ts_offset === undefined ? undefined : tryParseTimestamp(s.ts_offset)) ?? 0n,
    partial: usesPartOfObject(s),
  };
  if (s.init_object_id !== undefined) segment.initObjectId = s.init_object_id;
  return segment;
}

/**
 * HLS over TAMS flows (docs/hls.md): media playlists of a flow's segments, multivariant
 * playlists over a source's flows, and the signed URL a segment URI redirects to. Reads are
 * authorised as the segment listing is: read permission on the flow (404 or 403 otherwise).
 */
export class HlsService {
  constructor(
    private readonly store: MetadataStore,
    private readonly stores: ObjectStores,
    private readonly flows: FlowService,
    private readonly clock: Clock,
    private readonly options: HlsOptions,
  ) {}

  /** The flow, readable by the request and carried by HLS, with how it is carried. */
  private async playableFlow(ctx: RequestContext, flowId: string): Promise<{ flow: Flow; container: HlsContainer }> {
    const flow = await this.flows.getFlow(ctx, flowId);
    if (excluded(flow)) throw new TamsError('bad_request', `Flow ${flowId} is excluded from HLS by its hls_exclude tag`);
    const container = hlsContainerOf(flow.container, usesInitSegments(flow));
    if (typeof container === 'string') throw new TamsError('bad_request', `Flow ${flowId}: ${container}`);
    return { flow, container };
  }

  /**
   * The media playlist of a flow: VOD over the segments overlapping `timerange`, or (no
   * timerange) live over its newest segments.
   */
  async mediaPlaylist(ctx: RequestContext, flowId: string, timerange: TimeRange | undefined, url: HlsUrl): Promise<string> {
    const { flow, container } = await this.playableFlow(ctx, flowId);
    const uris = {
      segment: (s: HlsSegment) => url(segmentPath(flowId, s.start, container.extension)),
      init: (s: HlsSegment) => url(initPath(flowId, s.start, INIT_EXTENSION)),
    };
    const initSegments = container.format === 'fmp4';
    if (timerange === undefined) {
      const tag = hlsSegmentsTag(flow);
      const limit = Math.min(tag === 'inf' ? this.options.maxSegments : (tag ?? this.options.liveSegments), this.options.maxSegments);
      const newest = await this.readSegments(flowId, ETERNITY, true, limit);
      const window = liveWindow(newest.map(toHlsSegment), limit, declaredSegmentDuration(flow));
      return buildMediaPlaylist(window.segments, { initSegments, uris, live: { mediaSequence: window.mediaSequence } });
    }
    if (timerange.empty) throw new TamsError('bad_timerange', 'The timerange is empty: a playlist needs a window with segments in it');
    const segments = await this.readSegments(flowId, timerange, false, this.options.maxSegments + 1);
    if (segments.length > this.options.maxSegments) {
      throw new TamsError(
        'bad_request',
        `More than ${this.options.maxSegments} segments of flow ${flowId} overlap ${formatTimeRange(timerange)}: ask for a shorter timerange`,
      );
    }
    return buildMediaPlaylist(segments.map(toHlsSegment), { initSegments, uris });
  }

  private async readSegments(flowId: string, timerange: TimeRange, reverse: boolean, limit: number): Promise<SegmentRecord[]> {
    const found: SegmentRecord[] = [];
    let after: unknown;
    while (found.length < limit) {
      const page = await this.store.listSegments(flowId, { timerange, reverse, object_timerange: false }, { limit: Math.min(STORE_PAGE, limit - found.length), after });
      found.push(...page.items);
      if (page.next === undefined) break;
      after = page.next;
    }
    return found;
  }

  /**
   * The multivariant playlist of a source (and of the sources its collection holds): their video
   * and multiplexed flows as variant streams,
   * its audio flows as their audio renditions (or as variants when there is no video), each
   * flow readable, HLS-carried and not excluded. BANDWIDTH comes from max_bit_rate (else
   * avg_bit_rate); a flow with neither is a 400.
   */
  async multivariantPlaylist(ctx: RequestContext, sourceId: string, timerange: TimeRange | undefined, url: HlsUrl): Promise<string> {
    // Its variants' media playlists would each refuse the window.
    if (timerange?.empty === true) throw new TamsError('bad_timerange', 'The timerange is empty: a playlist needs a window with segments in it');
    const source = await this.flows.getSource(ctx, sourceId);
    // A multi-essence source holds its video and audio through its collection (application note 0001).
    const sourceIds = [sourceId, ...(source.source_collection ?? []).map((item) => item.id)].slice(0, MAX_SOURCE_FLOWS);
    const pages = await Promise.all(sourceIds.map((id) => this.flows.listFlows(ctx, { source_id: id }, { limit: MAX_SOURCE_FLOWS })));
    const playable = pages.flatMap((page) => page.items).filter(playsAsHls);
    const params = timerange === undefined ? undefined : { timerange: formatTimeRange(timerange) };
    const variant = (f: Flow): HlsVariant => {
      const peak = f.max_bit_rate ?? f.avg_bit_rate;
      if (peak === undefined) {
        throw new TamsError('bad_request', `Flow ${f.id} has neither max_bit_rate nor avg_bit_rate, so its HLS BANDWIDTH is unknown: set one (PUT /flows/${f.id}/max_bit_rate)`);
      }
      // HLS writes BANDWIDTH as a decimal integer (RFC 8216 4.2), summed with the audio's: past
      // this a number would print in exponent notation.
      if (peak * 1000 > MAX_HLS_BANDWIDTH || (f.avg_bit_rate ?? 0) * 1000 > MAX_HLS_BANDWIDTH) {
        throw new TamsError('bad_request', `Flow ${f.id} has a bit rate too large for an HLS BANDWIDTH (at most ${MAX_HLS_BANDWIDTH / 1000} kbit/s): correct its max_bit_rate or avg_bit_rate`);
      }
      const v: HlsVariant = { uri: url(flowPlaylistPath(f.id), params), bandwidth: peak * 1000, name: f.label ?? f.id };
      if (f.avg_bit_rate !== undefined) v.averageBandwidth = f.avg_bit_rate * 1000;
      const ep = f.essence_parameters ?? {};
      // RESOLUTION and FRAME-RATE are optional: values no display has are left out, not printed as 1e+21.
      if (plausibleDimension(ep.frame_width) && plausibleDimension(ep.frame_height)) v.resolution = { width: ep.frame_width, height: ep.frame_height };
      const rate = ep.frame_rate as { numerator?: unknown; denominator?: unknown } | undefined;
      if (rate !== undefined && typeof rate.numerator === 'number' && rate.numerator > 0) {
        const denominator = typeof rate.denominator === 'number' && rate.denominator > 0 ? rate.denominator : 1;
        const frameRate = rate.numerator / denominator;
        if (frameRate <= MAX_HLS_FRAME_RATE) v.frameRate = frameRate;
      }
      return v;
    };
    const videos = playable.filter((f) => f.format === 'urn:x-nmos:format:video' || f.format === 'urn:x-nmos:format:multi').map(variant);
    const audios = playable.filter((f) => f.format === 'urn:x-nmos:format:audio').map(variant);
    if (videos.length === 0 && audios.length === 0) {
      throw new TamsError('bad_request', `Source ${sourceId} has no video or audio flow that HLS can carry and this request may read`);
    }
    return buildMultivariantPlaylist(videos, audios);
  }

  /**
   * A freshly signed URL of the media (or init) object of the flow's segment starting at
   * `start`: what the playlist's segment URIs redirect to, so that a playlist stays playable
   * however long it is used. The first instance on a storage backend the request may read,
   * else the segment's first uncontrolled URL.
   */
  async objectUrl(ctx: RequestContext, flowId: string, start: Nanos, part: 'media' | 'init'): Promise<string> {
    await this.flows.getFlow(ctx, flowId);
    const page = await this.store.listSegments(flowId, { timerange: range(start, start + 1n), object_timerange: false }, { limit: 1 });
    const segment = page.items[0];
    if (segment === undefined || segment.timerange.start !== start) {
      throw new TamsError('not_found', `Flow ${flowId} has no segment starting at ${formatTimestamp(start)}`);
    }
    if (part === 'init' && segment.init_object_id === undefined) throw new TamsError('not_found', `The segment of flow ${flowId} at ${formatTimestamp(start)} has no init object`);
    const instances = (part === 'init' ? segment.init_object_instances : segment.object_instances) ?? [];
    const expiresAtSec = Math.floor(this.clock.nowMs() / 1000) + this.options.presignedUrlTimeoutSec;
    for (const instance of instances) {
      const store = this.stores.get(instance.storage_id);
      if (store !== undefined && this.flows.access.canUseBackend(ctx.principal, 'read', store.backend)) return store.signGet(instance.key, ctx.baseUrl, expiresAtSec);
    }
    const uncontrolled = part === 'init' ? (await this.store.getObjects([segment.init_object_id as string]))[0]?.uncontrolled_urls[0]?.url : segment.get_urls?.[0]?.url;
    // Registration checked that it parses; its serialisation is what a Location header can carry
    // (non-ASCII percent-encoded, the controls and spaces URL parsing strips or encodes gone).
    if (uncontrolled !== undefined) return new URL(uncontrolled).href;
    throw new TamsError('not_found', `No instance of this ${part === 'init' ? 'init ' : ''}object is on a storage backend this request may read`);
  }
}
