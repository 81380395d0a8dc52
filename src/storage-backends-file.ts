/**
 * The S3 storage backends of a deployment, from the JSON file named by
 * TAMS_STORAGE_BACKENDS_FILE (docs/storage.md#s3-storage-backends). main.ts reads it once at
 * start: any mistake stops the server with one line naming the file, the entry and what is
 * wrong (ConfigError), so a typo never becomes a backend that fails on the first upload.
 *
 * The file is an object, `{"backends": [...]}`, not a bare array, so that settings of the
 * whole file can be added later without changing its shape.
 */
import fs from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from './config';
import type { StorageBackend, Tags } from './domain/entities';
import { UUID_RE } from './domain/ids';

const VARIABLE = 'TAMS_STORAGE_BACKENDS_FILE';

/** How the gateway signs with a backend: keys it was given, or the AWS SDK's default chain (IAM roles...). */
export type S3CredentialSource =
  | { kind: 'static'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { kind: 'default-chain' };

export interface StorageBackendConfig {
  /** What `/service/storage-backends` and GraphQL show; never credentials. */
  backend: StorageBackend;
  /** Origin of the S3 API, without path (`https://s3.<region>.amazonaws.com` when the file gives none). */
  endpoint: string;
  bucket: string;
  region: string;
  pathStyle: boolean;
  /** `/`-separated segments without a leading or trailing `/`; empty for none. */
  keyPrefix: string;
  credentials: S3CredentialSource;
  /** Also hand out unsigned GET URLs (a public bucket). */
  plainUrls: boolean;
  /** The product refuses a PUT with `If-None-Match: *` to a key that holds bytes (write-once). */
  conditionalWrites: boolean;
  requestTimeoutMs: number;
  maxAttempts: number;
}

const ENTRY_KEYS = [
  'id',
  'label',
  'store_type',
  'provider',
  'store_product',
  'region',
  'availability_zone',
  'bucket',
  'prefix',
  'endpoint',
  'path_style',
  'credentials',
  'tags',
  'default_storage',
  'plain_urls',
  'conditional_writes',
  'request_timeout_ms',
  'max_attempts',
] as const;
const INLINE_KEYS = ['access_key_id', 'secret_access_key', 'session_token'] as const;
const ENV_KEYS = ['access_key_id_env', 'secret_access_key_env', 'session_token_env'] as const;

/** Products known to refuse a conditional PUT (`If-None-Match: *`) over an existing key. */
const CONDITIONAL_WRITE_PRODUCTS = ['s3', 'aws', 'minio'];
const DEFAULT_REGION = 'us-east-1';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REGION = /^[A-Za-z0-9_.-]{1,64}$/;
/** Regions that name an AWS endpoint host when the file gives no endpoint. */
const AWS_REGION = /^[a-z0-9]+(-[a-z0-9]+)+$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9._~-]+$/;
/** Keys are the prefix plus 42 characters; S3 keys end at 1024 bytes. */
const MAX_PREFIX_LENGTH = 512;

type Json = Record<string, unknown>;

/** Thrown inside one entry; the caller prefixes the file and the entry. */
class EntryError extends Error {}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value quoted for a one-line message, cut short when long. */
function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** Unknown keys are refused so that a misspelt optional setting is not silently left at its default. */
function refuseUnknownKeys(object: Json, known: readonly string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const near = known.find((k) => editDistance(k, key) <= 2);
    throw new EntryError(`${where}unknown key ${quote(key)}${near === undefined ? '' : ` (did you mean ${near}?)`}; known keys: ${known.join(', ')}`);
  }
}

function requiredString(entry: Json, key: string): string {
  const value = entry[key];
  if (value === undefined) throw new EntryError(`${key} is required`);
  if (typeof value !== 'string' || value.trim() === '') throw new EntryError(`${key} must be a non-empty string, got ${quote(value)}`);
  return value;
}

function optionalString(entry: Json, key: string): string | undefined {
  return entry[key] === undefined ? undefined : requiredString(entry, key);
}

function optionalBoolean(entry: Json, key: string, fallback: boolean): boolean {
  const value = entry[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new EntryError(`${key} must be true or false, got ${quote(value)}`);
  return value;
}

function optionalInteger(entry: Json, key: string, fallback: number, min: number, max: number): number {
  const value = entry[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new EntryError(`${key} must be an integer from ${min} to ${max}, got ${quote(value)}`);
  }
  return value;
}

/** What is wrong with an S3 bucket name (the general-purpose bucket rules), or undefined. */
function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may hold only lower-case letters, digits, dots and hyphens';
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name)) return 'must start and end with a letter or digit';
  if (name.includes('..')) return 'must not hold two adjacent dots';
  if (isIP(name) !== 0) return 'must not look like an IP address';
  for (const prefix of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (name.startsWith(prefix)) return `must not start with ${prefix}`;
  for (const suffix of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) if (name.endsWith(suffix)) return `must not end with ${suffix}`;
  return undefined;
}

function bucket(entry: Json): string {
  const name = requiredString(entry, 'bucket');
  const problem = bucketNameProblem(name);
  if (problem !== undefined) throw new EntryError(`bucket ${quote(name)} is not a valid S3 bucket name: it ${problem}`);
  return name;
}

function region(entry: Json, hasEndpoint: boolean): string {
  const value = optionalString(entry, 'region') ?? DEFAULT_REGION;
  if (!REGION.test(value)) throw new EntryError(`region ${quote(value)} must be 1 to 64 of A-Z a-z 0-9 . _ - (it is part of every signature)`);
  if (!hasEndpoint && !AWS_REGION.test(value)) {
    throw new EntryError(`region ${quote(value)} is not an AWS region like eu-west-1; set endpoint for a store outside AWS`);
  }
  return value;
}

function keyPrefix(entry: Json): string {
  const raw = optionalString(entry, 'prefix');
  if (raw === undefined) return '';
  const trimmed = raw.replace(/^\/+|\/+$/g, '');
  const segments = trimmed.split('/');
  if (trimmed === '' || trimmed.length > MAX_PREFIX_LENGTH || !segments.every((s) => PREFIX_SEGMENT.test(s) && s !== '.' && s !== '..')) {
    throw new EntryError(`prefix ${quote(raw)} must be /-separated segments of A-Z a-z 0-9 - . _ ~ (no empty, . or .. segment), at most ${MAX_PREFIX_LENGTH} characters`);
  }
  return trimmed;
}

/** The endpoint's origin; IP-address hosts cannot carry the bucket as a subdomain, so they need path-style. */
function endpoint(entry: Json, pathStyle: boolean): string | undefined {
  const raw = optionalString(entry, 'endpoint');
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new EntryError(`endpoint ${quote(raw)} must be an absolute http(s) URL like https://s3.example.com`);
  }
  if (url.username !== '' || url.password !== '') throw new EntryError('endpoint must not carry user or password (use credentials)');
  if (url.pathname !== '/' || /[?#]/.test(raw)) throw new EntryError(`endpoint ${quote(raw)} must have no path, query or fragment`);
  if (!pathStyle && isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) {
    throw new EntryError(`endpoint ${quote(raw)} is an IP address, so path_style must be true (the bucket cannot be a subdomain of it)`);
  }
  return url.origin;
}

/** A secret or key id as given: surrounding whitespace is a copy mistake (often a newline from a Secret file), never part of a key. */
function credentialValue(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '') throw new EntryError(`${where} must be a non-empty string`);
  if (value.trim() !== value) throw new EntryError(`${where} has leading or trailing whitespace (a newline from a file?)`);
  return value;
}

function credentials(entry: Json, env: NodeJS.ProcessEnv): S3CredentialSource {
  const raw = entry.credentials;
  if (raw === undefined) return { kind: 'default-chain' };
  if (!isObject(raw)) throw new EntryError('credentials must be an object (or left out for the AWS default provider chain)');
  refuseUnknownKeys(raw, [...INLINE_KEYS, ...ENV_KEYS], 'credentials: ');
  const inline = INLINE_KEYS.filter((k) => raw[k] !== undefined);
  const named = ENV_KEYS.filter((k) => raw[k] !== undefined);
  if (inline.length > 0 && named.length > 0) {
    throw new EntryError(`credentials mixes keys (${inline.join(', ')}) with environment variable names (${named.join(', ')}): use one form`);
  }
  if (named.length > 0) {
    const fromEnv = (key: (typeof ENV_KEYS)[number]): string | undefined => {
      const name = raw[key];
      if (name === undefined) return undefined;
      if (typeof name !== 'string' || !ENV_NAME.test(name)) throw new EntryError(`credentials.${key} must be an environment variable name, got ${quote(name)}`);
      const value = env[name];
      if (value === undefined || value === '') throw new EntryError(`credentials.${key} names ${name}, which is not set`);
      return credentialValue(value, `${name} (credentials.${key})`);
    };
    const accessKeyId = fromEnv('access_key_id_env');
    const secretAccessKey = fromEnv('secret_access_key_env');
    if (accessKeyId === undefined || secretAccessKey === undefined) {
      throw new EntryError('credentials needs both access_key_id_env and secret_access_key_env');
    }
    const sessionToken = fromEnv('session_token_env');
    return sessionToken === undefined ? { kind: 'static', accessKeyId, secretAccessKey } : { kind: 'static', accessKeyId, secretAccessKey, sessionToken };
  }
  if (raw.access_key_id === undefined || raw.secret_access_key === undefined) {
    throw new EntryError(
      'credentials needs access_key_id and secret_access_key, or access_key_id_env and secret_access_key_env (leave credentials out for the AWS default provider chain)',
    );
  }
  const accessKeyId = credentialValue(raw.access_key_id, 'credentials.access_key_id');
  const secretAccessKey = credentialValue(raw.secret_access_key, 'credentials.secret_access_key');
  if (raw.session_token === undefined) return { kind: 'static', accessKeyId, secretAccessKey };
  return { kind: 'static', accessKeyId, secretAccessKey, sessionToken: credentialValue(raw.session_token, 'credentials.session_token') };
}

function tags(entry: Json): Tags | undefined {
  const raw = entry.tags;
  if (raw === undefined) return undefined;
  if (!isObject(raw)) throw new EntryError(`tags must be an object of names to a string or an array of strings, got ${quote(raw)}`);
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string' && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
      throw new EntryError(`tags.${name} must be a string or an array of strings, got ${quote(value)}`);
    }
  }
  return raw as Tags;
}

function parseEntry(entry: unknown, env: NodeJS.ProcessEnv): StorageBackendConfig {
  if (!isObject(entry)) throw new EntryError(`must be an object, got ${quote(entry)}`);
  refuseUnknownKeys(entry, ENTRY_KEYS, '');
  const id = requiredString(entry, 'id');
  if (!UUID_RE.test(id)) throw new EntryError(`id ${quote(id)} must be a lower-case UUID`);
  const label = requiredString(entry, 'label');
  // Clients select labels with comma-separated lists (accept_get_urls): a comma could never be selected.
  if (label.includes(',')) throw new EntryError(`label ${quote(label)} must not hold a comma (accept_get_urls is a comma-separated list of labels)`);
  const storeType = requiredString(entry, 'store_type');
  if (storeType !== 'http_object_store') throw new EntryError(`store_type must be "http_object_store", got ${quote(storeType)}`);
  const provider = requiredString(entry, 'provider');
  const storeProduct = requiredString(entry, 'store_product');
  const availabilityZone = optionalString(entry, 'availability_zone');
  const bucketName = bucket(entry);
  const prefix = keyPrefix(entry);
  const pathStyle = optionalBoolean(entry, 'path_style', false);
  const given = endpoint(entry, pathStyle);
  const regionName = region(entry, given !== undefined);
  const origin = given ?? `https://s3.${regionName}.amazonaws.com`;
  // Over https a dotted bucket name as a subdomain breaks the wildcard certificate of the host.
  if (!pathStyle && bucketName.includes('.') && origin.startsWith('https:')) {
    throw new EntryError(`bucket ${quote(bucketName)} holds dots, so over https path_style must be true (TLS certificates do not cover dotted subdomains)`);
  }
  const tagSet = tags(entry);
  const backend: StorageBackend = {
    id,
    label,
    store_type: 'http_object_store',
    provider,
    store_product: storeProduct,
    region: regionName,
    ...(availabilityZone === undefined ? {} : { availability_zone: availabilityZone }),
    default_storage: optionalBoolean(entry, 'default_storage', false),
    ...(tagSet === undefined ? {} : { tags: tagSet }),
  };
  return {
    backend,
    endpoint: origin,
    bucket: bucketName,
    region: regionName,
    pathStyle,
    keyPrefix: prefix,
    credentials: credentials(entry, env),
    plainUrls: optionalBoolean(entry, 'plain_urls', false),
    conditionalWrites: optionalBoolean(entry, 'conditional_writes', CONDITIONAL_WRITE_PRODUCTS.includes(storeProduct.toLowerCase())),
    requestTimeoutMs: optionalInteger(entry, 'request_timeout_ms', 5000, 1, 600_000),
    maxAttempts: optionalInteger(entry, 'max_attempts', 3, 1, 10),
  };
}

/** `backends[2] (id "…", label "…")`: as much of the entry's name as it has. */
function entryName(entry: unknown, index: number): string {
  const names: string[] = [];
  if (isObject(entry)) {
    if (typeof entry.id === 'string') names.push(`id ${quote(entry.id)}`);
    if (typeof entry.label === 'string') names.push(`label ${quote(entry.label)}`);
  }
  return names.length === 0 ? `backends[${index}]` : `backends[${index}] (${names.join(', ')})`;
}

/** JSON.parse's reason without the text it quotes (which may be long, span lines or hold a secret), with line and column. */
function jsonProblem(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /^(.*?) in JSON at position (\d+)/.exec(message);
  if (position !== null) {
    const before = text.slice(0, Number(position[2]));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    return `${position[1] as string} at line ${line}, column ${column}`;
  }
  return /^Unexpected token '.+?'/.exec(message)?.[0] ?? /^Unexpected end of JSON input/.exec(message)?.[0] ?? 'syntax error';
}

function readBackendsList(file: string): unknown[] {
  const fail = (message: string): never => {
    throw new ConfigError(VARIABLE, `${file}: ${message}`);
  };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    return fail(`cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  // Editors on Windows may save UTF-8 with a byte order mark, which JSON.parse refuses.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`is not valid JSON: ${jsonProblem(error, text)}`);
  }
  if (!isObject(parsed)) return fail('must hold a JSON object {"backends": [...]}');
  const unknown = Object.keys(parsed).find((key) => key !== 'backends');
  if (unknown !== undefined) fail(`unknown key ${quote(unknown)} at the top level (only "backends")`);
  const list = parsed.backends;
  if (!Array.isArray(list)) return fail('"backends" must be an array of storage backends');
  if (list.length === 0) fail(`"backends" is empty; list at least one backend, or unset ${VARIABLE} to keep only the local media directory`);
  return list;
}

/**
 * The storage backends listed in `file`, validated, with environment-variable credentials
 * resolved from `env`. Throws ConfigError (one line: the file, the entry, what is wrong) on
 * the first mistake; never includes a credential value in a message.
 */
export function loadStorageBackendsFile(file: string, env: NodeJS.ProcessEnv): StorageBackendConfig[] {
  const list = readBackendsList(file);
  const configs: StorageBackendConfig[] = [];
  const ids = new Map<string, number>();
  const labels = new Map<string, number>();
  let defaultIndex: number | undefined;
  list.forEach((entry, index) => {
    const fail = (message: string): never => {
      throw new ConfigError(VARIABLE, `${file}: ${entryName(entry, index)}: ${message}`);
    };
    let config: StorageBackendConfig;
    try {
      config = parseEntry(entry, env);
    } catch (error) {
      if (error instanceof EntryError) return fail(error.message);
      throw error;
    }
    const { id, label } = config.backend;
    const sameId = ids.get(id);
    if (sameId !== undefined) fail(`id is also the id of ${entryName(list[sameId], sameId)}; ids must be unique`);
    const sameLabel = labels.get(label);
    if (sameLabel !== undefined) fail(`label is also the label of ${entryName(list[sameLabel], sameLabel)}; labels must be unique`);
    if (config.backend.default_storage) {
      if (defaultIndex !== undefined) fail(`default_storage is also true on ${entryName(list[defaultIndex], defaultIndex)}; at most one backend may be the default`);
      defaultIndex = index;
    }
    ids.set(id, index);
    labels.set(label, index);
    configs.push(config);
  });
  return configs;
}
