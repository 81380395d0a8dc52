/**
 * The VAST Database settings (TAMS_STORE=vast), read from the environment once at start:
 *
 * - VAST_ENDPOINT: the cluster's S3 endpoint, `http(s)://host[:port]` (no path, no credentials);
 * - VAST_ACCESS_KEY / VAST_ACCESS_KEY_FILE and VAST_SECRET_KEY / VAST_SECRET_KEY_FILE: a VAST
 *   user's keys, each from the variable or from a file (a mounted secret; one of the two);
 * - VAST_BUCKET: the bucket enabled for tables that holds the schema;
 * - VAST_SCHEMA: the schema holding the gateway's tables (default `tams`), made on first start;
 * - VAST_REGION (signature scope, default empty as the VAST SDKs sign), VAST_CA_FILE (CA
 *   certificates to trust for an https endpoint), VAST_REQUEST_TIMEOUT_MS (default 30000).
 *
 * The keys are kept in a VastKeys object that never prints them: logging the configuration,
 * JSON.stringify or util.inspect show `[hidden]`. Error messages name the variable, never the value.
 */
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { ConfigError } from './config-error';

type Env = Record<string, string | undefined>;

/** A VAST user's access and secret key; shown as `[hidden]` however it is printed. */
export class VastKeys {
  readonly #accessKeyId: string;
  readonly #secretAccessKey: string;

  constructor(accessKeyId: string, secretAccessKey: string) {
    this.#accessKeyId = accessKeyId;
    this.#secretAccessKey = secretAccessKey;
  }

  /** The keys, for the request signer only. */
  reveal(): { accessKeyId: string; secretAccessKey: string } {
    return { accessKeyId: this.#accessKeyId, secretAccessKey: this.#secretAccessKey };
  }

  toJSON(): string {
    return '[hidden]';
  }

  toString(): string {
    return '[hidden]';
  }

  [inspect.custom](): string {
    return 'VastKeys [hidden]';
  }
}

export interface VastConfig {
  /** VAST_ENDPOINT, normalised to `scheme://host[:port]`. */
  endpoint: string;
  keys: VastKeys;
  bucket: string;
  schema: string;
  region: string;
  /** VAST_CA_FILE's content, when set. */
  ca: string | undefined;
  requestTimeoutMs: number;
}

/** VAST bucket names are S3 bucket names. */
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Schema names the gateway accepts: a plain identifier (VAST allows more; this keeps paths and docs simple). */
const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function value(env: Env, name: string): string {
  return (env[name] ?? '').trim();
}

function endpointOf(env: Env): string {
  const raw = value(env, 'VAST_ENDPOINT');
  if (raw === '') throw new ConfigError('VAST_ENDPOINT', 'is required with TAMS_STORE=vast: the cluster\'s S3 endpoint, like https://vast.example.com');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('VAST_ENDPOINT', `must be an http(s) URL like https://vast.example.com, got ${JSON.stringify(raw)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new ConfigError('VAST_ENDPOINT', `must be an http(s) URL like https://vast.example.com, got ${JSON.stringify(raw)}`);
  }
  if (url.username !== '' || url.password !== '') throw new ConfigError('VAST_ENDPOINT', 'must not hold credentials: set VAST_ACCESS_KEY and VAST_SECRET_KEY (value not shown)');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new ConfigError('VAST_ENDPOINT', `must be scheme://host[:port] without a path or query (the bucket is VAST_BUCKET), got ${JSON.stringify(raw)}`);
  }
  return `${url.protocol}//${url.host}`;
}

/** A key from `name` or from the file `name_FILE` (one of the two), never echoed. */
function keyOf(env: Env, name: string): string {
  const direct = value(env, name);
  const fileName = value(env, `${name}_FILE`);
  if (direct !== '' && fileName !== '') throw new ConfigError(`${name}_FILE`, `set only one of ${name} and ${name}_FILE`);
  if (direct !== '') return direct;
  if (fileName === '') throw new ConfigError(name, `is required with TAMS_STORE=vast (or ${name}_FILE naming a file that holds it)`);
  const file = path.resolve(fileName);
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`${name}_FILE`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (content === '') throw new ConfigError(`${name}_FILE`, `${file} is empty`);
  return content;
}

function caOf(env: Env): string | undefined {
  const fileName = value(env, 'VAST_CA_FILE');
  if (fileName === '') return undefined;
  const file = path.resolve(fileName);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('VAST_CA_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function timeoutOf(env: Env): number {
  const raw = value(env, 'VAST_REQUEST_TIMEOUT_MS');
  if (raw === '') return 30_000;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1000 || n > 600_000) throw new ConfigError('VAST_REQUEST_TIMEOUT_MS', `must be a whole number of milliseconds from 1000 to 600000, got ${JSON.stringify(raw)}`);
  return n;
}

export function vastConfig(env: Env): VastConfig {
  const endpoint = endpointOf(env);
  const keys = new VastKeys(keyOf(env, 'VAST_ACCESS_KEY'), keyOf(env, 'VAST_SECRET_KEY'));
  const bucket = value(env, 'VAST_BUCKET');
  if (bucket === '') throw new ConfigError('VAST_BUCKET', 'is required with TAMS_STORE=vast: the bucket enabled for tables that holds the schema');
  if (!BUCKET_RE.test(bucket) || bucket.includes('..')) throw new ConfigError('VAST_BUCKET', `must be a bucket name (3 to 63 of a-z, 0-9, '.', '-'), got ${JSON.stringify(bucket)}`);
  const schema = value(env, 'VAST_SCHEMA') || 'tams';
  if (!SCHEMA_RE.test(schema)) throw new ConfigError('VAST_SCHEMA', `must be a plain identifier (a letter or _, then letters, digits, _; at most 63), got ${JSON.stringify(schema)}`);
  return { endpoint, keys, bucket, schema, region: value(env, 'VAST_REGION'), ca: caOf(env), requestTimeoutMs: timeoutOf(env) };
}
