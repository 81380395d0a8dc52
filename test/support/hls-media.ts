/**
 * Real media for the HLS suites: a few seconds of test video (testsrc2, H.264 baseline) and
 * audio (a sine, AAC) cut by ffmpeg's HLS muxer into one-second MPEG-TS segments, or into
 * fragmented MP4 segments with an init segment; the TAMS client steps that store them in a
 * flow (allocate storage, PUT the bytes, register segments); and ffprobe / ffmpeg reading a
 * playlist over HTTP.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { checkedFetch } from './checked-fetch';
import type { TamsResponse } from './gateway-harness';
import { allOf, executableRequirement } from './service-lanes';

const run = promisify(execFile);

/** The HLS lanes need both binaries (Debian's ffmpeg package; .ci/run installs it when missing). */
export const FFMPEG = allOf(
  executableRequirement('ffmpeg', 'apt-get install ffmpeg; .ci/run installs it when missing'),
  executableRequirement('ffprobe', 'apt-get install ffmpeg; .ci/run installs it when missing'),
);

/** Frames per second of the test video; every segment holds exactly this many frames. */
export const FPS = 25;

export interface MediaSegments {
  dir: string;
  /** The media segments in order. */
  segments: Buffer[];
  /** The fMP4 init segment, when made. */
  init?: Buffer;
}

/** `seconds` one-second segments of 320x240 video at 25 fps and 48 kHz AAC audio. */
export async function makeSegments(seconds: number, kind: 'ts' | 'fmp4'): Promise<MediaSegments> {
  const dir = mkdtempSync(path.join(tmpdir(), `tams-hls-${kind}-`));
  const segmentName = kind === 'ts' ? 'seg%03d.ts' : 'seg%03d.m4s';
  await run('ffmpeg', [
    '-v', 'error',
    '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', String(FPS), '-keyint_min', String(FPS), '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '64k',
    '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod',
    ...(kind === 'fmp4' ? ['-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4'] : []),
    '-hls_segment_filename', path.join(dir, segmentName),
    path.join(dir, 'ffmpeg.m3u8'),
  ]);
  const names = readdirSync(dir).filter((n) => n.startsWith('seg')).sort();
  const segments = names.map((n) => readFileSync(path.join(dir, n)));
  if (segments.length !== seconds) throw new Error(`ffmpeg made ${segments.length} segments, not ${seconds}`);
  return { dir, segments, ...(kind === 'fmp4' ? { init: readFileSync(path.join(dir, 'init.mp4')) } : {}) };
}

export type Send = (method: string, url: string, body?: unknown) => Promise<TamsResponse>;

/** Allocates `count` objects of the flow and PUTs `bytes[i]` to each; their ids. */
export async function uploadObjects(send: Send, flowId: string, bytes: readonly Buffer[], contentType?: string): Promise<string[]> {
  const res = await send('POST', `/flows/${flowId}/storage`, { limit: bytes.length, ...(contentType === undefined ? {} : { content_type: contentType }) });
  if (res.status !== 201) throw new Error(`storage allocation: ${res.status} ${res.text}`);
  const objects = res.body.media_objects as { object_id: string; put_url: { url: string; 'content-type'?: string } }[];
  await Promise.all(
    objects.map(async (o, i) => {
      const put = await checkedFetch(o.put_url.url, {
        method: 'PUT',
        body: new Uint8Array(bytes[i] as Buffer),
        headers: { 'content-type': o.put_url['content-type'] ?? contentType ?? 'application/octet-stream' },
      });
      if (!put.ok) throw new Error(`PUT ${o.put_url.url}: ${put.status} ${await put.text()}`);
    }),
  );
  return objects.map((o) => o.object_id);
}

/** `{seconds}:{nanos}` of `ns`. */
export function ts(ns: bigint): string {
  return `${ns / 1_000_000_000n}:${ns % 1_000_000_000n}`;
}

export const SECOND = 1_000_000_000n;

/** Registers segment i of `objectIds` at [start + i s, start + (i+1) s), with extra fields. */
export async function registerSegments(
  send: Send,
  flowId: string,
  objectIds: readonly string[],
  start: bigint,
  extra: (i: number) => Record<string, unknown> = () => ({}),
): Promise<void> {
  const body = objectIds.map((object_id, i) => ({
    object_id,
    timerange: `[${ts(start + BigInt(i) * SECOND)}_${ts(start + BigInt(i + 1) * SECOND)})`,
    ...extra(i),
  }));
  const res = await send('POST', `/flows/${flowId}/segments`, body);
  if (res.status !== 201) throw new Error(`segment registration: ${res.status} ${res.text}`);
}

export interface Probe {
  /** Video frames decoded. */
  frames: number;
  /** Duration ffprobe reports, seconds. */
  duration: number;
  streams: string[];
}

/** ffprobe of a URL: decodes every video frame (-count_frames) and reads the duration. */
export async function probe(url: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', [
    '-v', 'error', '-count_frames',
    '-show_entries', 'stream=codec_type,nb_read_frames:format=duration',
    '-of', 'json', url,
  ], { timeout: 120_000 });
  const parsed = JSON.parse(stdout) as { streams: { codec_type: string; nb_read_frames?: string }[]; format: { duration?: string } };
  const video = parsed.streams.find((s) => s.codec_type === 'video');
  return {
    frames: Number(video?.nb_read_frames ?? 0),
    duration: Number(parsed.format.duration ?? NaN),
    streams: parsed.streams.map((s) => s.codec_type),
  };
}

/** `ffmpeg -i url` decoding everything to nothing: the video frames it decoded, and its stderr. */
export async function decode(url: string): Promise<{ frames: number; stderr: string }> {
  const { stderr } = await run('ffmpeg', ['-nostdin', '-v', 'error', '-stats', '-i', url, '-map', '0:v:0', '-f', 'null', '-'], { timeout: 120_000 });
  const counts = [...stderr.matchAll(/frame=\s*(\d+)/g)].map((m) => Number(m[1]));
  return { frames: counts[counts.length - 1] ?? 0, stderr };
}
