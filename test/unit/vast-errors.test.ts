/**
 * How VAST failures are read and reported: the S3-style XML error body
 * (src/adapters/vast/transport/s3-error-body.ts) on the bodies of the Java client's tests
 * (test/fixtures/vast-error-bodies.ts) and on what is not such a body, and the failure table
 * (vast-request-error.ts): each kind's TamsError code and HTTP status, and a client-facing message
 * that names the status and VAST code but never VAST's text.
 */
import { ERROR_REGISTRY, TamsError } from '../../src/domain/errors';
import { parseS3ErrorBody } from '../../src/adapters/vast/transport/s3-error-body';
import { kindOfStatus, VastRequestError, type VastFailureKind } from '../../src/adapters/vast/transport/vast-request-error';
import { VAST_ERROR_BODIES } from '../fixtures/vast-error-bodies';

describe('VAST XML error bodies', () => {
  it.each(Object.entries(VAST_ERROR_BODIES))('reads the Java client test body %s', (_name, fixture) => {
    expect(parseS3ErrorBody(Buffer.from(fixture.body))).toEqual(fixture.expected);
  });

  it('decodes entities and tolerates whitespace, attributes and a namespace', () => {
    const body = `\n<?xml version="1.0"?>\n<Error xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n  <Code>Tabular&amp;Conflict</Code>\n  <Message>a &lt;b&gt; &quot;c&quot; &#39;d&#39; &#x263A; &#1114112;</Message>\n</Error>\n`;
    expect(parseS3ErrorBody(Buffer.from(body))).toEqual({ code: 'Tabular&Conflict', message: `a <b> "c" 'd' \u263a &#1114112;` });
  });

  it.each([
    ['an empty body', ''],
    ['an HTML error page', '<html><body><h1>503 Service Unavailable</h1></body>'],
    ['JSON', '{"Code":"SlowDown"}'],
    ['an unclosed document', '<Error><Code>SlowDown</Code>'],
    ['a document without the fields', '<Error><Other>x</Other></Error>'],
  ])('gives nothing for %s', (_name, body) => {
    expect(parseS3ErrorBody(Buffer.from(body))).toBeUndefined();
  });
});

describe('VAST failures as TamsErrors', () => {
  it.each<[number, string | undefined, VastFailureKind | undefined]>([
    [200, undefined, undefined],
    [204, undefined, undefined],
    [503, 'SlowDown', 'slow_down'],
    [503, 'ServiceUnavailable', 'unavailable'],
    [503, undefined, 'unavailable'],
    [500, 'InternalError', 'server_error'],
    [507, undefined, 'server_error'],
    [409, 'InvalidBucketState', 'conflict'],
    [404, 'NoSuchKey', 'not_found'],
    [403, 'SignatureDoesNotMatch', 'forbidden'],
    [401, undefined, 'forbidden'],
    [400, 'BadRequest', 'rejected'],
    [405, undefined, 'rejected'],
    [307, undefined, 'rejected'],
  ])('status %i code %s is %s', (status, code, kind) => {
    expect(kindOfStatus(status, code)).toBe(kind);
  });

  it.each<[VastFailureKind, string]>([
    ['slow_down', 'unavailable'],
    ['unavailable', 'unavailable'],
    ['server_error', 'unavailable'],
    ['conflict', 'unavailable'],
    ['not_found', 'unavailable'],
    ['forbidden', 'unavailable'],
    ['timeout', 'unavailable'],
    ['connection', 'unavailable'],
    ['rejected', 'internal'],
    ['response_too_large', 'internal'],
    ['invalid_request', 'internal'],
    ['request_too_large', 'payload_too_large'],
  ])('%s is the registry code %s', (kind, code) => {
    const error = new VastRequestError({ kind, operation: 'select rows', attempts: 1, status: 503, vastCode: 'SlowDown', detail: 'secret-looking VAST text', limit: 1000 });
    expect(error).toBeInstanceOf(TamsError);
    expect(error.code).toBe(code);
    expect(error.status).toBe(ERROR_REGISTRY[error.code].status);
    expect(error.kind).toBe(kind);
    expect(error.message).not.toContain('secret-looking');
    expect(error.message).not.toContain('select rows');
    expect(error.detail).toBe('secret-looking VAST text');
  });

  it('names the status and a word-like VAST code in the message, and leaves any other code out', () => {
    expect(new VastRequestError({ kind: 'slow_down', operation: 'o', attempts: 5, status: 503, vastCode: 'SlowDown' }).message).toBe('The VAST metadata store is busy (503 SlowDown): try again');
    expect(new VastRequestError({ kind: 'conflict', operation: 'o', attempts: 1, status: 409, vastCode: '<script>' }).message).toBe(
      'The VAST metadata store is busy with conflicting changes (409): try again',
    );
    expect(new VastRequestError({ kind: 'request_too_large', operation: 'o', attempts: 0, limit: 5242880 }).message).toBe('A VAST request body exceeds the 5,242,880-byte limit: the VAST store keeps a document (a flow, source, webhook or profile, tags included) of up to about 4.5 MB; nothing was changed');
    expect(new VastRequestError({ kind: 'timeout', operation: 'o', attempts: 2, limit: 250 }).message).toBe('The VAST metadata store did not answer within 250 ms');
  });

  it('keeps details to a bounded length', () => {
    expect(new VastRequestError({ kind: 'server_error', operation: 'o', attempts: 1, detail: 'x'.repeat(10_000) }).detail).toHaveLength(500);
  });
});
