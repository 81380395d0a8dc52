/**
 * Authorization of GraphQL subscriptions over graphql-ws with TAMS_AUTH=on and real tokens:
 * connections without valid credentials are closed with 4401, subscriptions the caller's scopes
 * do not allow with 4403, and every event is checked against each subscriber's auth classes
 * when it is delivered (the classes of its flow or source looked up once per event).
 */
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { Subscriber, waitFor } from '../support/ws-subscriber';
import { issueToken, tokenSigner } from '../../src/auth/token-issuer';
import { StoredEventVisibility } from '../../src/graphql/subscriptions/event-visibility';
import type { Scope } from '../../src/domain/principal';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

describe('GraphQL subscriptions: authentication, scopes and auth classes', () => {
  let h: Harness;
  let url: string;
  const subscribers: Subscriber[] = [];
  let admin: string;

  async function token(subject: string, scopes: Scope[], authClasses: string[] = []): Promise<string> {
    const config = h.gateway.config;
    return issueToken(tokenSigner(config), { subject, scopes, authClasses, ttlSec: 600 }, config);
  }

  function connect(connectionParams: Record<string, unknown>): Subscriber {
    const subscriber = new Subscriber(url, connectionParams);
    subscribers.push(subscriber);
    return subscriber;
  }

  async function rest(method: string, path: string, body?: unknown, status?: number): Promise<void> {
    const res = await checkedFetch(`${h.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (status !== undefined) expect({ method, path, status: res.status }).toEqual({ method, path, status });
  }

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on' });
    url = `${h.base.replace(/^http/, 'ws')}/graphql`;
    admin = await token('admin', ['admin']);
  });

  afterEach(async () => {
    await Promise.all(subscribers.splice(0).map(async (s) => s.client.dispose()));
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    await h.close();
  });

  it('closes a connection without valid credentials with 4401, before any subscription', async () => {
    for (const params of [{}, { authorization: 'Bearer not.a.jwt' }, { authorization: 'Basic bm9ib2R5Om5vdGhpbmc=' }, { token: 42 }]) {
      const s = connect(params);
      s.subscribe('subscription { flowCreated { id } }');
      await waitFor(() => s.closeCode !== undefined, 'the refusal');
      expect({ params, code: s.closeCode, acknowledged: s.acknowledged, results: s.results }).toEqual({ params, code: 4401, acknowledged: false, results: [] });
    }
  });

  it('writes an audit line for each refused connection and subscription, as REST does for 401 and 403', async () => {
    const before = h.auditLines().length;
    const stranger = connect({ authorization: 'Bearer not.a.jwt' });
    stranger.subscribe('subscription { flowCreated { id } }');
    const writer = connect({ authorization: `Bearer ${await token('audited-writer', ['write'])}` });
    writer.subscribe('subscription { flowCreated { id } }');
    // The client may close first (1000) once its only subscription has failed: the lines tell.
    await waitFor(() => h.auditLines().length >= before + 2, 'the audit lines');
    expect(stranger.closeCode).toBe(4401);
    const lines = h.auditLines().slice(before);
    expect(lines).toHaveLength(2);
    const unauthenticated = lines.find((l) => l.status === 401);
    expect(unauthenticated).toMatchObject({
      name: 'audit',
      event: 'denied',
      outcome: 'denied',
      principal: null,
      client: '127.0.0.1',
      method: 'GET',
      route: '/graphql',
      path: '/graphql',
      error: 'UNAUTHENTICATED',
      reason: expect.any(String),
      requestId: expect.any(String),
    });
    expect(JSON.stringify(unauthenticated)).not.toContain('not.a.jwt');
    expect(lines.find((l) => l.status === 403)).toMatchObject({
      event: 'denied',
      principal: { subject: 'audited-writer', method: 'bearer', authenticated: true },
      action: 'graphql.flowCreated',
      error: 'FORBIDDEN',
    });
  });

  it('closes with 4403 a subscription the scopes do not allow, and serves one they do', async () => {
    const writer = connect({ authorization: `Bearer ${await token('writer', ['write', 'delete'])}` });
    writer.subscribe('subscription { tamsEvents { eventType } }');
    await waitFor(() => writer.closeCode !== undefined, 'the refusal');
    expect(writer.acknowledged).toBe(true);
    expect(writer.closeCode).toBe(4403);

    const reader = connect({ token: await token('reader', ['read']) });
    reader.subscribe('subscription { flowCreated { id } }');
    await waitFor(() => reader.acknowledged, 'the connection');
    const flow = videoFlow();
    // The subscription reaches the hub a moment after the acknowledgement.
    await new Promise((r) => setTimeout(r, 200));
    await rest('PUT', `/flows/${flow.id as string}`, flow, 201);
    await waitFor(() => reader.data('flowCreated').length === 1, 'the event');
    expect(reader.data('flowCreated')).toEqual([{ id: flow.id }]);
    expect(reader.closeCode).toBeUndefined();
  });

  it('delivers each event only to subscribers whose auth classes may read its flow or source', async () => {
    const news = connect({ authorization: `Bearer ${await token('newsroom', ['read'], ['news'])}` });
    const sport = connect({ authorization: `Bearer ${await token('sports-desk', ['read'], ['sport'])}` });
    const everything = connect({ authorization: `Bearer ${admin}` });
    const query = 'subscription { tamsEvents { eventType flowId sourceId } }';
    for (const s of [news, sport, everything]) s.subscribe(query);
    await waitFor(() => [news, sport, everything].every((s) => s.acknowledged), 'the connections');
    await new Promise((r) => setTimeout(r, 200));
    const lookups = jest.spyOn(StoredEventVisibility.prototype, 'classesOf');

    // A news flow (its source takes its classes), a sport flow, an open flow, and a flow
    // without classes of its own on the news source (it inherits them).
    const newsFlow = videoFlow({ tags: { auth_classes: 'news' } });
    const sportFlow = videoFlow({ tags: { auth_classes: ['sport'] } });
    const openFlow = videoFlow({ tags: {} });
    const inherited = videoFlow({ source_id: newsFlow.source_id, tags: {} });
    for (const flow of [newsFlow, sportFlow, openFlow, inherited]) await rest('PUT', `/flows/${flow.id as string}`, flow, 201);
    for (const flow of [newsFlow, sportFlow]) {
      const objectId = randomUUID();
      await rest('POST', `/flows/${flow.id as string}/storage`, { object_ids: [objectId] }, 201);
      await rest('POST', `/flows/${flow.id as string}/segments`, { object_id: objectId, timerange: '[0:0_1:0)' }, 201);
    }
    // Deleted flows are no longer stored: their classes are those last seen.
    await rest('DELETE', `/flows/${inherited.id as string}`, undefined, 204);
    await rest('DELETE', `/flows/${sportFlow.id as string}`, undefined, 204);
    // The marker: an open source change everyone sees, delivered after everything above.
    await rest('PUT', `/sources/${openFlow.source_id as string}/label`, 'marker', 204);
    // The enum value of an event type (SOURCES_UPDATED) as TAMS names it (sources/updated).
    const typeOf = (e: Json): string => (e.eventType as string).toLowerCase().replace('_', '/');
    const marker = (s: Subscriber): boolean => s.data('tamsEvents').some((e) => typeOf(e) === 'sources/updated' && e.sourceId === openFlow.source_id);
    await waitFor(() => marker(news) && marker(sport) && marker(everything), 'the marker everywhere');

    const seen = (s: Subscriber): string[] => s.data('tamsEvents').map((e) => `${typeOf(e)} ${e.flowId ?? e.sourceId}`);
    const ev = (type: string, id: unknown): string => `${type} ${id as string}`;
    const newsEvents = [
      ev('flows/created', newsFlow.id),
      ev('sources/created', newsFlow.source_id),
      ev('flows/created', openFlow.id),
      ev('sources/created', openFlow.source_id),
      ev('flows/created', inherited.id),
      ev('flows/segments_added', newsFlow.id),
      ev('flows/deleted', inherited.id),
      ev('sources/updated', openFlow.source_id),
    ];
    const sportEvents = [
      ev('flows/created', sportFlow.id),
      ev('sources/created', sportFlow.source_id),
      ev('flows/created', openFlow.id),
      ev('sources/created', openFlow.source_id),
      ev('flows/segments_added', sportFlow.id),
      ev('flows/segments_deleted', sportFlow.id),
      ev('flows/deleted', sportFlow.id),
      ev('sources/deleted', sportFlow.source_id),
      ev('sources/updated', openFlow.source_id),
    ];
    expect([...seen(news)].sort()).toEqual([...newsEvents].sort());
    expect([...seen(sport)].sort()).toEqual([...sportEvents].sort());
    // Admin sees every event; the checked deliveries keep the outbox order.
    expect([...seen(everything)].sort()).toEqual([...new Set([...newsEvents, ...sportEvents])].sort());
    expect(seen(news)).toEqual(seen(everything).filter((e) => newsEvents.includes(e)));
    expect(seen(sport)).toEqual(seen(everything).filter((e) => sportEvents.includes(e)));
    // One lookup per event, not per subscriber.
    expect(lookups.mock.calls.length).toBe(seen(everything).length);
  });

  it('checks the classes an event has when it is delivered, not those at subscription', async () => {
    const news = connect({ authorization: `Bearer ${await token('newsroom', ['read'], ['news'])}` });
    news.subscribe('subscription { flowUpdated { id label } }');
    await waitFor(() => news.acknowledged, 'the connection');
    await new Promise((r) => setTimeout(r, 200));
    const flow = videoFlow({ tags: { auth_classes: 'news' } });
    await rest('PUT', `/flows/${flow.id as string}`, flow, 201);
    await rest('PUT', `/flows/${flow.id as string}/label`, 'still news', 204);
    await rest('PUT', `/flows/${flow.id as string}/tags/auth_classes`, 'sport', 204);
    await rest('PUT', `/flows/${flow.id as string}/label`, 'now sport', 204);
    await rest('PUT', `/flows/${flow.id as string}/tags/auth_classes`, 'news', 204);
    await rest('PUT', `/flows/${flow.id as string}/label`, 'news again', 204);
    await waitFor(() => news.data('flowUpdated').some((f) => f.label === 'news again'), 'the last update');
    // Not the two changes made while the flow was sport's; the change back to news carries the
    // label set meanwhile.
    expect(news.data('flowUpdated').map((f) => f.label)).toEqual(['still news', 'now sport', 'news again']);
  });
});
