/**
 * The gateway's Prometheus metrics, in a registry of its own (not prom-client's global one),
 * so several gateways in one process (tests) keep apart. Names and labels are in
 * docs/operations.md, "Metrics"; every label has a bounded set of values.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreCallObserver } from '../adapters/instrumented-store';
import type { WebhookBacklog } from '../ports/webhook-delivery';

/** Seconds, from a cached read to a large segment batch or a slow listing. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: a SQLite lookup takes tens of microseconds. */
const STORE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The `route` of requests no route matched: the raw URL would give every scanner its own series. */
const UNMATCHED_ROUTE = 'unmatched';

export class GatewayMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'tams_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });

  readonly httpRequestDuration = new Histogram({
    name: 'tams_http_request_duration_seconds',
    help: 'Time from a request arriving to its response being sent, by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });

  readonly graphqlOperationDuration = new Histogram({
    name: 'tams_graphql_operation_duration_seconds',
    help: 'GraphQL operations over HTTP, by operation name (or anonymous), type and outcome (ok, error)',
    labelNames: ['operation', 'type', 'outcome'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });

  readonly storeCallDuration = new Histogram({
    name: 'tams_store_call_duration_seconds',
    help: 'Metadata store calls, by method and outcome (ok, error)',
    labelNames: ['method', 'outcome'] as const,
    buckets: STORE_BUCKETS,
    registers: [this.registry],
  });

  readonly dataloaderBatchSize = new Histogram({
    name: 'tams_dataloader_batch_size',
    help: 'Keys per GraphQL DataLoader batch, by loader',
    labelNames: ['loader'] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });

  readonly outboxLag = new Histogram({
    name: 'tams_outbox_lag_seconds',
    help: 'Time from an event being committed (its event_timestamp) to its dispatch to subscribers and webhooks',
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });

  /** Increment on every request a rate limit refuses: `edge` is rest or graphql, `rule` the limit's name. */
  readonly rateLimitRejections = new Counter({
    name: 'tams_rate_limit_rejections_total',
    help: 'Requests refused by a rate limit, by edge (rest, graphql) and rule',
    labelNames: ['edge', 'rule'] as const,
    registers: [this.registry],
  });

  /** Object garbage collection (src/workers/object-gc-worker.ts). */
  readonly objectGcPasses = new Counter({
    name: 'tams_object_gc_passes_total',
    help: 'Object garbage collection passes run by this process (not counting those another process held the lease for)',
    registers: [this.registry],
  });

  readonly objectGcCollected = new Counter({
    name: 'tams_object_gc_objects_collected_total',
    help: 'Media objects dropped by garbage collection (unreferenced, or allocated and never registered)',
    registers: [this.registry],
  });

  readonly objectGcDeletions = new Counter({
    name: 'tams_object_gc_deletions_total',
    help: 'Deletions of object bytes from storage backends by garbage collection, by outcome (ok, failed: left queued)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  // ---- webhook delivery (src/workers/webhook-delivery-worker.ts) ----

  readonly webhookDeliveries = new Counter({
    name: 'tams_webhook_deliveries_total',
    help: 'Webhook POSTs by outcome: sent (answered 2xx), failed (timeout, network error, non-2xx, redirect), refused (SSRF guard: nothing sent)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly webhookRetries = new Counter({
    name: 'tams_webhook_retries_total',
    help: 'Failed webhook attempts that were scheduled to be retried',
    registers: [this.registry],
  });

  readonly webhookErrors = new Counter({
    name: 'tams_webhook_errors_total',
    help: 'Webhooks put into the error status after TAMS_WEBHOOK_MAX_ATTEMPTS failed attempts',
    registers: [this.registry],
  });

  readonly webhookEventsSkipped = new Counter({
    name: 'tams_webhook_events_skipped_total',
    help: 'Outbox events webhooks never got because retention pruned them first (counted over the skipped seq span)',
    registers: [this.registry],
  });

  readonly outboxPruned = new Counter({
    name: 'tams_outbox_pruned_total',
    help: 'Outbox events deleted by retention (TAMS_OUTBOX_RETENTION)',
    registers: [this.registry],
  });

  private webhookBacklogs: { read: () => Promise<WebhookBacklog[]>; nowMs: () => number } | undefined;

  readonly webhookQueueDepth = new Gauge({
    name: 'tams_webhook_queue_depth',
    help: 'Outbox events after the webhooks\' cursors (whether they match or not), summed by webhook status',
    labelNames: ['status'] as const,
    registers: [this.registry],
    collect: async (): Promise<void> => {
      await this.collectWebhookBacklogs();
    },
  });

  readonly webhookLag = new Gauge({
    name: 'tams_webhook_lag_seconds',
    help: 'Age of the oldest event a webhook has not got yet, the largest per webhook status (0 when caught up)',
    labelNames: ['status'] as const,
    registers: [this.registry],
    collect: async (): Promise<void> => {
      await this.collectWebhookBacklogs();
    },
  });

  /** Reports the webhooks' backlogs in tams_webhook_queue_depth and tams_webhook_lag_seconds. */
  watchWebhookBacklogs(read: () => Promise<WebhookBacklog[]>, nowMs: () => number): void {
    this.webhookBacklogs = { read, nowMs };
  }

  private async collectWebhookBacklogs(): Promise<void> {
    if (this.webhookBacklogs === undefined) return;
    const backlogs = await this.webhookBacklogs.read();
    const now = this.webhookBacklogs.nowMs();
    this.webhookQueueDepth.reset();
    this.webhookLag.reset();
    for (const status of ['created', 'started', 'disabled', 'error'] as const) {
      const mine = backlogs.filter((b) => b.status === status);
      this.webhookQueueDepth.set({ status }, mine.reduce((sum, b) => sum + b.depth, 0));
      const ages = mine.map((b) => (b.oldest_timestamp === undefined ? 0 : Math.max(0, now - Date.parse(b.oldest_timestamp)) / 1000));
      this.webhookLag.set({ status }, Math.max(0, ...ages));
    }
  }

  private readonly subscriptionCounts: (() => number)[] = [];

  readonly graphqlSubscriptions = new Gauge({
    name: 'tams_graphql_subscriptions',
    help: 'GraphQL subscriptions open over WebSocket',
    registers: [this.registry],
    // Read when scraped: the subscription hub keeps the count anyway.
    collect: (): void => {
      this.graphqlSubscriptions.set(this.subscriptionCounts.reduce((sum, count) => sum + count(), 0));
    },
  });

  constructor() {
    // Process CPU, memory, file descriptors, event-loop lag, GC, heap.
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts the subscriptions `active` reports into `tams_graphql_subscriptions`. */
  watchSubscriptions(active: () => number): void {
    this.subscriptionCounts.push(active);
  }

  /** For DataLoader batch functions: one observation per batch. */
  readonly observeBatch = (loader: string, size: number): void => {
    this.dataloaderBatchSize.observe({ loader }, size);
  };

  /** Times metadata store calls (see instrumentStore). */
  readonly storeCalls: StoreCallObserver = {
    succeeded: (method, startMs, endMs) => this.storeCallDuration.observe({ method, outcome: 'ok' }, (endMs - startMs) / 1000),
    failed: (method, startMs, endMs) => this.storeCallDuration.observe({ method, outcome: 'error' }, (endMs - startMs) / 1000),
  };
}

/**
 * Counts and times every HTTP request by its route pattern (`/flows/:flowId`, never the URL
 * itself) once its response is sent; fastify has timed it since it arrived.
 */
export function useHttpMetrics(app: FastifyInstance, metrics: GatewayMetrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    metrics.httpRequests.inc({ method: request.method, route, status_code: reply.statusCode });
    metrics.httpRequestDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });
}
