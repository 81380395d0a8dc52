/**
 * `presign`: time per presigned S3 GET URL, in one run, for the AWS SDK's `getSignedUrl`
 * (@aws-sdk/s3-request-presigner over a GetObjectCommand), `@smithy/signature-v4`'s `presign`
 * (what the SDK signs with, called directly) and the gateway's SigV4Presigner
 * (src/adapters/s3/sigv4-presigner.ts). Each is timed over the same keys, clock and credentials,
 * alternating in rounds so the machine's drift weighs on all alike; the median round is
 * reported. Target: ours at most a fifth of smithy's time.
 *
 * Standalone: `node dist/bench/presign.js`. Environment: BENCH_PRESIGN_URLS (URLs per round and
 * signer, default 20000), BENCH_PRESIGN_ROUNDS (default 5).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { SigV4Presigner, sigV4Escape } from '../src/adapters/s3/sigv4-presigner';

const URLS = Number(process.env.BENCH_PRESIGN_URLS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_PRESIGN_ROUNDS ?? 5);
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TARGET = { endpoint: 'http://127.0.0.1:9000', bucket: 'media', pathStyle: true, region: 'us-east-1' };
const EXPIRES = 3600;

type Signer = (key: string, now: Date) => Promise<string> | string;

function signers(): Record<string, Signer> {
  const client = new S3Client({
    region: TARGET.region,
    endpoint: TARGET.endpoint,
    forcePathStyle: true,
    credentials: CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const smithy = new SignatureV4({ credentials: CREDENTIALS, region: TARGET.region, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false });
  const ours = new SigV4Presigner(TARGET, CREDENTIALS);
  return {
    'SDK getSignedUrl': (key, now) => getSignedUrl(client, new GetObjectCommand({ Bucket: TARGET.bucket, Key: key }), { expiresIn: EXPIRES, signingDate: now }),
    '@smithy/signature-v4': async (key, now) => {
      const signed = await smithy.presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: '127.0.0.1',
          port: 9000,
          path: `/${TARGET.bucket}/${key.split('/').map(sigV4Escape).join('/')}`,
          query: {},
          headers: { host: '127.0.0.1:9000', 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
        },
        { expiresIn: EXPIRES, signingDate: now },
      );
      return Object.entries(signed.query as Record<string, string>).map(([k, v]) => `${k}=${v}`).join('&');
    },
    'gateway SigV4Presigner': (key, now) => ours.presign({ method: 'GET', key, expiresInSec: EXPIRES, now }),
  };
}

async function timeRound(signer: Signer, keys: readonly string[], now: Date): Promise<number> {
  const start = process.hrtime.bigint();
  let length = 0;
  for (const key of keys) length += (await signer(key, now)).length;
  const ns = Number(process.hrtime.bigint() - start);
  if (length === 0) throw new Error('no URL signed');
  return ns / keys.length;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function presignScenario(): Promise<void> {
  const keys = Array.from({ length: URLS }, (_, i) => `${(i % 256).toString(16).padStart(2, '0')}/${(i % 97).toString(16).padStart(2, '0')}/object-${i}.ts`);
  const now = new Date();
  const all = signers();
  const times = new Map<string, number[]>(Object.keys(all).map((name) => [name, []]));
  // One unreported round each (JIT), then ROUNDS alternating rounds.
  for (const signer of Object.values(all)) await timeRound(signer, keys.slice(0, 2000), now);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, signer] of Object.entries(all)) times.get(name)!.push(await timeRound(signer, keys, now));
  }
  process.stdout.write(`\npresign: one presigned S3 GET URL, ${URLS} keys x ${ROUNDS} rounds (median round)\n`);
  const per = new Map([...times].map(([name, t]) => [name, median(t)]));
  for (const [name, ns] of per) process.stdout.write(`  ${name.padEnd(24)} ${(ns / 1000).toFixed(2).padStart(8)} µs/URL\n`);
  const ours = per.get('gateway SigV4Presigner')!;
  const smithy = per.get('@smithy/signature-v4')!;
  const sdk = per.get('SDK getSignedUrl')!;
  process.stdout.write(`  ours / smithy: ${((ours / smithy) * 100).toFixed(1)}% (target <= 20%), ours / SDK: ${((ours / sdk) * 100).toFixed(1)}%\n`);
}

if (require.main === module) {
  // The AWS SDK's notice that its releases after January 2027 need Node 22 (bench/run.ts sets it too).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  presignScenario().catch((err: unknown) => {
    process.stderr.write(`presign bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
