/**
 * A gateway with TAMS_STORE=vast, started as the product starts it (loadConfig, createGateway):
 * on the fake VAST server it makes its tables and serves; with a wrong secret key, an endpoint
 * where nothing listens, or a bucket that does not exist, the start fails with one message that
 * names the store and never holds the secret.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config';
import { createGateway } from '../../src/main';
import { EMBEDDED_KEY_FILE, loadOrCreateEmbeddedKey } from '../../src/auth/embedded-keys';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';
import { FAKE_VAST_CREDENTIALS, FakeVastServer } from '../support/vast-fake-server';

let fake: FakeVastServer;
const dirs: string[] = [];

beforeAll(async () => {
  fake = await FakeVastServer.start();
});

afterAll(async () => {
  await fake.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function env(change: Record<string, string>): Record<string, string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-vast-start-'));
  dirs.push(dataDir);
  loadOrCreateEmbeddedKey(dataDir);
  return {
    TAMS_DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'silent',
    AUDIT_LOG_FILE: path.join(dataDir, 'audit.log'),
    TAMS_AUTH: 'off',
    TAMS_STORE: 'vast',
    VAST_ENDPOINT: fake.endpoint,
    VAST_ACCESS_KEY: FAKE_VAST_CREDENTIALS.accessKeyId,
    VAST_SECRET_KEY: FAKE_VAST_CREDENTIALS.secretAccessKey,
    VAST_BUCKET: 'tams',
    VAST_SCHEMA: 'startup',
    VAST_REQUEST_TIMEOUT_MS: '2000',
    TAMS_SECRET: randomBytes(32).toString('base64'),
    TAMS_EMBEDDED_KEY_FILE: path.join(dataDir, EMBEDDED_KEY_FILE),
    TAMS_LOCAL_MEDIA_SHARED: 'true',
    ...change,
  };
}

describe('a gateway on VAST', () => {
  it('makes its tables on the fake server and serves REST from them', async () => {
    const gateway = await createGateway(loadConfig(env({})));
    try {
      await gateway.app.listen({ port: 0, host: '127.0.0.1' });
      const address = gateway.app.server.address();
      if (typeof address !== 'object' || address === null) throw new Error('no address');
      const base = `http://127.0.0.1:${address.port}`;
      const put = await checkedFetch(`${base}/flows/9a3b8e2c-1d4f-4a5b-8c6d-7e8f9a0b1c2d`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(videoFlow({ id: '9a3b8e2c-1d4f-4a5b-8c6d-7e8f9a0b1c2d' })),
      }, { basePath: '' });
      expect(put.status).toBe(201);
      const flows = (await (await checkedFetch(`${base}/flows`, undefined, { basePath: '' })).json()) as { id: string }[];
      expect(flows.map((f) => f.id)).toEqual(['9a3b8e2c-1d4f-4a5b-8c6d-7e8f9a0b1c2d']);
      expect(fake.log.some((r) => r.path[1] === 'startup' && r.path[2] === 'flows')).toBe(true);
    } finally {
      await gateway.close();
    }
  });

  it.each([
    ['a wrong secret key', { VAST_SECRET_KEY: 'wrong-secret-key-0123456789' }, /VAST Database http:\/\/127\.0\.0\.1:\d+, bucket tams, schema startup: .*(403|SignatureDoesNotMatch|signature)/i],
    ['an unknown access key', { VAST_ACCESS_KEY: 'AKIDNOBODY' }, /VAST Database .*: .*(403|InvalidAccessKeyId|access key)/i],
    ['a bucket that does not exist', { VAST_BUCKET: 'no-such-bucket' }, /VAST Database .*bucket no-such-bucket.*: /],
    ['an endpoint where nothing listens', { VAST_ENDPOINT: 'http://127.0.0.1:9' }, /VAST Database http:\/\/127\.0\.0\.1:9, .*: /],
  ])('refuses to start with %s, saying where, never the secret', async (_name, change, message) => {
    const error = await createGateway(loadConfig(env(change))).then(
      async (gateway) => {
        await gateway.close();
        return undefined;
      },
      (err: unknown) => err as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain(FAKE_VAST_CREDENTIALS.secretAccessKey);
    expect(error?.message).not.toContain('wrong-secret-key');
  }, 60_000);
});
