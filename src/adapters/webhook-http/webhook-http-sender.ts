/**
 * Webhook POSTs over node:http / node:https, guarded against server-side request forgery at
 * send time: the URL's host is resolved once, every address it resolves to is checked
 * (isRefusedAddress, unless private addresses are allowed), and the connection goes to exactly
 * the address checked (a pinned `lookup`), so DNS that changes between the check and the
 * connect (rebinding) gains nothing. Redirects are never followed. The receiver's answer is
 * read up to a bound and the rest dropped with the connection.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { HostResolver } from '../../services/webhook-url-policy';
import { isRefusedAddress } from '../../services/webhook-url-policy';
import type { WebhookRequest, WebhookResponse, WebhookSender } from '../../ports/webhook-sender';

export interface WebhookHttpOptions {
  /** TAMS_WEBHOOK_ALLOW_PRIVATE: every address may be reached (development, tests). */
  allowPrivate: boolean;
  resolve: HostResolver;
  /** The whole exchange, from resolving to the end of the (bounded) answer. */
  timeoutMs: number;
  /** Bytes of the answer read at most. */
  maxResponseBytes: number;
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
  // Kept-alive connections go to addresses that were checked when they were opened.
  const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 8 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 8 }) };
  return async (request: WebhookRequest): Promise<WebhookResponse> => {
    const deadline = Date.now() + options.timeoutMs;
    const url = new URL(request.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, kind: 'refused', message: `${url.protocol} is not http or https` };
    const resolved = await withTimeout(checkedAddress(url, options), options.timeoutMs);
    if (resolved === undefined) return { ok: false, kind: 'timeout', message: `resolving ${url.hostname} timed out` };
    if (!('pinned' in resolved)) return resolved;
    const body = Buffer.from(request.body);
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
    return post(url, resolved.pinned, body, request.headers, Math.max(1, deadline - Date.now()), options.maxResponseBytes, agent);
  };
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

function post(
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
