/**
 * Hostile review of the VAST metadata store from outside: a gateway on TAMS_STORE=vast over a
 * fake VAST server this file starts itself (so it can inject faults), driven through REST.
 * SlowDown storms and 409s injected inside a transaction must end in a retry or a clean 503 with
 * the TAMS error body, never a half-applied change; the rows are checked after each.
 */
import { startHarness, type Harness } from '../support/gateway-harness';
import { FAKE_VAST_CREDENTIALS, FakeVastServer, type FakeVastOptions } from '../support/vast-fake-server';

jest.setTimeout(60_000);

const SCHEMA = 'hostile';
const FLOW = 'a0000000-0000-4000-8000-000000000001';
const SOURCE = 'b0000000-0000-4000-8000-000000000001';
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function flowBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: FLOW, source_id: SOURCE, format: 'urn:x-nmos:format:data', codec: 'text/plain', container: 'application/json', essence_parameters: {}, ...extra };
}

function segment(objectId: string, t: number): Record<string, unknown> {
  return { object_id: objectId, timerange: `[${t}:0_${t + 1}:0)`, get_urls: [{ label: 'origin', url: `https://media.example/${objectId}` }] };
}

async function fakeServer(options: FakeVastOptions = {}): Promise<FakeVastServer> {
  const server = await FakeVastServer.start(options);
  closers.push(() => server.close());
  return server;
}

/** A gateway on `server`, schema SCHEMA: two of them on one server are two replicas. */
async function gatewayOn(server: FakeVastServer, env: Record<string, string> = {}): Promise<Harness> {
  const h = await startHarness(env, { store: 'vast', fakeVast: server, vastSchema: SCHEMA });
  closers.push(() => h.close());
  return h;
}

function rows(server: FakeVastServer, table: string): Record<string, unknown>[] {
  return server.committedRows(SCHEMA, table);
}

/** What a half-applied flow creation would leave: counted per table. */
function flowFootprint(server: FakeVastServer): Record<string, number> {
  return {
    flows: rows(server, 'flows').length,
    sources: rows(server, 'sources').length,
    flow_guards: rows(server, 'flow_guards').length,
    outbox: rows(server, 'outbox').length,
  };
}

function expectTamsError(res: { status: number; body: unknown; text: string }, status: number): void {
  expect(res.status).toBe(status);
  const body = res.body as { type?: unknown; summary?: unknown };
  expect(typeof body.type).toBe('string');
  expect(typeof body.summary).toBe('string');
  expect(res.text).not.toContain(FAKE_VAST_CREDENTIALS.secretAccessKey);
  expect(res.text).not.toContain(FAKE_VAST_CREDENTIALS.accessKeyId);
}

describe('SlowDown storms', () => {
  it('a storm longer than the retries ends a flow creation in a clean 503, nothing written, and the next try succeeds', async () => {
    const server = await fakeServer();
    const h = await gatewayOn(server);
    server.failNext({ count: 1000, answer: 'slow_down' });
    const res = await h.request('PUT', `/flows/${FLOW}`, flowBody());
    expectTamsError(res, 503);
    server.clearFaults();
    expect(flowFootprint(server)).toEqual({ flows: 0, sources: 0, flow_guards: 0, outbox: 0 });
    expect((await h.request('PUT', `/flows/${FLOW}`, flowBody())).status).toBe(201);
    expect(flowFootprint(server)).toEqual({ flows: 1, sources: 1, flow_guards: 1, outbox: 2 });
    for (const line of h.auditLines()) expect(JSON.stringify(line)).not.toContain(FAKE_VAST_CREDENTIALS.secretAccessKey);
  });

  it('a short storm on every commit is retried: one flow, one source, two events', async () => {
    const server = await fakeServer();
    const h = await gatewayOn(server);
    server.failNext({ count: 3, answer: 'slow_down', verb: 'transaction', method: 'PUT' });
    expect((await h.request('PUT', `/flows/${FLOW}`, flowBody())).status).toBe(201);
    expect(flowFootprint(server)).toEqual({ flows: 1, sources: 1, flow_guards: 1, outbox: 2 });
  });
});

describe('409 injected mid-transaction', () => {
  for (const [where, fault] of [
    ['an insert', { verb: 'rows', method: 'POST' }],
    ['an update', { verb: 'rows', method: 'PUT' }],
    ['the commit', { verb: 'transaction', method: 'PUT' }],
  ] as const) {
    it(`a 409 at ${where} of a segment registration is rerun once: the segments once, the events once`, async () => {
      const server = await fakeServer();
      const h = await gatewayOn(server);
      expect((await h.request('PUT', `/flows/${FLOW}`, flowBody())).status).toBe(201);
      const before = rows(server, 'outbox').length;
      server.failNext({ count: 1, answer: 'conflict', ...fault });
      expect((await h.request('POST', `/flows/${FLOW}/segments`, [segment('o1', 0), segment('o2', 1)])).status).toBe(201);
      expect(rows(server, 'segments')).toHaveLength(2);
      expect(rows(server, 'objects')).toHaveLength(2);
      expect(rows(server, 'outbox').length - before).toBe(1);
      const guard = rows(server, 'flow_guards')[0];
      expect(guard?.segment_count).toBe(2n);
    });
  }

  it('a 409 storm past the reruns ends a registration in a clean 503 and leaves nothing of it', async () => {
    const server = await fakeServer();
    const h = await gatewayOn(server);
    expect((await h.request('PUT', `/flows/${FLOW}`, flowBody())).status).toBe(201);
    const outbox = rows(server, 'outbox').length;
    server.failNext({ count: 1000, answer: 'conflict', verb: 'transaction', method: 'PUT' });
    const res = await h.request('POST', `/flows/${FLOW}/segments`, [segment('o1', 0)]);
    server.clearFaults();
    expectTamsError(res, 503);
    expect(rows(server, 'segments')).toHaveLength(0);
    expect(rows(server, 'objects')).toHaveLength(0);
    expect(rows(server, 'outbox')).toHaveLength(outbox);
    expect(rows(server, 'flow_guards')[0]?.segment_count).toBe(0n);
    expect((await h.request('POST', `/flows/${FLOW}/segments`, [segment('o1', 0)])).status).toBe(201);
    expect((await h.request('GET', `/flows/${FLOW}/segments`)).body).toHaveLength(1);
  });
});
