/**
 * Every setting comes from the environment and is validated once at start. A bad value
 * stops the server with one line naming the variable (ConfigError).
 */
import fs from 'node:fs';
import path from 'node:path';
import { tryParseTimestamp, NANOS_PER_SECOND } from './domain/timestamp';
import { SCOPES, type Scope } from './domain/principal';
import { DEFAULT_ROLE_SCOPES } from './auth/default-roles';
import { ASYMMETRIC_ALGORITHMS, EMBEDDED_ALGORITHM, HMAC_ALGORITHMS } from './auth/algorithms';

import { ConfigError } from './config-error';
import { vastConfig, type VastConfig } from './vast-config';

export { ConfigError };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** TAMS_STORE: the metadata store, the embedded SQLite file, PostgreSQL or VAST Database (both shared by replicas). */
  store: StoreKind;
  /** The PostgreSQL settings (DATABASE_URL, TAMS_PG_*) when `store` is `postgres`, else undefined. */
  postgres: PostgresConfig | undefined;
  /** The VAST Database settings (VAST_*) when `store` is `vast`, else undefined. */
  vast: VastConfig | undefined;
  /**
   * TAMS_MIGRATE_ON_START: apply the store's schema migrations at start. Always true for SQLite
   * (the file is migrated when opened); for PostgreSQL false by default: a schema behind this
   * gateway's stops the start, and `npm run migrate` applies them.
   */
  migrateOnStart: boolean;
  /**
   * TAMS_SECRET / TAMS_SECRET_FILE: the secret signing page cursors and local media URLs, shared
   * by every replica. Undefined: `secret.key` in TAMS_DATA_DIR (made on first start), SQLite only.
   */
  signingSecret: Buffer | undefined;
  /** TAMS_LOCAL_MEDIA_SHARED: the local media directory is shared by every replica (a shared volume). */
  localMediaShared: boolean;
  publicUrl: string | undefined;
  basePath: string;
  serviceName: string;
  serviceDescription: string | undefined;
  maxBodyBytes: number;
  maxObjectBytes: number;
  minObjectTimeout: string;
  presignedUrlTimeout: string;
  presignedUrlTimeoutSec: number;
  /** TAMS_HLS_LIVE_SEGMENTS / TAMS_HLS_MAX_SEGMENTS: segments of a live HLS playlist, and the most any HLS playlist lists (docs/hls.md). */
  hls: { liveSegments: number; maxSegments: number };
  auth: 'on' | 'off';
  /** How callers prove who they are when `auth` is on (the AUTH_* variables). */
  authentication: AuthConfig;
  /** AUTH_DEFAULT_CLASSES: the auth classes of sources, flows, webhooks and storage backends without an `auth_classes` tag (empty: open to every authenticated request). */
  authDefaultClasses: string[];
  trustProxy: boolean | string;
  logLevel: LogLevel;
  deleteAsyncThreshold: number;
  /** TAMS_DELETE_PAUSE_FACTOR: after each chunk of a background deletion, pause this many times the chunk's time. */
  deletePauseFactor: number;
  pageLimitDefault: number;
  pageLimitMax: number;
  nodeEnv: string;
  graphql: GraphqlConfig;
  /** Slow-client and oversized-input limits of the HTTP server, and CORS. */
  http: HttpConfig;
  /** TAMS_WEBHOOK_ALLOW_PRIVATE: accept webhook URLs on loopback, private, link-local and metadata addresses. */
  webhookAllowPrivate: boolean;
  /** TAMS_WEBHOOKS_PER_OWNER: registrations one owner may hold (0: no limit). */
  webhooksPerOwner: number;
  /** AUDIT_LOG_FILE: where audit lines go (appended), or undefined for stdout. */
  auditLogFile: string | undefined;
  /** Prometheus metrics: whether and where `/metrics` is served. */
  metrics: MetricsConfig;
  /** OpenTelemetry traces, or undefined (OTEL_EXPORTER_OTLP_ENDPOINT unset): no SDK is loaded. */
  tracing: TracingConfig | undefined;
  /** SHUTDOWN_GRACE_MS: how long a SIGTERM or SIGINT shutdown may take before the process exits anyway (code 1). */
  shutdownGraceMs: number;
  /** The RATE_LIMIT_* settings. */
  rateLimit: RateLimitConfig;
  /** REDIS_URL: rate-limit counters shared by every replica in this Redis; undefined keeps them in process. */
  redisUrl: string | undefined;
  /** REDIS_REQUIRED: readiness fails while Redis is unreachable (default false: the gateway degrades and says so). */
  redisRequired: boolean;
  /**
   * TAMS_STORAGE_BACKENDS_FILE, resolved: the S3 storage backends (storage-backends-file.ts).
   * Only named here: main.ts reads it, since it needs the environment for credentials.
   * Undefined: the local media directory alone, as the default.
   */
  storageBackendsFile?: string;
  /** TAMS_VERIFY_UPLOADS: registering a segment checks that its object's bytes were uploaded. */
  verifyUploads: boolean;
  /** TAMS_COPY_MULTIPART_THRESHOLD_BYTES: object copies (instances) larger than this go part by part. */
  copyMultipartThresholdBytes: number;
  /** TAMS_COPY_PART_BYTES: the part size of those copies. */
  copyPartBytes: number;
  /** Garbage collection of media objects (the TAMS_GC* settings). */
  gc: GcConfig;
  /** Webhook delivery and outbox retention (the TAMS_WEBHOOK_* settings, TAMS_OUTBOX_RETENTION). */
  webhooks: WebhookDeliveryConfig;
}

export type StoreKind = 'sqlite' | 'postgres' | 'vast';

export interface PostgresConfig {
  /** DATABASE_URL as given (it may hold a password: log `redactedUrl` instead). */
  url: string;
  /** The URL without user, password and query, for the start-up banner and errors. */
  redactedUrl: string;
  /** TAMS_PG_POOL_SIZE: pooled connections per replica (each replica holds one more, for LISTEN). */
  poolSize: number;
  /** TAMS_PG_CONNECT_TIMEOUT_MS: connecting, and waiting for a free pooled connection, before 503. */
  connectTimeoutMs: number;
  /** TAMS_PG_STATEMENT_TIMEOUT_MS: server-side statement_timeout of every connection (0: none). */
  statementTimeoutMs: number;
  /** TAMS_PG_SCHEMA: the schema every query runs in, or undefined for the server's search_path. */
  schema: string | undefined;
}

export interface WebhookDeliveryConfig {
  /** TAMS_WEBHOOK_DELIVERY: deliver webhooks (and prune the outbox) in this process. */
  enabled: boolean;
  /** TAMS_WEBHOOK_MAX_ATTEMPTS: failed attempts at one event before the webhook goes to `error`. */
  maxAttempts: number;
  /** TAMS_WEBHOOK_TIMEOUT_MS: one POST, from resolving the host to the end of the (bounded) answer. */
  timeoutMs: number;
  /** TAMS_WEBHOOK_RETRY_BASE_MS / TAMS_WEBHOOK_RETRY_MAX_MS: the backoff's first delay and cap. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** TAMS_WEBHOOK_LEASE_MS: how long a webhook stays claimed by a process that stopped (at least twice the timeout). */
  leaseMs: number;
  /** TAMS_WEBHOOK_MAX_RESPONSE_BYTES: bytes of a receiver's answer read at most. */
  maxResponseBytes: number;
  /** TAMS_WEBHOOK_PIPELINE: events in flight to one webhook at once, pipelined in order on its connection (1: one per round trip). */
  pipeline: number;
  /** TAMS_OUTBOX_RETENTION, in milliseconds: outbox events older than this are deleted. */
  outboxRetentionMs: number;
}

export interface GcConfig {
  /** TAMS_GC: run the collector in this process. */
  enabled: boolean;
  /** TAMS_GC_INTERVAL_MS: pause between two collection passes. */
  intervalMs: number;
  /**
   * TAMS_GC_GRACE_SEC: how long past min_object_timeout an allocated, never registered object
   * is kept: for uploads still in flight when their PUT URL expired, and clock skew.
   */
  graceSec: number;
  /** TAMS_GC_BATCH: objects claimed and deleted per step. */
  batch: number;
}

/** Requests per minute and per principal (failed authentications: per client address). */
export interface RateLimitConfig {
  enabled: boolean;
  /** RATE_LIMIT_WINDOW_SEC: counting window; each limit applies pro rata to it. */
  windowSec: number;
  readPerMinute: number;
  writePerMinute: number;
  graphqlListsPerMinute: number;
  graphqlMutationsPerMinute: number;
  /** RATE_LIMIT_GRAPHQL_COST_PER_MINUTE: estimated cost units (GRAPHQL_MAX_COST's) a principal's GraphQL operations may spend. */
  graphqlCostPerMinute: number;
  authFailuresPerMinute: number;
}

export interface MetricsConfig {
  /** METRICS_TOKEN: the bearer token `/metrics` asks for, or undefined. */
  token: string | undefined;
  /**
   * METRICS_PORT: `/metrics` on a listener of its own (on HOST) and not on PORT. Undefined: on
   * PORT when a token is set, else nowhere (and nothing is collected).
   */
  port: number | undefined;
}

export interface TracingConfig {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's OTLP/HTTP base URL; spans go to `${endpoint}/v1/traces`. */
  endpoint: string;
  /** OTEL_SERVICE_NAME: the spans' `service.name`. */
  serviceName: string;
}

export interface HttpConfig {
  /** CORS_ORIGINS: browser origins (`scheme://host[:port]`) allowed to call the API and media URLs. */
  corsOrigins: string[];
  /** TAMS_MAX_JSON_DEPTH: deepest nesting of arrays and objects in a JSON body. */
  maxJsonDepth: number;
  /** TAMS_HEADERS_TIMEOUT_MS: time a client has to send the request head. */
  headersTimeoutMs: number;
  /** TAMS_REQUEST_TIMEOUT_MS: time a client has to send the whole request (media uploads included). */
  requestTimeoutMs: number;
  /** TAMS_KEEP_ALIVE_TIMEOUT_MS: how long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

export interface GraphqlConfig {
  /** Serve GraphQL (HTTP and WebSocket) at `${TAMS_BASE_PATH}/graphql` instead of `/graphql`. */
  underBasePath: boolean;
  introspection: boolean;
  landingPage: boolean;
  /** Run queries Apollo has already validated straight from their compiled form (prepared-queries.ts). */
  preparedQueries: boolean;
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  /** Directives written in the document (`@include`, `@skip`...). */
  maxDirectives: number;
  maxTokens: number;
  /** Operation text longer than this is refused before it is parsed. */
  maxCharacters: number;
  /** GRAPHQL_MAX_BODY_BYTES: largest HTTP request body on the GraphQL path (413 beyond, before it is read). */
  maxBodyBytes: number;
  maxPageSize: number;
  /** Refuse operation text: only operations in the persisted-queries file run. */
  persistedOnly: boolean;
  /** JSON file of operations to accept by hash (an array of operation texts). */
  persistedQueriesFile: string | undefined;
}

/** Where bearer-token signatures are checked: exactly one source. */
export type JwtKeySource =
  /** The ES256 key pair the gateway keeps in TAMS_DATA_DIR (and signs `npm run token` with). */
  | { kind: 'embedded' }
  | { kind: 'jwks'; url: string }
  | { kind: 'public-key'; file: string }
  | { kind: 'hmac'; secret: string };

/** Which token claims carry scopes, roles and auth classes, and what roles grant. */
export interface ClaimsConfig {
  /** Claim holding scopes, a space-separated string or an array (`scope`). */
  scopeClaim: string;
  /** Prefix of the TAMS scopes in that claim (`tams-api/`, so `tams-api/read` is `read`). */
  scopePrefix: string;
  rolesClaim: string;
  authClassesClaim: string;
  /** Claim naming the caller in created_by / updated_by (`sub`; `preferred_username`, `email`...). */
  userClaim: string;
  /** Roles whose holders may set created_by / updated_by themselves (admin scope always may). */
  attributionRoles: readonly string[];
  /** The scopes each role grants (application note 0016's roles by default). */
  roleScopes: Readonly<Record<string, readonly Scope[]>>;
}

export interface AuthConfig {
  key: JwtKeySource;
  /** AUTH_ALGORITHMS, or undefined for the key's own family (`none` is never accepted). */
  algorithms: string[] | undefined;
  issuer: string | undefined;
  /** Accepted `aud` values (any one must match), or undefined to not check `aud`. */
  audience: string[] | undefined;
  clockSkewSec: number;
  /** Verified tokens kept until their `exp`, so repeat callers skip the signature check (0: off). */
  tokenCacheSize: number;
  /** HTTP Basic users (scrypt hashes), managed with `npm run user`. */
  usersFile: string;
  /**
   * TAMS_EMBEDDED_KEY_FILE: the embedded ES256 key (PKCS#8 PEM) shared by every replica; undefined:
   * `auth-signing-key.pem` in TAMS_DATA_DIR, made on first start.
   */
  embeddedKeyFile: string | undefined;
  claims: ClaimsConfig;
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

function hlsConfig(env: Env): Config['hls'] {
  const maxSegments = int(env, 'TAMS_HLS_MAX_SEGMENTS', 10_000, 1, 1_000_000);
  const liveSegments = int(env, 'TAMS_HLS_LIVE_SEGMENTS', 150, 3, 1_000_000);
  if (liveSegments > maxSegments) throw new ConfigError('TAMS_HLS_LIVE_SEGMENTS', `${liveSegments} is more than TAMS_HLS_MAX_SEGMENTS (${maxSegments})`);
  return { liveSegments, maxSegments };
}

function basePath(env: Env): string {
  const raw = str(env, 'TAMS_BASE_PATH', '');
  if (raw === '' || raw === '/') return '';
  if (!/^(\/[A-Za-z0-9._~-]+)+\/?$/.test(raw)) {
    throw new ConfigError('TAMS_BASE_PATH', `must look like /tams/v8.2, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/$/, '');
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name, String(fallback));
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`);
}

function graphqlConfig(env: Env, production: boolean, pageLimitMax: number): GraphqlConfig {
  const persistedOnly = bool(env, 'GRAPHQL_PERSISTED_ONLY', false);
  const persistedQueriesFile = env.GRAPHQL_PERSISTED_QUERIES_FILE || undefined;
  if (persistedOnly && persistedQueriesFile === undefined) {
    throw new ConfigError('GRAPHQL_PERSISTED_ONLY', 'true needs GRAPHQL_PERSISTED_QUERIES_FILE (the operations to accept)');
  }
  return {
    underBasePath: bool(env, 'GRAPHQL_UNDER_BASE_PATH', false),
    introspection: bool(env, 'GRAPHQL_INTROSPECTION', !production),
    landingPage: bool(env, 'GRAPHQL_LANDING_PAGE', !production),
    preparedQueries: bool(env, 'GRAPHQL_PREPARED_QUERIES', true),
    // 15: the standard introspection query (GraphiQL's, Apollo's) is 15 deep, and introspection counts.
    maxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 15, 1, 100),
    // 200,000: the standard introspection query (GraphiQL's, every option on) costs about 94,000
    // with this schema, and grows with it.
    maxCost: int(env, 'GRAPHQL_MAX_COST', 200_000, 1, 100_000_000),
    maxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 30, 0, 10_000),
    maxDirectives: int(env, 'GRAPHQL_MAX_DIRECTIVES', 50, 0, 10_000),
    maxTokens: int(env, 'GRAPHQL_MAX_TOKENS', 5_000, 100, 1_000_000),
    maxCharacters: int(env, 'GRAPHQL_MAX_CHARACTERS', 100_000, 100, 10_000_000),
    // An operation and its variables, not bulk data (bulk segment registration is REST's):
    // a larger body is refused from its Content-Length, before it is read or parsed.
    maxBodyBytes: int(env, 'GRAPHQL_MAX_BODY_BYTES', 512 * 1024, 1024, 1024 * 1024 * 1024),
    maxPageSize: Math.min(int(env, 'GRAPHQL_MAX_PAGE_SIZE', pageLimitMax, 1, 100_000), pageLimitMax),
    persistedOnly,
    persistedQueriesFile: persistedQueriesFile === undefined ? undefined : path.resolve(persistedQueriesFile),
  };
}

function trustProxy(env: Env): boolean | string {
  const raw = str(env, 'TRUST_PROXY', 'false');
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^[0-9a-fA-F.:/, ]+$/.test(raw)) return raw;
  throw new ConfigError('TRUST_PROXY', `must be true, false or a comma-separated list of addresses/CIDRs, got ${JSON.stringify(raw)}`);
}

function corsOrigins(env: Env): string[] {
  const raw = str(env, 'CORS_ORIGINS', '');
  const origins = raw.split(',').map((o) => o.trim()).filter((o) => o !== '');
  for (const origin of origins) {
    // Credentials are allowed for listed origins, so a wildcard would hand them to any site.
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== origin) {
      throw new ConfigError('CORS_ORIGINS', `must be a comma-separated list of origins like https://tools.example.com (no path, no *), got ${JSON.stringify(origin)}`);
    }
  }
  return [...new Set(origins)];
}

function httpConfig(env: Env): HttpConfig {
  const requestTimeoutMs = int(env, 'TAMS_REQUEST_TIMEOUT_MS', 15 * 60_000, 1_000, 24 * 3600_000);
  const headersTimeoutMs = int(env, 'TAMS_HEADERS_TIMEOUT_MS', 30_000, 1_000, 600_000);
  // node:http refuses a head timeout longer than the whole-request one.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError('TAMS_HEADERS_TIMEOUT_MS', `must not exceed TAMS_REQUEST_TIMEOUT_MS (${requestTimeoutMs}), got ${headersTimeoutMs}`);
  }
  return {
    corsOrigins: corsOrigins(env),
    maxJsonDepth: int(env, 'TAMS_MAX_JSON_DEPTH', 64, 2, 10_000),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: int(env, 'TAMS_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1_000, 600_000),
  };
}

function metricsConfig(env: Env, port: number): MetricsConfig {
  const token = str(env, 'METRICS_TOKEN', '');
  // Compared in constant time, but a short token can still be guessed by trying.
  if (token !== '' && !/^[\x21-\x7e]{16,}$/.test(token)) {
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 printable characters without spaces (a random secret)');
  }
  const metricsPort = env.METRICS_PORT ? int(env, 'METRICS_PORT', 0, 0, 65535) : undefined;
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port}): it is a listener of its own`);
  }
  return { token: token === '' ? undefined : token, port: metricsPort };
}

function rateLimitConfig(env: Env): RateLimitConfig {
  // High enough that no single honest client (nor `npm run bench`, ~3,000 req/s from one
  // address) meets them: they stop runaway and abusive callers, not normal traffic. Failed
  // authentications: 5 a second per address bounds guessing and the signature (or scrypt, 80 ms
  // of a pool thread each) work it costs us, without locking out at once a client retrying
  // with an expired token.
  const perMinute = (source: Env, name: string, fallback: number): number => int(source, name, fallback, 1, 100_000_000);
  return {
    enabled: bool(env, 'RATE_LIMIT_ENABLED', true),
    windowSec: int(env, 'RATE_LIMIT_WINDOW_SEC', 60, 1, 3600),
    readPerMinute: perMinute(env, 'RATE_LIMIT_READ_PER_MINUTE', 600_000),
    writePerMinute: perMinute(env, 'RATE_LIMIT_WRITE_PER_MINUTE', 60_000),
    graphqlListsPerMinute: perMinute(env, 'RATE_LIMIT_GRAPHQL_LISTS_PER_MINUTE', 600_000),
    graphqlMutationsPerMinute: perMinute(env, 'RATE_LIMIT_GRAPHQL_MUTATIONS_PER_MINUTE', 60_000),
    // 5,000 operations of the largest cost allowed (GRAPHQL_MAX_COST 200,000) a minute; the
    // graphql-* benchmark scenarios, one principal at full speed, spend at most ~300 million.
    graphqlCostPerMinute: int(env, 'RATE_LIMIT_GRAPHQL_COST_PER_MINUTE', 1_000_000_000, 1, 1_000_000_000_000),
    authFailuresPerMinute: perMinute(env, 'RATE_LIMIT_AUTH_FAILURES_PER_MINUTE', 300),
  };
}

function redisUrl(env: Env): string | undefined {
  const raw = str(env, 'REDIS_URL', '');
  if (raw === '') return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0');
  }
  return raw;
}

function tracingConfig(env: Env): TracingConfig | undefined {
  const raw = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', '');
  const serviceName = str(env, 'OTEL_SERVICE_NAME', 'tams-gateway');
  if (raw === '') return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new ConfigError('OTEL_EXPORTER_OTLP_ENDPOINT', `must be the http(s) base URL of an OTLP/HTTP collector, like http://otel-collector:4318, got ${JSON.stringify(raw)}`);
  }
  return { endpoint: raw.replace(/\/+$/, ''), serviceName };
}

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

function storageBackendsFile(env: Env): string | undefined {
  const raw = str(env, 'TAMS_STORAGE_BACKENDS_FILE', '');
  return raw === '' ? undefined : path.resolve(raw);
}

function gcConfig(env: Env, requestTimeoutMs: number): GcConfig {
  return {
    enabled: oneOf(env, 'TAMS_GC', 'on', ['on', 'off'] as const) === 'on',
    intervalMs: int(env, 'TAMS_GC_INTERVAL_MS', 60_000, 1_000, 86_400_000),
    // A PUT URL is checked when the upload starts, so an upload may still be arriving when its
    // URL (at most min_object_timeout) expires: to the local directory for up to
    // TAMS_REQUEST_TIMEOUT_MS, hence the default covers that too.
    graceSec: int(env, 'TAMS_GC_GRACE_SEC', Math.max(600, Math.ceil(requestTimeoutMs / 1000)), 0, 30 * 86_400),
    batch: int(env, 'TAMS_GC_BATCH', 500, 1, 10_000),
  };
}

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Seconds (`604800`), a number with a unit (`90s`, `30m`, `12h`, `7d`) or a TAMS timestamp (`604800:0`), in milliseconds. */
function duration(env: Env, name: string, fallbackMs: number, minMs: number): number {
  const raw = str(env, name, '');
  if (raw === '') return fallbackMs;
  const unit = /^(\d+)([smhd])?$/.exec(raw);
  let ms: number | undefined;
  if (unit !== null) ms = Number(unit[1]) * (DURATION_UNITS_MS[unit[2] ?? 's'] as number);
  else if (raw.includes(':')) {
    const ns = tryParseTimestamp(raw);
    if (ns !== undefined && ns >= 0n) ms = Number(ns / 1_000_000n);
  }
  if (ms === undefined || !Number.isSafeInteger(ms)) throw new ConfigError(name, `must be seconds (604800), a number with s, m, h or d (7d), or a TAMS timestamp (604800:0), got ${JSON.stringify(raw)}`);
  if (ms < minMs) throw new ConfigError(name, `must be at least ${minMs / 1000} s, got ${raw}`);
  return ms;
}

function webhookDeliveryConfig(env: Env): WebhookDeliveryConfig {
  const timeoutMs = int(env, 'TAMS_WEBHOOK_TIMEOUT_MS', 10_000, 100, 300_000);
  const leaseMs = int(env, 'TAMS_WEBHOOK_LEASE_MS', Math.max(30_000, 2 * timeoutMs), 1_000, 3_600_000);
  // The lease is renewed before each POST: it must outlast one, with room for the renewal.
  if (leaseMs < 2 * timeoutMs) throw new ConfigError('TAMS_WEBHOOK_LEASE_MS', `must be at least twice TAMS_WEBHOOK_TIMEOUT_MS (${2 * timeoutMs}), got ${leaseMs}`);
  const retryBaseMs = int(env, 'TAMS_WEBHOOK_RETRY_BASE_MS', 1_000, 1, 3_600_000);
  return {
    enabled: oneOf(env, 'TAMS_WEBHOOK_DELIVERY', 'on', ['on', 'off'] as const) === 'on',
    maxAttempts: int(env, 'TAMS_WEBHOOK_MAX_ATTEMPTS', 10, 1, 1000),
    timeoutMs,
    retryBaseMs,
    retryMaxMs: Math.max(retryBaseMs, int(env, 'TAMS_WEBHOOK_RETRY_MAX_MS', 300_000, 1, 86_400_000)),
    leaseMs,
    maxResponseBytes: int(env, 'TAMS_WEBHOOK_MAX_RESPONSE_BYTES', 64 * 1024, 0, 16 * MIB),
    pipeline: int(env, 'TAMS_WEBHOOK_PIPELINE', 8, 1, 64),
    outboxRetentionMs: duration(env, 'TAMS_OUTBOX_RETENTION', 7 * 86_400_000, 1_000),
  };
}

/** The URL for people to read: scheme, host, port and database, never user, password or query. */
export function redactDatabaseUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

const PG_SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function postgresConfig(env: Env): PostgresConfig {
  const raw = str(env, 'DATABASE_URL', '');
  // The value is never echoed: it may hold a password.
  if (raw === '') throw new ConfigError('DATABASE_URL', 'is required with TAMS_STORE=postgres (postgres://user@host:5432/database)');
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || url.hostname === '') {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL with a host, like postgres://tams@db:5432/tams (value not shown: it may hold a password)');
  }
  const schema = str(env, 'TAMS_PG_SCHEMA', '');
  if (schema !== '' && !PG_SCHEMA_RE.test(schema)) {
    throw new ConfigError('TAMS_PG_SCHEMA', `must be a plain identifier (a letter or _, then letters, digits, _; at most 63), got ${JSON.stringify(schema)}`);
  }
  return {
    url: raw,
    redactedUrl: redactDatabaseUrl(raw),
    poolSize: int(env, 'TAMS_PG_POOL_SIZE', 10, 1, 1000),
    connectTimeoutMs: int(env, 'TAMS_PG_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000),
    statementTimeoutMs: int(env, 'TAMS_PG_STATEMENT_TIMEOUT_MS', 30_000, 0, 86_400_000),
    schema: schema === '' ? undefined : schema,
  };
}

const MIN_SECRET_BYTES = 32;

/** `text` as 64 or more hex digits, or base64 (standard or URL-safe) of 32 or more bytes; undefined otherwise. */
export function decodeSecret(text: string): Buffer | undefined {
  const t = text.trim();
  let bytes: Buffer | undefined;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(t)) bytes = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t) && t.replace(/=+$/, '').length % 4 !== 1) bytes = Buffer.from(t, 'base64');
  return bytes !== undefined && bytes.length >= MIN_SECRET_BYTES ? bytes : undefined;
}

const SECRET_FORMAT = `must be ${MIN_SECRET_BYTES * 2} or more hex digits, or base64 of ${MIN_SECRET_BYTES} or more random bytes (openssl rand -base64 32)`;

function signingSecret(env: Env): Buffer | undefined {
  const text = str(env, 'TAMS_SECRET', '');
  const file = str(env, 'TAMS_SECRET_FILE', '');
  if (text !== '' && file !== '') throw new ConfigError('TAMS_SECRET_FILE', 'set only one of TAMS_SECRET and TAMS_SECRET_FILE');
  if (text !== '') {
    // Never echoed: it is the secret.
    const secret = decodeSecret(text);
    if (secret === undefined) throw new ConfigError('TAMS_SECRET', SECRET_FORMAT);
    return secret;
  }
  if (file === '') return undefined;
  let content: string;
  try {
    content = fs.readFileSync(path.resolve(file), 'utf8');
  } catch (err) {
    throw new ConfigError('TAMS_SECRET_FILE', `cannot read ${path.resolve(file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const secret = decodeSecret(content);
  if (secret === undefined) throw new ConfigError('TAMS_SECRET_FILE', `${path.resolve(file)}: its content ${SECRET_FORMAT}`);
  return secret;
}

function embeddedKeyFile(env: Env): string | undefined {
  const raw = str(env, 'TAMS_EMBEDDED_KEY_FILE', '');
  if (raw === '') return undefined;
  const file = path.resolve(raw);
  let isFile: boolean;
  try {
    isFile = fs.statSync(file).isFile();
  } catch (err) {
    throw new ConfigError('TAMS_EMBEDDED_KEY_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!isFile) throw new ConfigError('TAMS_EMBEDDED_KEY_FILE', `${file} is not a file`);
  return file;
}

function storeConfig(env: Env): Pick<Config, 'store' | 'postgres' | 'vast' | 'migrateOnStart' | 'signingSecret' | 'localMediaShared'> {
  const store = oneOf(env, 'TAMS_STORE', 'sqlite', ['sqlite', 'postgres', 'vast'] as const);
  const migrateOnStart = bool(env, 'TAMS_MIGRATE_ON_START', store !== 'postgres');
  if (store !== 'postgres' && !migrateOnStart) {
    throw new ConfigError('TAMS_MIGRATE_ON_START', `false applies to TAMS_STORE=postgres only: the ${store === 'vast' ? 'VAST tables are made' : 'SQLite file is migrated'} when the store is opened`);
  }
  return {
    store,
    postgres: store === 'postgres' ? postgresConfig(env) : undefined,
    vast: store === 'vast' ? vastConfig(env) : undefined,
    migrateOnStart,
    signingSecret: signingSecret(env),
    localMediaShared: bool(env, 'TAMS_LOCAL_MEDIA_SHARED', false),
  };
}

/**
 * Replicas over one PostgreSQL or VAST store must share what a single process keeps in its data dir:
 * the signing secret (a page cursor or media URL from one replica is checked by another), the
 * embedded token key (a token issued through one is verified by all), and the media directory
 * when it is the default backend. Start-up refuses to make them per replica.
 */
function requireSharedState(
  store: StoreKind,
  env: Env,
  secret: Buffer | undefined,
  auth: 'on' | 'off',
  authentication: AuthConfig,
  storageBackends: string | undefined,
  localMediaShared: boolean,
): void {
  if (secret === undefined) {
    throw new ConfigError('TAMS_SECRET', `with TAMS_STORE=${store} every replica must sign page cursors and media URLs with one secret: set TAMS_SECRET or TAMS_SECRET_FILE (openssl rand -base64 32), the same for all`);
  }
  if (auth === 'on' && authentication.key.kind === 'embedded' && authentication.embeddedKeyFile === undefined) {
    throw new ConfigError('TAMS_EMBEDDED_KEY_FILE', `with TAMS_STORE=${store} and the embedded token key, every replica must verify with one key: set TAMS_EMBEDDED_KEY_FILE to a P-256 private key (PEM) shared by all (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256), or use AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE or AUTH_HS256_SECRET`);
  }
  // The default users file lives in the data dir, which is each replica's own unless shared: a
  // Basic user added there would exist on one replica only. An unset variable with no such file
  // is fine (no Basic users, nothing per replica).
  if (auth === 'on' && str(env, 'AUTH_USERS_FILE', '') === '' && !localMediaShared && fs.existsSync(authentication.usersFile)) {
    throw new ConfigError('AUTH_USERS_FILE', `with TAMS_STORE=${store} the Basic users in ${authentication.usersFile} (the default, in TAMS_DATA_DIR) would be this replica's alone: set AUTH_USERS_FILE to one file every replica mounts (a Secret), or put TAMS_DATA_DIR on a shared volume and set TAMS_LOCAL_MEDIA_SHARED=true`);
  }
  if (storageBackends === undefined && !localMediaShared) {
    throw new ConfigError('TAMS_LOCAL_MEDIA_SHARED', `with TAMS_STORE=${store} the local media directory (${path.resolve(str(env, 'TAMS_DATA_DIR', './data'))}/objects) would be the default backend of each replica alone: list S3 backends in TAMS_STORAGE_BACKENDS_FILE, or put TAMS_DATA_DIR on a volume every replica shares and set TAMS_LOCAL_MEDIA_SHARED=true`);
  }
}

function jwksUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('AUTH_JWKS_URL', `must be an absolute https URL, got ${JSON.stringify(raw)}`);
  }
  // Keys fetched in clear could be swapped on the way; plain http only to this machine.
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError('AUTH_JWKS_URL', `must be an https URL (http only on localhost), got ${JSON.stringify(raw)}`);
  }
  return url.href;
}

function keySource(env: Env): JwtKeySource {
  const set = (['AUTH_JWKS_URL', 'AUTH_PUBLIC_KEY_FILE', 'AUTH_HS256_SECRET'] as const).filter((name) => (env[name] ?? '') !== '');
  if (set.length > 1) {
    throw new ConfigError(set[1] as string, `set only one of AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE and AUTH_HS256_SECRET (also set: ${set[0] as string})`);
  }
  const url = env.AUTH_JWKS_URL;
  if (url) return { kind: 'jwks', url: jwksUrl(url) };
  const file = env.AUTH_PUBLIC_KEY_FILE;
  if (file) return { kind: 'public-key', file: path.resolve(file) };
  const secret = env.AUTH_HS256_SECRET;
  if (secret) {
    if (Buffer.byteLength(secret) < 32) throw new ConfigError('AUTH_HS256_SECRET', 'must be at least 32 bytes (a random 256-bit secret)');
    return { kind: 'hmac', secret };
  }
  return { kind: 'embedded' };
}

function algorithms(env: Env, key: JwtKeySource): string[] | undefined {
  const raw = str(env, 'AUTH_ALGORITHMS', '');
  if (raw === '') return undefined;
  const list = [...new Set(raw.split(',').map((a) => a.trim()))];
  const allowed: readonly string[] = key.kind === 'hmac' ? HMAC_ALGORITHMS : key.kind === 'embedded' ? [EMBEDDED_ALGORITHM] : ASYMMETRIC_ALGORITHMS;
  for (const alg of list) {
    if (alg.toLowerCase() === 'none') throw new ConfigError('AUTH_ALGORITHMS', 'none is never accepted: tokens must be signed');
    if (!allowed.includes(alg)) {
      throw new ConfigError('AUTH_ALGORITHMS', `${JSON.stringify(alg)} does not fit the ${key.kind} key (allowed: ${allowed.join(', ')})`);
    }
  }
  return list;
}

function roleScopes(env: Env): Readonly<Record<string, readonly Scope[]>> {
  const raw = str(env, 'AUTH_ROLE_SCOPES', '');
  if (raw === '') return DEFAULT_ROLE_SCOPES;
  const fail = (): never => {
    throw new ConfigError('AUTH_ROLE_SCOPES', `must be a JSON object of role name to scope list, e.g. {"viewer":["read"]}, got ${JSON.stringify(raw)}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail();
  const map: Record<string, readonly Scope[]> = {};
  for (const [role, scopes] of Object.entries(parsed)) {
    if (!Array.isArray(scopes) || !scopes.every((s) => (SCOPES as readonly unknown[]).includes(s))) return fail();
    map[role] = scopes as Scope[];
  }
  return map;
}

function authConfig(env: Env, dataDir: string): AuthConfig {
  const key = keySource(env);
  const audience = str(env, 'AUTH_AUDIENCE', '');
  return {
    key,
    algorithms: algorithms(env, key),
    issuer: env.AUTH_ISSUER || undefined,
    audience: audience === '' ? undefined : audience.split(',').map((a) => a.trim()).filter((a) => a !== ''),
    clockSkewSec: int(env, 'AUTH_CLOCK_SKEW_SEC', 30, 0, 300),
    tokenCacheSize: int(env, 'AUTH_TOKEN_CACHE_SIZE', 10_000, 0, 1_000_000),
    usersFile: path.resolve(str(env, 'AUTH_USERS_FILE', path.join(dataDir, 'users.json'))),
    embeddedKeyFile: embeddedKeyFile(env),
    claims: {
      scopeClaim: str(env, 'AUTH_SCOPE_CLAIM', 'scope'),
      // Set but empty means bare scope names (`read`), so only an unset variable takes the default.
      scopePrefix: env.AUTH_SCOPE_PREFIX ?? 'tams-api/',
      rolesClaim: str(env, 'AUTH_ROLES_CLAIM', 'roles'),
      authClassesClaim: str(env, 'AUTH_CLASSES_CLAIM', 'auth_classes'),
      userClaim: str(env, 'AUTH_USER_CLAIM', 'sub'),
      attributionRoles: str(env, 'AUTH_ATTRIBUTION_ROLES', '').split(',').map((r) => r.trim()).filter((r) => r !== ''),
      roleScopes: roleScopes(env),
    },
  };
}

export interface LoadConfigOptions {
  /**
   * false: skip what only a serving replica needs with TAMS_STORE=postgres (one signing secret,
   * one embedded key, a shared media directory), for `npm run migrate`, which serves nothing.
   */
  replica?: boolean;
}

export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): Config {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  const auth = oneOf(env, 'TAMS_AUTH', 'on', ['on', 'off'] as const);
  if (auth === 'off' && nodeEnv === 'production') {
    throw new ConfigError('TAMS_AUTH', 'off is refused when NODE_ENV=production');
  }
  const presignedUrlTimeout = timeout(env, 'TAMS_PRESIGNED_URL_TIMEOUT', '3600:0', 30);
  const minObjectTimeout = timeout(env, 'TAMS_MIN_OBJECT_TIMEOUT', '3600:0', 300);
  // service.json: min_presigned_url_timeout "MUST be equal or less than min_object_timeout", so
  // that no object is collected while a PUT URL for it is still valid.
  if ((tryParseTimestamp(presignedUrlTimeout) as bigint) > (tryParseTimestamp(minObjectTimeout) as bigint)) {
    throw new ConfigError('TAMS_PRESIGNED_URL_TIMEOUT', `${presignedUrlTimeout} is longer than TAMS_MIN_OBJECT_TIMEOUT (${minObjectTimeout}); it must be at most that`);
  }
  const pageLimitMax = int(env, 'TAMS_PAGE_LIMIT_MAX', 1000, 1, 100_000);
  const host = str(env, 'HOST', '127.0.0.1');
  const dataDir = path.resolve(str(env, 'TAMS_DATA_DIR', './data'));
  const port = int(env, 'PORT', 8000, 0, 65535);
  const http = httpConfig(env);
  const authentication = authConfig(env, dataDir);
  const storageBackends = storageBackendsFile(env);
  const storeSelection = storeConfig(env);
  if (storeSelection.store !== 'sqlite' && options.replica !== false) requireSharedState(storeSelection.store, env, storeSelection.signingSecret, auth, authentication, storageBackends, storeSelection.localMediaShared);
  return {
    port,
    host,
    dataDir,
    ...storeSelection,
    publicUrl: publicUrl(env),
    basePath: basePath(env),
    serviceName: str(env, 'TAMS_SERVICE_NAME', 'TAMS gateway'),
    serviceDescription: env.TAMS_SERVICE_DESCRIPTION || undefined,
    maxBodyBytes: int(env, 'TAMS_MAX_BODY_BYTES', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxObjectBytes: int(env, 'TAMS_MAX_OBJECT_BYTES', 1024 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    minObjectTimeout,
    presignedUrlTimeout,
    presignedUrlTimeoutSec: Number((tryParseTimestamp(presignedUrlTimeout) as bigint) / NANOS_PER_SECOND),
    hls: hlsConfig(env),
    auth,
    authentication,
    authDefaultClasses: [...new Set(str(env, 'AUTH_DEFAULT_CLASSES', '').split(',').map((c) => c.trim()).filter((c) => c !== ''))],
    trustProxy: trustProxy(env),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    deleteAsyncThreshold: int(env, 'TAMS_DELETE_ASYNC_THRESHOLD', 10_000, 0, Number.MAX_SAFE_INTEGER),
    deletePauseFactor: int(env, 'TAMS_DELETE_PAUSE_FACTOR', 3, 0, 100),
    pageLimitDefault: Math.min(int(env, 'TAMS_PAGE_LIMIT_DEFAULT', 100, 1, 100_000), pageLimitMax),
    pageLimitMax,
    nodeEnv,
    graphql: graphqlConfig(env, nodeEnv === 'production', pageLimitMax),
    http,
    webhookAllowPrivate: bool(env, 'TAMS_WEBHOOK_ALLOW_PRIVATE', false),
    webhooksPerOwner: int(env, 'TAMS_WEBHOOKS_PER_OWNER', 100, 0, 1_000_000),
    auditLogFile: env.AUDIT_LOG_FILE ? path.resolve(env.AUDIT_LOG_FILE) : undefined,
    metrics: metricsConfig(env, port),
    tracing: tracingConfig(env),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 25_000, 1_000, 600_000),
    rateLimit: rateLimitConfig(env),
    redisUrl: redisUrl(env),
    redisRequired: bool(env, 'REDIS_REQUIRED', false),
    storageBackendsFile: storageBackends,
    verifyUploads: bool(env, 'TAMS_VERIFY_UPLOADS', false),
    // S3 copies at most 5 GiB in one CopyObject request, and a part (but the last) is 5 MiB to 5 GiB.
    copyMultipartThresholdBytes: int(env, 'TAMS_COPY_MULTIPART_THRESHOLD_BYTES', 5 * GIB, 5 * MIB, 5 * GIB),
    copyPartBytes: int(env, 'TAMS_COPY_PART_BYTES', 64 * MIB, 5 * MIB, 5 * GIB),
    gc: gcConfig(env, http.requestTimeoutMs),
    webhooks: webhookDeliveryConfig(env),
  };
}
