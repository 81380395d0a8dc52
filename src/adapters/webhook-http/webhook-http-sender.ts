/**
 * Webhook POSTs over undici, guarded against server-side request forgery at send time: the
 * URL's host is resolved once per attempt, every address it resolves to is checked
 * (isRefusedAddress, unless private addresses are allowed), and the connection goes to exactly
 * the address checked (a pinned `lookup`), so DNS that changes between the check and the
 * connect (rebinding) gains nothing. Redirects are never followed. The receiver's answer is
 * read up to a bound and the rest dropped with the connection.
 *
 * Requests of one lane (a webhook) share one HTTP/1.1 connection per origin and address and
 * are pipelined on it, up to `pipelining` at once: they leave, and reach the receiver, in the
 * order they were sent (RFC 9112 answers pipelined requests in order), so a webhook is not
 * limited to one event per round trip. The worker recovers from a failure in the middle of a
 * pipeline by sending again from the first event not acknowledged (at least once, in order
 * from there).
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Client } from 'undici';
import type { HostResolver } from '../../services/webhook-url-policy';
import { isRefusedAddress } from '../../services/webhook-url-policy';
import type { WebhookRequest, WebhookResponse, WebhookSender } from '../../ports/webhook-sender';

export interface WebhookHttpOptions {
  /** TAMS_WEBHOOK_ALLOW_PRIVATE: every address may be reached (development, tests). */
  allowPrivate: boolean;
  resolve: HostResolver;
  /**
   * Resolving the host; then the exchange, from the request's turn at the front of its
   * connection (the answers to the lane's earlier requests received) to the end of the
   * (bounded) answer.
   */
  timeoutMs: number;
  /** Bytes of the answer read at most. */
  maxResponseBytes: number;
  /** Requests of one lane in flight on its connection at once (TAMS_WEBHOOK_PIPELINE; default 1). */
  pipelining?: number;
  /** Connections unused this long are closed (default 60 s). */
  idleMs?: number;
}

/** Connections kept at most; past it the least recently used is closed. */
const MAX_CLIENTS = 1024;
/**
 * A receiver whose connections end after fewer answers than this (HTTP/1.0, `Connection:
 * close` on every answer) is sent one request at a time for CLOSER_MS: pipelining to it only
 * wastes the requests written behind each answer.
 */
const CLOSER_ANSWERS = 10;
const CLOSER_MS = 10 * 60_000;

/** One lane's connection to one origin and address. */
interface LaneClient {
  key: string;
  client: Client;
  usedAt: number;
  /** Requests sent on it and not settled. */
  inFlight: number;
  /** Answers completed on the current connection, and on the one that closed last. */
  answered: number;
  answeredBeforeClose: number;
  /** Settles when the lane's last request so far has settled: the next one's turn at the front. */
  tail: Promise<void>;
}

/** A `lookup` that answers the one address already checked, whatever name it is asked for. */
function pinnedLookup(address: string): LookupFunction {
  const family = isIP(address);
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all === true) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as LookupFunction;
}

/** The address to connect to, or why there is none. */
async function checkedAddress(url: URL, options: WebhookHttpOptions): Promise<{ pinned: string } | WebhookResponse> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = await options.resolve(host);
    } catch (error) {
      return { ok: false, kind: 'unresolved', message: `${host} could not be resolved: ${(error as Error).message}` };
    }
  }
  const first = addresses[0];
  if (first === undefined) return { ok: false, kind: 'unresolved', message: `${host} has no address` };
  if (!options.allowPrivate) {
    const refused = addresses.find(isRefusedAddress);
    if (refused !== undefined) {
      return { ok: false, kind: 'refused', address: refused, message: `${host} resolves to ${refused}, a loopback, private, link-local or metadata address` };
    }
  }
  return { pinned: first };
}

export function webhookHttpSender(options: WebhookHttpOptions): WebhookSender {
  const pipelining = Math.max(1, options.pipelining ?? 1);
  const idleMs = options.idleMs ?? 60_000;
  // Keyed by lane, origin and the address checked: a kept-alive connection goes to an address
  // that was checked when it was opened, and one lane's requests stay in order on one connection.
  const clients = new Map<string, LaneClient>();
  /** Origin and address of receivers that end connections early, until when. */
  const closers = new Map<string, number>();
  /**
   * Origin and address of receivers that send interim 1xx answers undici cannot read (an
   * unsolicited 100 Continue), until when: sent over node:http, one request at a time per lane.
   */
  const interim = new Map<string, number>();
  const nodeAgents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
  const drop = (entry: LaneClient): void => {
    if (clients.get(entry.key) === entry) clients.delete(entry.key);
    entry.client.destroy().catch(() => undefined);
  };
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const entry of clients.values()) {
      if (now - entry.usedAt > idleMs && entry.inFlight === 0) {
        clients.delete(entry.key);
        entry.client.close().catch(() => undefined);
      }
    }
    for (const [target, until] of closers) if (until < now) closers.delete(target);
    for (const [target, until] of interim) if (until < now) interim.delete(target);
  }, Math.max(1_000, Math.min(idleMs, 30_000)));
  sweep.unref();

  const clientFor = (lane: string, url: URL, address: string): LaneClient => {
    const target = `${url.origin}\u0000${address}`;
    const key = `${lane}\u0000${target}`;
    let entry = clients.get(key);
    if (entry === undefined) {
      if (clients.size >= MAX_CLIENTS) {
        const oldest = clients.values().next().value as LaneClient;
        clients.delete(oldest.key);
        oldest.client.close().catch(() => undefined);
      }
      const client = new Client(url.origin, {
        pipelining: (closers.get(target) ?? 0) > Date.now() ? 1 : pipelining,
        connect: { lookup: pinnedLookup(address), timeout: options.timeoutMs },
        // The whole exchange is bounded by the request's own deadline (below).
        headersTimeout: 0,
        bodyTimeout: 0,
        keepAliveTimeout: idleMs,
      });
      const created: LaneClient = { key, client, usedAt: 0, inFlight: 0, answered: 0, answeredBeforeClose: 0, tail: Promise.resolve() };
      client.on('disconnect', () => {
        created.answeredBeforeClose = created.answered;
        created.answered = 0;
        if (created.answeredBeforeClose > 0 && created.answeredBeforeClose < CLOSER_ANSWERS && created.inFlight > 0) {
          closers.set(target, Date.now() + CLOSER_MS);
          client.pipelining = 1;
        }
      });
      entry = created;
    } else {
      // Most recently used last: the first entry is the one to close when full.
      clients.delete(key);
    }
    entry.usedAt = Date.now();
    clients.set(key, entry);
    return entry;
  };

  const send = async (request: WebhookRequest): Promise<WebhookResponse> => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return { ok: false, kind: 'refused', message: `${request.url} is not a URL` };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, kind: 'refused', message: `${url.protocol} is not http or https` };
    const resolved = await withTimeout(checkedAddress(url, options), options.timeoutMs);
    if (resolved === undefined) return { ok: false, kind: 'timeout', message: `resolving ${url.hostname} timed out` };
    if (!('pinned' in resolved)) return resolved;
    const target = `${url.origin}\u0000${resolved.pinned}`;
    const entry = clientFor(request.lane ?? '', url, resolved.pinned);
    // The lane's requests reach the front of the connection one after the other: each one's
    // timeout runs from its turn, not from when it was queued behind earlier answers.
    const turn = entry.tail;
    let settled!: () => void;
    entry.tail = new Promise<void>((resolve) => {
      settled = resolve;
    });
    entry.inFlight += 1;
    try {
      let response: LaneResponse;
      if ((interim.get(target) ?? 0) > Date.now()) {
        await turn;
        const agent = url.protocol === 'https:' ? nodeAgents['https:'] : nodeAgents['http:'];
        response = await postOverNodeHttp(url, resolved.pinned, Buffer.from(request.body), request.headers, options.timeoutMs, options.maxResponseBytes, agent);
      } else {
        response = await post(entry, url, resolved.pinned, request, options.timeoutMs, options.maxResponseBytes, turn);
        if (!response.ok && response.kind === 'unanswered' && response.interim === true) interim.set(target, Date.now() + CLOSER_MS);
      }
      // A request that failed with others sent behind it on the same connection: those are
      // abandoned by the worker (they go again after this one, in order), so none of them may
      // still be written, nor written again by undici on a new connection ahead of the retry.
      if (!response.ok && entry.inFlight > 1) drop(entry);
      return response.ok ? response : withoutInterimFlag(response);
    } finally {
      entry.inFlight -= 1;
      settled();
    }
  };
  return Object.assign(send, {
    close: async (): Promise<void> => {
      clearInterval(sweep);
      const all = [...clients.values()];
      clients.clear();
      await Promise.all(all.map((entry) => entry.client.destroy().catch(() => undefined)));
      nodeAgents['http:'].destroy();
      nodeAgents['https:'].destroy();
    },
  });
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function outcome(status: number, address: string): WebhookResponse {
  if (status >= 200 && status < 300) return { ok: true, status };
  if (status >= 300 && status < 400) return { ok: false, kind: 'redirect', status, address, message: `answered ${status} (redirects are not followed)` };
  return { ok: false, kind: 'status', status, address, message: `answered ${status}` };
}

/** undici's error for a connection that closed under a request. */
function socketClosed(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'UND_ERR_SOCKET';
}

type LaneResponse = WebhookResponse & { interim?: boolean };

function withoutInterimFlag(response: LaneResponse): WebhookResponse {
  const { interim: _interim, ...rest } = response;
  return rest;
}

async function post(entry: LaneClient, url: URL, address: string, request: WebhookRequest, timeoutMs: number, maxResponseBytes: number, turn: Promise<void>): Promise<LaneResponse> {
  const abort = new AbortController();
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  // Written at once (pipelined), timed from its turn at the front of the lane.
  void turn.then(() => {
    if (!finished) timer = setTimeout(() => abort.abort(), timeoutMs);
  });
  const body = Buffer.from(request.body);
  try {
    const response = await entry.client.request({
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { ...request.headers, 'content-type': 'application/json', 'content-length': String(body.length) },
      body,
      signal: abort.signal,
      // Pipelined behind the lane's earlier requests rather than after their answers: the
      // worker recovers from a failure anywhere in the pipeline by sending again (RFC 9110
      // 9.2.2 allows it for a client that can), so undici may treat these POSTs as repeatable.
      idempotent: true,
      blocking: false,
    });
    entry.answered += 1;
    let read = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      read += chunk.length;
      // Nothing in the answer is used: past the bound the connection is dropped rather than drained.
      if (read > maxResponseBytes) {
        response.body.destroy();
        break;
      }
    }
    return outcome(response.statusCode, address);
  } catch (error) {
    if (abort.signal.aborted) return { ok: false, kind: 'timeout', address, message: `no complete answer within ${timeoutMs} ms` };
    // The receiver ended the connection after answering earlier requests on it and before
    // answering this one (HTTP/1.0, `Connection: close`, a limit of requests per connection):
    // it was written behind an answer that closed the connection, so it goes again at once.
    if (socketClosed(error) && entry.answeredBeforeClose > 0) {
      return { ok: false, kind: 'unanswered', address, message: `the connection closed after ${entry.answeredBeforeClose} answers, before this request's` };
    }
    // undici reads no interim 100 it did not ask for (RFC 9110 15.2 says a client must): this
    // receiver is sent over node:http from now on, and this event again at once.
    if (socketClosed(error) && (error as Error).message === 'bad response') {
      return { ok: false, kind: 'unanswered', interim: true, address, message: 'the receiver sent an interim 100 answer before its final one: sent again over node:http' };
    }
    return { ok: false, kind: 'network', address, message: (error as Error).message };
  } finally {
    finished = true;
    clearTimeout(timer);
  }
}

/** One POST over node:http / node:https (for receivers that send interim answers), to the pinned address. */
function postOverNodeHttp(
  url: URL,
  address: string,
  body: Buffer,
  headers: Record<string, string>,
  timeoutMs: number,
  maxResponseBytes: number,
  agent: http.Agent,
): Promise<WebhookResponse> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (response: WebhookResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(response);
    };
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      agent,
      lookup: pinnedLookup(address),
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) },
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, kind: 'timeout', address, message: `no complete answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (error) => finish({ ok: false, kind: 'network', address, message: error.message }));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        // Nothing in the answer is used: past the bound the connection is dropped rather than drained.
        if (read > maxResponseBytes) {
          res.destroy();
          done();
        }
      });
      const done = (): void => {
        if (status >= 200 && status < 300) finish({ ok: true, status });
        else if (status >= 300 && status < 400) finish({ ok: false, kind: 'redirect', status, address, message: `answered ${status} (redirects are not followed)` });
        else finish({ ok: false, kind: 'status', status, address, message: `answered ${status}` });
      };
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.end(body);
  });
}

