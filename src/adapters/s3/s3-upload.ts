/**
 * Writing an object's bytes into a bucket from a stream, never holding the whole object:
 * one streamed PutObject up to the multipart threshold, above it a multipart upload holding
 * one part at a time (parts are buffers, so the SDK can retry a part; a streamed PutObject
 * is never retried, since its body cannot be replayed).
 *
 * Body-carrying requests have no overall deadline (a large part on a slow link takes as long
 * as it takes) but keep the client's connection and idle-socket timeouts, so a stalled
 * endpoint still fails within the timeout. Errors are left raw for the store to map.
 */
import { Transform, pipeline, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { TamsError } from '../../domain/errors';
import type { ObjectBytes } from '../../ports/object-store';
import { partSizeFor, sizeMismatch, type S3Bucket } from './s3-bucket';

/** Requests whose body or server-side work may outlast the client's request timeout. */
export const NO_REQUEST_DEADLINE = { requestTimeout: 0 } as const;

/** Passes exactly `size` bytes on; fails on more, and on ending with fewer. */
function exactly(size: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > size) done(sizeMismatch(size));
      else done(null, chunk);
    },
    flush(done) {
      done(seen === size ? null : sizeMismatch(size));
    },
  });
}

/**
 * One PutObject streaming the body (Content-Length set). A failing body aborts the request,
 * so S3 never completes a short object, and its error (a source backend's TamsError, say) is
 * the one thrown.
 */
export async function putStreamed(target: S3Bucket, key: string, bytes: ObjectBytes, ifNoneMatch: boolean): Promise<void> {
  const abort = new AbortController();
  let bodyError: unknown;
  const body: Readable = pipeline(bytes.body, exactly(bytes.size), (error) => {
    if (error) {
      bodyError ??= error;
      abort.abort();
    }
  });
  try {
    await target.client.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: key,
        Body: body,
        ContentLength: bytes.size,
        ...(bytes.contentType === undefined ? {} : { ContentType: bytes.contentType }),
        ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      }),
      { ...NO_REQUEST_DEADLINE, abortSignal: abort.signal },
    );
  } catch (error) {
    throw bodyError ?? error;
  } finally {
    body.destroy();
  }
}

/**
 * CreateMultipartUpload, then the body cut into parts of `partBytes` (grown for objects that
 * would need more than 10,000), each uploaded before the next is read, then
 * CompleteMultipartUpload (conditional when `ifNoneMatch`: S3 checks it there). Any failure
 * aborts the upload, so no parts are left behind to be billed.
 */
export async function putMultipart(target: S3Bucket, key: string, bytes: ObjectBytes, partBytes: number, ifNoneMatch: boolean): Promise<void> {
  const created = await target.client.send(
    new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: key, ...(bytes.contentType === undefined ? {} : { ContentType: bytes.contentType }) }),
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined) throw new TamsError('unavailable', `Storage backend '${target.label}' started a multipart upload without an upload id`);
  try {
    const parts: CompletedPart[] = [];
    // One part's buffer, reused: the SDK is done with it once its UploadPart has answered.
    const buffer = Buffer.allocUnsafe(Math.min(partSizeFor(bytes.size, partBytes), bytes.size));
    let filled = 0;
    let total = 0;
    const uploadPart = async (): Promise<void> => {
      const PartNumber = parts.length + 1;
      const out = await target.client.send(
        new UploadPartCommand({ Bucket: target.bucket, Key: key, UploadId: uploadId, PartNumber, Body: buffer.subarray(0, filled), ContentLength: filled }),
        NO_REQUEST_DEADLINE,
      );
      parts.push({ PartNumber, ETag: out.ETag });
      filled = 0;
    };
    for await (const chunk of bytes.body as AsyncIterable<Buffer | string>) {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += data.length;
      if (total > bytes.size) throw sizeMismatch(bytes.size);
      for (let offset = 0; offset < data.length; ) {
        const copied = data.copy(buffer, filled, offset);
        filled += copied;
        offset += copied;
        if (filled === buffer.length) await uploadPart();
      }
    }
    if (total !== bytes.size) throw sizeMismatch(bytes.size);
    if (filled > 0) await uploadPart();
    await target.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      }),
      NO_REQUEST_DEADLINE,
    );
  } catch (error) {
    await abortUpload(target, key, uploadId);
    throw error;
  }
}

/**
 * Best effort: the original failure is what the caller needs to hear. An upload whose abort
 * fails too is left to the bucket's lifecycle rule for incomplete uploads (see the docs).
 */
export async function abortUpload(target: S3Bucket, key: string, uploadId: string): Promise<void> {
  await target.client.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
}
