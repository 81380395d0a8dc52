/**
 * S3ObjectStore with no credentials configured: the AWS SDK's default provider chain, for
 * real, against s3rver. The chain reads the environment, then the shared config files, where
 * a `credential_process` (a small node script here) hands out temporary credentials the way
 * an IAM role's provider does: a new session token each time, expiring within seconds, so the
 * background refresh can be watched. Each URL is re-signed with `@smithy/signature-v4` and the
 * credentials the process handed out, so the token and signature are checked, not only
 * accepted (s3rver verifies no signature).
 *
 * The environment is confined for these tests: no shared files but the ones written here, no
 * container credentials, and the instance metadata service disabled, so the chain never
 * leaves this machine.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { S3ObjectStore } from '../../src/adapters/s3/s3-object-store';
import type { S3Credentials } from '../../src/adapters/s3/sigv4-presigner';
import { localBackend } from '../fixtures/local-backend';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../support/s3-server';

const backend = localBackend({ id: '2a4f5b6c-0000-4000-8000-0000000000d1', label: 'role-s3', default_storage: false });
const REGION = 'us-east-1';
/** Variables the chain reads; cleared or set per test, restored after. */
const CHAIN_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_EC2_METADATA_DISABLED',
];

let server: S3TestServer;
let dir: string;
let saved: Record<string, string | undefined>;

beforeAll(async () => {
  server = await startS3Server();
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tams-s3-chain-'));
  saved = Object.fromEntries(CHAIN_ENV.map((name) => [name, process.env[name]]));
  for (const name of CHAIN_ENV) delete process.env[name];
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_CONFIG_FILE = path.join(dir, 'config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'credentials');
});

afterEach(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await rm(dir, { recursive: true, force: true });
});

function chainStore(): Promise<S3ObjectStore> {
  return S3ObjectStore.create({ backend, endpoint: server.endpoint, bucket: server.bucket, region: REGION, pathStyle: true, requestTimeoutMs: 2000 });
}

/** Re-signs a presigned GET with smithy from its own date and expiry, and the given credentials. */
async function expectSignedBy(urlText: string, credentials: S3Credentials): Promise<void> {
  const url = new URL(urlText);
  const params = url.searchParams;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(params.get('X-Amz-Date') ?? '');
  if (m === null) throw new Error('no X-Amz-Date');
  const signer = new SignatureV4({ credentials, region: REGION, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false });
  const signed = await signer.presign(
    { method: 'GET', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, query: {}, headers: { host: url.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' } },
    { expiresIn: Number(params.get('X-Amz-Expires')), signingDate: new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) },
  );
  const query = signed.query as Record<string, string>;
  expect(params.get('X-Amz-Security-Token')).toBe(query['X-Amz-Security-Token'] ?? null);
  expect(params.get('X-Amz-Signature')).toBe(query['X-Amz-Signature']);
}

async function roundTrip(store: S3ObjectStore): Promise<void> {
  const key = store.keyFor('obj');
  await store.write(key, { body: Readable.from([Buffer.from('through the chain')]), size: 17 });
  const out = await store.read(key);
  const chunks: Buffer[] = [];
  for await (const chunk of out.body) chunks.push(chunk as Buffer);
  expect(Buffer.concat(chunks).toString()).toBe('through the chain');
}

const nowSec = (): number => Math.floor(Date.now() / 1000);

describe('S3ObjectStore on the SDK default credential chain', () => {
  it('takes credentials from the environment: the store signs with them and its SDK calls use them', async () => {
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    process.env.AWS_SESSION_TOKEN = 'env-session/token+1==';
    const store = await chainStore();
    try {
      const url = store.signGet(store.keyFor('obj'), '', nowSec() + 60);
      expect(new URL(url).searchParams.get('X-Amz-Credential')).toMatch(/^S3RVER\//);
      await expectSignedBy(url, { ...S3RVER_CREDENTIALS, sessionToken: 'env-session/token+1==' });
      await roundTrip(store);
    } finally {
      store.close();
    }
  });

  it('refreshes temporary credentials from a credential_process in the background, halfway to expiry', async () => {
    const counter = path.join(dir, 'calls');
    const script = path.join(dir, 'issue-credentials.js');
    await writeFile(counter, '0');
    // Each call: a new session token, valid for 4 s (the SDK refuses expired ones).
    await writeFile(
      script,
      [
        "const fs = require('node:fs');",
        `const file = ${JSON.stringify(counter)};`,
        "const n = Number(fs.readFileSync(file, 'utf8')) + 1;",
        'fs.writeFileSync(file, String(n));',
        `process.stdout.write(JSON.stringify({ Version: 1, AccessKeyId: 'S3RVER', SecretAccessKey: 'S3RVER', SessionToken: 'session-' + n, Expiration: new Date(Date.now() + 4000).toISOString() }));`,
      ].join('\n'),
    );
    await chmod(script, 0o755);
    await writeFile(path.join(dir, 'config'), `[default]\ncredential_process = ${JSON.stringify(process.execPath)} ${JSON.stringify(script)}\n`);

    const store = await chainStore();
    try {
      const first = store.signGet(store.keyFor('obj'), '', nowSec() + 60);
      expect(new URL(first).searchParams.get('X-Amz-Security-Token')).toBe('session-1');
      await expectSignedBy(first, { ...S3RVER_CREDENTIALS, sessionToken: 'session-1' });
      await roundTrip(store);

      // The refresh is due about 2 s in; signing never waits for it.
      const deadline = Date.now() + 6000;
      let token = 'session-1';
      let url = first;
      while (token === 'session-1' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        url = store.signGet(store.keyFor('obj'), '', nowSec() + 60);
        token = new URL(url).searchParams.get('X-Amz-Security-Token') ?? '';
      }
      expect(token).toMatch(/^session-[2-9]$/);
      await expectSignedBy(url, { ...S3RVER_CREDENTIALS, sessionToken: token });
      await roundTrip(store);
      expect(Number(await readFile(counter, 'utf8'))).toBeGreaterThanOrEqual(2);
    } finally {
      store.close();
    }
  });

  it('refuses to start, naming the backend, when the chain finds nothing', async () => {
    await expect(chainStore()).rejects.toThrow(/^S3 storage backend 'role-s3': no credentials \(/);
  });
});
