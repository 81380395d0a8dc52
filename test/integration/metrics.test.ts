/**
 * /metrics: where it is served (API port with METRICS_TOKEN, its own port with METRICS_PORT,
 * nowhere by default), that it bypasses TAMS authentication but not its own token, and that
 * each metric family moves when its part of the gateway works.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { ConfigError, loadConfig } from '../../src/config';
import { startHarness, Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

const TOKEN = 'metrics-token-0123456789abcdef';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` carrying `labels` (others may have more labels), or undefined. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrape(url: string, token = TOKEN): Promise<Sample[]> {
  const res = await checkedFetch(url, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

async function graphql(h: Harness, query: string, variables: Record<string, unknown> = {}): Promise<{ data?: unknown; errors?: unknown[] }> {
  const res = await checkedFetch(`${h.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: unknown; errors?: unknown[] };
}

describe('metrics configuration', () => {
  it('refuses a short METRICS_TOKEN and a METRICS_PORT equal to PORT', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_TOKEN: 'has a space in it, 0123456789' })).toThrow(/METRICS_TOKEN/);
    expect(() => loadConfig({ PORT: '8000', METRICS_PORT: '8000' })).toThrow(/METRICS_PORT/);
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_TOKEN: TOKEN }).metrics).toEqual({ port: 9464, token: TOKEN });
    expect(loadConfig({}).metrics).toEqual({ port: undefined, token: undefined });
  });
});

describe('/metrics exposure', () => {
  it('is not served, and nothing is collected, without METRICS_TOKEN or METRICS_PORT', async () => {
    const h = await startHarness();
    try {
      expect(h.gateway.metrics).toBeUndefined();
      expect(h.gateway.metricsPort).toBeUndefined();
      expect((await checkedFetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    } finally {
      await h.close();
    }
  });

  it('on the API port asks for METRICS_TOKEN, not TAMS credentials (auth on)', async () => {
    const h = await startHarness({ TAMS_AUTH: 'on', METRICS_TOKEN: TOKEN });
    try {
      expect((await checkedFetch(`${h.base}/flows`)).status).toBe(401);
      const anonymous = await checkedFetch(`${h.base}/metrics`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await anonymous.json()).toMatchObject({ type: 'Unauthorized' });
      expect((await checkedFetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
      expect((await checkedFetch(`${h.base}/metrics`, { headers: { authorization: `Basic ${TOKEN}` } })).status).toBe(401);
      const samples = await scrape(`${h.base}/metrics`);
      // The refused /flows request was counted, by its route.
      expect(valueOf(samples, 'tams_http_requests_total', { method: 'GET', route: '/flows', status_code: '401' })).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('with METRICS_PORT is served on its own listener only (with the token, when set)', async () => {
    const h = await startHarness({ METRICS_PORT: '0', METRICS_TOKEN: TOKEN });
    try {
      const port = h.gateway.metricsPort;
      expect(port).toEqual(expect.any(Number));
      expect((await checkedFetch(`${h.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      const own = `http://127.0.0.1:${port as number}`;
      expect((await checkedFetch(`${own}/metrics`)).status).toBe(401);
      expect((await checkedFetch(`${own}/flows`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      await h.request('GET', '/service');
      const samples = await scrape(`${own}/metrics`);
      expect(valueOf(samples, 'tams_http_requests_total', { method: 'GET', route: '/service', status_code: '200' })).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('with METRICS_PORT and no token is open on that port', async () => {
    const h = await startHarness({ METRICS_PORT: '0' });
    try {
      const res = await checkedFetch(`http://127.0.0.1:${h.gateway.metricsPort as number}/metrics`);
      expect(res.status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe('metric families', () => {
  let h: Harness;
  let samples: Sample[];
  const flow = videoFlow();

  beforeAll(async () => {
    h = await startHarness({ METRICS_TOKEN: TOKEN });
    const ws = createClient({ url: `${h.base.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const delivered = new Promise<void>((resolve, reject) => {
        ws.subscribe({ query: 'subscription { flowCreated { id } }' }, { next: () => resolve(), error: reject, complete: () => undefined });
      });
      for (let tries = 0; valueOf(await scrape(`${h.base}/metrics`), 'tams_graphql_subscriptions') !== 1; tries++) {
        if (tries > 100) throw new Error('the subscription never opened');
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      await delivered;
    } finally {
      await ws.dispose();
    }
    expect((await h.request('GET', `/flows/${randomUUID()}`)).status).toBe(404);
    expect((await checkedFetch(`${h.base}/no/such/${randomUUID()}`)).status).toBe(404);
    expect((await graphql(h, 'query FlowList { flows { nodes { id source { id } } } }')).errors).toBeUndefined();
    expect((await graphql(h, '{ flows { nodes { nope } } }')).errors).toBeDefined();
    await h.gateway.events.flush();
    samples = await scrape(`${h.base}/metrics`);
  });

  afterAll(async () => {
    await h.close();
  });

  it('counts HTTP requests by route pattern and status, never by URL', () => {
    expect(valueOf(samples, 'tams_http_requests_total', { method: 'PUT', route: '/flows/:flowId', status_code: '201' })).toBe(1);
    expect(valueOf(samples, 'tams_http_requests_total', { method: 'GET', route: '/flows/:flowId', status_code: '404' })).toBe(1);
    expect(valueOf(samples, 'tams_http_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    expect(valueOf(samples, 'tams_http_request_duration_seconds_count', { method: 'PUT', route: '/flows/:flowId' })).toBe(1);
    expect(samples.some((s) => Object.values(s.labels).some((v) => v.includes(flow.id as string)))).toBe(false);
  });

  it('times GraphQL operations by name, type and outcome', () => {
    expect(valueOf(samples, 'tams_graphql_operation_duration_seconds_count', { operation: 'FlowList', type: 'query', outcome: 'ok' })).toBe(1);
    expect(valueOf(samples, 'tams_graphql_operation_duration_seconds_count', { operation: 'anonymous', outcome: 'error' })).toBe(1);
  });

  it('times store calls by method and counts DataLoader batch sizes', () => {
    expect(valueOf(samples, 'tams_store_call_duration_seconds_count', { method: 'putFlow', outcome: 'ok' })).toBe(1);
    expect(valueOf(samples, 'tams_store_call_duration_seconds_count', { method: 'getFlow', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'tams_dataloader_batch_size_count', { loader: 'sources' })).toBe(1);
    expect(valueOf(samples, 'tams_dataloader_batch_size_sum', { loader: 'sources' })).toBe(1);
  });

  it('measures the outbox lag and counts open subscriptions (1 while open, above; 0 once closed)', () => {
    // flows/created and sources/created.
    expect(valueOf(samples, 'tams_outbox_lag_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'tams_graphql_subscriptions')).toBe(0);
  });

  it('exports the process metrics', async () => {
    const now = await scrape(`${h.base}/metrics`);
    expect(valueOf(now, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(now, 'nodejs_eventloop_lag_seconds')).toEqual(expect.any(Number));
  });

  it('moves each family by exactly the requests sent between two scrapes', async () => {
    const before = await scrape(`${h.base}/metrics`);
    for (let i = 0; i < 3; i++) expect((await h.request('GET', '/service')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await h.request('GET', `/flows/${randomUUID()}`)).status).toBe(404);
    for (let i = 0; i < 2; i++) expect((await graphql(h, 'query ServiceName { service { name } }')).errors).toBeUndefined();
    expect((await graphql(h, 'query Broken { service { nope } }')).errors).toBeDefined();
    const after = await scrape(`${h.base}/metrics`);
    const delta = (name: string, labels: Record<string, string>): number => (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);

    expect({
      service200: delta('tams_http_requests_total', { method: 'GET', route: '/service', status_code: '200' }),
      serviceTimed: delta('tams_http_request_duration_seconds_count', { method: 'GET', route: '/service' }),
      flow404: delta('tams_http_requests_total', { method: 'GET', route: '/flows/:flowId', status_code: '404' }),
      flowTimed: delta('tams_http_request_duration_seconds_count', { method: 'GET', route: '/flows/:flowId' }),
      // Three operations over POST /graphql, all answered 200 (a validation error too: Apollo's 400 is for the whole request).
      graphqlRequests: delta('tams_http_requests_total', { method: 'POST', route: '/graphql', status_code: '200' }) + delta('tams_http_requests_total', { method: 'POST', route: '/graphql', status_code: '400' }),
      namedOk: delta('tams_graphql_operation_duration_seconds_count', { operation: 'ServiceName', type: 'query', outcome: 'ok' }),
      // An operation that never resolved (a validation error) has no name or type yet.
      brokenError: delta('tams_graphql_operation_duration_seconds_count', { operation: 'anonymous', type: 'unknown', outcome: 'error' }),
      // The scrape before this one is counted once it is answered.
      scrapes: delta('tams_http_requests_total', { method: 'GET', route: '/metrics', status_code: '200' }),
    }).toEqual({ service200: 3, serviceTimed: 3, flow404: 2, flowTimed: 2, graphqlRequests: 3, namedOk: 2, brokenError: 1, scrapes: 1 });
    // Each 404 read the store for the flow it asked for.
    expect(delta('tams_store_call_duration_seconds_count', { method: 'getFlow', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    // The bucket counts of a histogram add up to its count.
    const inf = delta('tams_http_request_duration_seconds_bucket', { method: 'GET', route: '/service', le: '+Inf' });
    expect(inf).toBe(3);
  });
});

describe('rate-limit rejections in the metrics (limits lowered, rejections counted as the clients saw them)', () => {
  let h: Harness;

  beforeAll(async () => {
    // Per client address (authentication is off): 4 REST reads, 2 GraphQL list fields, and
    // GraphQL operations worth 20 cost units a minute.
    h = await startHarness({
      METRICS_TOKEN: TOKEN,
      RATE_LIMIT_WINDOW_SEC: '60',
      RATE_LIMIT_READ_PER_MINUTE: '4',
      RATE_LIMIT_GRAPHQL_LISTS_PER_MINUTE: '2',
      RATE_LIMIT_GRAPHQL_COST_PER_MINUTE: '20',
    });
  });

  afterAll(async () => {
    await h.close();
  });

  const rejections = (samples: Sample[], edge: string, rule: string): number => valueOf(samples, 'tams_rate_limit_rejections_total', { edge, rule }) ?? 0;

  it('counts each REST read the read limit refused, and nothing else', async () => {
    const before = await scrape(`${h.base}/metrics`);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await h.request('GET', '/flows')).status);
    const after = await scrape(`${h.base}/metrics`);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429]);
    expect(rejections(after, 'rest', 'read') - rejections(before, 'rest', 'read')).toBe(3);
    expect(rejections(after, 'rest', 'write') - rejections(before, 'rest', 'write')).toBe(0);
    const refusedAnswers = (valueOf(after, 'tams_http_requests_total', { method: 'GET', route: '/flows', status_code: '429' }) ?? 0) -
      (valueOf(before, 'tams_http_requests_total', { method: 'GET', route: '/flows', status_code: '429' }) ?? 0);
    expect(refusedAnswers).toBe(3);
  });

  it('counts each GraphQL list field the list limit refused, then each operation the cost limit refused, by rule', async () => {
    const codes = async (query: string): Promise<unknown[]> =>
      ((await graphql(h, query)).errors ?? []).map((e) => (e as { extensions?: { code?: unknown } }).extensions?.code);
    const delta = (a: Sample[], b: Sample[], rule: string): number => rejections(b, 'graphql', rule) - rejections(a, 'graphql', rule);

    // Cost 3 each (one flow, its nodes, its id): 9 of the 20 cost units; the third list field is one too many.
    // Three texts, so each goes through Apollo's whole pipeline (the third run of one text
    // would be served by the prepared-query path).
    const before = await scrape(`${h.base}/metrics`);
    const list = (n: number): string => `{ flows(first: 1) { nodes { id } } } # ${n}`;
    const listed = [await codes(list(1)), await codes(list(2)), await codes(list(3))];
    const middle = await scrape(`${h.base}/metrics`);
    expect(listed).toEqual([[], [], ['RATE_LIMITED']]);
    expect({ list: delta(before, middle, 'graphql_list'), cost: delta(before, middle, 'graphql_cost') }).toEqual({ list: 1, cost: 0 });

    // Cost 30 (ten flows) takes the window past 20: refused whole, before any field (no list field is counted).
    const costly = '{ flows(first: 10) { nodes { id } } }';
    expect(await codes(costly)).toEqual(['RATE_LIMITED']);
    expect(await codes('{ service { name } }')).toEqual(['RATE_LIMITED']);
    const after = await scrape(`${h.base}/metrics`);
    expect({ list: delta(middle, after, 'graphql_list'), cost: delta(middle, after, 'graphql_cost') }).toEqual({ list: 0, cost: 2 });
  });
});
