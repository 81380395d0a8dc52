/**
 * Which flow containers an HLS media playlist can carry (RFC 8216 section 3): MPEG-2 transport
 * streams, fragmented MPEG-4 (with an init segment, EXT-X-MAP) and packed audio (ADTS AAC,
 * MP3, AC-3, Enhanced AC-3).
 */
export type HlsSegmentFormat = 'mpeg-ts' | 'fmp4' | 'packed-audio';

export interface HlsContainer {
  format: HlsSegmentFormat;
  /** File extension of the segment URIs: some players pick a demuxer by it. */
  extension: string;
}

const CONTAINERS: Readonly<Record<string, HlsContainer>> = {
  'video/mp2t': { format: 'mpeg-ts', extension: 'ts' },
  'video/mp4': { format: 'fmp4', extension: 'm4s' },
  'audio/mp4': { format: 'fmp4', extension: 'm4s' },
  'application/mp4': { format: 'fmp4', extension: 'm4s' },
  'video/iso.segment': { format: 'fmp4', extension: 'm4s' },
  'audio/aac': { format: 'packed-audio', extension: 'aac' },
  'audio/mpeg': { format: 'packed-audio', extension: 'mp3' },
  'audio/ac3': { format: 'packed-audio', extension: 'ac3' },
  'audio/eac3': { format: 'packed-audio', extension: 'ec3' },
};

/** The extension of an fMP4 init segment URI. */
export const INIT_EXTENSION = 'mp4';

/**
 * How HLS carries a flow with this container (its media type, parameters ignored), or why it
 * cannot: a sentence for the 400 a client gets.
 */
export function hlsContainerOf(container: string | undefined, usesInitSegments: boolean): HlsContainer | string {
  if (container === undefined || container === '') return 'The flow has no container, so HLS cannot tell how to carry its segments';
  const essence = (container.split(';', 1)[0] as string).trim().toLowerCase();
  const found = CONTAINERS[essence];
  if (found === undefined) {
    return `HLS cannot carry container ${container}: it carries MPEG-TS (video/mp2t), fragmented MP4 with init segments (video/mp4, audio/mp4) and packed audio (audio/aac, audio/mpeg, audio/ac3, audio/eac3)`;
  }
  if (found.format === 'fmp4' && !usesInitSegments) {
    return `HLS carries ${essence} only as fragmented MP4 with init segments (EXT-X-MAP): the flow needs essence_parameters.init_segments: true`;
  }
  if (found.format !== 'fmp4' && usesInitSegments) return `HLS has no init segments for container ${essence}`;
  return found;
}
