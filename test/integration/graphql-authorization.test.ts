/**
 * The GraphQL side of the authorization matrix, over real HTTP and WebSocket with TAMS_AUTH=on
 * and real tokens (issueToken, the gateway's embedded key): every Query and Mutation root field
 * with each single scope, all scopes, no scope, and another auth class; every Subscription
 * field with the same scopes and with missing or bad credentials. Each case expects an exact
 * outcome: data, null, or one error code. (Query and Mutation fields without valid credentials
 * are refused at the HTTP edge with 401: test/integration/auth-http.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';
import { SubscriptionEvents } from '../../src/graphql/subscriptions/subscription-events';
import { ROOT_FIELD_ACTIONS } from '../../src/graphql/access/shield';
import { requiredScopes } from '../../src/services/access-policy';
import type { Scope } from '../../src/domain/principal';
import { checkedFetch } from '../support/checked-fetch';

const ISSUER = 'https://tams.test';
const AUDIENCE = 'tams-gateway';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

/** What a case must answer: the field's data (not null), null without an error, or exactly one error with this code. */
type Outcome = 'data' | 'null' | 'NOT_FOUND' | 'FORBIDDEN' | 'BAD_USER_INPUT';

/** The resources an operation points at: fresh ids (nothing stored) or the `news` fixture. */
interface Target {
  flowId: string;
  sourceId: string;
  webhookId: string;
  objectId: string;
}

interface Operation {
  query: string;
  variables?: Record<string, unknown>;
}

interface FieldCase {
  /** Its answer to anyone holding a scope it needs, pointed at fresh ids. */
  allowed: Outcome;
  /** Its answer to a caller with every scope but admin and only another auth class, pointed at the `news` fixture. */
  otherClass: Outcome;
  operation: (t: Target) => Operation;
}

const VIDEO = { frameWidth: 1920, frameHeight: 1080, frameRate: { numerator: 50, denominator: 1 } };

function videoInput(sourceId: string, tags?: Record<string, unknown>): Record<string, unknown> {
  return { sourceId, codec: 'video/h264', container: 'video/mp2t', label: 'camera', video: VIDEO, ...(tags === undefined ? {} : { tags }) };
}

const flowOp = (mutation: string, args = ''): FieldCase => ({
  allowed: 'NOT_FOUND',
  otherClass: 'NOT_FOUND',
  operation: (t) => ({ query: `mutation($f: ID!) { ${mutation}(flowId: $f${args}) { id } }`, variables: { f: t.flowId } }),
});

const sourceOp = (mutation: string, args = ''): FieldCase => ({
  allowed: 'NOT_FOUND',
  otherClass: 'NOT_FOUND',
  operation: (t) => ({ query: `mutation($s: ID!) { ${mutation}(sourceId: $s${args}) { id } }`, variables: { s: t.sourceId } }),
});

/** One minimal valid operation per root field (the test below checks none is missing). */
const QUERIES: Record<string, FieldCase> = {
  flows: { allowed: 'data', otherClass: 'data', operation: () => ({ query: '{ flows(first: 5) { nodes { id } } }' }) },
  flow: { allowed: 'null', otherClass: 'null', operation: (t) => ({ query: 'query($id: ID!) { flow(id: $id) { id } }', variables: { id: t.flowId } }) },
  // An unknown or hidden flow lists no segments (checked empty for the class fixture below).
  segments: {
    allowed: 'data',
    otherClass: 'data',
    operation: (t) => ({ query: 'query($f: ID!) { segments(flowId: $f) { nodes { objectId } } }', variables: { f: t.flowId } }),
  },
  service: { allowed: 'data', otherClass: 'data', operation: () => ({ query: '{ service { name } }' }) },
  storageBackends: { allowed: 'data', otherClass: 'data', operation: () => ({ query: '{ storageBackends { id } }' }) },
  sources: { allowed: 'data', otherClass: 'data', operation: () => ({ query: '{ sources(first: 5) { nodes { id } } }' }) },
  source: { allowed: 'null', otherClass: 'null', operation: (t) => ({ query: 'query($id: ID!) { source(id: $id) { id } }', variables: { id: t.sourceId } }) },
  profiles: { allowed: 'data', otherClass: 'data', operation: () => ({ query: '{ profiles { nodes { id } } }' }) },
  profile: { allowed: 'null', otherClass: 'null', operation: () => ({ query: 'query($id: ID!) { profile(id: $id) { id } }', variables: { id: randomUUID() } }) },
  webhooks: { allowed: 'data', otherClass: 'data', operation: () => ({ query: '{ webhooks { nodes { id } } }' }) },
  webhook: { allowed: 'null', otherClass: 'null', operation: (t) => ({ query: 'query($id: ID!) { webhook(id: $id) { id } }', variables: { id: t.webhookId } }) },
  deletionRequests: { allowed: 'data', otherClass: 'FORBIDDEN', operation: () => ({ query: '{ deletionRequests { nodes { id } } }' }) },
  deletionRequest: {
    allowed: 'null',
    otherClass: 'null',
    operation: () => ({ query: 'query($id: ID!) { deletionRequest(id: $id) { id } }', variables: { id: randomUUID() } }),
  },
  object: { allowed: 'null', otherClass: 'null', operation: (t) => ({ query: 'query($id: ID!) { object(id: $id) { id } }', variables: { id: t.objectId } }) },
  me: { allowed: 'data', otherClass: 'data', operation: () => ({ query: '{ me { subject } }' }) },
  eventCursor: { allowed: 'data', otherClass: 'data', operation: () => ({ query: '{ eventCursor }' }) },
};

const MUTATIONS: Record<string, FieldCase> = {
  putFlow: {
    allowed: 'data',
    otherClass: 'NOT_FOUND',
    // Fresh: a new flow on a new source. News: replacing the news flow.
    operation: (t) => ({
      query: 'mutation($id: ID!, $input: PutFlowInput!) { putFlow(id: $id, input: $input) { created } }',
      variables: { id: t.flowId, input: videoInput(t.sourceId) },
    }),
  },
  deleteFlow: { allowed: 'NOT_FOUND', otherClass: 'NOT_FOUND', operation: (t) => ({ query: 'mutation($id: ID!) { deleteFlow(id: $id) { done } }', variables: { id: t.flowId } }) },
  setFlowTag: flowOp('setFlowTag', ', name: "genre", value: "x"'),
  deleteFlowTag: flowOp('deleteFlowTag', ', name: "genre"'),
  setFlowLabel: flowOp('setFlowLabel', ', label: "x"'),
  deleteFlowLabel: flowOp('deleteFlowLabel'),
  setFlowDescription: flowOp('setFlowDescription', ', description: "x"'),
  deleteFlowDescription: flowOp('deleteFlowDescription'),
  setFlowMaxBitRate: flowOp('setFlowMaxBitRate', ', maxBitRate: 1000'),
  deleteFlowMaxBitRate: flowOp('deleteFlowMaxBitRate'),
  setFlowAvgBitRate: flowOp('setFlowAvgBitRate', ', avgBitRate: 1000'),
  deleteFlowAvgBitRate: flowOp('deleteFlowAvgBitRate'),
  setFlowReadOnly: flowOp('setFlowReadOnly', ', readOnly: false'),
  setFlowCollection: flowOp('setFlowCollection', ', collection: []'),
  deleteFlowCollection: flowOp('deleteFlowCollection'),
  setSourceTag: sourceOp('setSourceTag', ', name: "genre", value: "x"'),
  deleteSourceTag: sourceOp('deleteSourceTag', ', name: "genre"'),
  setSourceLabel: sourceOp('setSourceLabel', ', label: "x"'),
  deleteSourceLabel: sourceOp('deleteSourceLabel'),
  setSourceDescription: sourceOp('setSourceDescription', ', description: "x"'),
  deleteSourceDescription: sourceOp('deleteSourceDescription'),
  registerSegments: {
    allowed: 'NOT_FOUND',
    otherClass: 'NOT_FOUND',
    operation: (t) => ({
      query: 'mutation($f: ID!, $s: [FlowSegmentInput!]!) { registerSegments(flowId: $f, segments: $s) { registeredCount } }',
      variables: { f: t.flowId, s: [{ objectId: randomUUID(), timerange: '[100:0_101:0)' }] },
    }),
  },
  deleteSegments: {
    allowed: 'NOT_FOUND',
    otherClass: 'NOT_FOUND',
    operation: (t) => ({ query: 'mutation($f: ID!) { deleteSegments(flowId: $f) { done } }', variables: { f: t.flowId } }),
  },
  allocateStorage: {
    allowed: 'NOT_FOUND',
    otherClass: 'NOT_FOUND',
    operation: (t) => ({ query: 'mutation($f: ID!) { allocateStorage(flowId: $f, limit: 1) { objectId } }', variables: { f: t.flowId } }),
  },
  addObjectInstance: {
    allowed: 'NOT_FOUND',
    otherClass: 'NOT_FOUND',
    operation: (t) => ({
      query: 'mutation($o: String!) { addObjectInstance(objectId: $o, url: "https://mirror.example.com/x", label: "mirror") { id } }',
      variables: { o: t.objectId },
    }),
  },
  removeObjectInstance: {
    allowed: 'NOT_FOUND',
    otherClass: 'NOT_FOUND',
    operation: (t) => ({ query: 'mutation($o: String!) { removeObjectInstance(objectId: $o, label: "mirror") { id } }', variables: { o: t.objectId } }),
  },
  updateService: {
    allowed: 'data',
    otherClass: 'FORBIDDEN',
    operation: () => ({ query: 'mutation { updateService(input: { description: "matrix" }) { name } }' }),
  },
  createWebhook: {
    allowed: 'data',
    // A flow of another class in a filter is treated as an unknown one: accepted (no existence
    // oracle); its events are checked against the owner's permissions when delivered.
    otherClass: 'data',
    operation: (t) => ({
      query: 'mutation($input: WebhookInput!) { createWebhook(input: $input) { id } }',
      variables: { input: { url: 'http://127.0.0.1:9/hook', events: ['flows/created'], flowIds: [t.flowId] } },
    }),
  },
  updateWebhook: {
    allowed: 'NOT_FOUND',
    otherClass: 'NOT_FOUND',
    operation: (t) => ({
      query: 'mutation($id: ID!, $input: WebhookInput!) { updateWebhook(id: $id, input: $input) { id } }',
      variables: { id: t.webhookId, input: { url: 'http://127.0.0.1:9/hook', events: ['flows/created'], status: 'created' } },
    }),
  },
  deleteWebhook: { allowed: 'NOT_FOUND', otherClass: 'NOT_FOUND', operation: (t) => ({ query: 'mutation($id: ID!) { deleteWebhook(id: $id) { id } }', variables: { id: t.webhookId } }) },
  createProfile: {
    allowed: 'data',
    otherClass: 'data',
    operation: () => ({
      query: 'mutation($id: ID!, $input: ProfileInput!) { createProfile(id: $id, input: $input) { id } }',
      variables: { id: randomUUID(), input: { flowMetadata: { codec: 'video/h264', container: 'video/mp2t', video: VIDEO } } },
    }),
  },
};

const CASES: Record<'Query' | 'Mutation', Record<string, FieldCase>> = { Query: QUERIES, Mutation: MUTATIONS };

/** The principals of the matrix: each single scope, all of them, none. */
const SCOPE_SETS: Record<string, Scope[]> = {
  read: ['read'],
  write: ['write'],
  delete: ['delete'],
  admin: ['admin'],
  'all scopes': ['read', 'write', 'delete', 'admin'],
  'no scope': [],
};

function fresh(): Target {
  return { flowId: randomUUID(), sourceId: randomUUID(), webhookId: randomUUID(), objectId: randomUUID() };
}

/** The outcome of one GraphQL response for `field`. */
function outcomeOf(body: Json, field: string): string {
  if (body.errors !== undefined) {
    const codes = (body.errors as Json[]).map((e) => e.extensions?.code as string);
    return codes.length === 1 ? (codes[0] as string) : `errors ${codes.join(',')}`;
  }
  return body.data?.[field] === null ? 'null' : body.data?.[field] === undefined ? 'nothing' : 'data';
}

describe('GraphQL authorization (TAMS_AUTH=on, real tokens)', () => {
  let h: Harness;
  const tokens: Record<string, string> = {};
  const news: Target = fresh();
  /** Streams the subscription hub opened (a subscription that started). */
  let started = 0;

  async function token(subject: string, scopes: Scope[], authClasses: string[] = []): Promise<string> {
    const config = h.gateway.config;
    return issueToken(tokenSigner(config), { subject, scopes, authClasses, ttlSec: 600 }, config);
  }

  async function gql(bearer: string, op: Operation): Promise<{ status: number; body: Json }> {
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify(op),
    });
    return { status: res.status, body: await res.json() };
  }

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
    for (const [name, scopes] of Object.entries(SCOPE_SETS)) tokens[name] = await token(`only-${name}`, scopes);
    tokens.newsroom = await token('newsroom', ['read', 'write', 'delete'], ['news']);
    tokens.sport = await token('sports-desk', ['read', 'write', 'delete'], ['sport']);

    // The news fixture: a flow (and its source), an object registered on it, a webhook, all of class news.
    const put = await gql(tokens.newsroom, {
      query: 'mutation($id: ID!, $input: PutFlowInput!) { putFlow(id: $id, input: $input) { created } }',
      variables: { id: news.flowId, input: videoInput(news.sourceId, { auth_classes: 'news' }) },
    });
    expect(put.body).toEqual({ data: { putFlow: { created: true } } });
    // Segments name objects the store knows: allocated first, as a client does.
    const allocated = await gql(tokens.newsroom, {
      query: 'mutation($f: ID!) { allocateStorage(flowId: $f, limit: 1) { objectId } }',
      variables: { f: news.flowId },
    });
    news.objectId = (allocated.body as { data: { allocateStorage: { objectId: string }[] } }).data.allocateStorage[0]!.objectId;
    const registered = await gql(tokens.newsroom, {
      query: 'mutation($f: ID!, $s: [FlowSegmentInput!]!) { registerSegments(flowId: $f, segments: $s) { registeredCount } }',
      variables: { f: news.flowId, s: [{ objectId: news.objectId, timerange: '[0:0_1:0)' }] },
    });
    expect(registered.body).toEqual({ data: { registerSegments: { registeredCount: 1 } } });
    const webhook = await gql(tokens.newsroom, {
      query: 'mutation($input: WebhookInput!) { createWebhook(input: $input) { id } }',
      variables: { input: { url: 'http://127.0.0.1:9/news', events: ['flows/created'], tags: { auth_classes: 'news' } } },
    });
    news.webhookId = webhook.body.data.createWebhook.id as string;

    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the hub as `this`
    const subscribeToHub = SubscriptionEvents.prototype.subscribe;
    jest.spyOn(SubscriptionEvents.prototype, 'subscribe').mockImplementation(function (this: SubscriptionEvents, selector) {
      started += 1;
      return subscribeToHub.call(this, selector);
    });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await h.close();
  });

  it('has a case for every Query and Mutation field of the schema', () => {
    expect(Object.keys(QUERIES).sort()).toEqual(Object.keys(ROOT_FIELD_ACTIONS.Query).sort());
    expect(Object.keys(MUTATIONS).sort()).toEqual(Object.keys(ROOT_FIELD_ACTIONS.Mutation).sort());
  });

  describe.each(['Query', 'Mutation'] as const)('%s fields x scopes', (type) => {
    it.each(Object.keys(CASES[type]))('%s', async (field) => {
      const fieldCase = CASES[type][field]!;
      const needed = requiredScopes((ROOT_FIELD_ACTIONS[type] as Record<string, Parameters<typeof requiredScopes>[0]>)[field]!);
      for (const [name, scopes] of Object.entries(SCOPE_SETS)) {
        const expected = scopes.some((s) => needed.includes(s)) ? fieldCase.allowed : 'FORBIDDEN';
        const res = await gql(tokens[name]!, fieldCase.operation(fresh()));
        expect({ field, token: name, status: res.status, outcome: outcomeOf(res.body, field) }).toEqual({ field, token: name, status: 200, outcome: expected });
        if (expected === 'FORBIDDEN') {
          expect(res.body.errors[0].message).toBe(`This request needs scope ${needed.join(' or ')}`);
          expect(res.body.errors[0].path).toEqual([field]);
        }
      }
    });
  });

  describe.each(['Query', 'Mutation'] as const)('%s fields x another auth class', (type) => {
    it.each(Object.keys(CASES[type]))('%s', async (field) => {
      const res = await gql(tokens.sport!, CASES[type][field]!.operation(news));
      expect({ field, outcome: outcomeOf(res.body, field) }).toEqual({ field, outcome: CASES[type][field]!.otherClass });
    });
  });

  it('shows the class fixture to its own class and hides it from listings of another', async () => {
    const reads: Operation = {
      query: `query($f: ID!, $s: ID!, $w: ID!, $o: ID!) {
        flow(id: $f) { id } source(id: $s) { id } webhook(id: $w) { id } object(id: $o) { id }
        segments(flowId: $f) { nodes { objectId } }
        flows { nodes { id } } sources { nodes { id } } webhooks { nodes { id } }
      }`,
      variables: { f: news.flowId, s: news.sourceId, w: news.webhookId, o: news.objectId },
    };
    const own = (await gql(tokens.newsroom!, reads)).body;
    expect(own.errors).toBeUndefined();
    expect(own.data).toMatchObject({
      flow: { id: news.flowId },
      source: { id: news.sourceId },
      webhook: { id: news.webhookId },
      object: { id: news.objectId },
      segments: { nodes: [{ objectId: news.objectId }] },
    });
    const other = (await gql(tokens.sport!, reads)).body;
    expect(other.errors).toBeUndefined();
    expect(other.data).toMatchObject({ flow: null, source: null, webhook: null, object: null, segments: { nodes: [] } });
    const ids = (list: Json): string[] => (list.nodes as Json[]).map((n) => n.id as string);
    expect(ids(own.data.flows)).toContain(news.flowId);
    expect(ids(other.data.flows)).not.toContain(news.flowId);
    expect(ids(other.data.sources)).not.toContain(news.sourceId);
    expect(ids(other.data.webhooks)).not.toContain(news.webhookId);
  });

  describe('Subscription fields over graphql-ws', () => {
    const subscriptionFields = Object.keys(ROOT_FIELD_ACTIONS.Subscription);
    const selection: Record<string, string> = {
      flowCreated: 'id',
      flowUpdated: 'id',
      flowDeleted: 'flowId',
      flowSegmentsAdded: 'flowId',
      flowSegmentsDeleted: 'flowId',
      sourceCreated: 'id',
      sourceUpdated: 'id',
      sourceDeleted: 'sourceId',
      tamsEvents: 'eventType',
    };

    /** Subscribes and answers how it went: `started` (in the hub) or the close code of the socket. */
    async function attempt(connectionParams: Record<string, unknown>, field: string): Promise<string | number> {
      const before = started;
      let closed: number | undefined;
      const client = createClient({
        url: `${h.base.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams,
        on: { closed: (event) => (closed = (event as { code: number }).code) },
      });
      const dispose = client.subscribe({ query: `subscription { ${field} { ${selection[field]!} } }` }, { next: () => undefined, error: () => undefined, complete: () => undefined });
      const deadline = Date.now() + 5000;
      while (started === before && closed === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const outcome = started > before ? 'started' : (closed ?? 'timeout');
      dispose();
      await client.dispose();
      return outcome;
    }

    it('has a selection for every Subscription field', () => {
      expect(Object.keys(selection).sort()).toEqual([...subscriptionFields].sort());
    });

    it.each(subscriptionFields)('%s x scopes: read or admin subscribes, anything else is closed with 4403', async (field) => {
      for (const [name, scopes] of Object.entries(SCOPE_SETS)) {
        const expected = scopes.includes('read') || scopes.includes('admin') ? 'started' : 4403;
        expect({ field, token: name, outcome: await attempt({ authorization: `Bearer ${tokens[name]!}` }, field) }).toEqual({ field, token: name, outcome: expected });
      }
      // Another auth class subscribes too: each event is then checked (subscription-auth.test.ts).
      expect(await attempt({ authorization: `Bearer ${tokens.sport!}` }, field)).toBe('started');
    });

    it.each(subscriptionFields)('%s x credentials: none or bad is closed with 4401', async (field) => {
      const bad = (await embeddedTokens(h.dataDir, ISSUER, AUDIENCE)).bad.filter((b) =>
        ['expired', 'forged signature', 'alg none', 'wrong issuer', 'wrong audience'].includes(b.name),
      );
      expect(bad).toHaveLength(5);
      expect({ field, credentials: 'none', outcome: await attempt({}, field) }).toEqual({ field, credentials: 'none', outcome: 4401 });
      for (const b of bad) {
        expect({ field, credentials: b.name, outcome: await attempt({ authorization: `Bearer ${b.token}` }, field) }).toEqual({
          field,
          credentials: b.name,
          outcome: 4401,
        });
      }
    });
  });
});
