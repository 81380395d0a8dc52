/**
 * HLS playlists (RFC 8216) from TAMS flow segments. Pure: the segments, the URI builders and
 * the options come in, the playlist text goes out. docs/hls.md explains the rules.
 */
import { formatUtc, taiToUtc } from './tai-utc';
import { NANOS_PER_SECOND, type Nanos } from './timestamp';

/** One TAMS segment as a playlist sees it. */
export interface HlsSegment {
  start: Nanos;
  /** Exclusive. */
  end: Nanos;
  objectId: string;
  initObjectId?: string;
  /** ts_offset in nanoseconds (0 when absent). */
  tsOffset: Nanos;
  /** It uses only part of its object (object_timerange, sample_offset, sample_count): HLS cannot cut an object, so it is left out. */
  partial: boolean;
}

export interface HlsUris {
  segment(segment: HlsSegment): string;
  /** The init segment of `first`, the first segment of a run sharing one init object. */
  init(first: HlsSegment): string;
}

/** A duration as a fraction of seconds (TAMS `segment_duration`). */
export interface SecondsFraction {
  numerator: bigint;
  denominator: bigint;
}

const NANOS_PER_MICRO = 1000n;
const MICROS_PER_SECOND = 1_000_000n;

/** Nearest integer of a / b (b > 0), halves away from minus infinity. */
function roundDiv(a: bigint, b: bigint): bigint {
  const twice = 2n * a + b;
  const den = 2n * b;
  const q = twice / den;
  return twice % den !== 0n && twice < 0n ? q - 1n : q;
}

/** `2.000000`: microseconds as seconds with six decimals. */
function formatMicros(us: bigint): string {
  const whole = us / MICROS_PER_SECOND;
  const frac = (us % MICROS_PER_SECOND).toString().padStart(6, '0');
  return `${whole}.${frac}`;
}

/**
 * EXTINF of each segment, in microseconds, from the exact nanosecond times: each is the
 * difference of its rounded end and rounded start measured from the first segment, so the
 * durations add up to the rounded elapsed time and rounding never accumulates.
 */
export function extinfMicros(segments: readonly HlsSegment[]): bigint[] {
  const origin = segments[0]?.start ?? 0n;
  return segments.map((s) => roundDiv(s.end - origin, NANOS_PER_MICRO) - roundDiv(s.start - origin, NANOS_PER_MICRO));
}

/** RFC 8216 4.3.3.1: every EXTINF rounded to the nearest integer is at most the target duration (at least 1). */
export function targetDuration(micros: readonly bigint[]): bigint {
  let max = 1n;
  for (const us of micros) {
    const rounded = roundDiv(us, MICROS_PER_SECOND);
    if (rounded > max) max = rounded;
  }
  return max;
}

/** Whether `b` cannot follow `a` without EXT-X-DISCONTINUITY: a gap, another init object, another ts_offset. */
function breaksBetween(a: HlsSegment, b: HlsSegment): boolean {
  return a.end !== b.start || a.initObjectId !== b.initObjectId || a.tsOffset !== b.tsOffset;
}

function programDateTime(start: Nanos): string | undefined {
  const utc = taiToUtc(start);
  return utc === undefined ? undefined : `#EXT-X-PROGRAM-DATE-TIME:${formatUtc(utc)}`;
}

export interface MediaPlaylistOptions {
  /** Fragmented MP4: every run of segments starts with EXT-X-MAP. */
  initSegments: boolean;
  uris: HlsUris;
  /** VOD (EXT-X-ENDLIST, EXT-X-PLAYLIST-TYPE:VOD), or live with this EXT-X-MEDIA-SEQUENCE. */
  live?: { mediaSequence: bigint };
}

/**
 * A media playlist of `segments` (time order). Partial segments are left out; where one was,
 * or where the timeline has a gap, or the init object or ts_offset changes, the next segment
 * starts with EXT-X-DISCONTINUITY (and EXT-X-MAP, EXT-X-PROGRAM-DATE-TIME).
 */
export function buildMediaPlaylist(segments: readonly HlsSegment[], options: MediaPlaylistOptions): string {
  const listed: { segment: HlsSegment; discontinuity: boolean }[] = [];
  let leftOut = false;
  for (const segment of segments) {
    if (segment.partial) {
      leftOut = listed.length > 0;
      continue;
    }
    const previous = listed[listed.length - 1]?.segment;
    listed.push({ segment, discontinuity: previous !== undefined && (leftOut || breaksBetween(previous, segment)) });
    leftOut = false;
  }
  const micros = extinfMicros(listed.map((l) => l.segment));
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${options.initSegments ? 6 : 3}`,
    `#EXT-X-TARGETDURATION:${targetDuration(micros)}`,
    `#EXT-X-MEDIA-SEQUENCE:${options.live?.mediaSequence ?? 0n}`,
  ];
  if (options.live === undefined) lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
  listed.forEach(({ segment, discontinuity }, i) => {
    const first = i === 0 || discontinuity;
    if (discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (first && options.initSegments) lines.push(`#EXT-X-MAP:URI="${options.uris.init(segment)}"`);
    const pdt = first ? programDateTime(segment.start) : undefined;
    if (pdt !== undefined) lines.push(pdt);
    lines.push(`#EXTINF:${formatMicros(micros[i] as bigint)},`, options.uris.segment(segment));
  });
  if (options.live === undefined) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/**
 * The slot of a segment on a live flow's timeline: its start in units of the slot duration,
 * rounded. A live playlist's media sequence numbers are slots, so a segment's number depends
 * on its own start time alone and no other segment, registered or deleted, can change it.
 */
export function slotOf(start: Nanos, slot: SecondsFraction): bigint {
  return roundDiv(start * slot.denominator, slot.numerator * NANOS_PER_SECOND);
}

/**
 * The slot duration of a live flow: its declared segment_duration, else the commonest segment
 * duration among `segments` (the newest wins a tie).
 */
export function slotDuration(declared: SecondsFraction | undefined, segments: readonly HlsSegment[]): SecondsFraction | undefined {
  if (declared !== undefined && declared.numerator > 0n && declared.denominator > 0n) return declared;
  const counts = new Map<bigint, number>();
  let best: bigint | undefined;
  for (const s of segments) {
    const d = s.end - s.start;
    const n = (counts.get(d) ?? 0) + 1;
    counts.set(d, n);
    if (best === undefined || n > (counts.get(best) ?? 0)) best = d;
  }
  return best === undefined ? undefined : { numerator: best, denominator: NANOS_PER_SECOND };
}

export interface LiveWindow {
  /** In time order. */
  segments: HlsSegment[];
  mediaSequence: bigint;
}

/**
 * The live window: from the newest listable segment back, at most `limit` segments in which
 * each one is whole, fills exactly one slot (its start and end round to consecutive slots) and
 * is followed by the next without a break (see breaksBetween). Filling one slot each, no two
 * segments of the flow ever share a number, whichever windows they appear in. A break ends the
 * window, so a live playlist never holds EXT-X-DISCONTINUITY and its
 * EXT-X-DISCONTINUITY-SEQUENCE stays 0; after a break the window starts again behind it.
 * Segments before 0:0 have no slot and are not listed live. `newestFirst`: the flow's newest
 * segments, newest first.
 */
export function liveWindow(newestFirst: readonly HlsSegment[], limit: number, declared: SecondsFraction | undefined): LiveWindow {
  const slot = slotDuration(declared, newestFirst.filter((s) => !s.partial));
  if (slot === undefined) return { segments: [], mediaSequence: 0n };
  const listable = (s: HlsSegment): boolean => {
    const at = slotOf(s.start, slot);
    return !s.partial && at >= 0n && slotOf(s.end, slot) === at + 1n;
  };
  const newest = newestFirst.findIndex(listable);
  if (newest === -1) return { segments: [], mediaSequence: 0n };
  const window: HlsSegment[] = [];
  for (let i = newest; i < newestFirst.length && window.length < limit; i++) {
    const s = newestFirst[i] as HlsSegment;
    const later = window[0];
    if (!listable(s) || (later !== undefined && breaksBetween(s, later))) break;
    window.unshift(s);
  }
  return { segments: window, mediaSequence: slotOf((window[0] as HlsSegment).start, slot) };
}

export interface HlsVariant {
  uri: string;
  /** bits per second */
  bandwidth: number;
  averageBandwidth?: number;
  resolution?: { width: number; height: number };
  frameRate?: number;
  name: string;
}

/** A quoted-string attribute value (RFC 8216 4.2): no double quote, CR or LF. */
function quoted(text: string): string {
  return `"${text.replace(/["\r\n]/g, ' ')}"`;
}

/**
 * A multivariant playlist: each video (or multiplexed) flow one variant stream with the audio
 * flows as its audio renditions (its BANDWIDTH counting the largest audio's); audio flows alone
 * are variants of their own.
 */
export function buildMultivariantPlaylist(videos: readonly HlsVariant[], audios: readonly HlsVariant[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3'];
  if (videos.length === 0) {
    for (const a of audios) lines.push(streamInf(a, 0, undefined, undefined), a.uri);
    return `${lines.join('\n')}\n`;
  }
  const audioPeak = Math.max(0, ...audios.map((a) => a.bandwidth));
  const audioAverage = audios.every((a) => a.averageBandwidth !== undefined) ? Math.max(0, ...audios.map((a) => a.averageBandwidth as number)) : undefined;
  audios.forEach((a, i) => {
    const flag = i === 0 ? 'YES' : 'NO';
    lines.push(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME=${quoted(a.name)},DEFAULT=${flag},AUTOSELECT=YES,URI=${quoted(a.uri)}`);
  });
  for (const v of videos) lines.push(streamInf(v, audioPeak, audioAverage, audios.length > 0 ? 'audio' : undefined), v.uri);
  return `${lines.join('\n')}\n`;
}

function streamInf(v: HlsVariant, extraPeak: number, extraAverage: number | undefined, audioGroup: string | undefined): string {
  const attributes = [`BANDWIDTH=${Math.round(v.bandwidth + extraPeak)}`];
  if (v.averageBandwidth !== undefined && (extraPeak === 0 || extraAverage !== undefined)) {
    attributes.push(`AVERAGE-BANDWIDTH=${Math.round(v.averageBandwidth + (extraAverage ?? 0))}`);
  }
  if (v.resolution !== undefined) attributes.push(`RESOLUTION=${v.resolution.width}x${v.resolution.height}`);
  if (v.frameRate !== undefined) attributes.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
  if (audioGroup !== undefined) attributes.push(`AUDIO="${audioGroup}"`);
  return `#EXT-X-STREAM-INF:${attributes.join(',')}`;
}
