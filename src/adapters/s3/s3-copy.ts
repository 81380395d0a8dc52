/**
 * Server-side copies inside one S3 endpoint: the bytes never pass through the gateway.
 * CopyObject up to the multipart threshold; above it a multipart upload whose parts are
 * UploadPartCopy ranges of the source. Products without these operations answer
 * NotImplemented: the copy then reports false (having left nothing behind) and the caller
 * streams the object instead. Errors are left raw for the store to map.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { TamsError } from '../../domain/errors';
import { copySource, partSizeFor, type S3Bucket } from './s3-bucket';
import { isNotImplemented } from './s3-errors';
import { NO_REQUEST_DEADLINE, abortUpload } from './s3-upload';

export interface CopyRequest {
  sourceBucket: string;
  sourceKey: string;
  key: string;
  /** The source's size and type (from HeadObject). */
  size: number;
  contentType: string | undefined;
  /** Above it, a multipart copy. */
  multipartThresholdBytes: number;
  partBytes: number;
  /** Conditional write: S3 refuses (412) when the target key holds an object. */
  ifNoneMatch: boolean;
}

/** True once copied; false when the product cannot copy server-side (nothing was written). */
export async function copyServerSide(target: S3Bucket, request: CopyRequest): Promise<boolean> {
  const source = copySource(request.sourceBucket, request.sourceKey);
  const condition = request.ifNoneMatch ? { IfNoneMatch: '*' } : {};
  if (request.size <= request.multipartThresholdBytes) {
    try {
      await target.client.send(new CopyObjectCommand({ Bucket: target.bucket, Key: request.key, CopySource: source, ...condition }), NO_REQUEST_DEADLINE);
      return true;
    } catch (error) {
      if (isNotImplemented(error)) return false;
      throw error;
    }
  }
  const created = await target.client.send(
    new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: request.key, ...(request.contentType === undefined ? {} : { ContentType: request.contentType }) }),
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined) throw new TamsError('unavailable', `Storage backend '${target.label}' started a multipart upload without an upload id`);
  try {
    const partSize = partSizeFor(request.size, request.partBytes);
    const parts: CompletedPart[] = [];
    for (let start = 0; start < request.size; start += partSize) {
      const end = Math.min(start + partSize, request.size) - 1;
      const PartNumber = parts.length + 1;
      const out = await target.client.send(
        new UploadPartCopyCommand({ Bucket: target.bucket, Key: request.key, UploadId: uploadId, PartNumber, CopySource: source, CopySourceRange: `bytes=${start}-${end}` }),
        NO_REQUEST_DEADLINE,
      );
      parts.push({ PartNumber, ETag: out.CopyPartResult?.ETag });
    }
    await target.client.send(
      new CompleteMultipartUploadCommand({ Bucket: target.bucket, Key: request.key, UploadId: uploadId, MultipartUpload: { Parts: parts }, ...condition }),
      NO_REQUEST_DEADLINE,
    );
    return true;
  } catch (error) {
    await abortUpload(target, request.key, uploadId);
    if (isNotImplemented(error)) return false;
    throw error;
  }
}
