/**
 * The gateway's SigV4 presigner against `@smithy/signature-v4` (what the AWS SDK v3 signs with),
 * same inputs and clock: every URL equal byte for byte, across methods, path-style and
 * virtual-hosted endpoints, keys that need escaping, session tokens, regions, days and expiries,
 * with the write-once `if-none-match: *` header signed, and after credentials are swapped.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { SigV4Presigner, sigV4Escape, type PresignTarget, type S3Credentials } from '../../../src/adapters/s3/sigv4-presigner';

/** smithy's presign of the request the S3 client builds for one object, written out as the SDK writes URLs (query sorted). */
async function smithyPresign(
  target: PresignTarget,
  credentials: S3Credentials,
  method: string,
  key: string,
  expiresIn: number,
  now: Date,
  extraHeaders: Record<string, string> = {},
): Promise<string> {
  const endpoint = new URL(target.endpoint);
  const hostname = target.pathStyle ? endpoint.hostname : `${target.bucket}.${endpoint.hostname}`;
  const host = endpoint.port === '' ? hostname : `${hostname}:${endpoint.port}`;
  const path = `${target.pathStyle ? `/${sigV4Escape(target.bucket)}` : ''}/${key.split('/').map(sigV4Escape).join('/')}`;
  const signer = new SignatureV4({ credentials, region: target.region, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false });
  const signed = await signer.presign(
    {
      method,
      protocol: endpoint.protocol,
      hostname,
      ...(endpoint.port === '' ? {} : { port: Number(endpoint.port) }),
      path,
      query: {},
      // Capitalised as the SDK's S3 presigner sets it (its URLs carry X-Amz-Content-Sha256).
      headers: { host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD', ...extraHeaders },
    },
    { expiresIn, signingDate: now },
  );
  const query = Object.entries(signed.query as Record<string, string>)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${sigV4Escape(k)}=${sigV4Escape(v)}`)
    .join('&');
  return `${endpoint.protocol}//${host}${path}?${query}`;
}

const CREDENTIALS: S3Credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SESSION: S3Credentials = { ...CREDENTIALS, sessionToken: 'IQoJb3JpZ2luX2VjE/tok+en==' };
const TARGETS: PresignTarget[] = [
  { endpoint: 'http://127.0.0.1:9000', bucket: 'media', pathStyle: true, region: 'us-east-1' },
  { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'tams-media-eu', pathStyle: false, region: 'eu-west-1' },
  { endpoint: 'https://vast.example.net:8443', bucket: 'tams.bucket', pathStyle: true, region: 'vast-1' },
];
const KEYS = [
  'ab/cd/2b6f0d1e-1c52-4a3e-9d7f-0e1f2a3b4c5d',
  'a b/ü~+=x.ts',
  "odd !'()*&?#[]@$,;:%.mp4",
  '日本/ファイル',
  'trailing/',
];

describe('SigV4 presigner', () => {
  it.each(TARGETS.flatMap((target) => [CREDENTIALS, SESSION].map((credentials) => [target, credentials] as const)))(
    'signs as @smithy/signature-v4 does: %o with %o',
    async (target, credentials) => {
      const presigner = new SigV4Presigner(target, credentials);
      for (const method of ['GET', 'PUT', 'HEAD'] as const) {
        for (const key of KEYS) {
          for (const [now, expiresInSec] of [[new Date('2026-12-06T20:59:12.345Z'), 900], [new Date('2027-01-01T00:00:00.000Z'), 604_800], [new Date('2026-12-06T23:59:59.999Z'), 1]] as const) {
            const ours = presigner.presign({ method, key, expiresInSec, now });
            expect({ method, key, url: ours }).toEqual({ method, key, url: await smithyPresign(target, credentials, method, key, expiresInSec, now) });
          }
        }
      }
    },
  );

  it.each(TARGETS.flatMap((target) => [CREDENTIALS, SESSION].map((credentials) => [target, credentials] as const)))(
    'signs if-none-match: * into a PUT as @smithy/signature-v4 does: %o with %o',
    async (target, credentials) => {
      const presigner = new SigV4Presigner(target, credentials);
      for (const key of KEYS) {
        for (const [now, expiresInSec] of [[new Date('2026-12-06T20:59:12.345Z'), 900], [new Date('2026-12-06T23:59:59.999Z'), 1]] as const) {
          const ours = presigner.presign({ method: 'PUT', key, expiresInSec, now, ifNoneMatch: true });
          expect(new URL(ours).searchParams.get('X-Amz-SignedHeaders')).toBe('host;if-none-match');
          expect({ key, url: ours }).toEqual({ key, url: await smithyPresign(target, credentials, 'PUT', key, expiresInSec, now, { 'if-none-match': '*' }) });
          // Not the URL without the header: a client that drops it has no valid signature.
          expect(ours).not.toBe(presigner.presign({ method: 'PUT', key, expiresInSec, now }));
        }
      }
    },
  );

  it('signs with credentials swapped in (temporary ones refreshed), each set with its own keys', async () => {
    const target = TARGETS[1]!;
    const now = new Date('2026-12-06T20:59:12Z');
    const presigner = new SigV4Presigner(target, CREDENTIALS);
    const before = presigner.presign({ method: 'GET', key: 'k', expiresInSec: 60, now });
    expect(before).toBe(await smithyPresign(target, CREDENTIALS, 'GET', 'k', 60, now));
    const refreshed: S3Credentials = { accessKeyId: 'ASIAREFRESHED', secretAccessKey: 'other/secret+key', sessionToken: 'FwoGZXIvYXdzE/next+token==' };
    presigner.setCredentials(refreshed);
    const after = presigner.presign({ method: 'GET', key: 'k', expiresInSec: 60, now });
    expect(new URL(after).searchParams.get('X-Amz-Security-Token')).toBe(refreshed.sessionToken);
    expect(after).toBe(await smithyPresign(target, refreshed, 'GET', 'k', 60, now));
    // Same key id, new secret and token (STS rotates all three, but a provider may keep the id).
    const rotated: S3Credentials = { ...refreshed, secretAccessKey: 'rotated', sessionToken: 'tok2' };
    presigner.setCredentials(rotated);
    expect(presigner.presign({ method: 'PUT', key: 'k', expiresInSec: 60, now, ifNoneMatch: true })).toBe(
      await smithyPresign(target, rotated, 'PUT', 'k', 60, now, { 'if-none-match': '*' }),
    );
    // An empty session token is none (smithy leaves it out too).
    presigner.setCredentials({ ...CREDENTIALS, sessionToken: '' });
    expect(presigner.presign({ method: 'GET', key: 'k', expiresInSec: 60, now })).toBe(before);
  });

  it('builds unsigned object URLs, path-style and virtual-hosted, keys escaped as in signed ones', () => {
    expect(new SigV4Presigner(TARGETS[0]!, CREDENTIALS).objectUrl('ab/cd/x.ts')).toBe('http://127.0.0.1:9000/media/ab/cd/x.ts');
    expect(new SigV4Presigner(TARGETS[1]!, CREDENTIALS).objectUrl('a b/ü')).toBe('https://tams-media-eu.s3.eu-west-1.amazonaws.com/a%20b/%C3%BC');
    const presigner = new SigV4Presigner(TARGETS[2]!, CREDENTIALS);
    const key = "odd !'()*&?#[]@$,;:%.mp4";
    const signed = presigner.presign({ method: 'GET', key, expiresInSec: 60, now: new Date() });
    expect(signed.startsWith(`${presigner.objectUrl(key)}?`)).toBe(true);
    expect(presigner.objectUrl(key)).toBe("https://vast.example.net:8443/tams.bucket/odd%20%21%27%28%29%2A%26%3F%23%5B%5D%40%24%2C%3B%3A%25.mp4");
  });

  it('keeps one signing key per day and region, and signs the next day with the next day\'s key', async () => {
    const target = TARGETS[0]!;
    const presigner = new SigV4Presigner(target, CREDENTIALS);
    const day1 = presigner.presign({ method: 'GET', key: 'k', expiresInSec: 60, now: new Date('2026-12-06T23:59:59Z') });
    const day2 = presigner.presign({ method: 'GET', key: 'k', expiresInSec: 60, now: new Date('2026-12-07T00:00:00Z') });
    expect(day1).toContain('X-Amz-Credential=AKIDEXAMPLE%2F20261206%2F');
    expect(day2).toContain('X-Amz-Credential=AKIDEXAMPLE%2F20261207%2F');
    expect(day2).toBe(await smithyPresign(target, CREDENTIALS, 'GET', 'k', 60, new Date('2026-12-07T00:00:00Z')));
  });

  it('carries no checksum parameter (a presigned PUT with an empty-body checksum is refused once bytes are sent)', () => {
    const url = new URL(new SigV4Presigner(TARGETS[0]!, CREDENTIALS).presign({ method: 'PUT', key: 'k', expiresInSec: 60, now: new Date() }));
    expect([...url.searchParams.keys()].filter((k) => /checksum|content-md5/i.test(k))).toEqual([]);
    expect(url.searchParams.get('X-Amz-Content-Sha256')).toBe('UNSIGNED-PAYLOAD');
  });

  it('refuses an expiry SigV4 cannot carry, and an endpoint that is not http(s)', () => {
    const presigner = new SigV4Presigner(TARGETS[0]!, CREDENTIALS);
    for (const expiresInSec of [0, -1, 604_801, 1.5, Number.NaN]) {
      expect(() => presigner.presign({ method: 'GET', key: 'k', expiresInSec, now: new Date() })).toThrow(/presigned URL lives/);
    }
    expect(() => new SigV4Presigner({ ...TARGETS[0]!, endpoint: 'ftp://127.0.0.1' }, CREDENTIALS)).toThrow(/not http/);
  });
});
