import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { EMBEDDED_KEY_FILE, loadOrCreateEmbeddedKey } from '../../../src/auth/embedded-keys';

describe('embedded ES256 key', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-keys-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is created on first start, readable by its owner only, and reused after', async () => {
    const first = loadOrCreateEmbeddedKey(dir);
    expect(first.created).toBe(true);
    expect(first.file).toBe(path.join(dir, EMBEDDED_KEY_FILE));
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
    expect(first.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(first.kid).toBe(await calculateJwkThumbprint(await exportJWK(first.publicKey)));

    const again = loadOrCreateEmbeddedKey(dir);
    expect(again.created).toBe(false);
    expect(again.kid).toBe(first.kid);
    expect(fs.readdirSync(dir)).toEqual([EMBEDDED_KEY_FILE]);
  });

  it('refuses a key file that is not a P-256 private key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    fs.writeFileSync(path.join(dir, EMBEDDED_KEY_FILE), rsa.export({ format: 'pem', type: 'pkcs8' }));
    expect(() => loadOrCreateEmbeddedKey(dir)).toThrow('is not a P-256 private key');
  });
});
