/**
 * The VAST request signer (src/adapters/vast/transport/request-signer.ts) against the signatures
 * captured in the public Java client's tests (test/fixtures/vast-signature-vectors.ts, each with
 * where it came from): the Authorization, X-Amz-Date, X-Amz-Content-SHA256 and Host headers equal
 * byte for byte, with the path and query built by request-target.ts as the transport sends them.
 * Then what the vectors do not show: an empty region stays empty, a body is hashed (never
 * UNSIGNED-PAYLOAD), only three headers are signed, and the secret is not to be found in the signer.
 */
import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { VastRequestSigner } from '../../src/adapters/vast/transport/request-signer';
import { resolveTarget } from '../../src/adapters/vast/transport/request-target';
import { parseVastEndpoint } from '../../src/adapters/vast/transport/vast-endpoint';
import { SIGNATURE_VECTORS, TRINO_CAPTURE_SIGNATURE, type SignatureVector } from '../fixtures/vast-signature-vectors';

async function signVector(vector: SignatureVector, overrides: { region?: string; secretAccessKey?: string; time?: number } = {}) {
  const signer = new VastRequestSigner(
    { accessKeyId: vector.accessKeyId, secretAccessKey: overrides.secretAccessKey ?? vector.secretAccessKey },
    overrides.region ?? vector.region,
  );
  const target = resolveTarget({ path: vector.path, ...(vector.verb === undefined ? {} : { verb: vector.verb }) });
  return signer.sign({
    method: vector.method,
    host: parseVastEndpoint(vector.endpoint).hostHeader,
    path: target.path,
    query: target.signingQuery,
    body: undefined,
    date: new Date(overrides.time ?? vector.time),
  });
}

/** SigV4 of one canonical request, written out here from the algorithm with node:crypto alone. */
function signatureOf(canonicalRequest: string, secret: string, amzDate: string, region: string): string {
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of [day, region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

describe('VAST SigV4 signatures', () => {
  it.each(SIGNATURE_VECTORS.map((v) => [v.name, v] as const))('reproduces the Java client test vector: %s', async (_name, vector) => {
    const headers = await signVector(vector);
    expect(headers).toEqual({
      host: vector.expected.host,
      'x-amz-date': vector.expected.xAmzDate,
      'x-amz-content-sha256': vector.expected.xAmzContentSha256,
      authorization: vector.expected.authorization,
    });
  });

  it('fails the vectors when an input changes (the comparison can fail)', async () => {
    for (const vector of SIGNATURE_VECTORS) {
      const otherSecret = await signVector(vector, { secretAccessKey: `${vector.secretAccessKey}x` });
      const otherRegion = await signVector(vector, { region: `${vector.region}x` });
      const otherTime = await signVector(vector, { time: vector.time + 1000 });
      for (const headers of [otherSecret, otherRegion, otherTime]) expect(headers.authorization).not.toBe(vector.expected.authorization);
    }
  });

  it('agrees with the vectors when the canonical request is written out by hand', () => {
    // The same vectors, through a SigV4 written here from the algorithm: shows what VAST's
    // canonical request is (a bare verb signed as `schema=`, three signed headers).
    const [buckets, schemas] = SIGNATURE_VECTORS as [SignatureVector, SignatureVector];
    const canonical = (path: string, query: string, vector: SignatureVector): string =>
      [
        'GET',
        path,
        query,
        `host:${vector.expected.host}`,
        `x-amz-content-sha256:${vector.expected.xAmzContentSha256}`,
        `x-amz-date:${vector.expected.xAmzDate}`,
        '',
        'host;x-amz-content-sha256;x-amz-date',
        vector.expected.xAmzContentSha256,
      ].join('\n');
    const signatureIn = (authorization: string): string => /Signature=([0-9a-f]{64})$/.exec(authorization)![1]!;
    expect(signatureOf(canonical('/', '', buckets), buckets.secretAccessKey, buckets.expected.xAmzDate, buckets.region)).toBe(signatureIn(buckets.expected.authorization));
    expect(signatureOf(canonical('/bucket-for-tabular-api', 'schema=', schemas), schemas.secretAccessKey, schemas.expected.xAmzDate, schemas.region)).toBe(
      signatureIn(schemas.expected.authorization),
    );
  });

  it('finds what the 2022 Trino capture signed: the same request with the verb left out of the canonical query', () => {
    // Of the spellings tried, only an empty canonical query gives the captured signature: that
    // client did not sign `?schema` at all. Today's Python SDK signs it as `schema=`, as the
    // Java builder and this transport do.
    const [, schemas] = SIGNATURE_VECTORS as [SignatureVector, SignatureVector];
    const base = { path: '/bucket-for-tabular-api', query: 'schema=', host: schemas.expected.host };
    const variants: Record<string, typeof base> = {
      'as the vector (schema=)': base,
      'the verb without = (schema)': { ...base, query: 'schema' },
      'the verb left out (empty query)': { ...base, query: '' },
      'a trailing slash on the path': { ...base, path: '/bucket-for-tabular-api/' },
      'the host without its port': { ...base, host: 'localhost' },
    };
    const reproduced = Object.entries(variants)
      .filter(([, v]) => {
        const request = [
          'GET',
          v.path,
          v.query,
          `host:${v.host}`,
          `x-amz-content-sha256:${schemas.expected.xAmzContentSha256}`,
          `x-amz-date:${schemas.expected.xAmzDate}`,
          '',
          'host;x-amz-content-sha256;x-amz-date',
          schemas.expected.xAmzContentSha256,
        ].join('\n');
        return signatureOf(request, schemas.secretAccessKey, schemas.expected.xAmzDate, schemas.region) === TRINO_CAPTURE_SIGNATURE;
      })
      .map(([name]) => name);
    expect(reproduced).toEqual(['the verb left out (empty query)']);
  });
});

describe('VAST signing beyond the vectors', () => {
  const credentials = { accessKeyId: 'AKIDVASTEXAMPLE', secretAccessKey: 'vAsT/sEcReT+kEy/For/Unit/Tests0123456789' };
  const date = new Date('2026-01-02T03:04:05Z');

  it('keeps an empty region empty in the scope (the Python SDK signs with region "")', async () => {
    const headers = await new VastRequestSigner(credentials, '').sign({ method: 'POST', host: 'vast.example:8080', path: '/', query: { transaction: '' }, body: undefined, date });
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDVASTEXAMPLE\/20260102\/\/s3\/aws4_request, /);
    const canonical = ['POST', '/', 'transaction=', 'host:vast.example:8080', `x-amz-content-sha256:${headers['x-amz-content-sha256']}`, 'x-amz-date:20260102T030405Z', '', 'host;x-amz-content-sha256;x-amz-date', headers['x-amz-content-sha256']].join('\n');
    expect(headers.authorization).toContain(`Signature=${signatureOf(canonical, credentials.secretAccessKey, '20260102T030405Z', '')}`);
  });

  it('hashes the body into x-amz-content-sha256 and the signature (never UNSIGNED-PAYLOAD)', async () => {
    const body = Buffer.from([0, 1, 2, 3, 250, 251, 252, 253]);
    const signer = new VastRequestSigner(credentials, 'vast');
    const withBody = await signer.sign({ method: 'GET', host: 'h', path: '/b/s/t', query: { data: '' }, body, date });
    const otherBody = await signer.sign({ method: 'GET', host: 'h', path: '/b/s/t', query: { data: '' }, body: Buffer.from([9]), date });
    expect(withBody['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
    expect(withBody.authorization).not.toBe(otherBody.authorization);
    expect(withBody.authorization).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-date,');
  });

  it('refuses keys and regions that would corrupt the Credential field', () => {
    expect(() => new VastRequestSigner({ accessKeyId: '', secretAccessKey: 's' }, '')).toThrow(/must not be empty/);
    expect(() => new VastRequestSigner({ accessKeyId: 'a', secretAccessKey: ' ' }, '')).toThrow(/must not be empty/);
    expect(() => new VastRequestSigner({ accessKeyId: 'a/b', secretAccessKey: 's' }, '')).toThrow(/access key/);
    expect(() => new VastRequestSigner({ accessKeyId: 'a', secretAccessKey: 's' }, 'us/east')).toThrow(/region/);
  });

  it('keeps the secret out of inspection and serialisation', async () => {
    const signer = new VastRequestSigner(credentials, 'vast');
    await signer.sign({ method: 'GET', host: 'h', path: '/', query: {}, body: undefined, date });
    const shown = [inspect(signer, { depth: 10, showHidden: true }), JSON.stringify(signer)].join('\n');
    expect(shown).not.toContain(credentials.secretAccessKey);
    expect(shown).not.toContain('vAsT/sEcReT');
  });
});
