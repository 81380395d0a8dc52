/** S3's limits as the upload and copy paths apply them (src/adapters/s3/s3-bucket.ts). */
import { MAX_OBJECT_BYTES, MAX_PARTS, copySource, partSizeFor } from '../../../src/adapters/s3/s3-bucket';

const MiB = 1024 ** 2;

describe('S3 bucket helpers', () => {
  it('keeps the configured part size while 10,000 parts suffice, else grows it to whole MiB', () => {
    expect(partSizeFor(11 * MiB, 5 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(64 * MiB * MAX_PARTS, 64 * MiB)).toBe(64 * MiB);
    const grown = partSizeFor(64 * MiB * MAX_PARTS + 1, 64 * MiB);
    expect(grown).toBe(65 * MiB);
    const largest = partSizeFor(MAX_OBJECT_BYTES, 64 * MiB);
    expect(largest % MiB).toBe(0);
    expect(Math.ceil(MAX_OBJECT_BYTES / largest)).toBeLessThanOrEqual(MAX_PARTS);
  });

  it('escapes CopySource segment by segment, keeping the slashes', () => {
    expect(copySource('media', 'tams/ab/cd/2b6f0d1e-1c52-4a3e-9d7f-0e1f2a3b4c5d')).toBe('media/tams/ab/cd/2b6f0d1e-1c52-4a3e-9d7f-0e1f2a3b4c5d');
    expect(copySource('media', 'a b/ü?#')).toBe('media/a%20b/%C3%BC%3F%23');
  });
});
