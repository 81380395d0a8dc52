/**
 * The VAST adapter's one way to the cluster: a signed HTTP request to the S3 endpoint and its
 * whole answer, over a keep-alive connection pool, with timeouts and bounded retries.
 *
 * A request names its target (`[bucket, schema, table]`, a verb, parameters), its `tabular-*`
 * headers and a body; it comes back as status, headers and body on a 2xx answer, and as a
 * VastRequestError (a TamsError of the registry) otherwise: VAST's XML error read, the failure
 * mapped (vast-request-error.ts), retries spent (retry-policy.ts). Requests are signed again for
 * every attempt, with the time of that attempt. Bodies over 5 MiB are refused before anything
 * is sent (request-limits.ts). Nothing here logs; `onRetry` reports retries without secrets.
 */
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { exchange, type ExchangeResult } from './http-exchange';
import { MAX_REQUEST_BODY_BYTES } from './request-limits';
import { VastRequestSigner, type VastCredentials } from './request-signer';
import { InvalidVastTarget, resolveTarget, type ResolvedTarget, type VastTarget } from './request-target';
import { backoffDelayMs, isRetryable, type AttemptOutcome, type RetryPolicy } from './retry-policy';
import { parseS3ErrorBody } from './s3-error-body';
import { parseVastEndpoint, type VastEndpoint } from './vast-endpoint';
import { kindOfStatus, VastRequestError, type VastFailure, type VastFailureKind } from './vast-request-error';

export interface VastTransportOptions {
  /** The cluster's S3 endpoint, `http(s)://host[:port]`. */
  endpoint: string;
  credentials: VastCredentials;
  /** The region named in the signature's scope. Default `''`, what the Python SDK signs with. */
  region?: string;
  /** Until a connection is up (TLS included). Default 3000 ms. */
  connectTimeoutMs?: number;
  /** Until the last byte of an answer, per attempt. Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Attempts in all, the first included. Default 5. */
  maxAttempts?: number;
  /** Ceiling of the first retry's wait; it doubles for each later one. Default 100 ms. */
  retryBaseDelayMs?: number;
  /** No retry waits longer. Default 2000 ms. */
  retryMaxDelayMs?: number;
  /** Connections open at once to the endpoint. Default 32. */
  maxSockets?: number;
  /**
   * An idle pooled connection is closed after this. Default 4000 ms: below the usual 5 s idle
   * timeout of HTTP servers, so that a request rarely meets a connection the server just closed.
   * A server's `Keep-Alive: timeout=N` hint, less a second, wins when shorter (Node's agent reads it).
   */
  idleSocketTimeoutMs?: number;
  /** A longer answer fails (`response_too_large`). Default 64 MiB. */
  maxResponseBytes?: number;
  /** Sent as User-Agent (not signed). */
  userAgent?: string;
  /** For https endpoints: CA certificates to trust besides Node's. */
  ca?: string | Buffer | (string | Buffer)[];
  /** For https endpoints: false accepts any certificate (a lab cluster's self-signed one). Default true. */
  rejectUnauthorized?: boolean;
  /** The signing clock. */
  now?: () => Date;
  /** The jitter source, in [0, 1). */
  random?: () => number;
  /** Told of every retry before its wait. */
  onRetry?: (event: VastRetryEvent) => void;
}

export type VastMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export interface VastRequest extends VastTarget {
  method: VastMethod;
  /** What this request does ("begin transaction", "select flows"): for errors and logs. */
  operation: string;
  /** `tabular-*` and other VAST headers, sent unsigned. */
  headers?: Readonly<Record<string, string>>;
  body?: Buffer;
  /** Repeating it cannot change the outcome. Default: true for GET and HEAD. */
  idempotent?: boolean;
  /** A 409 answer may be retried. Default false. */
  retryOnConflict?: boolean;
}

export interface VastResponse {
  status: number;
  /** Names in lowercase, as node:http gives them. */
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Requests sent for this answer (1 when the first one succeeded). */
  attempts: number;
  /** The answer came over a connection that had served an earlier request. */
  reusedConnection: boolean;
}

export interface VastRetryEvent {
  operation: string;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  delayMs: number;
  /** The HTTP status, when VAST answered. */
  status?: number;
  vastCode?: string;
  failure: VastFailureKind;
}

const DEFAULTS = {
  region: '',
  connectTimeoutMs: 3000,
  requestTimeoutMs: 30000,
  maxAttempts: 5,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2000,
  maxSockets: 32,
  idleSocketTimeoutMs: 4000,
  maxResponseBytes: 64 * 1024 * 1024,
  userAgent: 'tams-gateway VAST transport',
};

/** Headers the transport writes itself, or that would change how the request is framed or signed. */
const RESERVED_HEADER = /^(host|authorization|content-length|transfer-encoding|connection|keep-alive|expect|te|trailer|upgrade|x-amz-.*)$/;
const HEADER_NAME = /^[A-Za-z0-9-]+$/;
// What node:http accepts in a header value: a refused value becomes our error, not its throw.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`VAST transport option ${name} must be a positive number`);
  return value;
}

function resolveOrRefuse(target: VastTarget, refuse: (reason: string) => VastRequestError): ResolvedTarget {
  try {
    return resolveTarget(target);
  } catch (error) {
    if (error instanceof InvalidVastTarget) throw refuse(error.message);
    throw error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class VastTransport {
  readonly #signer: VastRequestSigner;
  private readonly endpoint: VastEndpoint;
  private readonly agent: http.Agent;
  private readonly retry: RetryPolicy;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly userAgent: string;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly onRetry: ((event: VastRetryEvent) => void) | undefined;

  constructor(options: VastTransportOptions) {
    this.endpoint = parseVastEndpoint(options.endpoint);
    this.#signer = new VastRequestSigner(options.credentials, options.region ?? DEFAULTS.region);
    this.connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs);
    this.requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs);
    this.maxResponseBytes = positive('maxResponseBytes', options.maxResponseBytes ?? DEFAULTS.maxResponseBytes);
    this.retry = {
      maxAttempts: Math.floor(positive('maxAttempts', options.maxAttempts ?? DEFAULTS.maxAttempts)),
      baseDelayMs: positive('retryBaseDelayMs', options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs),
      maxDelayMs: positive('retryMaxDelayMs', options.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs),
    };
    this.userAgent = options.userAgent ?? DEFAULTS.userAgent;
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.onRetry = options.onRetry;
    const pool = {
      keepAlive: true,
      maxSockets: Math.floor(positive('maxSockets', options.maxSockets ?? DEFAULTS.maxSockets)),
      timeout: positive('idleSocketTimeoutMs', options.idleSocketTimeoutMs ?? DEFAULTS.idleSocketTimeoutMs),
      // The most recently used connection first: the least likely to have been closed by the server.
      scheduling: 'lifo' as const,
    };
    this.agent =
      this.endpoint.protocol === 'https:'
        ? new https.Agent({ ...pool, ca: options.ca, rejectUnauthorized: options.rejectUnauthorized ?? true })
        : new http.Agent(pool);
  }

  /** Sends the request (again, when a retry is allowed) until VAST answers 2xx; throws a VastRequestError otherwise. */
  async request(request: VastRequest): Promise<VastResponse> {
    const prepared = this.prepare(request);
    const safety = { idempotent: request.idempotent ?? (request.method === 'GET' || request.method === 'HEAD'), retryOnConflict: request.retryOnConflict ?? false };
    for (let attempt = 1; ; attempt += 1) {
      const signing = await this.#signer.sign({
        method: request.method,
        host: this.endpoint.hostHeader,
        path: prepared.path,
        query: prepared.signingQuery,
        body: request.body,
        date: this.now(),
      });
      const result = await exchange({
        agent: this.agent,
        endpoint: this.endpoint,
        method: request.method,
        path: prepared.search === '' ? prepared.path : `${prepared.path}?${prepared.search}`,
        headers: { ...prepared.headers, ...signing },
        body: request.body,
        connectTimeoutMs: this.connectTimeoutMs,
        requestTimeoutMs: this.requestTimeoutMs,
        maxResponseBytes: this.maxResponseBytes,
      });
      if (result.type === 'answer' && result.status >= 200 && result.status < 300) {
        return { status: result.status, headers: result.headers, body: result.body, attempts: attempt, reusedConnection: result.reusedSocket };
      }
      const failure = this.failureOf(result, request.operation, attempt);
      if (attempt >= this.retry.maxAttempts || !isRetryable(this.outcomeOf(result, failure), safety)) throw new VastRequestError(failure);
      const delayMs = backoffDelayMs(attempt, this.retry, this.random);
      this.report({
        operation: request.operation,
        attempt,
        delayMs,
        ...(failure.status === undefined ? {} : { status: failure.status }),
        ...(failure.vastCode === undefined ? {} : { vastCode: failure.vastCode }),
        failure: failure.kind,
      });
      await sleep(delayMs);
    }
  }

  /** Closes every pooled connection; requests in flight fail. */
  close(): void {
    this.agent.destroy();
  }

  private report(event: VastRetryEvent): void {
    try {
      this.onRetry?.(event);
    } catch {
      // A reporting hook that fails must not change what happens to the request.
    }
  }

  /** Everything that can be refused before sending is refused here, before any connection. */
  private prepare(request: VastRequest): { path: string; search: string; signingQuery: Record<string, string>; headers: OutgoingHttpHeaders } {
    const refuse = (kind: 'invalid_request' | 'request_too_large', detail: string, limit?: number): VastRequestError =>
      new VastRequestError({ kind, operation: request.operation, attempts: 0, detail, ...(limit === undefined ? {} : { limit }) });
    if (request.body !== undefined && request.body.length > MAX_REQUEST_BODY_BYTES) {
      throw refuse('request_too_large', `${request.operation}: a body of ${request.body.length} bytes`, MAX_REQUEST_BODY_BYTES);
    }
    const target = resolveOrRefuse(request, (reason) => refuse('invalid_request', `${request.operation}: ${reason}`));
    const headers: OutgoingHttpHeaders = { 'user-agent': this.userAgent };
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      if (!HEADER_NAME.test(name) || RESERVED_HEADER.test(name.toLowerCase())) throw refuse('invalid_request', `${request.operation}: header ${JSON.stringify(name)} is not one a caller may set`);
      if (!HEADER_VALUE.test(value)) throw refuse('invalid_request', `${request.operation}: header ${name} has a character HTTP does not allow`);
      headers[name.toLowerCase()] = value;
    }
    // As the Python SDK's HTTP library does: a length on every body, and on every request but GET
    // and HEAD (0), so that no request goes chunked.
    if (request.body !== undefined || (request.method !== 'GET' && request.method !== 'HEAD')) {
      headers['content-length'] = String(request.body?.length ?? 0);
    }
    return { ...target, headers };
  }

  private failureOf(result: ExchangeResult, operation: string, attempts: number): VastFailure {
    if (result.type !== 'answer') {
      return { kind: result.failure, operation, attempts, detail: result.detail, ...(result.limit === undefined ? {} : { limit: result.limit }) };
    }
    const error = parseS3ErrorBody(result.body);
    return {
      kind: kindOfStatus(result.status, error?.code) ?? 'rejected',
      operation,
      attempts,
      status: result.status,
      ...(error?.code === undefined ? {} : { vastCode: error.code }),
      ...(error?.message === undefined ? {} : { detail: `${operation}: ${error.message}` }),
      ...(error?.requestId === undefined ? {} : { requestId: error.requestId }),
    };
  }

  private outcomeOf(result: ExchangeResult, failure: VastFailure): AttemptOutcome {
    if (result.type === 'answer') return { type: 'answer', status: result.status, vastCode: failure.vastCode };
    if (result.type === 'unsent') return { type: 'unsent' };
    return { type: 'lost', retryable: result.failure !== 'response_too_large' };
  }
}
