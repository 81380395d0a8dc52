/**
 * Hostile GraphQL operations over real HTTP (POST and GET) and a real graphql-ws WebSocket,
 * against a gateway with the product's default limits (depth 15, cost 200,000, 30 aliases,
 * 50 directives, 5000 tokens, 100,000 characters, page size 1000).
 *
 * Each shape must get its documented answer (status and `extensions.code`), and a refused one
 * must have been stopped by the operation guard before anything else ran: graphql-jit's
 * `CompiledQueries.get` (called for every query that reaches execution) is never called, no
 * store read happens, Apollo's HTTP pipeline is never entered (`executeHTTPGraphQLRequest`), the
 * prepared-query path serves nothing and nothing is compiled. graphql-js `validate` cannot be spied
 * on (its module exports are getters), so "not validated" is shown by Apollo never being called
 * over HTTP, and by no store read over WebSocket (validation comes before execution there).
 * After each shape the server must still answer a normal query with 200.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import WebSocket from 'ws';
import { type Client, createClient } from 'graphql-ws';
import { type GraphQLFormattedError, getIntrospectionQuery, getOperationAST, parse } from 'graphql';
import { startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { MAX_COMPILED_FIELDS_PER_QUERY, operationKey } from '../../src/graphql/execution/jit-executor';
import { estimateCompiledFields } from '../../src/graphql/execution/compile-estimate';
import { checkedFetch } from '../support/checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

/** A stalled request fails its test instead of hanging it. */
const REQUEST_TIMEOUT_MS = 10_000;

interface Answer {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

interface Operation {
  query?: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  extensions?: Record<string, unknown>;
}

async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** POSTs `body` (any JSON value: an operation, or a batch array) to /graphql. */
async function post(h: Harness, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await checkedFetch(`${h.base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return answerOf(res);
}

/** The same operation as a GET (variables and extensions as JSON text), with Apollo's CSRF preflight header. */
async function get(h: Harness, operation: Operation, headers: Record<string, string> = {}): Promise<Answer> {
  const params = new URLSearchParams();
  if (operation.query !== undefined) params.set('query', operation.query);
  if (operation.operationName !== undefined) params.set('operationName', operation.operationName);
  if (operation.variables !== undefined) params.set('variables', JSON.stringify(operation.variables));
  if (operation.extensions !== undefined) params.set('extensions', JSON.stringify(operation.extensions));
  const res = await checkedFetch(`${h.base}/graphql?${params.toString()}`, {
    headers: { 'apollo-require-preflight': 'true', ...headers },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return answerOf(res);
}

function codeOf(answer: Answer): unknown {
  return answer.body?.errors?.[0]?.extensions?.code;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The store reads any query or subscription could reach (src/ports/metadata-store.ts). */
const STORE_READS = [
  'getServiceInfo',
  'getSource',
  'listSources',
  'getFlow',
  'listFlows',
  'getSources',
  'getFlows',
  'getObjects',
  'listFlowsBatch',
  'listSegmentsBatch',
  'getFlowTimerange',
  'countSegments',
  'listSegments',
  'listSegmentTexts',
  'getObject',
  'getProfile',
  'listProfiles',
  'getWebhook',
  'listWebhooks',
  'getDeletionRequest',
  'listDeletionRequests',
] as const;

/** What ran between two snapshots of a {@link Watch}. */
interface Ran {
  /** Store reads called (names, once each). */
  store: string[];
  /** Calls of CompiledQueries.get: executions of queries over HTTP. */
  executed: number;
  /** Calls of Apollo's HTTP pipeline. */
  apollo: number;
  /** Operations graphql-jit compiled. */
  compilations: number;
  /** Operations the prepared-query path answered. */
  served: number;
  /** Texts the operation guard parsed. */
  parses: number;
}

type Snapshot = Omit<Ran, 'store'> & { store: Record<string, number> };

/**
 * Spies, for a whole suite, on what a request may set going: the store reads, graphql-jit's
 * `get`, Apollo's HTTP pipeline, and the guard's, compiler's and prepared path's counters.
 * Cases compare snapshots, so one spy per method lives for the suite (a spy on a spy would be
 * lost when either is restored), and `compiledSources` keeps every text `get` was called with.
 * The store is spied on the SQLite store itself: these harnesses have no METRICS_TOKEN, so the
 * services call it directly (an instrumented store would have bound the methods already).
 */
class Watch {
  private readonly storeSpies = new Map<string, jest.SpyInstance>();
  private readonly compileGet: jest.SpyInstance;
  private readonly apollo: jest.SpyInstance;

  constructor(private readonly h: Harness) {
    for (const name of STORE_READS) this.storeSpies.set(name, jest.spyOn(h.gateway.store, name));
    this.compileGet = jest.spyOn(h.gateway.app.graphql.compiled!, 'get');
    this.apollo = jest.spyOn(h.gateway.app.graphql.server!, 'executeHTTPGraphQLRequest');
  }

  snapshot(): Snapshot {
    const graphql = this.h.gateway.app.graphql;
    return {
      store: Object.fromEntries([...this.storeSpies].map(([name, spy]) => [name, spy.mock.calls.length])),
      executed: this.compileGet.mock.calls.length,
      apollo: this.apollo.mock.calls.length,
      compilations: graphql.compiled!.compilations,
      served: graphql.prepared?.served ?? 0,
      parses: graphql.guard!.parses,
    };
  }

  since(before: Snapshot): Ran {
    const now = this.snapshot();
    return {
      store: Object.keys(now.store).filter((name) => now.store[name] !== before.store[name]),
      executed: now.executed - before.executed,
      apollo: now.apollo - before.apollo,
      compilations: now.compilations - before.compilations,
      served: now.served - before.served,
      parses: now.parses - before.parses,
    };
  }

  /** Every operation text CompiledQueries.get was called with so far. */
  compiledSources(): string[] {
    return this.compileGet.mock.calls.map((call: unknown[]) => call[0] as string);
  }

  restore(): void {
    for (const spy of this.storeSpies.values()) spy.mockRestore();
    this.compileGet.mockRestore();
    this.apollo.mockRestore();
  }
}

/** Nothing past the guard ran: the shape every refusal before Apollo must have. */
const NOTHING_RAN = { store: [], executed: 0, apollo: 0, compilations: 0, served: 0 };

interface Seeded {
  /** Both video flows, on one source. */
  videoIds: string[];
  audioId: string;
  allIds: string[];
  sourceOfVideo: string;
}

/** Two video flows on one source, an audio flow on another, three segments on the first video flow (REST). */
async function seed(h: Harness, headers: Record<string, string> = {}): Promise<Seeded> {
  const sourceOfVideo = randomUUID();
  const videos = [videoFlow({ source_id: sourceOfVideo, label: 'camera 1' }), videoFlow({ source_id: sourceOfVideo, label: 'camera 2' })];
  const audio = audioFlow();
  for (const flow of [...videos, audio]) {
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow, headers)).status).toBe(201);
  }
  const first = videos[0]!.id as string;
  const alloc = await h.request('POST', `/flows/${first}/storage`, { limit: 3 }, headers);
  expect(alloc.status).toBe(201);
  const segments = (alloc.body.media_objects as { object_id: string }[]).map((m, i) => ({ object_id: m.object_id, timerange: `[${i}:0_${i + 1}:0)` }));
  expect((await h.request('POST', `/flows/${first}/segments`, segments, headers)).status).toBe(201);
  const videoIds = videos.map((f) => f.id as string);
  return { videoIds, audioId: audio.id as string, allIds: [...videoIds, audio.id as string], sourceOfVideo };
}

/** A normal query and a flows listing still answer 200 with data. */
async function expectServing(h: Harness, seeded: Seeded, headers: Record<string, string> = {}): Promise<void> {
  const service = await post(h, { query: '{ service { name } }' }, headers);
  expect({ status: service.status, errors: service.body?.errors }).toEqual({ status: 200, errors: undefined });
  expect(typeof service.body.data.service.name).toBe('string');
  const flows = await post(h, { query: '{ flows(first: 100) { nodes { id } } }' }, headers);
  expect({ status: flows.status, errors: flows.body?.errors }).toEqual({ status: 200, errors: undefined });
  const ids = (flows.body.data.flows.nodes as { id: string }[]).map((n) => n.id);
  expect(ids).toEqual(expect.arrayContaining(seeded.allIds));
}

// ---------------------------------------------------------------------------------------------
// The hostile shapes (numbers follow the issue's list).
// ---------------------------------------------------------------------------------------------

/** 1. flows -> nodes -> source eight times, then flows -> nodes -> id: depth 27. */
const DEPTH_27 = `{ ${'flows(first: 1) { nodes { source { '.repeat(8)}flows(first: 1) { nodes { id } }${' } } }'.repeat(8)} }`;

/** 2. Twelve fragments, each spreading the one before three times (twice one level down): exponential and deep. */
function fragmentTower(root: string): string {
  const fragments = ['fragment F0 on Flow { id label }'];
  for (let k = 1; k <= 11; k++) fragments.push(`fragment F${k} on Flow { ...F${k - 1} source { flows(first: 1) { nodes { ...F${k - 1} ...F${k - 1} } } } }`);
  return `${root} ${fragments.join(' ')}`;
}
const FRAGMENT_TOWER = fragmentTower('{ flows(first: 1) { nodes { ...F11 } } }');

/** 2b. The same growth without nesting (depth 3): F_k = three spreads of F_(k-1); `id` 3^12 times in one selection set. */
function flatTower(root: string): string {
  const fragments = ['fragment F0 on Flow { id }'];
  for (let k = 1; k <= 12; k++) fragments.push(`fragment F${k} on Flow { ...F${k - 1} ...F${k - 1} ...F${k - 1} }`);
  return `${root} ${fragments.join(' ')}`;
}
const FLAT_TOWER = flatTower('{ flows(first: 1) { nodes { ...F12 } } }');

/** 3. 1000 flows x 1000 segments: cost 3,002,000. */
const PAGES_BY_DEFAULT = 'query($f: Int = 1000) { flows(first: $f) { nodes { segments(first: $f) { nodes { objectId } } } } }';
const PAGES_BY_VARIABLE = 'query($f: Int) { flows(first: $f) { nodes { segments(first: $f) { nodes { objectId } } } } }';
const PAGES_LITERAL = '{ flows(first: 1000) { nodes { segments(first: 1000) { nodes { objectId } } } } }';

const FLOW_TYPES = ['VideoFlow', 'AudioFlow', 'ImageFlow', 'DataFlow', 'MultiFlow'];

/**
 * 4. An inline fragment on each of the five Flow implementations at every level, each going
 * source -> flows -> nodes again, `levels` times. Four levels make depth 2 + 3 x 4 + 1 = 15 (the
 * limit) and about 6,200 estimated compiled fields (5 x (4 + ...) per level). Written out, each
 * level repeats the one below five times: four levels are over 10,000 tokens.
 */
function fanOutInline(levels: number): string {
  let inner = 'id';
  for (let k = 0; k < levels; k++) {
    const below = inner;
    inner = FLOW_TYPES.map((type) => `... on ${type} { id source { flows(first: 1) { nodes { ${below} } } } }`).join(' ');
  }
  return `{ flows(first: 1) { nodes { ${inner} } } }`;
}

/** The same fan-out in about 400 tokens: one named fragment per level holds the five inline fragments. */
function fanOut(levels: number): string {
  const fragments = ['fragment L0 on Flow { id }'];
  for (let k = 1; k <= levels; k++) {
    const inline = FLOW_TYPES.map((type) => `... on ${type} { id source { flows(first: 1) { nodes { ...L${k - 1} } } } }`).join(' ');
    fragments.push(`fragment L${k} on Flow { ${inline} }`);
  }
  return `{ flows(first: 1) { nodes { ...L${levels} } } } ${fragments.join(' ')}`;
}
const SMALL_FAN_OUT = `{ flows(first: 10) { nodes { __typename ${FLOW_TYPES.map((type) => `... on ${type} { id label }`).join(' ')} ... on VideoFlow { frameWidth } ... on AudioFlow { sampleRate } } } }`;

/** 5. Introspection nested through fields and types. */
const DEEP_INTROSPECTION_4 = '{ __type(name: "Query") { fields { type { fields { type { fields { type { fields { name } } } } } } } } }';
const DEEP_INTROSPECTION_5 = '{ __type(name: "Query") { fields { type { fields { type { fields { type { fields { type { fields { name } } } } } } } } } } }';

/** 6. Aliases of a list field. */
function aliases(count: number, first: number): string {
  return `{ ${range(count)
    .map((i) => `a${i}: flows(first: ${first}) { nodes { id } }`)
    .join(' ')} }`;
}

/** 9. `count` directives on `name` of service, two per copy (@include then @skip, never the same one twice on a field). */
function stackedDirectives(count: number): string {
  const pairs = Math.floor(count / 2);
  const copies = range(pairs).map(() => 'name @include(if: true) @skip(if: false)');
  if (count % 2 === 1) copies.push('name @include(if: true)');
  return `{ service { ${copies.join(' ')} } }`;
}

/** 10. One megabyte in a string literal. */
const MEGABYTE_LITERAL = `{ flow(id: "${'x'.repeat(1_000_000)}") { id } }`;
/** 10. A literal under the body limit (512 KiB) but over GRAPHQL_MAX_CHARACTERS (100,000). */
const LONG_LITERAL = `{ flow(id: "${'x'.repeat(200_000)}") { id } }`;

/** 12. One field 3000 times, unaliased. */
const SAME_FIELD_3000 = `{ service { ${'name '.repeat(3000)}} }`;

describe('hostile GraphQL operations (default limits)', () => {
  let h: Harness;
  let watch: Watch;
  let seeded: Seeded;
  /** Every operation text the gateway refused: none may ever reach graphql-jit (16). */
  const refusedTexts = new Set<string>();

  beforeAll(async () => {
    h = await startHarness();
    seeded = await seed(h);
    watch = new Watch(h);
  });

  afterAll(async () => {
    watch.restore();
    await h.close();
  });

  /**
   * Sends an operation and checks the refusal: `status`, `code`, no data, and nothing past the
   * guard ran. Then the server must still answer normal queries.
   */
  async function expectRefused(send: () => Promise<Answer>, code: string, text: string | undefined, status = 400): Promise<{ answer: Answer; ran: Ran }> {
    const before = watch.snapshot();
    const answer = await send();
    const ran = watch.since(before);
    expect({ status: answer.status, code: codeOf(answer), data: answer.body?.data, errors: answer.body?.errors?.length }).toEqual({
      status,
      code,
      data: undefined,
      errors: 1,
    });
    expect({ ...ran, parses: undefined }).toEqual({ ...NOTHING_RAN, parses: undefined });
    if (text !== undefined) refusedTexts.add(text);
    await expectServing(h, seeded);
    return { answer, ran };
  }

  /** The same refusal over POST and GET. */
  async function expectRefusedBothWays(operation: Operation & { query: string }, code: string, message?: RegExp): Promise<void> {
    const { answer: viaPost } = await expectRefused(() => post(h, operation), code, operation.query);
    const { answer: viaGet } = await expectRefused(() => get(h, operation), code, operation.query);
    if (message !== undefined) expect(viaPost.body.errors[0].message).toMatch(message);
    // Both transports word the refusal the same way.
    expect(viaGet.body).toEqual(viaPost.body);
  }

  it('sees a normal query reach Apollo, graphql-jit and the store (the spies this suite relies on are live)', async () => {
    const before = watch.snapshot();
    const answer = await post(h, { query: '{ flows(first: 5) { nodes { id source { id } } } }' });
    expect(answer.status).toBe(200);
    const ran = watch.since(before);
    expect(ran.store).toEqual(expect.arrayContaining(['listFlows', 'getSources']));
    expect(ran.executed).toBe(1);
    expect(ran.apollo).toBe(1);
  });

  describe('1. nested lists (depth 27)', () => {
    it('is refused with QUERY_TOO_COMPLEX (depth) over POST and GET', async () => {
      await expectRefusedBothWays({ query: DEPTH_27 }, 'QUERY_TOO_COMPLEX', /depth exceeds 15/);
    });
  });

  describe('2. fragments spreading fragments', () => {
    it('twelve fragments, each spreading the one before three times, are refused over POST and GET', async () => {
      await expectRefusedBothWays({ query: FRAGMENT_TOWER }, 'QUERY_TOO_COMPLEX');
    });

    it('the same growth kept under depth 15 is refused too (one field selected thousands of times)', async () => {
      await expectRefusedBothWays({ query: FLAT_TOWER }, 'QUERY_TOO_COMPLEX', /selected more than 50 times/);
    });
  });

  describe('3. page sizes multiplying (1000 x 1000)', () => {
    it('is refused for its cost, whether the page size is a variable default, a variable or a literal', async () => {
      await expectRefusedBothWays({ query: PAGES_BY_DEFAULT }, 'QUERY_TOO_COMPLEX', /cost exceeds 200000/);
      await expectRefusedBothWays({ query: PAGES_BY_VARIABLE, variables: { f: 1000 } }, 'QUERY_TOO_COMPLEX', /cost exceeds 200000/);
      await expectRefusedBothWays({ query: PAGES_LITERAL }, 'QUERY_TOO_COMPLEX', /cost exceeds 200000/);
    });

    it('runs the same text with small pages (the refusal is the page sizes, not the text)', async () => {
      const answer = await post(h, { query: PAGES_BY_VARIABLE, variables: { f: 2 } });
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data.flows.nodes).toHaveLength(2);
      // This text runs with small pages, so it may reach graphql-jit: its refused runs were checked above, one by one.
      refusedTexts.delete(PAGES_BY_VARIABLE);
    });
  });

  describe('4. interface fan-out', () => {
    /** What CompiledQueries weighs a text by before compiling it (over MAX_COMPILED_FIELDS_PER_QUERY: never compiled). */
    function estimate(query: string): number {
      const schema = h.gateway.app.graphql.compiled!['schema'];
      const document = parse(query);
      return estimateCompiledFields(schema, document, getOperationAST(document)!);
    }

    /** Checks each level of a fan-out answer: a seeded flow, whose source lists a flow of that source. */
    function checkLevels(node: Json, levels: number): void {
      expect(seeded.allIds).toContain(node.id);
      if (levels === 0) return;
      const onSource = node.source.flows.nodes as Json[];
      expect(onSource).toHaveLength(1);
      if (seeded.videoIds.includes(node.id as string)) expect(seeded.videoIds).toContain(onSource[0].id);
      else expect(onSource[0].id).toBe(node.id);
      checkLevels(onSource[0], levels - 1);
    }

    it('runs every implementation nested to depth 15, three times alike, and never compiles it (estimate over the compile threshold)', async () => {
      const query = fanOut(4);
      expect(estimate(query)).toBeGreaterThan(MAX_COMPILED_FIELDS_PER_QUERY);
      const before = watch.snapshot();
      const answers = [await post(h, { query }), await post(h, { query }), await post(h, { query })];
      const ran = watch.since(before);
      for (const answer of answers) {
        expect({ status: answer.status, errors: answer.body?.errors }).toEqual({ status: 200, errors: undefined });
        expect(answer.text).toBe(answers[0]!.text);
      }
      const nodes = answers[0]!.body.data.flows.nodes as Json[];
      expect(nodes).toHaveLength(1);
      checkLevels(nodes[0], 4);
      // Executed three times, on graphql-js each time: too large to compile, so never prepared either.
      expect({ executed: ran.executed, compilations: ran.compilations, served: ran.served }).toEqual({ executed: 3, compilations: 0, served: 0 });
      expect(h.gateway.app.graphql.compiled!.peek(query, undefined)).toBeNull();
      await expectServing(h, seeded);
    });

    it('one level deeper (depth 18) is refused before it runs', async () => {
      const { answer } = await expectRefused(() => post(h, { query: fanOut(5) }), 'QUERY_TOO_COMPLEX', fanOut(5));
      expect(answer.body.errors[0].message).toMatch(/depth exceeds 15/);
    });

    it('written out inline, the depth-15 fan-out is refused by the token limit while parsing', async () => {
      const query = fanOutInline(4);
      const { answer, ran } = await expectRefused(() => post(h, { query }), 'QUERY_TOO_COMPLEX', query);
      expect(answer.body.errors[0].message).toMatch(/more th(?:at|an) 5000 tokens/);
      expect(ran.parses).toBe(1);
    });

    it('compiles a one-level fan-out on its second run; the three answers are the same', async () => {
      expect(estimate(SMALL_FAN_OUT)).toBeLessThanOrEqual(MAX_COMPILED_FIELDS_PER_QUERY);
      const before = watch.snapshot();
      const first = await post(h, { query: SMALL_FAN_OUT });
      expect(watch.since(before).compilations).toBe(0);
      const second = await post(h, { query: SMALL_FAN_OUT });
      expect(watch.since(before).compilations).toBe(1);
      const third = await post(h, { query: SMALL_FAN_OUT });
      expect(watch.since(before).compilations).toBe(1);
      expect(first.status).toBe(200);
      expect(first.body.errors).toBeUndefined();
      expect(second.text).toBe(first.text);
      expect(third.text).toBe(first.text);
      const nodes = first.body.data.flows.nodes as Json[];
      expect(nodes.map((n) => n.id as string).sort()).toEqual([...seeded.allIds].sort());
      const video = nodes.find((n) => n.id === seeded.videoIds[0]);
      expect(video).toEqual({ __typename: 'VideoFlow', id: seeded.videoIds[0], label: 'camera 1', frameWidth: 1920 });
      expect(nodes.find((n) => n.id === seeded.audioId)).toEqual({ __typename: 'AudioFlow', id: seeded.audioId, label: 'programme audio', sampleRate: 48000 });
    });
  });

  describe('5. introspection', () => {
    it('refuses introspection nested five levels through fields and types (cost), over POST and GET', async () => {
      await expectRefusedBothWays({ query: DEEP_INTROSPECTION_5 }, 'QUERY_TOO_COMPLEX', /cost exceeds|Introspection nests/);
    });

    it('refuses introspection whose type lists nest three deep (four levels of fields) before validation', async () => {
      // Depth 9 and cost 22,221 are within the limits; the guard refuses the nesting itself, as
      // graphql-js's MaxIntrospectionDepthRule would, but before any validation runs.
      await expectRefusedBothWays({ query: DEEP_INTROSPECTION_4 }, 'QUERY_TOO_COMPLEX', /Introspection nests/);
    });

    it('answers the standard introspection query (depth 15) while introspection is on', async () => {
      const answer = await post(h, { query: getIntrospectionQuery() });
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect((answer.body.data.__schema.types as Json[]).map((t) => t.name as string)).toEqual(expect.arrayContaining(['Flow', 'VideoFlow', 'Query']));
    });

    it('answers introspection again from memory, whatever its formatting: nothing executed the second time', async () => {
      // A name of its own: the standard query may have been answered (and kept) by an earlier case.
      const text = getIntrospectionQuery().replace('query IntrospectionQuery', 'query IntrospectionAgain');
      let before = watch.snapshot();
      const first = await post(h, { query: `${text}\n# first` });
      expect(first.status).toBe(200);
      expect(watch.since(before).executed).toBe(1);
      before = watch.snapshot();
      const reformatted = await post(h, { query: `# again\n${text.replace(/\n\s*/g, ' ')}` });
      expect(reformatted.status).toBe(200);
      expect(watch.since(before).executed).toBe(0);
      expect(reformatted.body).toEqual(first.body);
      // Other variables are other answers; a query that also reads the store is never kept.
      const typed = await post(h, { query: 'query($n: String!) { __type(name: $n) { name } }', variables: { n: 'Flow' } });
      const other = await post(h, { query: 'query($n: String!) { __type(name: $n) { name } }', variables: { n: 'Source' } });
      expect([typed.body.data.__type.name, other.body.data.__type.name]).toEqual(['Flow', 'Source']);
      const mixed = '{ __schema { queryType { name } } flows(first: 1) { nodes { id } } }';
      await post(h, { query: mixed });
      before = watch.snapshot();
      await post(h, { query: `${mixed} ` });
      expect(watch.since(before).executed).toBe(1);
    });

    it('suggests field names in validation errors while introspection is on', async () => {
      const answer = await post(h, { query: '{ flows(first: 1) { nodes { lable } } }' });
      expect({ status: answer.status, code: codeOf(answer) }).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED' });
      expect(answer.body.errors[0].message).toMatch(/Did you mean/);
    });
  });

  describe('6. aliases of a list field', () => {
    it('refuses 31 aliases of flows(first: 1000) over POST and GET', async () => {
      await expectRefusedBothWays({ query: aliases(31, 1000) }, 'QUERY_TOO_COMPLEX', /More than 30 aliases/);
    });

    it('answers 30 aliases of flows(first: 1)', async () => {
      const answer = await post(h, { query: aliases(30, 1) });
      expect({ status: answer.status, errors: answer.body?.errors }).toEqual({ status: 200, errors: undefined });
      expect(Object.keys(answer.body.data)).toHaveLength(30);
      for (const value of Object.values(answer.body.data as Record<string, Json>)) {
        expect(value.nodes).toHaveLength(1);
        expect(seeded.allIds).toContain(value.nodes[0].id);
      }
    });
  });

  describe('7. page size beyond the maximum', () => {
    it('refuses first: 1001 as a literal, a variable and a variable default with QUERY_TOO_COMPLEX', async () => {
      const message = /more than the maximum page size 1000/;
      await expectRefusedBothWays({ query: '{ flows(first: 1001) { nodes { id } } }' }, 'QUERY_TOO_COMPLEX', message);
      await expectRefusedBothWays({ query: 'query($n: Int) { flows(first: $n) { nodes { id } } }', variables: { n: 1001 } }, 'QUERY_TOO_COMPLEX', message);
      await expectRefusedBothWays({ query: 'query($n: Int = 1001) { flows(first: $n) { nodes { id } } }' }, 'QUERY_TOO_COMPLEX', message);
    });

    it('refuses a first that is a string or an undeclared variable with BAD_USER_INPUT', async () => {
      await expectRefusedBothWays({ query: 'query($n: Int) { flows(first: $n) { nodes { id } } }', variables: { n: '10' } }, 'BAD_USER_INPUT', /must be an Int/);
      await expectRefusedBothWays({ query: '{ flows(first: $n) { nodes { id } } }' }, 'BAD_USER_INPUT', /which no operation declares/);
    });
  });

  describe('8. thousands of variables', () => {
    it('answers an operation declaring 1000 unused variables with a validation error, not a 5xx', async () => {
      const declared = range(1000)
        .map((i) => `$v${i}: Int`)
        .join(' ');
      const query = `query Many(${declared}) { service { name } }`;
      const before = watch.snapshot();
      const answer = await post(h, { query });
      const ran = watch.since(before);
      expect({ status: answer.status, code: codeOf(answer), data: answer.body?.data }).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED', data: undefined });
      // graphql-js names unused variables up to its 100 errors, then stops validating; nothing ran.
      expect(answer.body.errors).toHaveLength(101);
      expect(answer.body.errors[0].message).toBe('Variable "$v0" is never used in operation "Many".');
      expect(answer.body.errors[100].message).toMatch(/Too many validation errors/);
      expect({ store: ran.store, executed: ran.executed }).toEqual({ store: [], executed: 0 });
      await expectServing(h, seeded);
    });

    it('answers a variables object of 20,000 keys (the undeclared ones are ignored), and refuses 100,000 with 413 (body limit)', async () => {
      const variables: Record<string, unknown> = { f: 2 };
      for (const i of range(20_000)) variables[`k${i}`] = i;
      const answer = await post(h, { query: 'query($f: Int) { flows(first: $f) { nodes { id } } }', variables });
      expect({ status: answer.status, errors: answer.body?.errors }).toEqual({ status: 200, errors: undefined });
      expect(answer.body.data.flows.nodes).toHaveLength(2);
      for (const i of range(100_000)) variables[`k${i}`] = i;
      const before = watch.snapshot();
      const tooBig = await post(h, { query: 'query($f: Int) { flows(first: $f) { nodes { id } } }', variables });
      expect({ status: tooBig.status, type: tooBig.body?.type }).toEqual({ status: 413, type: 'PayloadTooLarge' });
      expect(watch.since(before)).toEqual({ ...NOTHING_RAN, parses: 0 });
      await expectServing(h, seeded);
    });
  });

  describe('9. stacked directives', () => {
    it('refuses 51 @include/@skip directives with QUERY_TOO_COMPLEX, and answers 50', async () => {
      await expectRefusedBothWays({ query: stackedDirectives(51) }, 'QUERY_TOO_COMPLEX', /More than 50 directives/);
      const fifty = await post(h, { query: stackedDirectives(50) });
      expect({ status: fifty.status, errors: fifty.body?.errors }).toEqual({ status: 200, errors: undefined });
      expect(typeof fifty.body.data.service.name).toBe('string');
    });

    it('answers the same directive twice on one field with a validation error (400), nothing executed', async () => {
      const before = watch.snapshot();
      const answer = await post(h, { query: '{ service { name @include(if: true) @include(if: true) } }' });
      const ran = watch.since(before);
      expect({ status: answer.status, code: codeOf(answer), data: answer.body?.data }).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED', data: undefined });
      expect(answer.body.errors[0].message).toMatch(/can only be used once/);
      expect({ store: ran.store, executed: ran.executed, compilations: ran.compilations }).toEqual({ store: [], executed: 0, compilations: 0 });
      await expectServing(h, seeded);
    });
  });

  describe('10. a one-megabyte string literal', () => {
    it('is refused with 413 from its Content-Length (over GRAPHQL_MAX_BODY_BYTES), before the body is read', async () => {
      const before = watch.snapshot();
      const answer = await post(h, { query: MEGABYTE_LITERAL });
      expect({ status: answer.status, type: answer.body?.type }).toEqual({ status: 413, type: 'PayloadTooLarge' });
      expect(watch.since(before)).toEqual({ ...NOTHING_RAN, parses: 0 });
      await expectServing(h, seeded);
    });

    it('is refused for its length before it is parsed when the body is under the limit', async () => {
      const { answer, ran } = await expectRefused(() => post(h, { query: LONG_LITERAL }), 'QUERY_TOO_COMPLEX', LONG_LITERAL);
      expect(answer.body.errors[0].message).toMatch(/longer than 100000 characters/);
      expect(ran.parses).toBe(0);
    });
  });

  describe('11. a batch of operations', () => {
    it('is refused by Apollo (batching disabled) with 400, nothing executed', async () => {
      const before = watch.snapshot();
      const answer = await post(h, [{ query: '{ service { name } }' }, { query: '{ flows(first: 1) { nodes { id } } }' }]);
      const ran = watch.since(before);
      expect({ status: answer.status, code: codeOf(answer), data: answer.body?.data }).toEqual({ status: 400, code: 'BAD_REQUEST', data: undefined });
      expect(answer.body.errors[0].message).toMatch(/batching disabled/i);
      // Apollo refused it; the guard parsed nothing, nothing ran.
      expect(ran).toEqual({ ...NOTHING_RAN, apollo: 1, parses: 0 });
      await expectServing(h, seeded);
    });
  });

  describe('12. one field 3000 times', () => {
    it('is refused with QUERY_TOO_COMPLEX over POST and GET', async () => {
      await expectRefusedBothWays({ query: SAME_FIELD_3000 }, 'QUERY_TOO_COMPLEX', /selected more than 50 times/);
    });
  });

  describe('13a. GET query strings, read as Apollo reads them', () => {
    /** A raw GET (fetch would drop a `#` from the request target). */
    async function rawGet(target: string): Promise<Answer> {
      const url = new URL(h.base);
      return new Promise((resolve, reject) => {
        const request = http.get({ host: url.hostname, port: url.port, path: target, headers: { 'apollo-require-preflight': 'true' }, timeout: REQUEST_TIMEOUT_MS }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: Json;
            try {
              body = JSON.parse(text);
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: new Headers(), body, text });
          });
        });
        request.on('error', reject);
      });
    }
    const forty = `{ ${range(40).map((i) => `a${i}: __typename`).join(' ')} }`;

    it('refuses a text fastify cannot decode but Apollo can (an undecodable escape in a comment)', async () => {
      const before = watch.snapshot();
      const answer = await rawGet(`/graphql?query=${encodeURIComponent('#')}%FF${encodeURIComponent(`\n${forty}`)}`);
      expect({ status: answer.status, code: codeOf(answer) }).toEqual({ status: 400, code: 'QUERY_TOO_COMPLEX' });
      expect(watch.since(before)).toMatchObject({ executed: 0, apollo: 0 });
    });

    it('refuses a text hidden behind a fragment in the request target', async () => {
      const before = watch.snapshot();
      const answer = await rawGet(`/graphql?query=${encodeURIComponent(forty)}#&query=x`);
      expect({ status: answer.status, code: codeOf(answer) }).toEqual({ status: 400, code: 'QUERY_TOO_COMPLEX' });
      expect(watch.since(before)).toMatchObject({ executed: 0, apollo: 0 });
    });

    it('leaves a parameter given twice to Apollo, which refuses it before parsing', async () => {
      const before = watch.snapshot();
      const answer = await rawGet(`/graphql?query=${encodeURIComponent(forty)}&query=${encodeURIComponent('{ __typename }')}`);
      expect(answer.status).toBe(400);
      expect(watch.since(before)).toMatchObject({ executed: 0, parses: 0 });
    });
  });

  describe('13. persisted queries', () => {
    it('does not register a hostile text sent with its hash (APQ), over POST or GET', async () => {
      for (const send of [post, get] as const) {
        // A text of its own for each transport, so the GET registration is not answered from the POST one.
        const query = `${DEPTH_27} # ${send === post ? 'post' : 'get'}`;
        const persistedQuery = { version: 1, sha256Hash: sha256(query) };
        await expectRefused(() => send(h, { query, extensions: { persistedQuery } }), 'QUERY_TOO_COMPLEX', query);
        // The hash alone: Apollo has never seen the text (the guard let it through, unknown, to Apollo to say so).
        const before = watch.snapshot();
        const miss = await send(h, { extensions: { persistedQuery } });
        const ran = watch.since(before);
        expect(codeOf(miss)).toBe('PERSISTED_QUERY_NOT_FOUND');
        expect(miss.body.data).toBeUndefined();
        // Apollo answers a miss with 200 (the APQ protocol: the client then sends the text).
        expect(miss.status).toBe(200);
        expect({ store: ran.store, executed: ran.executed }).toEqual({ store: [], executed: 0 });
      }
    });

    it('still registers and answers a normal text by its hash', async () => {
      const query = '{ service { name } } # apq';
      const persistedQuery = { version: 1, sha256Hash: sha256(query) };
      const registered = await post(h, { query, extensions: { persistedQuery } });
      expect(registered.status).toBe(200);
      const hit = await get(h, { extensions: { persistedQuery } });
      expect(hit.body).toEqual(registered.body);
    });
  });

  describe('16. caches', () => {
    it('never handed a refused text to graphql-jit, and keeps none of them', () => {
      // Shapes 1-13 above refused these texts over HTTP; this runs after them (jest runs tests in order).
      expect(refusedTexts.size).toBeGreaterThanOrEqual(15);
      const compiledSources = new Set(watch.compiledSources());
      expect(compiledSources.size).toBeGreaterThan(0);
      expect([...refusedTexts].filter((text) => compiledSources.has(text)).map((text) => text.slice(0, 80))).toEqual([]);
      const compiled = h.gateway.app.graphql.compiled!;
      // The executor's cache (private: read here through an index) holds every text `get` saw, compiled or not.
      const tiers = compiled['tiers'];
      expect(tiers.size).toBeGreaterThan(0);
      for (const text of refusedTexts) {
        expect(tiers.has(operationKey(text, undefined))).toBe(false);
        expect(compiled.peek(text, undefined)).toBeNull();
      }
      // The guard remembers parsed texts, bounded; the megabyte text was refused before that and is not among them.
      const parsed = h.gateway.app.graphql.guard!['texts'];
      expect(parsed.has(MEGABYTE_LITERAL)).toBe(false);
      expect(parsed.weight).toBeLessThan(1_000_000);
    });
  });
});

/**
 * One graphql-ws connection (not lazy: opened at once and kept), recording its closes, so a
 * suite can show that hostile subscriptions leave it open and usable.
 */
class Socket {
  readonly client: Client;
  readonly closes: unknown[] = [];
  connections = 0;
  /** Errors outside any subscription (a refused connection). */
  readonly failures: unknown[] = [];

  constructor(h: Harness, connectionParams?: Record<string, unknown>) {
    this.client = createClient({
      url: `${h.base.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: (err) => this.failures.push(err),
      ...(connectionParams === undefined ? {} : { connectionParams }),
      on: {
        connected: () => {
          this.connections++;
        },
        closed: (event) => this.closes.push(event),
      },
    });
  }

  /** Subscribes and answers the server's errors for it; fails if it sends a result, completes, or says nothing in time. */
  errorsOf(query: string, variables?: Record<string, unknown>): Promise<GraphQLFormattedError[]> {
    return new Promise((resolve, reject) => {
      let dispose = (): void => undefined;
      const timer = setTimeout(() => {
        dispose();
        reject(new Error(`no answer to the subscription ${query.slice(0, 80)}`));
      }, REQUEST_TIMEOUT_MS);
      dispose = this.client.subscribe(
        { query, ...(variables === undefined ? {} : { variables }) },
        {
          next: (result) => {
            clearTimeout(timer);
            dispose();
            reject(new Error(`the subscription ${query.slice(0, 80)} was accepted: ${JSON.stringify(result).slice(0, 200)}`));
          },
          error: (err: unknown) => {
            clearTimeout(timer);
            if (Array.isArray(err)) resolve(err as GraphQLFormattedError[]);
            else reject(new Error(`the subscription ${query.slice(0, 80)} failed without GraphQL errors: ${String(err)}`));
          },
          complete: () => {
            clearTimeout(timer);
            reject(new Error(`the subscription ${query.slice(0, 80)} completed without an error`));
          },
        },
      );
    });
  }

  /**
   * Subscribes to flowCreated and PUTs new flows over REST (the subscription starts
   * asynchronously on the server) until an event arrives: the flow it names must be one of them.
   */
  async receivesFlowCreated(h: Harness, headers: Record<string, string> = {}): Promise<void> {
    const put: string[] = [];
    let received: Json;
    let failed: unknown;
    const dispose = this.client.subscribe(
      { query: 'subscription { flowCreated { id label } }' },
      {
        next: (result) => {
          received ??= result;
        },
        error: (err: unknown) => {
          failed = err;
        },
        complete: () => undefined,
      },
    );
    try {
      const deadline = Date.now() + REQUEST_TIMEOUT_MS;
      while (received === undefined && failed === undefined && Date.now() < deadline) {
        const flow = videoFlow({ label: 'after the hostile ones' });
        put.push(flow.id as string);
        expect((await h.request('PUT', `/flows/${flow.id as string}`, flow, headers)).status).toBe(201);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(failed).toBeUndefined();
      expect(received?.errors).toBeUndefined();
      expect(put).toContain(received?.data?.flowCreated?.id);
      expect(received.data.flowCreated.label).toBe('after the hostile ones');
    } finally {
      dispose();
    }
  }

  async dispose(): Promise<void> {
    await this.client.dispose();
  }
}

describe('14. hostile subscriptions over graphql-ws (default limits)', () => {
  let h: Harness;
  let watch: Watch;
  let seeded: Seeded;
  let socket: Socket;

  beforeAll(async () => {
    h = await startHarness();
    seeded = await seed(h);
    watch = new Watch(h);
    socket = new Socket(h);
  });

  afterAll(async () => {
    await socket.dispose();
    watch.restore();
    await h.close();
  });

  /** A subscription refused with `code` by the guard: one error, no store read, the socket still open; HTTP still answers. */
  async function expectSubscriptionRefused(query: string, code: string, variables?: Record<string, unknown>, message?: RegExp): Promise<Ran> {
    const before = watch.snapshot();
    const errors = await socket.errorsOf(query, variables);
    const ran = watch.since(before);
    expect(errors.map((e) => e.extensions?.code)).toEqual([code]);
    if (message !== undefined) expect(errors[0]!.message).toMatch(message);
    expect(ran.store).toEqual([]);
    expect(socket.closes).toEqual([]);
    await expectServing(h, seeded);
    return ran;
  }

  const onFlow = (selection: string): string => `subscription { flowCreated { ${selection} } }`;

  it('refuses nested lists (1) for depth', async () => {
    const nested = `${'source { flows(first: 1) { nodes { '.repeat(9)}id${' } } }'.repeat(9)}`;
    await expectSubscriptionRefused(onFlow(nested), 'QUERY_TOO_COMPLEX', undefined, /depth exceeds 15/);
  });

  it('refuses fragments spreading fragments (2), deep or flat', async () => {
    await expectSubscriptionRefused(fragmentTower('subscription { flowCreated { ...F11 } }'), 'QUERY_TOO_COMPLEX');
    await expectSubscriptionRefused(flatTower('subscription { flowCreated { ...F12 } }'), 'QUERY_TOO_COMPLEX', undefined, /selected more than 50 times/);
  });

  it('refuses multiplying page sizes (3) as a default, a variable and a literal', async () => {
    const paged = (first: string): string => onFlow(`source { flows(first: ${first}) { nodes { segments(first: ${first}) { nodes { objectId } } } } }`);
    await expectSubscriptionRefused(`subscription($f: Int = 1000) ${paged('$f').slice('subscription '.length)}`, 'QUERY_TOO_COMPLEX', undefined, /cost exceeds/);
    await expectSubscriptionRefused(`subscription($f: Int) ${paged('$f').slice('subscription '.length)}`, 'QUERY_TOO_COMPLEX', { f: 1000 }, /cost exceeds/);
    await expectSubscriptionRefused(paged('1000'), 'QUERY_TOO_COMPLEX', undefined, /cost exceeds/);
  });

  it('refuses deep introspection in a subscription (5) before validation would say it is not a subscription field', async () => {
    await expectSubscriptionRefused(`subscription ${DEEP_INTROSPECTION_5}`, 'QUERY_TOO_COMPLEX', undefined, /cost exceeds|Introspection nests/);
  });

  it('refuses 31 aliases of a list (6)', async () => {
    const aliased = range(31)
      .map((i) => `a${i}: source { flows(first: 1000) { nodes { id } } }`)
      .join(' ');
    await expectSubscriptionRefused(onFlow(aliased), 'QUERY_TOO_COMPLEX', undefined, /More than 30 aliases/);
  });

  it('refuses first beyond the maximum with QUERY_TOO_COMPLEX, and a first it cannot know with BAD_USER_INPUT (7)', async () => {
    await expectSubscriptionRefused(onFlow('source { flows(first: 1001) { nodes { id } } }'), 'QUERY_TOO_COMPLEX', undefined, /maximum page size 1000/);
    const variable = 'subscription($n: Int) { flowCreated { source { flows(first: $n) { nodes { id } } } } }';
    await expectSubscriptionRefused(variable, 'QUERY_TOO_COMPLEX', { n: 1001 }, /maximum page size 1000/);
    await expectSubscriptionRefused('subscription($n: Int = 1001) { flowCreated { source { flows(first: $n) { nodes { id } } } } }', 'QUERY_TOO_COMPLEX');
    await expectSubscriptionRefused(variable, 'BAD_USER_INPUT', { n: '10' }, /must be an Int/);
    await expectSubscriptionRefused(onFlow('source { flows(first: $n) { nodes { id } } }'), 'BAD_USER_INPUT', undefined, /which no operation declares/);
  });

  it('refuses 51 directives (9)', async () => {
    const directives = range(25)
      .map(() => 'id @include(if: true) @skip(if: false)')
      .join(' ');
    await expectSubscriptionRefused(onFlow(`${directives} label @include(if: true)`), 'QUERY_TOO_COMPLEX', undefined, /More than 50 directives/);
  });

  it('refuses a one-megabyte literal (10) before parsing it', async () => {
    const ran = await expectSubscriptionRefused(`subscription { flowCreated(flowIds: ["${'x'.repeat(1_000_000)}"]) { id } }`, 'QUERY_TOO_COMPLEX', undefined, /longer than 100000/);
    expect(ran.parses).toBe(0);
  });

  it('refuses one field 3000 times (12)', async () => {
    await expectSubscriptionRefused(onFlow('id '.repeat(3000)), 'QUERY_TOO_COMPLEX', undefined, /selected more than 50 times/);
  });

  it('suggests field names in a subscription validation error while introspection is on', async () => {
    const errors = await socket.errorsOf('subscription { flowCreated { lable } }');
    expect(errors.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(errors[0]!.message).toMatch(/Did you mean/);
  });

  it('keeps no more than 64 KiB of declared variables for a subscription', async () => {
    const query = 'subscription($ids: [ID!]) { flowSegmentsAdded(flowIds: $ids) { flowId } }';
    const ids = Array.from({ length: 2000 }, () => randomUUID());
    await expectSubscriptionRefused(query, 'BAD_USER_INPUT', { ids }, /at most 65536 bytes/);
  });

  it('bounds the estimated cost one caller keeps live across its connections, and frees it when a socket closes', async () => {
    // About 94,000 each: ten fit in the 1,000,000 a caller may keep live, the eleventh does not.
    const heavy = (i: number): string => `subscription H${i} { flowCreated { source { flows(first: 1000) { nodes { source { flows(first: 30) { nodes { id } } } } } } } }`;
    /** The errors the server answers within `ms`, or 'accepted' when it says nothing (a live subscription). */
    const answerOf = (client: Client, query: string, ms = 1500): Promise<GraphQLFormattedError[] | 'accepted'> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve('accepted'), ms);
        client.subscribe({ query }, {
          next: () => undefined,
          error: (err: unknown) => {
            clearTimeout(timer);
            resolve(Array.isArray(err) ? (err as GraphQLFormattedError[]) : []);
          },
          complete: () => undefined,
        });
      });
    const round = async (): Promise<void> => {
      const sockets = [new Socket(h), new Socket(h)];
      try {
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => answerOf(sockets[i % 2]!.client, heavy(i))));
        expect(answers).toEqual(Array.from({ length: 10 }, () => 'accepted'));
        const eleventh = await answerOf(sockets[0]!.client, heavy(10));
        expect(eleventh === 'accepted' ? eleventh : eleventh.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
        expect(eleventh === 'accepted' ? '' : eleventh[0]?.message).toMatch(/Too many live subscriptions/);
      } finally {
        await Promise.all(sockets.map((s) => s.dispose()));
      }
    };
    await round();
    // Closing the sockets freed what they held: the same ten are accepted again.
    await new Promise((r) => setTimeout(r, 300));
    await round();
  });

  it('kept the one socket open through all of them, and it still delivers flowCreated', async () => {
    await socket.receivesFlowCreated(h);
    expect({ connections: socket.connections, closes: socket.closes, failures: socket.failures }).toEqual({ connections: 1, closes: [], failures: [] });
  });
});

describe('5. introspection off (GRAPHQL_INTROSPECTION=false)', () => {
  let h: Harness;
  let socket: Socket;

  beforeAll(async () => {
    h = await startHarness({ GRAPHQL_INTROSPECTION: 'false' });
    socket = new Socket(h);
  });

  afterAll(async () => {
    await socket.dispose();
    await h.close();
  });

  it('names no field in a validation error over HTTP (no "Did you mean")', async () => {
    for (const send of [post, get] as const) {
      const answer = await send(h, { query: '{ flows(first: 1) { nodes { lable } } }' });
      expect({ status: answer.status, code: codeOf(answer) }).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED' });
      expect(answer.body.errors[0].message).toMatch(/lable/);
      expect(answer.text).not.toMatch(/Did you mean/);
    }
  });

  it('names no field in a validation error over WebSocket', async () => {
    const errors = await socket.errorsOf('subscription { flowCreated { lable } }');
    expect(errors.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(errors[0]!.message).toMatch(/lable/);
    expect(JSON.stringify(errors)).not.toMatch(/Did you mean/);
  });

  it('refuses the standard introspection query', async () => {
    const answer = await post(h, { query: getIntrospectionQuery() });
    expect({ status: answer.status, code: codeOf(answer), data: answer.body?.data }).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED', data: undefined });
  });
});

describe('15. the cost rate limit (RATE_LIMIT_GRAPHQL_COST_PER_MINUTE=600)', () => {
  const ISSUER = 'https://tams.test';
  const AUDIENCE = 'tams-gateway';
  /** Cost 100 x (1 + nodes 1 x (1 + id 1)) = 300. */
  const COST_300 = '{ flows(first: 100) { nodes { id } } }';
  let h: Harness;
  let watch: Watch;
  let seeded: Seeded;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  let carol: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, RATE_LIMIT_GRAPHQL_COST_PER_MINUTE: '600' });
    const tokens = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    alice = { authorization: `Bearer ${await tokens.sign({ sub: 'alice' })}` };
    bob = { authorization: `Bearer ${await tokens.sign({ sub: 'bob' })}` };
    carol = `Bearer ${await tokens.sign({ sub: 'carol' })}`;
    // REST is not charged GraphQL cost.
    seeded = await seed(h, alice);
    watch = new Watch(h);
  });

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    watch.restore();
    await h.close();
  });

  it('runs an operation of cost 300 twice, then refuses it with 429, Retry-After and RATE_LIMITED before any store read', async () => {
    for (let run = 0; run < 2; run++) {
      const answer = await post(h, { query: COST_300 }, alice);
      expect({ status: answer.status, errors: answer.body?.errors }).toEqual({ status: 200, errors: undefined });
      expect((answer.body.data.flows.nodes as Json[]).map((n) => n.id as string).sort()).toEqual([...seeded.allIds].sort());
    }
    const before = watch.snapshot();
    const refused = await post(h, { query: COST_300 }, alice);
    const ran = watch.since(before);
    expect({ status: refused.status, code: codeOf(refused), data: refused.body?.data }).toEqual({ status: 429, code: 'RATE_LIMITED', data: undefined });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.errors[0].extensions.retryAfter).toBe(retryAfter);
    expect({ ...ran, parses: undefined }).toEqual({ ...NOTHING_RAN, parses: undefined });
  });

  it('refuses a cheap operation too once the budget is spent, and GET as well', async () => {
    const before = watch.snapshot();
    const cheap = await post(h, { query: '{ service { name } }' }, alice);
    const cheapGet = await get(h, { query: '{ service { name } }' }, alice);
    const ran = watch.since(before);
    expect([cheap.status, codeOf(cheap), cheapGet.status, codeOf(cheapGet)]).toEqual([429, 'RATE_LIMITED', 429, 'RATE_LIMITED']);
    expect(cheap.headers.get('retry-after')).not.toBeNull();
    expect({ ...ran, parses: undefined }).toEqual({ ...NOTHING_RAN, parses: undefined });
  });

  it('charges each principal its own budget: another one still runs', async () => {
    await expectServing(h, seeded, bob);
  });

  it('refuses a subscription over WebSocket beyond the budget with RATE_LIMITED; another principal still subscribes', async () => {
    const spent = new Socket(h, { authorization: alice.authorization });
    sockets.push(spent);
    const errors = await spent.errorsOf('subscription { flowCreated { id } }');
    expect(errors.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect(spent.closes).toEqual([]);

    const fresh = new Socket(h, { authorization: carol });
    sockets.push(fresh);
    await fresh.receivesFlowCreated(h, alice);
  });
});
