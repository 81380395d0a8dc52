import { type HlsSegment, buildMediaPlaylist, extinfMicros, liveWindow, slotOf, targetDuration } from '../../../src/domain/hls-playlist';
import { hlsContainerOf } from '../../../src/domain/hls-containers';

const S = 1_000_000_000n;
const seg = (startNs: bigint, endNs: bigint, extra: Partial<HlsSegment> = {}): HlsSegment => ({ start: startNs, end: endNs, objectId: `o${startNs}`, tsOffset: 0n, partial: false, ...extra });
const run = (firstSecond: number, count: number, extra: Partial<HlsSegment> = {}): HlsSegment[] =>
  Array.from({ length: count }, (_, i) => seg(BigInt(firstSecond + i) * S, BigInt(firstSecond + i + 1) * S, extra));
const uris = { segment: (s: HlsSegment) => `s/${s.start}`, init: (s: HlsSegment) => `i/${s.start}` };

describe('EXTINF and EXT-X-TARGETDURATION', () => {
  it('rounds each cumulative end to the microsecond, so durations add up to the exact elapsed time', () => {
    // Three segments of 1/3 s each plus a nanosecond: 333333.67 us each, 1000001 ns in all.
    const third = S / 3n;
    const segments = [seg(0n, third), seg(third, 2n * third), seg(2n * third, S + 1n)];
    const micros = extinfMicros(segments);
    expect(micros).toEqual([333333n, 333334n, 333333n]);
    expect(micros.reduce((a, b) => a + b)).toBe(1_000_000n);
    const ntsc = Array.from({ length: 1000 }, (_, i) => seg((BigInt(i) * 1001n * S) / 30000n, (BigInt(i + 1) * 1001n * S) / 30000n));
    expect(extinfMicros(ntsc).reduce((a, b) => a + b)).toBe((1000n * 1001n * 1_000_000n + 15000n) / 30000n);
  });

  it('takes the largest EXTINF rounded to the nearest integer, at least 1', () => {
    expect(targetDuration([1_499_999n, 2_000_000n])).toBe(2n);
    expect(targetDuration([2_500_000n])).toBe(3n);
    expect(targetDuration([2_499_999n])).toBe(2n);
    expect(targetDuration([])).toBe(1n);
    expect(targetDuration([100_000n])).toBe(1n);
  });
});

describe('media playlists', () => {
  it('writes a VOD playlist with discontinuities, EXT-X-MAP per run and program date-times', () => {
    const tai = (1_700_000_037n) * S;
    const segments = [
      seg(tai, tai + S, { initObjectId: 'a' }),
      seg(tai + S, tai + 2n * S, { initObjectId: 'b' }),
      seg(tai + 2n * S, tai + 3n * S, { initObjectId: 'b', partial: true }),
      seg(tai + 3n * S, tai + 4n * S, { initObjectId: 'b' }),
    ];
    expect(buildMediaPlaylist(segments, { initSegments: true, uris })).toBe(
      [
        '#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-TARGETDURATION:1', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
        `#EXT-X-MAP:URI="i/${tai}"`, '#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z', '#EXTINF:1.000000,', `s/${tai}`,
        '#EXT-X-DISCONTINUITY', `#EXT-X-MAP:URI="i/${tai + S}"`, '#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:21.000Z', '#EXTINF:1.000000,', `s/${tai + S}`,
        '#EXT-X-DISCONTINUITY', `#EXT-X-MAP:URI="i/${tai + 3n * S}"`, '#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:23.000Z', '#EXTINF:1.000000,', `s/${tai + 3n * S}`,
        '#EXT-X-ENDLIST', '',
      ].join('\n'),
    );
  });

  it('writes no program date-time for a timeline that is not a TAI wall clock, and no ENDLIST live', () => {
    const text = buildMediaPlaylist(run(0, 2), { initSegments: false, uris, live: { mediaSequence: 7n } });
    expect(text).toContain('#EXT-X-VERSION:3');
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:7');
    expect(text).not.toMatch(/PROGRAM-DATE-TIME|ENDLIST|PLAYLIST-TYPE|EXT-X-MAP/);
  });
});

describe('live windows', () => {
  const newestFirst = (segments: HlsSegment[]): HlsSegment[] => [...segments].reverse();

  it('numbers segments by their slot on the timeline, so registering or deleting others renumbers nothing', () => {
    const window = liveWindow(newestFirst(run(100, 10)), 4, { numerator: 1n, denominator: 1n });
    expect(window.segments.map((s) => s.start / S)).toEqual([106n, 107n, 108n, 109n]);
    expect(window.mediaSequence).toBe(106n);
    expect(liveWindow(newestFirst([...run(50, 3), ...run(100, 10)]), 4, undefined).mediaSequence).toBe(106n);
    expect(liveWindow(newestFirst(run(107, 3)), 4, undefined).mediaSequence).toBe(107n);
    expect(slotOf(106n * S + 400_000_000n, { numerator: 1n, denominator: 1n })).toBe(106n);
    expect(slotOf(2n * S, { numerator: 1001n, denominator: 30000n })).toBe(60n);
  });

  it('ends the window at a gap, a change of init object or ts_offset, a partial segment or a slot skipped', () => {
    const tail = run(105, 3);
    const cases: HlsSegment[][] = [
      [...run(100, 4), ...tail],
      [...run(100, 5, { initObjectId: 'x' }), ...tail],
      [...run(100, 5, { tsOffset: 5n }), ...tail],
      [...run(100, 4), seg(104n * S, 105n * S, { partial: true }), ...tail],
    ];
    for (const segments of cases) expect(liveWindow(newestFirst(segments), 10, { numerator: 1n, denominator: 1n }).segments.map((s) => s.start / S)).toEqual([105n, 106n, 107n]);
    // Half-second segments on a one-second slot grid: only those whose start and end round to consecutive slots are listable, and never two in a row.
    const halves = Array.from({ length: 4 }, (_, i) => seg(BigInt(i) * (S / 2n) + 10n * S, BigInt(i + 1) * (S / 2n) + 10n * S));
    expect(liveWindow(newestFirst(halves), 10, { numerator: 1n, denominator: 1n }).segments).toHaveLength(1);
  });

  it('skips newest partial segments and is empty for a flow with none', () => {
    // A segment of two slots ends the window too.
    expect(liveWindow(newestFirst([...run(100, 2), seg(102n * S, 104n * S), ...run(104, 2)]), 10, { numerator: 1n, denominator: 1n }).mediaSequence).toBe(104n);
    const segments = [...run(100, 3), seg(103n * S, 104n * S, { partial: true })];
    expect(liveWindow(newestFirst(segments), 10, undefined).segments.map((s) => s.start / S)).toEqual([100n, 101n, 102n]);
    expect(liveWindow([], 10, undefined)).toEqual({ segments: [], mediaSequence: 0n });
  });
});

describe('containers', () => {
  it('carries MPEG-TS, fMP4 with init segments and packed audio, and says why not otherwise', () => {
    expect(hlsContainerOf('video/mp2t', false)).toEqual({ format: 'mpeg-ts', extension: 'ts' });
    expect(hlsContainerOf('Video/MP2T; foo=bar', false)).toEqual({ format: 'mpeg-ts', extension: 'ts' });
    expect(hlsContainerOf('video/mp4', true)).toEqual({ format: 'fmp4', extension: 'm4s' });
    expect(hlsContainerOf('audio/aac', false)).toEqual({ format: 'packed-audio', extension: 'aac' });
    expect(hlsContainerOf('video/mp4', false)).toContain('init_segments');
    expect(hlsContainerOf('application/mxf', false)).toContain('cannot carry container application/mxf');
    expect(hlsContainerOf(undefined, false)).toContain('no container');
    expect(hlsContainerOf('video/mp2t', true)).toContain('no init segments');
  });
});
