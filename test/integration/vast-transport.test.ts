/**
 * VastTransport (src/adapters/vast/transport/) over real sockets, against a VAST stand-in on
 * 127.0.0.1 written here: a node:http server that checks every request's SigV4 signature from
 * first principles with node:crypto (not with @smithy, which the transport signs with; the
 * checker is itself checked against the signatures captured in the Java client's tests) and
 * answers as each test scripts it. The check lives in test/support/vast-sigv4-check.ts, shared
 * with the fake VAST server.
 *
 * - every request verifies: the bare verbs, parameters, bodies (a select is a GET with a body),
 *   HEAD, an empty region; `tabular-*` headers arrive unsigned; a wrong secret gets 403
 *   SignatureDoesNotMatch and is not retried;
 * - connections are kept alive and reused, at most `maxSockets` at once;
 * - 503 SlowDown is retried for any method until success or `maxAttempts`; another 503 only for
 *   idempotent requests; 409 only when the caller says the operation is safe to repeat;
 * - a server that never answers gives `timeout` (`unavailable`) after each attempt's timeout;
 *   a closed port gives `connection` after every attempt, whatever the method (nothing was sent);
 *   an answer cut off is retried only for idempotent requests;
 * - VAST's XML errors are read into the typed error; a body over 5 MiB is refused before any
 *   connection, one of exactly 5 MiB is sent; an answer over the limit fails;
 * - no secret appears in an error, a retry report or the transport's inspection.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { MAX_REQUEST_BODY_BYTES } from '../../src/adapters/vast/transport/request-limits';
import { VastRequestError } from '../../src/adapters/vast/transport/vast-request-error';
import { VastTransport, type VastRequest, type VastRetryEvent, type VastTransportOptions } from '../../src/adapters/vast/transport/vast-transport';
import { VAST_ERROR_BODIES } from '../fixtures/vast-error-bodies';
import { SIGNATURE_VECTORS } from '../fixtures/vast-signature-vectors';
import { TcpProxy } from '../support/tcp-proxy';
import { sigV4Problem, type SignedRequest } from '../support/vast-sigv4-check';

const ACCESS_KEY = 'AKIDTAMSGATEWAYTEST';
const SECRET_KEY = 'tAmS/vAsT+sEcReT/kEy/0123456789abcdefXYZ';

// ---------------------------------------------------------------------------------------------
// The stand-in.

interface Seen extends SignedRequest {
  remotePort: number;
  problem: string | undefined;
}

type Reply = { status: number; body?: string | Buffer; headers?: Record<string, string> } | 'cut';

interface StandIn {
  endpoint: string;
  seen: Seen[];
  connections: number;
  close(): Promise<void>;
}

const xml = (code: string, message = code): string => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><Resource/><RequestId>r-${code}</RequestId></Error>`;

async function standIn(answer: (request: Seen, index: number) => Reply = () => ({ status: 200 })): Promise<StandIn> {
  const seen: Seen[] = [];
  const state = { connections: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: SignedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      const request: Seen = { ...received, remotePort: req.socket.remotePort ?? 0, problem: sigV4Problem(received, new Map([[ACCESS_KEY, SECRET_KEY]]), new Date()) };
      seen.push(request);
      // As VAST (S3) does: a request that does not verify gets 403 SignatureDoesNotMatch.
      const reply: Reply = request.problem === undefined ? answer(request, seen.length - 1) : { status: 403, body: xml('SignatureDoesNotMatch', request.problem) };
      if (reply === 'cut') {
        res.writeHead(200, { 'content-length': '1000' });
        res.write(Buffer.alloc(100));
        setTimeout(() => req.socket.destroy(), 10);
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/xml', server: 'vast 5.3.0.1', ...reply.headers });
      res.end(req.method === 'HEAD' ? undefined : reply.body);
    });
  });
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    get connections() {
      return state.connections;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function started(answer?: (request: Seen, index: number) => Reply): Promise<StandIn> {
  const server = await standIn(answer);
  closers.push(() => server.close());
  return server;
}

function transportTo(endpoint: string, options: Partial<VastTransportOptions> = {}): VastTransport {
  const transport = new VastTransport({
    endpoint,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    requestTimeoutMs: 5000,
    ...options,
  });
  closers.push(() => transport.close());
  return transport;
}

async function failure(promise: Promise<unknown>): Promise<VastRequestError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VastRequestError) return error;
    throw error;
  }
  throw new Error('expected the request to fail');
}

const insertRows = (body: Buffer, extra: Partial<VastRequest> = {}): VastRequest => ({
  method: 'POST',
  operation: 'insert rows',
  path: ['tams', 'gateway', 'segments'],
  verb: 'rows',
  headers: { 'tabular-txid': '514026084031791104', 'tabular-api-version-id': '1' },
  body,
  ...extra,
});

const selectRows: VastRequest = {
  method: 'GET',
  operation: 'select rows',
  path: ['tams', 'gateway', 'segments'],
  verb: 'data',
  headers: { 'tabular-txid': '514026084031791104', 'tabular-split': '0,1,8' },
  body: Buffer.from('a select is a GET with a body'),
};

describe('the stand-in SigV4 check', () => {
  it('accepts the signatures captured in the Java client tests, and refuses them changed', () => {
    for (const vector of SIGNATURE_VECTORS) {
      const url = `/${vector.path.join('/')}${vector.verb === undefined ? '' : `?${vector.verb}`}`;
      const headers = { host: vector.expected.host, 'x-amz-date': vector.expected.xAmzDate, 'x-amz-content-sha256': vector.expected.xAmzContentSha256, authorization: vector.expected.authorization };
      const request = { method: vector.method, url, headers, body: Buffer.alloc(0) };
      const secrets = new Map([[vector.accessKeyId, vector.secretAccessKey]]);
      expect(sigV4Problem(request, secrets, new Date(vector.time))).toBeUndefined();
      expect(sigV4Problem({ ...request, url: `${url}x` }, secrets, new Date(vector.time))).toBe('signature mismatch');
      expect(sigV4Problem({ ...request, headers: { ...headers, host: 'localhost:9091' } }, secrets, new Date(vector.time))).toBe('signature mismatch');
      expect(sigV4Problem(request, new Map([[vector.accessKeyId, `${vector.secretAccessKey}x`]]), new Date(vector.time))).toBe('signature mismatch');
      expect(sigV4Problem({ ...request, body: Buffer.from('x') }, secrets, new Date(vector.time))).toBe('payload hash');
    }
  });
});

describe('VastTransport over loopback HTTP', () => {
  it('signs every request so that the independent check accepts it, verbs bare and tabular headers unsigned', async () => {
    const server = await started((request) => ({ status: 200, body: request.body, headers: { 'tabular-txid': '514026084031791104' } }));
    const transport = transportTo(server.endpoint);
    const select = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
    const requests: VastRequest[] = [
      { method: 'POST', operation: 'begin transaction', path: [], verb: 'transaction', headers: { 'tabular-client-name': 'tams-gateway' } },
      { ...selectRows, body: select },
      { method: 'PUT', operation: 'rename table', path: ['tams', 'gateway', 'segments'], verb: 'table', params: { 'tabular-new-table-name': 'gateway/segments2' } },
      { method: 'HEAD', operation: 'head bucket', path: ['tams'] },
      { method: 'DELETE', operation: 'rollback transaction', path: [], verb: 'transaction', headers: { 'tabular-txid': '7' } },
    ];
    const responses = [];
    for (const request of requests) responses.push(await transport.request(request));

    expect(server.seen.map((s) => [s.method, s.url, s.problem])).toEqual([
      ['POST', '/?transaction', undefined],
      ['GET', '/tams/gateway/segments?data', undefined],
      ['PUT', '/tams/gateway/segments?table&tabular-new-table-name=gateway%2Fsegments2', undefined],
      ['HEAD', '/tams', undefined],
      ['DELETE', '/?transaction', undefined],
    ]);
    for (const seen of server.seen) {
      // The default region is the empty one the Python SDK signs with; three headers are signed.
      expect(seen.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/\\d{8}//s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, `));
      expect(seen.headers.host).toBe(new URL(server.endpoint).host);
    }
    expect(server.seen[0]!.headers['tabular-client-name']).toBe('tams-gateway');
    expect(server.seen[0]!.headers['content-length']).toBe('0');
    expect(server.seen[1]!.body.equals(select)).toBe(true);
    expect(server.seen[1]!.headers['tabular-split']).toBe('0,1,8');
    expect(server.seen[1]!.headers['content-length']).toBe('4096');
    expect(server.seen[3]!.headers['content-length']).toBeUndefined();
    expect(responses[0]!.headers['tabular-txid']).toBe('514026084031791104');
    expect(responses[1]!.body.equals(select)).toBe(true);
    expect(responses.map((r) => [r.status, r.attempts])).toEqual(requests.map(() => [200, 1]));
  });

  it('gets 403 SignatureDoesNotMatch with a wrong secret, not retried, unavailable to the client', async () => {
    const server = await started();
    const wrong = transportTo(server.endpoint, { credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: `${SECRET_KEY}-wrong` } });
    const error = await failure(wrong.request(selectRows));
    expect(error).toMatchObject({ kind: 'forbidden', code: 'unavailable', status: 503, vastStatus: 403, vastCode: 'SignatureDoesNotMatch', attempts: 1 });
    expect(server.seen.map((s) => s.problem)).toEqual(['signature mismatch']);
  });

  it('signs with the configured region', async () => {
    const server = await started();
    await transportTo(server.endpoint, { region: 'vast' }).request(selectRows);
    expect(server.seen[0]!.headers.authorization).toContain('/vast/s3/aws4_request,');
    expect(server.seen[0]!.problem).toBeUndefined();
  });

  it('keeps one connection alive across sequential requests', async () => {
    const server = await started();
    const transport = transportTo(server.endpoint);
    const reused = [];
    for (let i = 0; i < 5; i += 1) reused.push((await transport.request(selectRows)).reusedConnection);
    expect(reused).toEqual([false, true, true, true, true]);
    expect(new Set(server.seen.map((s) => s.remotePort)).size).toBe(1);
    expect(server.connections).toBe(1);
  });

  it('opens at most maxSockets connections for concurrent requests', async () => {
    const server = await started();
    const transport = transportTo(server.endpoint, { maxSockets: 2 });
    const answers = await Promise.all(Array.from({ length: 8 }, () => transport.request(selectRows)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(server.connections).toBe(2);
    expect(new Set(server.seen.map((s) => s.remotePort)).size).toBe(2);
  });

  it('retries 503 SlowDown, even for a write, until it succeeds, signing each attempt', async () => {
    const server = await started((_request, index) => (index < 2 ? { status: 503, body: VAST_ERROR_BODIES.slowDown.body } : { status: 200 }));
    const retries: VastRetryEvent[] = [];
    const transport = transportTo(server.endpoint, { retryBaseDelayMs: 20, retryMaxDelayMs: 1000, onRetry: (event) => retries.push(event) });
    const body = Buffer.from('an Arrow IPC stream of rows');
    const response = await transport.request(insertRows(body));
    expect(response.attempts).toBe(3);
    expect(server.seen).toHaveLength(3);
    expect(server.seen.every((s) => s.problem === undefined && s.body.equals(body))).toBe(true);
    expect(retries.map(({ attempt, status, vastCode, failure: kind }) => ({ attempt, status, vastCode, kind }))).toEqual([
      { attempt: 1, status: 503, vastCode: 'SlowDown', kind: 'slow_down' },
      { attempt: 2, status: 503, vastCode: 'SlowDown', kind: 'slow_down' },
    ]);
    // Equal jitter: between half and all of 20 ms, then of 40 ms.
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(10);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(20);
    expect(retries[1]!.delayMs).toBeGreaterThanOrEqual(20);
    expect(retries[1]!.delayMs).toBeLessThanOrEqual(40);
  });

  it('gives up on SlowDown after maxAttempts: unavailable', async () => {
    const server = await started(() => ({ status: 503, body: VAST_ERROR_BODIES.slowDown.body }));
    const error = await failure(transportTo(server.endpoint, { maxAttempts: 4 }).request(insertRows(Buffer.from('rows'))));
    expect(error).toMatchObject({ kind: 'slow_down', code: 'unavailable', status: 503, vastStatus: 503, vastCode: 'SlowDown', attempts: 4, requestId: 'a00100000025' });
    expect(error.message).toBe('The VAST metadata store is busy (503 SlowDown): try again');
    expect(server.seen).toHaveLength(4);
  });

  it('retries another 503 only for idempotent requests', async () => {
    const server = await started((_request, index) => (index === 0 || index === 1 ? { status: 503, body: xml('ServiceUnavailable') } : { status: 200 }));
    const transport = transportTo(server.endpoint);
    const write = await failure(transport.request(insertRows(Buffer.from('rows'))));
    expect(write).toMatchObject({ kind: 'unavailable', vastCode: 'ServiceUnavailable', attempts: 1 });
    const read = await transport.request(selectRows);
    expect(read.attempts).toBe(2);
    expect(server.seen).toHaveLength(3);
  });

  it('retries 409 only when the caller says the operation is safe to repeat', async () => {
    let conflicts = 1;
    const server = await started(() => (conflicts-- > 0 ? { status: 409, body: VAST_ERROR_BODIES.conflict.body } : { status: 200 }));
    const transport = transportTo(server.endpoint);
    const commit: VastRequest = { method: 'PUT', operation: 'commit transaction', path: [], verb: 'transaction', headers: { 'tabular-txid': '9' } };
    const refused = await failure(transport.request(commit));
    expect(refused).toMatchObject({ kind: 'conflict', code: 'unavailable', vastStatus: 409, vastCode: 'InvalidBucketState', requestId: 'a001000003ae', attempts: 1 });
    expect(server.seen).toHaveLength(1);

    conflicts = 1;
    const repeated = await transport.request({ ...commit, retryOnConflict: true });
    expect(repeated.attempts).toBe(2);
    expect(server.seen).toHaveLength(3);

    conflicts = 100;
    const exhausted = await failure(transport.request({ ...commit, retryOnConflict: true }));
    expect(exhausted).toMatchObject({ kind: 'conflict', attempts: 5 });
    expect(server.seen).toHaveLength(8);
  });

  it('times out a server that accepts and never answers: unavailable, each attempt bounded', async () => {
    const silent = new TcpProxy({ host: '127.0.0.1', port: 1 });
    await silent.start(true);
    closers.push(() => silent.stop());
    const transport = transportTo(`http://127.0.0.1:${silent.port}`, { requestTimeoutMs: 200, maxAttempts: 2 });
    let begun = Date.now();
    const read = await failure(transport.request(selectRows));
    const readMs = Date.now() - begun;
    expect(read).toMatchObject({ kind: 'timeout', code: 'unavailable', status: 503, attempts: 2 });
    expect(read.message).toBe('The VAST metadata store did not answer within 200 ms');
    expect(readMs).toBeGreaterThanOrEqual(2 * 200 - 20);
    expect(readMs).toBeLessThan(2 * 200 + 20 + 1000);

    // A write that may have arrived is not sent again.
    begun = Date.now();
    const write = await failure(transport.request(insertRows(Buffer.from('rows'))));
    expect(write).toMatchObject({ kind: 'timeout', attempts: 1 });
    expect(Date.now() - begun).toBeLessThan(200 + 1000);
  });

  it('retries a refused connection for any method (nothing was sent), then reports unavailable', async () => {
    const closed = new TcpProxy({ host: '127.0.0.1', port: 1 });
    await closed.start();
    const port = closed.port;
    await closed.stop();
    const retries: VastRetryEvent[] = [];
    const transport = transportTo(`http://127.0.0.1:${port}`, { maxAttempts: 3, onRetry: (event) => retries.push(event) });
    const error = await failure(transport.request(insertRows(Buffer.from('rows'))));
    expect(error).toMatchObject({ kind: 'connection', code: 'unavailable', attempts: 3 });
    expect(error.message).toBe('The VAST metadata store cannot be reached');
    expect(error.detail).toMatch(/ECONNREFUSED/);
    expect(retries.map((r) => r.failure)).toEqual(['connection', 'connection']);
  });

  it('retries an answer cut off midway for a read, not for a write', async () => {
    let cuts = 1;
    const server = await started(() => (cuts-- > 0 ? 'cut' : { status: 200, body: 'whole' }));
    const transport = transportTo(server.endpoint);
    const read = await transport.request(selectRows);
    expect([read.attempts, read.body.toString()]).toEqual([2, 'whole']);
    cuts = 1;
    const write = await failure(transport.request(insertRows(Buffer.from('rows'))));
    expect(write).toMatchObject({ kind: 'connection', code: 'unavailable', attempts: 1 });
  });

  it('reads VAST XML errors into the typed error, keeping VAST text out of the message', async () => {
    const server = await started((request) =>
      request.url.startsWith('/missing') ? { status: 404, body: VAST_ERROR_BODIES.notFound.body } : { status: 500, body: '<html>Internal error</html>' },
    );
    const transport = transportTo(server.endpoint);
    const missing = await failure(transport.request({ method: 'GET', operation: 'list tables', path: ['missing', 'schema'], verb: 'table' }));
    expect(missing).toMatchObject({ kind: 'not_found', code: 'unavailable', vastStatus: 404, vastCode: 'NoSuchKey', requestId: 'a00100000025', attempts: 1, operation: 'list tables' });
    expect(missing.detail).toBe('list tables: The specified key does not exist.');
    expect(missing.message).toBe('The VAST metadata store has no such bucket, schema, table or transaction (404 NoSuchKey)');
    const broken = await failure(transport.request(selectRows));
    expect(broken).toMatchObject({ kind: 'server_error', code: 'unavailable', vastStatus: 500, vastCode: undefined, attempts: 1 });
    expect(server.seen).toHaveLength(2);
  });

  it('refuses a body over 5 MiB before connecting, and sends one of exactly 5 MiB', async () => {
    const server = await started((request) => ({ status: 200, body: String(request.body.length) }));
    const transport = transportTo(server.endpoint);
    const tooLarge = await failure(transport.request(insertRows(Buffer.alloc(MAX_REQUEST_BODY_BYTES + 1, 7))));
    expect(tooLarge).toMatchObject({ kind: 'request_too_large', code: 'payload_too_large', status: 413, attempts: 0 });
    expect(tooLarge.message).toBe('A VAST request body exceeds the 5,242,880-byte limit: the VAST store keeps a document (a flow, source, webhook or profile, tags included) of up to about 4.5 MB; nothing was changed');
    expect(server.connections).toBe(0);

    const atLimit = await transport.request(insertRows(Buffer.alloc(MAX_REQUEST_BODY_BYTES, 7)));
    expect(atLimit.body.toString()).toBe('5242880');
    expect(server.seen.map((s) => s.problem)).toEqual([undefined]);
  });

  it('fails an answer longer than maxResponseBytes, without retrying it', async () => {
    const server = await started(() => ({ status: 200, body: Buffer.alloc(4096) }));
    const error = await failure(transportTo(server.endpoint, { maxResponseBytes: 1024 }).request(selectRows));
    expect(error).toMatchObject({ kind: 'response_too_large', code: 'internal', attempts: 1 });
    expect(server.seen).toHaveLength(1);
  });

  it.each<[string, Partial<VastRequest>]>([
    ['a path segment it cannot sign unambiguously', { path: ['tams', 'my schema'] }],
    ['a header the transport signs itself', { headers: { 'X-Amz-Date': '20200101T000000Z' } }],
    ['a Host header', { headers: { host: 'elsewhere' } }],
    ['a header value with a line break', { headers: { 'tabular-txid': '1\r\nx-injected: 1' } }],
  ])('refuses %s before connecting', async (_why, change) => {
    const server = await started();
    const error = await failure(transportTo(server.endpoint).request({ ...selectRows, ...change }));
    expect(error).toMatchObject({ kind: 'invalid_request', code: 'internal', attempts: 0 });
    expect(server.connections).toBe(0);
  });

  it('never shows the secret: not in errors, retry reports or the transport itself', async () => {
    const server = await started(() => ({ status: 503, body: VAST_ERROR_BODIES.slowDown.body }));
    const retries: VastRetryEvent[] = [];
    const transport = transportTo(server.endpoint, { maxAttempts: 2, onRetry: (event) => retries.push(event) });
    const error = await failure(transport.request(selectRows));
    const shown = [inspect(transport, { depth: 10, showHidden: true }), inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error), String(error.stack), JSON.stringify(retries)].join('\n');
    expect(shown).not.toContain(SECRET_KEY);
    expect(shown).not.toContain('sEcReT');
    // The signature of a request is not in the error either.
    const signature = /Signature=([0-9a-f]{64})/.exec(String(server.seen[0]!.headers.authorization))![1]!;
    expect(shown).not.toContain(signature);
  });
});
