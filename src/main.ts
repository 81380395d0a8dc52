/**
 * Composition root: the only module that knows every adapter. `createGateway` builds a
 * ready-to-listen gateway from a config (tests use it too); running this file starts one.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Config, ConfigError, loadConfig } from './config';
import { systemClock, Clock } from './ports/clock';
import type { StorageBackend } from './domain/entities';
import { describeStore, openMetadataStore } from './metadata-stores';
import { LocalObjectStore } from './adapters/local-objects/local-object-store';
import { S3ObjectStore } from './adapters/s3/s3-object-store';
import { loadStorageBackendsFile, type StorageBackendConfig } from './storage-backends-file';
import type { ObjectStore } from './ports/object-store';
import { PageCursorCodec } from './services/page-cursor';
import { ObjectStores } from './services/object-stores';
import { ObjectGcWorker } from './workers/object-gc-worker';
import { WebhookDeliveryWorker } from './workers/webhook-delivery-worker';
import { WebhookPayloads } from './services/webhook-payloads';
import type { ResourceAccess } from './services/resource-access';
import { webhookHttpSender } from './adapters/webhook-http/webhook-http-sender';
import { DeletionWorker } from './workers/deletion-worker';
import { tryParseTimestamp, NANOS_PER_SECOND } from './domain/timestamp';
import { EventDispatcher } from './services/event-dispatcher';
import { FlowService } from './services/flow-service';
import { HlsService } from './services/hls/hls-service';
import { SegmentService } from './services/segment-service';
import { ServiceInfoService } from './services/service-info-service';
import { StorageService } from './services/storage-service';
import { ProfileService } from './services/profile-service';
import { WebhookService } from './services/webhook-service';
import { WebhookUrlPolicy } from './services/webhook-url-policy';
import { dnsHostResolver } from './adapters/dns/dns-host-resolver';
import { DeletionService } from './services/deletion-service';
import { AccessPolicy } from './services/access-policy';
import { buildApp } from './http/app';
import { authenticationWarnings, createAuthenticator } from './auth/authenticator';
import { issueToken, tokenSigner } from './auth/token-issuer';
import { SCOPES } from './domain/principal';
import { instrumentStore } from './adapters/instrumented-store';
import type { MetadataStore } from './ports/metadata-store';
import { GatewayMetrics } from './http/metrics';
import { listenForMetrics } from './http/metrics-routes';
import { afterPendingReads, shutDownOnSignals } from './http/graceful-shutdown';
import { storeSpans } from './telemetry/store-spans';
import type { RateLimitCounters } from './ports/rate-limit-counters';
import { MemoryRateLimitCounters } from './adapters/memory/memory-rate-limit-counters';
import { RedisRateLimitCounters } from './adapters/redis/redis-rate-limit-counters';
import { connectRedis, type RedisConnection } from './adapters/redis/redis-connection';
import { RedisSharedOperations } from './adapters/redis/redis-shared-operations';
import { RateLimiter, perWindowFromPerMinute } from './services/rate-limiter';

/** The package version, found by walking up from this file (works from src/ and dist/src/). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

const SERVICE_VERSION = packageVersion();

export interface Gateway {
  config: Config;
  app: FastifyInstance;
  /** The metadata store TAMS_STORE selects (SQLite or PostgreSQL), before metrics and spans wrap it. */
  store: MetadataStore;
  /** Every storage backend, by storage_id. */
  objects: ObjectStores;
  /** The embedded local backend (always there; the default unless a backends file names one). */
  localObjects: LocalObjectStore;
  /** Object garbage collection (TAMS_GC=on), or undefined. */
  gc: ObjectGcWorker | undefined;
  /** Webhook delivery and outbox retention (TAMS_WEBHOOK_DELIVERY=on), or undefined. */
  webhooks: WebhookDeliveryWorker | undefined;
  /** The deletion-request worker (always on: a 202 promises the deletion happens). */
  deletions: DeletionWorker;
  events: EventDispatcher;
  /** Prometheus metrics (METRICS_TOKEN or METRICS_PORT set), or undefined. */
  metrics: GatewayMetrics | undefined;
  /** The port of the `/metrics` listener (METRICS_PORT), or undefined. */
  metricsPort: number | undefined;
  /**
   * Graceful shutdown: readiness fails, GraphQL WebSocket clients get 1001, the listener
   * closes, requests already read are answered, background deletions finish, then the
   * dispatcher and the stores stop and the last spans are sent.
   */
  close(): Promise<void>;
}

/**
 * The per-installation secret signing media URLs and page cursors: TAMS_SECRET(_FILE) when set
 * (every replica the same), else kept in the data dir, made on first start (SQLite only: with
 * PostgreSQL, config.ts refuses to start without TAMS_SECRET).
 */
function loadOrCreateSecret(config: Config): Buffer {
  if (config.signingSecret !== undefined) return config.signingSecret;
  const dataDir = config.dataDir;
  const file = path.join(dataDir, 'secret.key');
  try {
    const existing = fs.readFileSync(file);
    if (existing.length >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32);
  fs.writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

/**
 * A stable id for the local backend, so storage_id survives restarts. It is the default
 * storage unless a backends file is given (then only an entry there can be).
 */
function localBackend(dataDir: string, isDefault: boolean): StorageBackend {
  const file = path.join(dataDir, 'storage-backend-id');
  let id: string;
  try {
    id = fs.readFileSync(file, 'utf8').trim();
  } catch {
    id = randomUUID();
    fs.writeFileSync(file, id);
  }
  return {
    id,
    label: 'local',
    store_type: 'http_object_store',
    provider: 'tams-gateway',
    store_product: 'local-directory',
    default_storage: isDefault,
  };
}

/**
 * Segments per background-deletion chunk at most: one transaction each, short enough (about a
 * millisecond) that requests queued behind it barely notice.
 */
const DELETION_CHUNK = 250;

/** This process, as holder of worker leases in the metadata store. */
const processHolder = `${os.hostname()}:${process.pid}:${randomUUID()}`;

/**
 * How long after an object's allocation one of its PUT URLs may still be used: PUT URLs live at
 * most min_object_timeout, and an upload that started in time may still be arriving for the
 * grace period. Bytes are never deleted before then (else such an upload would put back bytes
 * nothing tracks).
 */
function putUrlLifetimeMs(config: Config): number {
  return Number(((tryParseTimestamp(config.minObjectTimeout) as bigint) * 1000n) / NANOS_PER_SECOND) + config.gc.graceSec * 1000;
}

/** The object garbage collector of this process (TAMS_GC), reporting to the log and metrics. */
function objectGc(
  config: Config,
  store: MetadataStore,
  objects: ObjectStores,
  clock: Clock,
  metrics: GatewayMetrics | undefined,
  log: () => FastifyInstance['log'],
): ObjectGcWorker | undefined {
  if (!config.gc.enabled) return undefined;
  return new ObjectGcWorker(store, objects, clock, {
    holder: processHolder,
    batch: config.gc.batch,
    intervalMs: config.gc.intervalMs,
    unregisteredAfterMs: putUrlLifetimeMs(config),
  }, {
    pass: (result) => {
      if (!result.ran) return;
      metrics?.objectGcPasses.inc();
      metrics?.objectGcCollected.inc(result.collected);
      metrics?.objectGcDeletions.inc({ outcome: 'ok' }, result.deleted);
      metrics?.objectGcDeletions.inc({ outcome: 'failed' }, result.failed);
      if (result.collected + result.deleted + result.failed > 0) log().info({ gc: result }, 'object garbage collection pass');
    },
    failed: (storageId, err) => log().warn({ err, storageId }, 'object garbage collection: deleting bytes failed; they stay queued'),
  });
}

/** The S3 backends of TAMS_STORAGE_BACKENDS_FILE, credentials resolved (none without the file). */
async function s3Stores(config: Config, local: StorageBackend, clock: Clock, log: () => FastifyInstance['log']): Promise<S3ObjectStore[]> {
  if (config.storageBackendsFile === undefined) return [];
  const entries = loadStorageBackendsFile(config.storageBackendsFile, process.env);
  for (const e of entries) {
    if (e.backend.id === local.id || e.backend.label === local.label) {
      throw new ConfigError('TAMS_STORAGE_BACKENDS_FILE', `${config.storageBackendsFile}: backend ${e.backend.label} (${e.backend.id}) has the id or label of the embedded local backend (${local.label}, ${local.id})`);
    }
  }
  const stores: S3ObjectStore[] = [];
  try {
    for (const e of entries) stores.push(await S3ObjectStore.create(s3Options(config, e, clock, log)));
  } catch (err) {
    for (const made of stores) made.close();
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('TAMS_STORAGE_BACKENDS_FILE', `${config.storageBackendsFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return stores;
}

function s3Options(config: Config, e: StorageBackendConfig, clock: Clock, log: () => FastifyInstance['log']): ConstructorParameters<typeof S3ObjectStore>[0] {
  return {
    backend: e.backend,
    endpoint: e.endpoint,
    bucket: e.bucket,
    region: e.region,
    pathStyle: e.pathStyle,
    ...(e.credentials.kind === 'static'
      ? {
          credentials: {
            accessKeyId: e.credentials.accessKeyId,
            secretAccessKey: e.credentials.secretAccessKey,
            ...(e.credentials.sessionToken === undefined ? {} : { sessionToken: e.credentials.sessionToken }),
          },
        }
      : {}),
    keyPrefix: e.keyPrefix,
    requestTimeoutMs: e.requestTimeoutMs,
    maxAttempts: e.maxAttempts,
    plainUrls: e.plainUrls,
    conditionalWrites: e.conditionalWrites,
    multipartThresholdBytes: config.copyMultipartThresholdBytes,
    partBytes: config.copyPartBytes,
    onCredentialsError: (err) => log().warn({ err, storageId: e.backend.id }, `storage backend ${e.backend.label}: refreshing its credentials failed (retried)`),
    logger: { warn: (message) => log().warn({ storageId: e.backend.id }, message) },
    // URLs are dated by the gateway's clock, as their lifetimes are computed from it.
    now: () => clock.nowMs(),
  };
}

/**
 * The origins browsers are redirected to for the S3 backends' media (the endpoint, or the
 * bucket's own host when virtual-hosted), read off a URL signed for the purpose: signing is
 * local, and yields exactly the origin of every URL the store hands out.
 */
function presignedUrlOrigins(stores: readonly S3ObjectStore[], clock: Clock): string[] {
  const expiresAtSec = Math.floor(clock.nowMs() / 1000) + 3600;
  return [...new Set(stores.map((store) => new URL(store.signGet('origin-probe', '', expiresAtSec)).origin))];
}

/** Stops the start when objects use a storage backend the deployment no longer lists. */
async function checkBackendsInUse(store: MetadataStore, objects: ObjectStores): Promise<void> {
  const missing = (await store.storageIdsInUse()).filter((id) => objects.get(id) === undefined);
  if (missing.length === 0) return;
  throw new ConfigError(
    'TAMS_STORAGE_BACKENDS_FILE',
    `storage backend ${missing.join(', ')} is not configured, but objects in the metadata store are kept there: list it in the backends file again`,
  );
}

/** Logs, without holding up the start, each bucket whose CORS rules browsers at CORS_ORIGINS would trip on. */
function warnAboutBucketCors(objects: ObjectStores, origins: readonly string[], warn: (line: string) => void): void {
  for (const store of objects.all as readonly (ObjectStore | S3ObjectStore)[]) {
    if (!(store instanceof S3ObjectStore)) continue;
    void store.checkCors(origins).then((line) => {
      if (line !== undefined) warn(line);
    });
  }
}

const WEBHOOK_DNS_TIMEOUT_MS = 3000;
/** Webhooks delivered to at once by one process. */
const WEBHOOK_CONCURRENCY = 32;

/**
 * Webhook delivery of this process (TAMS_WEBHOOK_DELIVERY): POSTs through the SSRF guard,
 * outcomes counted in metrics, refusals audited, skipped spans and errors logged.
 */
function webhookDelivery(
  config: Config,
  store: MetadataStore,
  objects: ObjectStores,
  access: ResourceAccess,
  clock: Clock,
  metrics: GatewayMetrics | undefined,
  app: () => FastifyInstance,
): WebhookDeliveryWorker | undefined {
  const settings = config.webhooks;
  if (!settings.enabled) return undefined;
  const payloads = new WebhookPayloads(store, objects, access, clock, {
    baseUrl: config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}${config.basePath}`,
    presignedUrlTimeoutSec: config.presignedUrlTimeoutSec,
  });
  const send = webhookHttpSender({
    allowPrivate: config.webhookAllowPrivate,
    resolve: dnsHostResolver(WEBHOOK_DNS_TIMEOUT_MS),
    timeoutMs: settings.timeoutMs,
    maxResponseBytes: settings.maxResponseBytes,
    pipelining: settings.pipeline,
  });
  const retentionIntervalMs = Math.min(60_000, Math.max(1_000, Math.floor(settings.outboxRetentionMs / 10)));
  return new WebhookDeliveryWorker(store, payloads, send, clock, {
    holder: `${os.hostname()}:${process.pid}:${randomUUID()}`,
    maxAttempts: settings.maxAttempts,
    leaseMs: settings.leaseMs,
    retryBaseMs: settings.retryBaseMs,
    retryMaxMs: settings.retryMaxMs,
    pollMs: 1_000,
    batch: 200,
    concurrency: WEBHOOK_CONCURRENCY,
    pipeline: settings.pipeline,
    retentionMs: settings.outboxRetentionMs,
    retentionIntervalMs,
  }, {
    sent: () => metrics?.webhookDeliveries.inc({ outcome: 'sent' }),
    failed: (webhook, event, failure, retry) => {
      metrics?.webhookDeliveries.inc({ outcome: failure.kind === 'refused' ? 'refused' : 'failed' });
      if (retry) metrics?.webhookRetries.inc();
      else metrics?.webhookErrors.inc();
      const log = { webhook: webhook.id, seq: event.seq, kind: failure.kind, status: failure.status, reason: failure.message };
      if (retry) app().log.warn(log, 'webhook delivery failed, will retry');
      else app().log.error(log, 'webhook delivery failed too often: webhook set to error');
      if (failure.kind === 'refused') {
        app().audit.write({
          event: 'denied', outcome: 'denied', status: 0, requestId: `webhook:${webhook.id}:${event.seq}`,
          principal: { subject: webhook.owner ?? '', method: 'none', authenticated: false },
          client: failure.address ?? '', method: 'POST', route: null, path: '', action: 'webhook.deliver',
          resource: { webhook: webhook.id }, reason: 'the webhook URL resolves to a refused address (SSRF guard)',
        });
      }
    },
    skipped: (webhook, from, to) => {
      metrics?.webhookEventsSkipped.inc(to - from + 1);
      app().log.warn({ webhook: webhook.id, from, to }, 'webhook skipped events already removed by outbox retention');
    },
    pruned: (count) => {
      metrics?.outboxPruned.inc(count);
      app().log.info({ pruned: count }, 'outbox retention pass');
    },
  }, (err) => app().log.error({ err }, 'webhook delivery failed'));
}

/** Webhook targets: private addresses refused unless TAMS_WEBHOOK_ALLOW_PRIVATE, names resolved at registration. */
function webhookUrlPolicy(config: Config): WebhookUrlPolicy {
  return new WebhookUrlPolicy({ allowPrivate: config.webhookAllowPrivate, resolve: dnsHostResolver(WEBHOOK_DNS_TIMEOUT_MS) });
}

/**
 * The connection to REDIS_URL (undefined without it): rate-limit counters and automatic
 * persisted queries shared by every replica. While Redis is away both degrade (requests are not
 * rate limited, operations registered on one replica are known there only), the log says so
 * once per outage, and readiness fails only with REDIS_REQUIRED=true. `log` is called only once
 * the app exists.
 */
async function connectSharedRedis(config: Config, log: () => FastifyInstance['log']): Promise<RedisConnection | undefined> {
  if (config.redisUrl === undefined) return undefined;
  return connectRedis(config.redisUrl, {
    onConnectionChange: ({ up, error }) =>
      up
        ? log().info('Redis is back: rate limits apply again and persisted queries are shared again')
        : log().warn({ err: error }, 'Redis unreachable: requests are not rate limited and persisted queries are not shared between replicas until it is back'),
  });
}

/**
 * Rate-limit counters (in Redis with REDIS_URL, shared by every replica; else in process) and
 * the limiter over them; none with RATE_LIMIT_ENABLED=false. `log` is called only once the
 * app exists.
 */
function createRateLimiter(
  config: Config,
  redis: RedisConnection | undefined,
  metrics: GatewayMetrics | undefined,
  log: () => FastifyInstance['log'],
): { limiter: RateLimiter; counters: RateLimitCounters } | undefined {
  const settings = config.rateLimit;
  if (!settings.enabled) return undefined;
  const counters = redis === undefined ? new MemoryRateLimitCounters() : new RedisRateLimitCounters(redis);
  const windowMs = settings.windowSec * 1000;
  const perMinute = {
    read: settings.readPerMinute,
    write: settings.writePerMinute,
    graphql_list: settings.graphqlListsPerMinute,
    graphql_mutation: settings.graphqlMutationsPerMinute,
    graphql_cost: settings.graphqlCostPerMinute,
    auth_failure: settings.authFailuresPerMinute,
  };
  const limiter = new RateLimiter(counters, { windowMs, perWindow: perWindowFromPerMinute(perMinute, windowMs) }, {
    rejected: (edge, rule) => metrics?.rateLimitRejections.inc({ edge, rule }),
    countersFailed: (err) => log().warn({ err }, 'rate-limit counters failed: requests are not rate limited meanwhile'),
  });
  return { limiter, counters };
}

export async function createGateway(config: Config, clock: Clock = systemClock): Promise<Gateway> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const objectsDir = path.join(config.dataDir, 'objects');
  fs.mkdirSync(objectsDir, { recursive: true });
  const secret = loadOrCreateSecret(config);
  // Before the store opens: a bad key file stops the start with nothing half-built.
  const authenticator = createAuthenticator(config);

  // Collected only when someone may read them; traced only with a collector to send to.
  const metrics = config.metrics.token !== undefined || config.metrics.port !== undefined ? new GatewayMetrics() : undefined;
  // Before the store opens too: an unreachable REDIS_URL stops the start with nothing half-built.
  const redis = await connectSharedRedis(config, () => app.log);
  const rateLimits = createRateLimiter(config, redis, metrics, () => app.log);
  const sharedOperations = redis === undefined ? undefined : new RedisSharedOperations(redis);
  const tracing = config.tracing === undefined ? undefined : (await import('./telemetry/tracing')).startTracing(config.tracing, SERVICE_VERSION);

  const { store: selected } = await openMetadataStore(config).catch(async (err: unknown) => {
    await rateLimits?.counters.close();
    await redis?.close();
    await tracing?.shutdown();
    throw err;
  });
  let store: MetadataStore = selected;
  if (metrics !== undefined) store = instrumentStore(store, metrics.storeCalls);
  if (tracing !== undefined) store = instrumentStore(store, storeSpans(tracing.tracer, config.store));
  const localObjects = new LocalObjectStore({
    rootDir: objectsDir,
    secret,
    backend: localBackend(config.dataDir, config.storageBackendsFile === undefined),
    maxObjectBytes: config.maxObjectBytes,
  });
  const s3 = await s3Stores(config, localObjects.backend, clock, () => app.log);
  // Replicas (PostgreSQL, VAST) are offered the local directory only when it is shared
  // (TAMS_LOCAL_MEDIA_SHARED): otherwise an object put there would be on one replica's disk.
  const offerLocal = config.store === 'sqlite' || config.localMediaShared;
  const objects = new ObjectStores([...(offerLocal ? [localObjects] : []), ...s3]);
  await checkBackendsInUse(store, objects).catch(async (err: unknown) => {
    objects.close();
    await store.close();
    throw err;
  });

  const cursors = new PageCursorCodec(secret);
  const deletions = new DeletionWorker(store, clock, {
    holder: processHolder,
    // At most the synchronous threshold too, so a chunk never costs more than a synchronous delete may.
    batch: Math.min(DELETION_CHUNK, Math.max(1, config.deleteAsyncThreshold)),
    pauseFactor: config.deletePauseFactor,
  });
  const policy = new AccessPolicy({ defaultClasses: config.authDefaultClasses });
  const flows = new FlowService(store, cursors, clock, policy);
  const services = {
    policy,
    serviceInfo: new ServiceInfoService(store, objects, {
      defaultName: config.serviceName,
      ...(config.serviceDescription === undefined ? {} : { defaultDescription: config.serviceDescription }),
      serviceVersion: SERVICE_VERSION,
      minObjectTimeout: config.minObjectTimeout,
      presignedUrlTimeout: config.presignedUrlTimeout,
    }, policy),
    flows,
    segments: new SegmentService(store, objects, flows, cursors, clock, { presignedUrlTimeoutSec: config.presignedUrlTimeoutSec, verifyUploads: config.verifyUploads }),
    storage: new StorageService(store, objects, flows, clock, config.presignedUrlTimeoutSec, 10, putUrlLifetimeMs(config)),
    profiles: new ProfileService(store, clock, cursors),
    webhooks: new WebhookService(store, clock, cursors, flows.access, webhookUrlPolicy(config), config.webhooksPerOwner),
    deletions: new DeletionService(store, flows, clock, config.deleteAsyncThreshold, cursors, () => deletions.wake()),
    hls: new HlsService(store, objects, flows, clock, { presignedUrlTimeoutSec: config.presignedUrlTimeoutSec, ...config.hls }),
  };

  let shuttingDown = false;
  // onError runs only once the dispatcher is started, after `app` exists.
  const events = new EventDispatcher(store, { onError: (err) => app.log.error({ err }, 'event dispatch failed') });
  const app = buildApp({
    events,
    config,
    services,
    media: localObjects,
    clock,
    health: {
      ready: async () => (await store.ping()) && (await objects.ping()) && (!config.redisRequired || redis === undefined || redis.up()),
      shuttingDown: () => shuttingDown,
    },
    authenticator,
    metrics,
    tracer: tracing?.tracer,
    rateLimiter: rateLimits?.limiter,
    sharedOperations,
    mediaOrigins: presignedUrlOrigins(s3, clock),
  });
  for (const warning of authenticationWarnings(config)) app.log.warn(warning);
  if (metrics !== undefined) {
    // Events are stamped with the clock as they are committed.
    events.subscribe((event) => metrics.outboxLag.observe(Math.max(0, clock.nowMs() - Date.parse(event.event_timestamp)) / 1000));
  }
  await events.start();
  const gc = objectGc(config, store, objects, clock, metrics, () => app.log);
  deletions.start((err) => app.log.error({ err }, 'deletion worker pass failed'));
  warnAboutBucketCors(objects, config.http.corsOrigins, (line) => app.log.warn(line));
  gc?.start((err) => app.log.error({ err }, 'object garbage collection pass failed'));
  const webhooks = webhookDelivery(config, store, objects, flows.access, clock, metrics, () => app);
  if (webhooks !== undefined) metrics?.watchWebhookBacklogs(() => store.webhookBacklogs(), () => clock.nowMs());
  webhooks?.start();
  const metricsListener =
    metrics !== undefined && config.metrics.port !== undefined
      ? await listenForMetrics(metrics.registry, { host: config.host, port: config.metrics.port, token: config.metrics.token })
      : undefined;

  return {
    config,
    app,
    store: selected,
    objects,
    localObjects,
    gc,
    webhooks,
    deletions,
    events,
    metrics,
    metricsPort: metricsListener?.port,
    async close() {
      shuttingDown = true;
      await afterPendingReads();
      await app.close();
      await rateLimits?.counters.close();
      await redis?.close();
      // The chunk in progress finishes; an unfinished request is resumed at the next start.
      await deletions.stop();
      await gc?.stop();
      await webhooks?.stop();
      await events.stop();
      objects.close();
      await store.close();
      await tracing?.shutdown();
      await metricsListener?.close();
    },
  };
}

/** What the data dir holds for this configuration. */
function dataDirContents(config: Config): string {
  const media = config.storageBackendsFile === undefined ? 'media in objects/' : 'local backend media in objects/';
  if (config.store === 'sqlite') return `SQLite tams.db, ${media}`;
  return config.localMediaShared ? `${media}, shared by every replica` : 'keys; no local media backend (not shared)';
}

/** One line per S3 backend (the local one is the `data:` line), the default marked. */
function storageBanner(objects: ObjectStores): string[] {
  return objects.all.flatMap((store) =>
    store instanceof S3ObjectStore ? [`  storage: ${store.backend.label} (${store.backend.id}): bucket ${store.bucket} at ${store.endpoint}${store.backend.default_storage ? ', default' : ''}`] : [],
  );
}

const ADMIN_TOKEN_TTL_SEC = 12 * 3600;

/**
 * The start-up lines about authentication. With the embedded key, a ready admin token too,
 * except in production, where start-up output ends up in kept logs.
 */
async function authBanner(config: Config): Promise<string[]> {
  if (config.auth === 'off') return ['  auth:    OFF: every request has every scope (development only)'];
  const { key, usersFile } = config.authentication;
  const lines = [`  auth:    bearer tokens (${key.kind === 'jwks' ? key.url : key.kind === 'public-key' ? key.file : key.kind} key), Basic users in ${usersFile}`];
  if (key.kind !== 'embedded') return lines;
  lines.push('  tokens:  npm run -s token -- --scopes read,write [--ttl 1h]');
  if (config.nodeEnv === 'production') return lines;
  const token = await issueToken(tokenSigner(config), { subject: 'admin', scopes: SCOPES, ttlSec: ADMIN_TOKEN_TTL_SEC }, config);
  lines.push(`  admin token (all scopes, valid ${ADMIN_TOKEN_TTL_SEC / 3600} h), send as 'Authorization: Bearer <token>':`, `    ${token}`);
  return lines;
}

/** Where /metrics is served and where spans go. */
function operationsBanner(config: Config, gateway: Gateway, shownHost: string, base: string): string[] {
  const metrics =
    gateway.metricsPort !== undefined
      ? `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${gateway.metricsPort}/metrics${config.metrics.token === undefined ? '' : ' (Bearer METRICS_TOKEN)'}`
      : config.metrics.token !== undefined
        ? `${base}/metrics (Bearer METRICS_TOKEN)`
        : 'off (set METRICS_PORT or METRICS_TOKEN)';
  return [`  metrics: ${metrics}`, `  traces:  ${config.tracing === undefined ? 'off' : `OTLP to ${config.tracing.endpoint}/v1/traces`}`];
}

async function main(): Promise<void> {
  let config: Config;
  let gateway: Gateway;
  try {
    config = loadConfig();
    gateway = await createGateway(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  await gateway.app.listen({ port: config.port, host: config.host });
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const base = config.publicUrl ?? `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  process.stdout.write(
    [
      `TAMS gateway ${SERVICE_VERSION} listening on ${config.host}:${port}`,
      `  REST:    ${base}${config.basePath}/`,
      `  GraphQL: ${base}${config.graphql.underBasePath ? config.basePath : ''}/graphql`,
      `  store:   ${describeStore(config)}`,
      `  data:    ${config.dataDir} (${dataDirContents(config)})`,
      ...storageBanner(gateway.objects),
      ...(await authBanner(config)),
      ...operationsBanner(config, gateway, shownHost, base),
      '',
    ].join('\n'),
  );
  shutDownOnSignals({ close: () => gateway.close(), graceMs: config.shutdownGraceMs, log: gateway.app.log });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
