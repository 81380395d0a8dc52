/**
 * OpenTelemetry traces: a local HTTP server stands in for the OTLP collector (OTLP/HTTP, JSON)
 * and receives the spans of an HTTP request, a GraphQL operation and their store calls, in
 * one tree per request, continuing a caller's `traceparent`. The gateway runs as its own node
 * process, as in production: the exporter loads node:http by dynamic import, which jest's
 * module sandbox cannot do.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config';
import { startGatewayProcess } from '../ops/support/gateway-process';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

interface OtlpExport {
  resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

/** OTLP's SpanKind numbers. */
const SERVER = 2;
const CLIENT = 3;

function attribute(attributes: OtlpSpan['attributes'], key: string): unknown {
  const value = attributes.find((a) => a.key === key)?.value;
  return value === undefined ? undefined : Object.values(value)[0];
}

describe('OpenTelemetry traces', () => {
  const exports: OtlpExport[] = [];
  const contentTypes: string[] = [];
  let collector: http.Server;
  let endpoint: string;

  beforeAll(async () => {
    collector = http.createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        if (request.method === 'POST' && request.url === '/v1/traces') {
          contentTypes.push(request.headers['content-type'] ?? '');
          exports.push(JSON.parse(body) as OtlpExport);
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => collector.close(resolve));
  });

  it('is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, which must be an http(s) URL', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: `${endpoint}/`, OTEL_SERVICE_NAME: 'svc' }).tracing).toEqual({ endpoint, serviceName: 'svc' });
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('sends spans of HTTP requests, GraphQL operations and store calls to the collector', async () => {
    const gateway = await startGatewayProcess({ TAMS_AUTH: 'off', LOG_LEVEL: 'warn', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'tams-test' });
    const base = `http://127.0.0.1:${gateway.port}`;
    const flow = videoFlow();
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    try {
      const put = await checkedFetch(`${base}/flows/${flow.id as string}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', traceparent: `00-${callerTrace}-${callerSpan}-01` },
        body: JSON.stringify(flow),
      });
      expect(put.status).toBe(201);
      const res = await checkedFetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'query FlowList { flows { nodes { id source { id } } } }' }),
      });
      expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
    } finally {
      // SIGTERM: the shutdown sends the spans still batched.
      await gateway.stop();
    }

    expect(contentTypes.length).toBeGreaterThan(0);
    expect(contentTypes.every((type) => type.startsWith('application/json'))).toBe(true);
    const serviceNames = exports.flatMap((e) => e.resourceSpans.map((r) => attribute(r.resource.attributes, 'service.name')));
    expect(new Set(serviceNames)).toEqual(new Set(['tams-test']));
    const spans = exports.flatMap((e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
    const named = (name: string): OtlpSpan[] => spans.filter((s) => s.name === name);
    const childrenOf = (parent: OtlpSpan): OtlpSpan[] => spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

    const put = named('PUT /flows/:flowId');
    expect(put).toHaveLength(1);
    expect(put[0]).toMatchObject({ kind: SERVER, traceId: callerTrace, parentSpanId: callerSpan });
    expect(attribute(put[0]!.attributes, 'http.response.status_code')).toBe(201);
    expect(attribute(put[0]!.attributes, 'http.route')).toBe('/flows/:flowId');
    const putStore = childrenOf(put[0]!).filter((s) => s.name.startsWith('store '));
    expect(putStore.map((s) => s.name)).toContain('store putFlow');
    expect(putStore.every((s) => s.kind === CLIENT && attribute(s.attributes, 'db.operation.name') === s.name.slice('store '.length))).toBe(true);

    const post = named('POST /graphql');
    expect(post).toHaveLength(1);
    const operation = childrenOf(post[0]!).find((s) => s.name === 'query FlowList');
    expect(operation).toBeDefined();
    expect(attribute(operation!.attributes, 'graphql.operation.name')).toBe('FlowList');
    const graphqlStore = childrenOf(post[0]!).filter((s) => s.name.startsWith('store '));
    expect(graphqlStore.map((s) => s.name)).toEqual(expect.arrayContaining(['store listFlows', 'store getSources']));

    // The outbox poll runs outside any request: no span of its own.
    expect(spans.filter((s) => s.parentSpanId === undefined || s.parentSpanId === '').map((s) => s.name)).toEqual(['POST /graphql']);
  });
});
