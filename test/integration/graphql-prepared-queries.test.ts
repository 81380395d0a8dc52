/**
 * The prepared-query path (src/graphql/execution/prepared-queries.ts) over real HTTP: a query Apollo has
 * run compiled is answered again straight from its compiled form. Every answer, Apollo's on a
 * text's first run, Apollo's compiled (graphql-jit) on its second and the prepared path's on
 * its third, must be byte for byte the reference: the same operation run by plain graphql-js
 * `execute` (from 'graphql', not the gateway's executor) over the gateway's own schema, a
 * context built as the HTTP one is (same services and store, principal, base URL, client
 * address), its errors formatted by the gateway's documented rules (message, locations, path,
 * `extensions.code`; anything without a code masked). Audit lines and metrics are compared
 * between the paths. Cases ask Apollo by sending the operation text with a trailing space (a
 * text it has never seen, so it goes through the whole pipeline) and the prepared path with the
 * text it has, and count what was compiled and what the prepared path served, so a case cannot
 * pass with a path unused.
 */
import { randomUUID } from 'node:crypto';
import { execute, parse, type GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { TamsError } from '../../src/domain/errors';
import type { Principal } from '../../src/domain/principal';
import { createContext } from '../../src/graphql/context';
import { withClientAddress } from '../../src/graphql/access/rate-limit-rules';
import { startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

const ISSUER = 'https://tams.test';
const AUDIENCE = 'tams-gateway';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef0123';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

const WINDOW = `query Window($flowId: ID!, $timerange: TimeRange!, $first: Int) {
  flow(id: $flowId) { id segments(timerange: $timerange, first: $first) { nodes { objectId timerange getUrls { url } } pageInfo { hasNextPage endCursor } } }
}`;

describe('GraphQL prepared queries', () => {
  let h: Harness;
  let admin: string;
  let readerOnlyWrite: string;
  let flowId: string;
  let counter = 0;

  /** A fresh operation text each test, so the first request of a test always goes through Apollo. */
  function fresh(query: string): string {
    counter++;
    return `${query}\n# case ${counter}`;
  }

  async function post(body: unknown, token = admin, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
  }

  const served = (): number => h.gateway.app.graphql.prepared?.served ?? -1;

  const compilations = (): number => h.gateway.app.graphql.compiled?.compilations ?? -1;

  const principals = new Map<string, Principal>();

  /** The principal the gateway makes of `token`, as its `me` field tells it. */
  async function principalOf(token: string): Promise<Principal> {
    let principal = principals.get(token);
    if (principal === undefined) {
      const me = await post({ query: '{ me { subject scopes authClasses method authenticated } }' }, token);
      principal = (JSON.parse(me.text) as { data: { me: Principal } }).data.me;
      principals.set(token, principal);
    }
    return principal;
  }

  /** The TamsError behind a GraphQL error, however deep graphql-js wrapped it. */
  function tamsErrorOf(error: unknown): TamsError | undefined {
    for (let current = error, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
      if (current instanceof TamsError) return current;
      current = (current as { originalError?: unknown }).originalError;
    }
    return undefined;
  }

  /** An execution error as the gateway documents it leaves: message, locations, path, code; a code-less one masked. */
  function formatted(error: GraphQLError): GraphQLFormattedError {
    const where = {
      ...(error.locations === undefined ? {} : { locations: error.locations }),
      ...(error.path === undefined ? {} : { path: error.path }),
    };
    const tams = tamsErrorOf(error);
    const code = tams?.graphqlCode ?? error.extensions.code;
    if (tams?.code === 'internal' || typeof code !== 'string' || code === 'INTERNAL_SERVER_ERROR') {
      return { message: 'Internal server error', ...where, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
    return { message: error.message, ...where, extensions: { code } };
  }

  /**
   * The answer plain graphql-js gives: `execute` from 'graphql' over the schema the gateway
   * serves, with a context made as the HTTP one is (the gateway's services and store, the
   * caller's principal, the base URL and client address of these requests), the result
   * serialised as a JSON response body (errors, then data, and a newline).
   */
  async function reference(body: { query: string; variables?: unknown; operationName?: unknown }, token: string): Promise<Answer> {
    const principal = await principalOf(token);
    const graphql = h.gateway.app.graphql;
    const schema: GraphQLSchema = graphql.compiled!['schema'];
    const inProcess = graphql.contextFor(principal);
    const contextValue = withClientAddress(createContext(inProcess.services, { baseUrl: h.base, principal }, inProcess.limits), '127.0.0.1');
    const result = await execute({
      schema,
      document: parse(body.query),
      contextValue,
      variableValues: (body.variables ?? undefined) as Record<string, unknown> | undefined,
      operationName: (body.operationName ?? undefined) as string | undefined,
    });
    const errors = result.errors?.map(formatted);
    return { status: 200, contentType: 'application/json; charset=utf-8', text: `${JSON.stringify({ errors, data: result.data })}\n` };
  }

  /**
   * Sends `body` three times: Apollo answers the first on graphql-js execution inside the
   * gateway's executor (a text's first run is never compiled), the second compiled by
   * graphql-jit (and prepares the text), the prepared path the third. Each must be, byte for
   * byte, the answer of plain graphql-js (`reference`).
   */
  async function bothWays(body: { query: string; [key: string]: unknown }, token = admin): Promise<{ apollo: Answer; prepared: Answer }> {
    const before = served();
    const compiledBefore = compilations();
    const apollo = await post(body, token);
    expect(compilations()).toBe(compiledBefore);
    const compiled = await post(body, token);
    expect(compilations()).toBe(compiledBefore + 1);
    expect(served()).toBe(before);
    const prepared = await post(body, token);
    expect(served()).toBe(before + 1);
    const expected = await reference(body, token);
    expect({ firstRun: apollo, compiled, prepared }).toEqual({ firstRun: expected, compiled: expected, prepared: expected });
    return { apollo, prepared };
  }

  async function operationCount(labels: Record<string, string>): Promise<number> {
    const metric = await h.gateway.metrics!.graphqlOperationDuration.get();
    const sample = metric.values.find(
      (v) => v.metricName === 'tams_graphql_operation_duration_seconds_count' && Object.entries(labels).every(([k, value]) => (v.labels as Record<string, unknown>)[k] === value),
    );
    return sample?.value ?? 0;
  }

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, METRICS_TOKEN });
    const tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    admin = await tokens.sign();
    readerOnlyWrite = await tokens.sign({ scope: 'tams-api/write' });
    const flow = videoFlow();
    flowId = flow.id as string;
    expect((await h.request('PUT', `/flows/${flowId}`, flow, { authorization: `Bearer ${admin}` })).status).toBe(201);
    const alloc = await h.request('POST', `/flows/${flowId}/storage`, { limit: 5 }, { authorization: `Bearer ${admin}` });
    expect(alloc.status).toBe(201);
    const segments = (alloc.body.media_objects as { object_id: string }[]).map((m, i) => ({ object_id: m.object_id, timerange: `[${i}:0_${i + 1}:0)` }));
    expect((await h.request('POST', `/flows/${flowId}/segments`, segments, { authorization: `Bearer ${admin}` })).status).toBe(201);
  });

  afterAll(async () => {
    await h.close();
  });

  it('answers a repeated query byte for byte as plain graphql-js does, with other variables too', async () => {
    const query = fresh(WINDOW);
    const { apollo, prepared } = await bothWays({ query, variables: { flowId, timerange: '[0:0_3:0)', first: 2 } });
    expect(apollo.status).toBe(200);
    expect(JSON.parse(apollo.text).data.flow.segments.nodes).toHaveLength(2);
    expect(prepared).toEqual(apollo);

    // Other variables: the prepared text against a text Apollo has not seen.
    const variables = { flowId, timerange: '[1:0_5:0)', first: 3 };
    const before = served();
    const viaApollo = await post({ query: `${query} `, variables });
    const viaPrepared = await post({ query, variables });
    expect(served()).toBe(before + 1);
    const expected = await reference({ query, variables }, admin);
    expect({ viaApollo, viaPrepared }).toEqual({ viaApollo: expected, viaPrepared: expected });
    expect(JSON.parse(viaPrepared.text).data.flow.segments.pageInfo.hasNextPage).toBe(true);
  });

  it('answers null for an unknown flow, and a resolver error (a bad cursor) as Apollo formats it', async () => {
    const unknown = await bothWays({ query: fresh(WINDOW), variables: { flowId: randomUUID(), timerange: '_' } });
    expect(JSON.parse(unknown.apollo.text)).toEqual({ data: { flow: null } });
    expect(unknown.prepared).toEqual(unknown.apollo);

    const cursorQuery = fresh('query($f: ID!, $a: String) { flow(id: $f) { segments(first: 1, after: $a) { nodes { objectId } } } }');
    const bad = await bothWays({ query: cursorQuery, variables: { f: flowId, a: 'not-a-cursor' } });
    expect(JSON.parse(bad.apollo.text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(bad.prepared).toEqual(bad.apollo);
  });

  it('answers a denial as Apollo does, and writes the same audit line', async () => {
    const query = fresh('query($f: ID!) { flow(id: $f) { id label } }');
    const before = h.auditLines().length;
    const { apollo, prepared } = await bothWays({ query, variables: { f: flowId } }, readerOnlyWrite);
    expect(JSON.parse(apollo.text).errors[0].extensions.code).toBe('FORBIDDEN');
    expect(prepared).toEqual(apollo);
    const written = h.auditLines().slice(before);
    expect(written).toHaveLength(3);
    const strip = ({ time: _time, requestId: _requestId, ...rest }: Json): Json => rest;
    expect(written[0]).toMatchObject({ event: 'denied', action: 'graphql.flow', error: 'FORBIDDEN', route: '/graphql' });
    expect(strip(written[1])).toEqual(strip(written[0]));
    expect(strip(written[2])).toEqual(strip(written[0]));
  });

  it('counts prepared operations in the operation metrics as Apollo does', async () => {
    const query = fresh(WINDOW.replace('query Window', 'query MeteredWindow'));
    const labels = { operation: 'MeteredWindow', type: 'query', outcome: 'ok' };
    expect(await operationCount(labels)).toBe(0);
    await bothWays({ query, variables: { flowId, timerange: '_', first: 1 } });
    expect(await operationCount(labels)).toBe(3);
  });

  it('leaves to Apollo variables the compiled query refuses, and variables over a limit', async () => {
    const query = fresh(WINDOW);
    await bothWays({ query, variables: { flowId, timerange: '_', first: 1 } });
    const before = served();

    const refused = await post({ query, variables: { flowId, timerange: 'garbage', first: 1 } });
    const refusedByApollo = await post({ query: `${query} `, variables: { flowId, timerange: 'garbage', first: 1 } });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(refused).toEqual(refusedByApollo);

    const tooMany = await post({ query, variables: { flowId, timerange: '_', first: 1_000_000 } });
    expect(tooMany.status).toBe(400);
    expect(JSON.parse(tooMany.text).errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(served()).toBe(before);
  });

  it('leaves to Apollo what it does not prepare: other Accept types, GET, persisted-query extensions, mutations', async () => {
    const query = fresh('query($f: ID!) { flow(id: $f) { id } }');
    await bothWays({ query, variables: { f: flowId } });
    const before = served();

    const graphqlResponse = await post({ query, variables: { f: flowId } }, admin, { accept: 'application/graphql-response+json' });
    expect(graphqlResponse.contentType).toBe('application/graphql-response+json; charset=utf-8');
    const get = await checkedFetch(`${h.base}/graphql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify({ f: flowId }))}`, {
      headers: { authorization: `Bearer ${admin}`, 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(200);
    const withExtensions = await post({ query, variables: { f: flowId }, extensions: {} });
    expect(withExtensions.status).toBe(200);

    const mutation = fresh('mutation($f: ID!, $l: String!) { setFlowLabel(flowId: $f, label: $l) { id label } }');
    for (const label of ['one', 'two']) {
      const answer = await post({ query: mutation, variables: { f: flowId, l: label } });
      expect(JSON.parse(answer.text).data.setFlowLabel.label).toBe(label);
    }
    expect(served()).toBe(before);
  });

  it('leaves malformed bodies around a prepared text to Apollo: a clear 400, nothing run', async () => {
    const query = fresh('query($f: ID!) { flow(id: $f) { id } }');
    await bothWays({ query, variables: { f: flowId } });
    const before = served();
    const auditBefore = h.auditLines().length;
    for (const body of [
      { query, variables: 'f' },
      { query, variables: [flowId] },
      { query, variables: { f: flowId }, operationName: 42 },
      { query, variables: { f: flowId }, extensions: 'x' },
      [{ query, variables: { f: flowId } }],
    ]) {
      const answer = await post(body);
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(JSON.parse(answer.text).errors[0].extensions.code).toEqual(expect.any(String));
    }
    const garbage = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: `{"query": ${JSON.stringify(query)}, "variables": {`,
    });
    expect(garbage.status).toBe(400);
    expect(served()).toBe(before);
    expect(h.auditLines().length).toBe(auditBefore);
    // The flow is untouched.
    const flow = await h.request('GET', `/flows/${flowId}`, undefined, { authorization: `Bearer ${admin}` });
    expect(flow.status).toBe(200);
  });

  it('tells operations apart by name: no name, an empty name, and each operation of a document', async () => {
    const single = fresh('query($f: ID!) { flow(id: $f) { id } }');
    await bothWays({ query: single, variables: { f: flowId } });
    const before = served();
    // graphql-js refuses an empty name; the text prepared without a name must not answer it.
    const emptyName = await post({ query: single, variables: { f: flowId }, operationName: '' });
    expect(JSON.parse(emptyName.text).errors[0].message).toMatch(/Unknown operation named ""/);
    expect(served()).toBe(before);

    const two = fresh('query A($f: ID!) { flow(id: $f) { id } } query B($f: ID!) { flow(id: $f) { label } }');
    const a = await bothWays({ query: two, variables: { f: flowId }, operationName: 'A' });
    expect(JSON.parse(a.prepared.text)).toEqual({ data: { flow: { id: flowId } } });
    const b = await bothWays({ query: two, variables: { f: flowId }, operationName: 'B' });
    expect(Object.keys(JSON.parse(b.prepared.text).data.flow)).toEqual(['label']);
    expect(b.prepared).toEqual(b.apollo);
  });

  it('is off with GRAPHQL_PREPARED_QUERIES=false', async () => {
    const off = await startHarness({ GRAPHQL_PREPARED_QUERIES: 'false' });
    try {
      expect(off.gateway.app.graphql.prepared).toBeUndefined();
      for (let i = 0; i < 2; i++) {
        const res = await checkedFetch(`${off.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ flows(first: 1) { nodes { id } } }' }) });
        expect(res.status).toBe(200);
      }
    } finally {
      await off.close();
    }
  });
});
