/**
 * An S3-protocol server (s3rver) in the bench process on 127.0.0.1 for rest-segments-s3: a
 * fresh temp directory and bucket, removed by `stop`. It knows one account, `S3RVER`/`S3RVER`
 * (it checks the access key, not SigV4 signatures). The gateway only signs URLs during the
 * loads, so the server sits idle beside the load generator.
 *
 * The binding lives here rather than in test/support/s3-server.ts (which imports it): the bench
 * build (tsconfig.build.json, scripts/build-if-stale.js) covers src/, bench/ and, of test/, only
 * the fake VAST server's files.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rverInstance;

// s3rver ships no types: its constructor, as used here (and by test/support/s3-server.ts).
export const S3rver = createRequire(__filename)('s3rver') as S3rverClass;

/**
 * s3rver opens the object's file as soon as a PUT starts and counts an object as present when
 * that file exists, so a PUT whose client broke off (a body shorter than its Content-Length, an
 * aborted request) leaves a visible object: S3 never does. Patched once here so the server keeps
 * S3's rule: the body is staged in a temp file, and only a body that arrived whole is handed to
 * s3rver's own store.
 */
interface S3rverObject {
  content: Buffer | Readable;
}
type PutObject = (this: unknown, object: S3rverObject) => Promise<unknown>;
const filesystemStore = (createRequire(__filename)('s3rver/lib/stores/filesystem') as { prototype: { putObject: PutObject } }).prototype;
const storeWhole = filesystemStore.putObject;
filesystemStore.putObject = async function putWholeObject(this: unknown, object: S3rverObject): Promise<unknown> {
  if (Buffer.isBuffer(object.content)) return storeWhole.call(this, object);
  const staged = path.join(tmpdir(), `tams-s3rver-put-${randomUUID()}`);
  try {
    await pipeline(object.content, createWriteStream(staged));
    object.content = createReadStream(staged);
    return await storeWhole.call(this, object);
  } finally {
    await rm(staged, { force: true });
  }
};

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface BenchS3Server {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  bucket: string;
  /** Where s3rver keeps the buckets (one directory per bucket, one per key below it). */
  directory: string;
  /** Stops listening (idempotent); the directory stays until `stop`. */
  close(): Promise<void>;
  /** Stops listening and removes the directory. */
  stop(): Promise<void>;
}

export async function startS3rver(bucket: string): Promise<BenchS3Server> {
  const directory = await mkdtemp(path.join(tmpdir(), 'tams-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await server.close();
  };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    bucket,
    directory,
    close,
    async stop() {
      await close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
