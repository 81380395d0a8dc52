/**
 * PostgreSQL going away while the gateway runs: the gateway reaches the database through a TCP
 * proxy on loopback, and the test stops the proxy (dropping every connection), puts a silent
 * listener in its place (a database that accepts and never answers), then starts it again on
 * the same port. Meanwhile REST answers 503 with the TAMS error body, GraphQL answers
 * SERVICE_UNAVAILABLE, both within the connect timeout, and /readyz fails; once the proxy is
 * back, requests succeed again without a restart.
 */
import type { TcpProxy } from '../support/tcp-proxy';
import { describePostgres } from '../support/postgres';
import { startGatewayBehindProxy, type GatewayBehindProxy } from '../support/postgres-behind-proxy';
import type { Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';

const CONNECT_TIMEOUT_MS = 1000;

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describePostgres('PostgreSQL unreachable while the gateway runs', () => {
  let gateway: GatewayBehindProxy | undefined;
  let h: Harness;
  let proxy: TcpProxy;

  beforeAll(async () => {
    gateway = await startGatewayBehindProxy(CONNECT_TIMEOUT_MS);
    ({ h, proxy } = gateway);
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
  }, 30_000);

  it('answers 503 (REST, and GraphQL with SERVICE_UNAVAILABLE) within the connect timeout, fails /readyz, and recovers when the database is back', async () => {
    const flow = videoFlow();
    const flowId = flow.id as string;
    expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    expect((await h.request('GET', '/readyz')).status).toBe(200);

    await proxy.stop();

    for (const [method, path, body] of [['GET', `/flows/${flowId}`], ['GET', '/flows'], ['PUT', `/flows/${flowId}/label`, '"x"']] as const) {
      const started = Date.now();
      const res = await h.request(method, path, body);
      const took = Date.now() - started;
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 503 });
      expect(res.body).toMatchObject({ type: 'ServiceUnavailable', summary: expect.stringMatching(/metadata database/), time: expect.any(String) });
      expect(res.text).not.toMatch(/ECONNREFUSED.*at |node_modules|stack/);
      // A refused connection fails at once; a dropped one within the connect timeout (with room for a slow machine).
      expect(took).toBeLessThan(CONNECT_TIMEOUT_MS + 2000);
    }

    // Three times: Apollo answers the first two (graphql-jit compiles a query on its second run),
    // the prepared-query path the third (the same text).
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const gql = await h.request('POST', '/graphql', { query: '{ flows(first: 1) { nodes { id } } }' });
      expect(Date.now() - started).toBeLessThan(CONNECT_TIMEOUT_MS + 2000);
      expect(gql.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(gql.body.errors?.[0]?.message).toMatch(/metadata database/);
      // Nothing answered: 503 as REST, the GraphQL errors in the body.
      expect(gql.body.data).toBeNull();
      expect(gql.status).toBe(503);
    }
    const mutation = await h.request('POST', '/graphql', { query: `mutation { setFlowLabel(flowId: "${flowId}", label: "x") { id } }` });
    expect(mutation.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(mutation.status).toBe(503);
    // A partial answer (a field that needs no store) keeps 200, with the failed field's error.
    const partial = await h.request('POST', '/graphql', { query: `{ __typename flow(id: "${flowId}") { id } }` });
    expect(partial.status).toBe(200);
    expect(partial.body.data).toEqual({ __typename: 'Query', flow: null });
    expect(partial.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');

    const ready = await h.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'not ready' });
    expect((await h.request('GET', '/livez')).status).toBe(200);

    // A database that accepts connections and never answers: each request waits for the connect timeout, then 503.
    await proxy.start(true);
    const hung = Date.now();
    const slow = await h.request('GET', `/flows/${flowId}`);
    expect(slow.status).toBe(503);
    expect(slow.body.type).toBe('ServiceUnavailable');
    expect(Date.now() - hung).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50);
    expect(Date.now() - hung).toBeLessThan(CONNECT_TIMEOUT_MS + 2000);
    expect((await h.request('GET', '/readyz')).status).toBe(503);
    await proxy.stop();

    await proxy.start();

    const back = await eventually(() => h.request('GET', `/flows/${flowId}`), (r) => r.status === 200, 15_000);
    expect(back.status).toBe(200);
    expect(back.body.id).toBe(flowId);
    expect((await h.request('PUT', `/flows/${flowId}/label`, JSON.stringify('after the outage'))).status).toBe(204);
    expect((await h.request('GET', `/flows/${flowId}/label`)).body).toBe('after the outage');
    expect((await eventually(() => h.request('GET', '/readyz'), (r) => r.status === 200, 15_000)).status).toBe(200);
    const again = await h.request('POST', '/graphql', { query: '{ flows(first: 5) { nodes { id } } }' });
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data.flows.nodes.map((n: { id: string }) => n.id)).toContain(flowId);
  }, 90_000);
});
