import { randomBytes, randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { Client, createClient } from 'graphql-ws';
import { startHarness, Harness } from '../support/gateway-harness';
import { allocateObjects } from '../support/allocate-objects';
import { itWithSpec, validateEvent } from '../support/tams-spec';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { SubscriptionEvents } from '../../src/graphql/subscriptions/subscription-events';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';
import { checkedFetch } from '../support/checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

const WAIT_MS = 5000;

/** Re-checks waiting conditions whenever something observable happens (a message, a close). */
const waiters = new Set<() => void>();
function changed(): void {
  for (const check of [...waiters]) check();
}

function waitFor(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  if (condition()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!condition()) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    waiters.add(check);
  });
}

/** One subscription's messages, as the client received them. */
class Feed {
  readonly results: Json[] = [];
  error: Json;
  completed = false;
  stream: AsyncIterableIterator<unknown> | undefined;
  dispose: () => void = () => undefined;

  /** The `data.<field>` of each result. */
  data(field: string): Json[] {
    return this.results.map((r) => r.data?.[field]);
  }

  async received(count: number, what: string): Promise<void> {
    await waitFor(() => this.results.length >= count, `${count} results of ${what} (have ${JSON.stringify(this.results)})`);
  }
}

/** Streams the hub handed out, and those taken back out of it. */
const streams: AsyncIterableIterator<unknown>[] = [];
const released = new WeakSet<object>();

describe('GraphQL subscriptions over graphql-ws', () => {
  let h: Harness;
  const clients: Client[] = [];
  /** Every subscription a test opened: completed after each test, whether it passed or not. */
  const feeds: Feed[] = [];
  /** Listeners the hub holds on the gateway's EventDispatcher. */
  let dispatcherListeners = 0;

  function connect(harness: Harness, closes?: Json[], connectionParams?: Record<string, unknown>): Client {
    const client = createClient({
      url: `${harness.base.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      ...(connectionParams === undefined ? {} : { connectionParams }),
      on: {
        closed: (event) => {
          closes?.push(event);
          changed();
        },
      },
    });
    clients.push(client);
    return client;
  }

  /** Subscribes and resolves once the server has put the subscription in the hub (or refused it). */
  async function subscribe(client: Client, query: string, variables?: Record<string, unknown>): Promise<Feed> {
    const feed = new Feed();
    feeds.push(feed);
    const before = streams.length;
    feed.dispose = client.subscribe(
      { query, ...(variables === undefined ? {} : { variables }) },
      {
        next: (result) => {
          feed.results.push(result);
          changed();
        },
        error: (err) => {
          feed.error = err;
          changed();
        },
        complete: () => {
          feed.completed = true;
          changed();
        },
      },
    );
    await waitFor(() => streams.length > before || feed.error !== undefined || feed.completed, 'the subscription to start');
    feed.stream = streams[before];
    return feed;
  }

  async function putFlow(flow: Record<string, unknown>, status = 201): Promise<void> {
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(status);
  }

  beforeAll(async () => {
    h = await startHarness();
    const subscribeToDispatcher = h.gateway.events.subscribe.bind(h.gateway.events);
    jest.spyOn(h.gateway.events, 'subscribe').mockImplementation((listener) => {
      dispatcherListeners += 1;
      const unsubscribe = subscribeToDispatcher(listener);
      return () => {
        dispatcherListeners -= 1;
        unsubscribe();
        changed();
      };
    });
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the hub as `this`
    const subscribeToHub = SubscriptionEvents.prototype.subscribe;
    jest.spyOn(SubscriptionEvents.prototype, 'subscribe').mockImplementation(function (this: SubscriptionEvents, selector) {
      const stream = subscribeToHub.call(this, selector);
      const giveBack = stream.return!.bind(stream);
      stream.return = () => {
        released.add(stream);
        changed();
        return giveBack();
      };
      streams.push(stream);
      changed();
      return stream;
    });
  });

  afterEach(() => {
    for (const feed of feeds.splice(0)) feed.dispose();
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await Promise.all(clients.map(async (c) => c.dispose()));
    await h.close();
  });

  it('flowCreated, sourceCreated and flowUpdated follow flow PUTs, with nested fields read afresh for each event', async () => {
    const client = connect(h);
    const flow = videoFlow();
    const created = await subscribe(client, 'subscription { flowCreated { id sourceId format label ... on VideoFlow { frameWidth frameRate { numerator } } } }');
    const sources = await subscribe(client, 'subscription ($ids: [ID!]) { sourceCreated(sourceIds: $ids) { id format label } }', {
      ids: [flow.source_id],
    });
    const updated = await subscribe(client, 'subscription ($ids: [ID!]) { flowUpdated(flowIds: $ids) { id label source { id label } } }', {
      ids: [flow.id],
    });

    await putFlow(flow);
    await created.received(1, 'flowCreated');
    await sources.received(1, 'sourceCreated');
    expect(created.data('flowCreated')).toEqual([
      { id: flow.id, sourceId: flow.source_id, format: 'urn:x-nmos:format:video', label: 'camera 1', frameWidth: 1920, frameRate: { numerator: 50 } },
    ]);
    expect(sources.data('sourceCreated')).toEqual([{ id: flow.source_id, format: 'urn:x-nmos:format:video', label: 'camera 1' }]);

    await putFlow({ ...flow, label: 'camera 1b' }, 204);
    await updated.received(1, 'flowUpdated');
    expect((await h.request('PUT', `/sources/${flow.source_id as string}/label`, JSON.stringify('renamed'))).status).toBe(204);
    await putFlow({ ...flow, label: 'camera 1c' }, 204);
    await updated.received(2, 'flowUpdated');
    // The second event sees the source label set in between: no loader cache outlives an event.
    expect(updated.data('flowUpdated')).toEqual([
      { id: flow.id, label: 'camera 1b', source: { id: flow.source_id, label: 'camera 1' } },
      { id: flow.id, label: 'camera 1c', source: { id: flow.source_id, label: 'renamed' } },
    ]);
    expect(created.results).toHaveLength(1);
  });

  it('flowSegmentsAdded and flowSegmentsDeleted follow segment POST and DELETE', async () => {
    const client = connect(h);
    const flow = videoFlow();
    await putFlow(flow);
    const vars = { ids: [flow.id] };
    const added = await subscribe(
      client,
      'subscription ($ids: [ID!]) { flowSegmentsAdded(flowIds: $ids) { flowId sourceId eventTimestamp segments { objectId timerange tsOffset keyFrameCount getUrls { url } } } }',
      vars,
    );
    const deleted = await subscribe(client, 'subscription ($ids: [ID!]) { flowSegmentsDeleted(flowIds: $ids) { flowId sourceId timerange } }', vars);

    const before = Date.now();
    const segments = [
      { object_id: 'obj-a', timerange: '[0:0_1:0)', key_frame_count: 1 },
      { object_id: 'obj-b', timerange: '[1:0_2:0)', ts_offset: '0:5' },
    ];
    await allocateObjects(h, flow.id as string, ['obj-a', 'obj-b']);
    expect((await h.request('POST', `/flows/${flow.id as string}/segments`, segments)).status).toBe(201);
    await added.received(1, 'flowSegmentsAdded');
    const [event] = added.data('flowSegmentsAdded');
    expect(event).toEqual({
      flowId: flow.id,
      sourceId: flow.source_id,
      eventTimestamp: expect.any(String),
      segments: [
        { objectId: 'obj-a', timerange: '[0:0_1:0)', tsOffset: null, keyFrameCount: 1, getUrls: [] },
        { objectId: 'obj-b', timerange: '[1:0_2:0)', tsOffset: '0:5', keyFrameCount: null, getUrls: [] },
      ],
    });
    expect(Date.parse(event.eventTimestamp)).toBeGreaterThanOrEqual(before - 1000);

    expect((await h.request('DELETE', `/flows/${flow.id as string}/segments?timerange=${encodeURIComponent('[0:0_1:0)')}`)).status).toBe(204);
    await deleted.received(1, 'flowSegmentsDeleted');
    expect(deleted.data('flowSegmentsDeleted')).toEqual([{ flowId: flow.id, sourceId: flow.source_id, timerange: '[0:0_1:0)' }]);
    expect(added.results).toHaveLength(1);
  });

  it('sourceUpdated follows a source label PUT; deleting the last flow of a source sends flowDeleted, flowSegmentsDeleted and sourceDeleted', async () => {
    const client = connect(h);
    const flow = audioFlow();
    const source = flow.source_id as string;
    await putFlow(flow);
    await allocateObjects(h, flow.id as string, ['obj-1']);
    expect((await h.request('POST', `/flows/${flow.id as string}/segments`, { object_id: 'obj-1', timerange: '[0:0_1:0)' })).status).toBe(201);
    const flowVars = { ids: [flow.id] };
    const sourceVars = { ids: [source] };
    const sourceUpdated = await subscribe(client, 'subscription ($ids: [ID!]) { sourceUpdated(sourceIds: $ids) { id label updated } }', sourceVars);
    const flowDeleted = await subscribe(client, 'subscription ($ids: [ID!]) { flowDeleted(flowIds: $ids) { flowId sourceId eventTimestamp } }', flowVars);
    const segmentsDeleted = await subscribe(client, 'subscription ($ids: [ID!]) { flowSegmentsDeleted(flowIds: $ids) { flowId timerange } }', flowVars);
    const sourceDeleted = await subscribe(client, 'subscription ($ids: [ID!]) { sourceDeleted(sourceIds: $ids) { sourceId eventTimestamp } }', sourceVars);

    expect((await h.request('PUT', `/sources/${source}/label`, JSON.stringify('studio audio'))).status).toBe(204);
    await sourceUpdated.received(1, 'sourceUpdated');
    expect(sourceUpdated.data('sourceUpdated')).toEqual([{ id: source, label: 'studio audio', updated: expect.any(String) }]);

    expect((await h.request('DELETE', `/flows/${flow.id as string}`)).status).toBe(204);
    await sourceDeleted.received(1, 'sourceDeleted');
    await flowDeleted.received(1, 'flowDeleted');
    await segmentsDeleted.received(1, 'flowSegmentsDeleted');
    expect(flowDeleted.data('flowDeleted')).toEqual([{ flowId: flow.id, sourceId: source, eventTimestamp: expect.any(String) }]);
    // The deleted segments' span (the event's rule: never starting or ending in empty space).
    expect(segmentsDeleted.data('flowSegmentsDeleted')).toEqual([{ flowId: flow.id, timerange: '[0:0_1:0)' }]);
    expect(sourceDeleted.data('sourceDeleted')).toEqual([{ sourceId: source, eventTimestamp: expect.any(String) }]);
  });

  it('flowIds, sourceIds and types filters leave other events out', async () => {
    const client = connect(h);
    const shared = randomUUID();
    const [a, b, c, d, e] = [videoFlow(), videoFlow(), videoFlow({ source_id: shared }), videoFlow({ source_id: shared }), videoFlow({ source_id: shared })];
    const byFlow = await subscribe(client, 'subscription ($ids: [ID!]) { flowCreated(flowIds: $ids) { id } }', { ids: [a.id, e.id] });
    const bySource = await subscribe(client, 'subscription ($ids: [ID!]) { flowCreated(sourceIds: $ids) { id } }', { ids: [shared] });
    const both = await subscribe(client, 'subscription ($f: [ID!], $s: [ID!]) { flowCreated(flowIds: $f, sourceIds: $s) { id } }', {
      f: [a.id, e.id],
      s: [shared],
    });
    const deletions = await subscribe(client, 'subscription { tamsEvents(types: [FLOWS_DELETED, SOURCES_DELETED]) { eventType flowId sourceId } }');

    // Each feed sees its events in commit order, so once it has the last one (e) it has
    // already been offered, and has refused, every event before it.
    for (const flow of [b, c, a, d, e]) await putFlow(flow);
    await byFlow.received(2, 'flowCreated(flowIds)');
    await bySource.received(3, 'flowCreated(sourceIds)');
    await both.received(1, 'flowCreated(flowIds, sourceIds)');
    expect(byFlow.data('flowCreated')).toEqual([{ id: a.id }, { id: e.id }]);
    expect(bySource.data('flowCreated')).toEqual([{ id: c.id }, { id: d.id }, { id: e.id }]);
    expect(both.data('flowCreated')).toEqual([{ id: e.id }]);

    expect((await h.request('DELETE', `/flows/${b.id as string}`)).status).toBe(204);
    await deletions.received(2, 'tamsEvents(types)');
    expect(deletions.data('tamsEvents')).toEqual([
      { eventType: 'FLOWS_DELETED', flowId: b.id, sourceId: b.source_id },
      { eventType: 'SOURCES_DELETED', flowId: null, sourceId: b.source_id },
    ]);
  });

  itWithSpec('tamsEvents carries every event of a source in the TAMS webhook form, in commit order', async () => {
    const client = connect(h);
    const flow = videoFlow();
    const source = flow.source_id as string;
    const [first, second] = [`${flow.id as string}/obj-1`, `${flow.id as string}/obj-2`];
    const all = await subscribe(client, 'subscription ($s: [ID!]) { tamsEvents(sourceIds: $s) { eventTimestamp eventType event flowId sourceId } }', { s: [source] });
    // flowIds limits flows/* events only, as a webhook's flow_ids does: sources/* events pass.
    const ofFlow = await subscribe(client, 'subscription ($f: [ID!]) { tamsEvents(flowIds: $f) { eventType flowId } }', { f: [flow.id] });

    await putFlow(flow);
    await putFlow({ ...flow, label: 'relabelled' }, 204);
    await allocateObjects(h, flow.id as string, [first, second]);
    expect((await h.request('POST', `/flows/${flow.id as string}/segments`, { object_id: first, timerange: '[0:0_1:0)', key_frame_count: 1 })).status).toBe(201);
    expect((await h.request('DELETE', `/flows/${flow.id as string}/segments?timerange=${encodeURIComponent('[0:0_1:0)')}`)).status).toBe(204);
    expect((await h.request('POST', `/flows/${flow.id as string}/segments`, { object_id: second, timerange: '[1:0_2:0)' })).status).toBe(201);
    expect((await h.request('PUT', `/sources/${source}/label`, JSON.stringify('renamed'))).status).toBe(204);
    expect((await h.request('DELETE', `/flows/${flow.id as string}`)).status).toBe(204);

    const expected = [
      'SOURCES_CREATED',
      'FLOWS_CREATED',
      'FLOWS_UPDATED',
      'FLOWS_SEGMENTS_ADDED',
      'FLOWS_SEGMENTS_DELETED',
      'FLOWS_SEGMENTS_ADDED',
      'SOURCES_UPDATED',
      'FLOWS_SEGMENTS_DELETED',
      'FLOWS_DELETED',
      'SOURCES_DELETED',
    ];
    await all.received(expected.length, 'tamsEvents');
    const events = all.data('tamsEvents');
    expect(events.map((e) => e.eventType)).toEqual(expected);
    for (const e of events) {
      const envelope = { event_timestamp: e.eventTimestamp, event_type: (e.eventType as string).toLowerCase().replace('_', '/'), event: e.event };
      const verdict = validateEvent(envelope.event_type, envelope);
      if (!verdict.ok) throw new Error(`${envelope.event_type} is not a TAMS webhook payload: ${verdict.errors}\n${JSON.stringify(envelope)}`);
      expect(e.sourceId).toBe(source);
      expect(e.flowId).toBe((e.eventType as string).startsWith('FLOWS_') ? flow.id : null);
    }
    expect(events[1].event.flow).toMatchObject({ id: flow.id, source_id: source, label: 'camera 1' });
    expect(events[3].event).toEqual({ flow_id: flow.id, segments: [{ object_id: first, timerange: '[0:0_1:0)', key_frame_count: 1 }] });
    expect(events[4].event).toEqual({ flow_id: flow.id, timerange: '[0:0_1:0)' });
    expect(events[9].event).toEqual({ source_id: source });

    await ofFlow.received(expected.length, 'tamsEvents(flowIds)');
    expect(ofFlow.data('tamsEvents').map((e) => e.eventType)).toEqual(expected);
  });

  it('refuses bad filter arguments with BAD_USER_INPUT, and bad documents or non-subscriptions with their codes', async () => {
    const client = connect(h);
    const refused = async (query: string, variables?: Record<string, unknown>): Promise<Json[]> => {
      const feed = await subscribe(client, query, variables);
      await waitFor(() => feed.completed || feed.error !== undefined, 'the refusal');
      expect(feed.stream).toBeUndefined();
      return feed.error ?? feed.results[0].errors;
    };
    const codes = (errors: Json[]): string[] => errors.map((e) => e.extensions?.code);

    const notUuid = await refused('subscription { flowCreated(flowIds: ["not-a-uuid"]) { id } }');
    expect(codes(notUuid)).toEqual(['BAD_USER_INPUT']);
    expect(notUuid[0].message).toMatch(/flowIds: must be a UUID/);
    expect(notUuid[0].path).toEqual(['flowCreated']);
    expect(codes(await refused('subscription { sourceDeleted(sourceIds: []) { sourceId } }'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await refused('subscription { tamsEvents(types: []) { eventType } }'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await refused('subscription ($t: [TamsEventType!]) { tamsEvents(types: $t) { eventType } }', { t: ['flows/created'] }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(codes(await refused('subscription ($f: [ID!]) { flowDeleted(flowIds: $f) { flowId } }', { f: [42.5] }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await refused('subscription { tamsEvents(types: [NOPE]) { eventType } }'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(await refused('subscription { flowCreated { '))).toEqual(['GRAPHQL_PARSE_FAILED']);
    const query = await refused('{ service { name } }');
    expect(codes(query)).toEqual(['BAD_REQUEST']);
    expect(query[0].message).toMatch(/over HTTP/);
  });

  it('allows 100 subscriptions per connection and refuses more with RATE_LIMITED', async () => {
    const client = connect(h);
    for (let i = 0; i < 100; i++) expect((await subscribe(client, 'subscription { sourceCreated { id } }')).stream).toBeDefined();
    const refused = await subscribe(client, 'subscription { sourceCreated { id } }');
    expect(refused.stream).toBeUndefined();
    expect(refused.error.map((e: Json) => e.extensions.code)).toEqual(['RATE_LIMITED']);
    // Another connection has its own allowance.
    expect((await subscribe(connect(h), 'subscription { sourceCreated { id } }')).stream).toBeDefined();
  });

  it('completing a subscription stops its deliveries and gives the dispatcher listener back with the last one', async () => {
    await waitFor(() => dispatcherListeners === 0, 'earlier subscriptions to be released');
    const client = connect(h);
    const first = await subscribe(client, 'subscription { flowCreated { id } }');
    expect(dispatcherListeners).toBe(1);
    const second = await subscribe(connect(h), 'subscription { flowCreated { id } }');
    // One listener feeds every subscriber.
    expect(dispatcherListeners).toBe(1);

    const before = videoFlow();
    await putFlow(before);
    await first.received(1, 'flowCreated');
    await second.received(1, 'flowCreated');

    first.dispose();
    await waitFor(() => released.has(first.stream!), 'the completed subscription to leave the hub');
    const after = videoFlow();
    await putFlow(after);
    await second.received(2, 'flowCreated');
    expect(second.data('flowCreated')).toEqual([{ id: before.id }, { id: after.id }]);
    expect(first.data('flowCreated')).toEqual([{ id: before.id }]);
    expect(dispatcherListeners).toBe(1);

    second.dispose();
    await waitFor(() => dispatcherListeners === 0, 'the dispatcher listener to be released');
  });

  it('answers a subscription sent over HTTP with BAD_REQUEST, pointing to WebSocket', async () => {
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'subscription { flowCreated { id } }' }),
    });
    const body: Json = await res.json();
    expect(body.errors.map((e: Json) => e.extensions.code)).toEqual(['BAD_REQUEST']);
    expect(body.errors[0].message).toMatch(/WebSocket/);
  });

  it('refuses WebSocket upgrades on other paths', async () => {
    const socket = new WebSocket(`${h.base.replace(/^http/, 'ws')}/flows`, 'graphql-transport-ws');
    const outcome = await new Promise<string>((resolve) => {
      socket.once('open', () => resolve('open'));
      socket.once('error', () => resolve('error'));
    });
    expect(outcome).toBe('error');
  });

  it('authenticates each connection: without credentials it is closed with 4401, with a bearer token it subscribes', async () => {
    const secured = await startHarness({ TAMS_AUTH: 'on', AUTH_HS256_SECRET: randomBytes(32).toString('hex') });
    try {
      const config = secured.gateway.config;
      const token = await issueToken(tokenSigner(config), { subject: 'watcher', scopes: ['read', 'write'], ttlSec: 300 }, config);
      const closes: Json[] = [];
      const refused = await subscribe(connect(secured, closes), 'subscription { flowCreated { id } }');
      await waitFor(() => closes.length > 0, 'the refusal');
      expect(closes[0].code).toBe(4401);
      expect(refused.stream).toBeUndefined();

      const feed = await subscribe(connect(secured, [], { authorization: `Bearer ${token}` }), 'subscription { flowCreated { id } }');
      expect(feed.stream).toBeDefined();
      const flow = videoFlow();
      expect((await secured.request('PUT', `/flows/${flow.id as string}`, flow, { authorization: `Bearer ${token}` })).status).toBe(201);
      await feed.received(1, 'flowCreated');
      expect(feed.data('flowCreated')).toEqual([{ id: flow.id }]);
    } finally {
      await secured.close();
    }
  });

  it('closes subscribers with 1001 (going away) when the gateway shuts down', async () => {
    const other = await startHarness();
    const closes: Json[] = [];
    const client = connect(other, closes);
    const feed = await subscribe(client, 'subscription { tamsEvents { eventType } }');
    expect(feed.stream).toBeDefined();

    const t0 = Date.now();
    await other.close();
    await waitFor(() => closes.length > 0 && feed.error !== undefined, 'the client to see the close');
    expect(closes[0].code).toBe(1001);
    expect(feed.error.code).toBe(1001);
    expect(released.has(feed.stream!)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
