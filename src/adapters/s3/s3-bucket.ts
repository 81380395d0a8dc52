/**
 * What the S3 helpers (upload, copy) share: the client, the bucket, the label for messages,
 * and S3's size limits.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { TamsError } from '../../domain/errors';
import type { S3ErrorContext } from './s3-errors';

export interface S3Bucket extends S3ErrorContext {
  client: S3Client;
}

/** S3's largest single PUT or CopyObject: 5 GiB. */
export const MAX_SINGLE_BYTES = 5 * 1024 ** 3;
/** S3's smallest part (all but the last) of a multipart upload: 5 MiB. */
export const MIN_PART_BYTES = 5 * 1024 ** 2;
/** S3's largest part: 5 GiB. */
export const MAX_PART_BYTES = 5 * 1024 ** 3;
/** S3's part numbers run 1 to 10,000. */
export const MAX_PARTS = 10_000;
/** S3's largest object: 5 TiB. */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 4;

/**
 * The part size for an object: the configured one, grown (to a whole MiB) when the object
 * would otherwise need more than 10,000 parts.
 */
export function partSizeFor(size: number, partBytes: number): number {
  const needed = Math.ceil(size / MAX_PARTS);
  return needed <= partBytes ? partBytes : Math.ceil(needed / 1024 ** 2) * 1024 ** 2;
}

/** A CopySource value: `bucket/key`, each segment escaped (S3 wants it URL-encoded). */
export function copySource(bucket: string, key: string): string {
  return [bucket, ...key.split('/')].map(encodeURIComponent).join('/');
}

/** The body a copy's source sent was longer or shorter than it announced. */
export function sizeMismatch(announced: number): TamsError {
  return new TamsError('unavailable', `The object's source did not give the ${announced} bytes it announced; nothing was stored`);
}
