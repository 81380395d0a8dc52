/**
 * Every setting comes from the environment and is validated once at start. A bad value
 * stops the server with one line naming the variable (ConfigError).
 */
import path from 'node:path';
import { tryParseTimestamp, NANOS_PER_SECOND } from './domain/timestamp';

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  store: 'sqlite';
  publicUrl: string | undefined;
  basePath: string;
  serviceName: string;
  serviceDescription: string | undefined;
  maxBodyBytes: number;
  maxObjectBytes: number;
  minObjectTimeout: string;
  presignedUrlTimeout: string;
  presignedUrlTimeoutSec: number;
  auth: 'on' | 'off';
  trustProxy: boolean | string;
  logLevel: LogLevel;
  deleteAsyncThreshold: number;
  pageLimitDefault: number;
  pageLimitMax: number;
  nodeEnv: string;
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  return n;
}

function timeout(env: Env, name: string, fallback: string, minSeconds: number): string {
  const raw = str(env, name, fallback);
  const ns = tryParseTimestamp(raw);
  if (ns === undefined) throw new ConfigError(name, `must be a TAMS timestamp like "${fallback}", got ${JSON.stringify(raw)}`);
  if (ns < BigInt(minSeconds) * NANOS_PER_SECOND) throw new ConfigError(name, `must be at least ${minSeconds}:0, got ${raw}`);
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

function publicUrl(env: Env): string | undefined {
  const raw = env.TAMS_PUBLIC_URL;
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('TAMS_PUBLIC_URL', `must be an absolute http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('TAMS_PUBLIC_URL', `must be an absolute http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.search || url.hash) throw new ConfigError('TAMS_PUBLIC_URL', 'must not have a query or fragment');
  return raw.replace(/\/+$/, '');
}

function basePath(env: Env): string {
  const raw = str(env, 'TAMS_BASE_PATH', '');
  if (raw === '' || raw === '/') return '';
  if (!/^(\/[A-Za-z0-9._~-]+)+\/?$/.test(raw)) {
    throw new ConfigError('TAMS_BASE_PATH', `must look like /tams/v8.2, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/$/, '');
}

function trustProxy(env: Env): boolean | string {
  const raw = str(env, 'TRUST_PROXY', 'false');
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^[0-9a-fA-F.:/, ]+$/.test(raw)) return raw;
  throw new ConfigError('TRUST_PROXY', `must be true, false or a comma-separated list of addresses/CIDRs, got ${JSON.stringify(raw)}`);
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  const auth = oneOf(env, 'TAMS_AUTH', 'off', ['on', 'off'] as const);
  if (auth === 'off' && nodeEnv === 'production') {
    throw new ConfigError('TAMS_AUTH', 'off is refused when NODE_ENV=production');
  }
  const presignedUrlTimeout = timeout(env, 'TAMS_PRESIGNED_URL_TIMEOUT', '3600:0', 30);
  const pageLimitMax = int(env, 'TAMS_PAGE_LIMIT_MAX', 1000, 1, 100_000);
  const host = str(env, 'HOST', '127.0.0.1');
  return {
    port: int(env, 'PORT', 8000, 0, 65535),
    host,
    dataDir: path.resolve(str(env, 'TAMS_DATA_DIR', './data')),
    store: oneOf(env, 'TAMS_STORE', 'sqlite', ['sqlite'] as const),
    publicUrl: publicUrl(env),
    basePath: basePath(env),
    serviceName: str(env, 'TAMS_SERVICE_NAME', 'TAMS gateway'),
    serviceDescription: env.TAMS_SERVICE_DESCRIPTION || undefined,
    maxBodyBytes: int(env, 'TAMS_MAX_BODY_BYTES', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxObjectBytes: int(env, 'TAMS_MAX_OBJECT_BYTES', 1024 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    minObjectTimeout: timeout(env, 'TAMS_MIN_OBJECT_TIMEOUT', '600:0', 300),
    presignedUrlTimeout,
    presignedUrlTimeoutSec: Number((tryParseTimestamp(presignedUrlTimeout) as bigint) / NANOS_PER_SECOND),
    auth,
    trustProxy: trustProxy(env),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    deleteAsyncThreshold: int(env, 'TAMS_DELETE_ASYNC_THRESHOLD', 10_000, 0, Number.MAX_SAFE_INTEGER),
    pageLimitDefault: Math.min(int(env, 'TAMS_PAGE_LIMIT_DEFAULT', 100, 1, 100_000), pageLimitMax),
    pageLimitMax,
    nodeEnv,
  };
}
