/**
 * The S3 error table (src/adapters/s3/s3-errors.ts): each kind of failure the SDK reports, as
 * the SDK shapes it (S3ServiceException with the code as its name and the HTTP status in
 * $metadata; socket errors with a code; smithy's TimeoutError), becomes the documented TamsError.
 * The same failures over real HTTP are in test/integration/s3-object-store-failures.test.ts.
 */
import { S3ServiceException } from '@aws-sdk/client-s3';
import { isNotFound, isNotImplemented, isObjectTaken, toStoreError } from '../../../src/adapters/s3/s3-errors';
import { TamsError } from '../../../src/domain/errors';

const context = { label: 'eu-media', bucket: 'tams-eu' };

function s3(name: string, status: number | undefined): S3ServiceException {
  return new S3ServiceException({ name, $fault: status !== undefined && status >= 500 ? 'server' : 'client', $metadata: status === undefined ? {} : { httpStatusCode: status }, message: name });
}

function mapped(error: unknown): { code: string; message: string } {
  const result = toStoreError(error, context);
  if (!(result instanceof TamsError)) throw new Error(`not a TamsError: ${String(result)}`);
  return { code: result.code, message: result.message };
}

describe('S3 errors as TamsErrors', () => {
  it.each([
    ['NoSuchKey', 404, 'not_found'],
    ['NotFound', 404, 'not_found'],
    ['NoSuchBucket', 404, 'unavailable'],
    ['AccessDenied', 403, 'forbidden'],
    ['Forbidden', 403, 'forbidden'],
    ['InvalidAccessKeyId', 403, 'forbidden'],
    ['SignatureDoesNotMatch', 403, 'forbidden'],
    ['SomethingNew', 403, 'forbidden'],
    ['ExpiredToken', 400, 'unavailable'],
    ['RequestTimeTooSkewed', 403, 'unavailable'],
    ['SlowDown', 503, 'unavailable'],
    ['ServiceUnavailable', 503, 'unavailable'],
    ['InternalError', 500, 'unavailable'],
    ['NotImplemented', 501, 'unavailable'],
    ['TooManyRequestsException', 429, 'unavailable'],
    ['RequestTimeout', 400, 'unavailable'],
    ['PermanentRedirect', 301, 'unavailable'],
    ['AuthorizationHeaderMalformed', 400, 'unavailable'],
    ['InvalidArgument', 400, 'unavailable'],
  ])('%s (HTTP %s) -> %s', (name, status, code) => {
    expect(mapped(s3(name, status)).code).toBe(code);
  });

  it('names the backend, and the bucket where the operator must act', () => {
    expect(mapped(s3('NoSuchBucket', 404)).message).toBe("Storage backend 'eu-media': bucket tams-eu does not exist");
    expect(mapped(s3('AccessDenied', 403)).message).toMatch(/^Storage backend 'eu-media' denies the gateway access to bucket tams-eu \(AccessDenied, HTTP 403\)/);
    expect(mapped(s3('SlowDown', 503)).message).toBe("Storage backend 'eu-media' is unavailable (SlowDown, HTTP 503)");
    expect(mapped(s3('NoSuchKey', 404)).message).toBe("No such media object on storage backend 'eu-media'");
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE'])('a socket error %s -> unavailable', (code) => {
    const error = Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
    expect(mapped(error)).toEqual({ code: 'unavailable', message: `Storage backend 'eu-media' did not answer (${code})` });
    // As the SDK hands it over after its retries (with $metadata), and wrapped with a cause.
    expect(mapped(Object.assign(new Error('x'), { code, $metadata: { attempts: 3 } })).code).toBe('unavailable');
    expect(mapped(new Error('fetch failed', { cause: error })).code).toBe('unavailable');
    // What the SDK's retry step makes of a thrown value it does not take for an Error.
    expect(mapped(Object.assign(new Error(`AWS SDK error wrapper for Error: connect ${code} 127.0.0.1:1`), { $metadata: { attempts: 1 } })).message).toBe(
      `Storage backend 'eu-media' did not answer (${code})`,
    );
  });

  it("smithy's timeouts and aborts -> unavailable", () => {
    expect(mapped(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' })).code).toBe('unavailable');
    expect(mapped(Object.assign(new Error('aborted'), { name: 'AbortError' })).code).toBe('unavailable');
  });

  it('a provider without credentials -> unavailable naming the backend', () => {
    expect(mapped(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }))).toEqual({
      code: 'unavailable',
      message: "Storage backend 'eu-media' has no usable credentials: Could not load credentials from any providers",
    });
  });

  it('passes TamsErrors and programming errors through unchanged', () => {
    const tams = new TamsError('media_exists', 'x');
    expect(toStoreError(tams, context)).toBe(tams);
    const bug = new TypeError('undefined is not a function');
    expect(toStoreError(bug, context)).toBe(bug);
    expect(toStoreError('text', context)).toBe('text');
  });

  it('tells the conditions the write paths handle themselves', () => {
    expect(isObjectTaken(s3('PreconditionFailed', 412))).toBe(true);
    expect(isObjectTaken(s3('ConditionalRequestConflict', 409))).toBe(true);
    expect(isObjectTaken(s3('AccessDenied', 403))).toBe(false);
    expect(isNotImplemented(s3('NotImplemented', 501))).toBe(true);
    expect(isNotImplemented(s3('InternalError', 500))).toBe(false);
    expect(isNotFound(s3('NotFound', 404))).toBe(true);
    expect(isNotFound(s3('NoSuchBucket', 404))).toBe(false);
    expect(isNotFound(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
  });
});
