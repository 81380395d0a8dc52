/**
 * Where the gateway serves HLS: outside TAMS_BASE_PATH, beside `/media`. The HTTP edge routes
 * these paths and GraphQL hands them out (Flow.hlsUrl, Source.hlsUrl).
 */
import { type TimeRange, formatTimeRange } from '../../domain/timerange';
import type { Nanos } from '../../domain/timestamp';

export const HLS_FLOW_PLAYLIST_ROUTE = '/hls/flows/:playlist';
export const HLS_SOURCE_PLAYLIST_ROUTE = '/hls/sources/:playlist';
export const HLS_SEGMENT_ROUTE = '/hls/flows/:flowId/segments/:segment';
export const HLS_INIT_ROUTE = '/hls/flows/:flowId/segments/:start/:init';

export const PLAYLIST_SUFFIX = '.m3u8';

export function flowPlaylistPath(flowId: string): string {
  return `/hls/flows/${flowId}${PLAYLIST_SUFFIX}`;
}

export function sourcePlaylistPath(sourceId: string): string {
  return `/hls/sources/${sourceId}${PLAYLIST_SUFFIX}`;
}

/** A segment by the start of its timerange (nanoseconds): stable while the segment exists, whatever else changes. */
export function segmentPath(flowId: string, start: Nanos, extension: string): string {
  return `/hls/flows/${flowId}/segments/${start}.${extension}`;
}

export function initPath(flowId: string, start: Nanos, extension: string): string {
  return `/hls/flows/${flowId}/segments/${start}/init.${extension}`;
}

/** The absolute URL of a playlist path, with `?timerange=` for a VOD window. */
export function hlsUrl(baseUrl: string, path: string, timerange: TimeRange | null | undefined): string {
  return timerange === null || timerange === undefined ? `${baseUrl}${path}` : `${baseUrl}${path}?timerange=${encodeURIComponent(formatTimeRange(timerange))}`;
}
