/**
 * The embedded default's signing key: an ES256 (P-256) key pair kept in TAMS_DATA_DIR, so one
 * machine has working bearer tokens without an identity provider. The gateway verifies with
 * the public half; `npm run token` and the start-up admin token sign with the private half.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';

export const EMBEDDED_KEY_FILE = 'auth-signing-key.pem';

export interface EmbeddedKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key's RFC 7638 thumbprint, the `kid` of every token signed with it. */
  kid: string;
  file: string;
  /** This call generated the key (first start). */
  created: boolean;
}

function thumbprint(publicKey: KeyObject): string {
  const { crv, kty, x, y } = publicKey.export({ format: 'jwk' });
  // RFC 7638: the required members only, in lexicographic order, no whitespace.
  return createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
}

function read(file: string, created: boolean): EmbeddedKey {
  const privateKey = createPrivateKey(fs.readFileSync(file));
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`${file} is not a P-256 private key; move it away to have a new one generated`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, kid: thumbprint(publicKey), file, created };
}

/**
 * The key of TAMS_EMBEDDED_KEY_FILE (shared by replicas: never generated), or else the one in
 * `dataDir`, generated on first start.
 */
export function embeddedKeyFor(file: string | undefined, dataDir: string): EmbeddedKey {
  if (file === undefined) return loadOrCreateEmbeddedKey(dataDir);
  let key: EmbeddedKey;
  try {
    key = read(file, false);
  } catch (err) {
    throw new Error(`TAMS_EMBEDDED_KEY_FILE: ${file} must hold a P-256 private key in PEM (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256): ${err instanceof Error ? err.message : String(err)}`);
  }
  return key;
}

/** Reads the key from `dataDir`, generating it (mode 0600) on first start. */
export function loadOrCreateEmbeddedKey(dataDir: string): EmbeddedKey {
  const file = path.join(dataDir, EMBEDDED_KEY_FILE);
  if (fs.existsSync(file)) return read(file, false);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  // Written aside then linked into place: a second process starting at the same moment
  // either wins the link or reads the complete key of the one that did, never half a file.
  const temp = `${file}.${randomUUID()}.tmp`;
  fs.writeFileSync(temp, pem, { mode: 0o600 });
  try {
    fs.linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return read(file, false);
  } finally {
    fs.unlinkSync(temp);
  }
  return read(file, true);
}
