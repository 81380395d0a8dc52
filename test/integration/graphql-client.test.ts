/**
 * The typed client (client/) against the built gateway in a child process: queries and
 * mutations with the generated documents, and resumable subscriptions. The gateway is stopped
 * and started again on the same port and data directory while a subscription is open; segments
 * registered while it is down (straight into its SQLite file, as another writer of the store
 * would) and right after it is back must all reach the subscriber, each once, in order.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import {
  AllocateStorageDocument,
  FlowSegmentsAddedDocument,
  type FlowSegmentsAddedSubscription,
  FlowWithSegmentsDocument,
  PutFlowDocument,
  RegisterSegmentsDocument,
  ServiceAndMeDocument,
  SetFlowLabelDocument,
  type TamsClient,
  TamsGraphqlError,
  TamsEventsDocument,
  createTamsClient,
} from '../../client/src';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { parseTimeRange } from '../../src/domain/timerange';
import { type ChildGateway, buildIfStale, startChildGateway } from '../support/child-gateway';
import { checkedFetch } from '../support/checked-fetch';

const WAIT_MS = 30_000;

async function waitFor(condition: () => boolean, what: () => string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What one subscription delivered, in order. */
interface Received {
  events: { data: FlowSegmentsAddedSubscription; cursor: string }[];
  errors: TamsGraphqlError[];
  connection: boolean[];
}

function timeranges(received: Received): string[] {
  return received.events.flatMap((e) => e.data.flowSegmentsAdded.segments.map((s) => s.timerange));
}

describe('the typed client against a gateway process', () => {
  let dataDir: string;
  let gateway: ChildGateway;
  let port: string;
  let admin: string;
  const clients: { unsubscribe(): void }[] = [];
  /** The flow every test registers on, and the next free second on its timeline. */
  let flowId: string;
  let second = 0;

  function client(token = admin): TamsClient {
    return createTamsClient({
      url: `${gateway.base}/graphql`,
      token,
      fetch: (input, init) => checkedFetch(input instanceof Request ? input.url : input, init),
      webSocketImpl: WebSocket,
      retry: { minDelayMs: 100, maxDelayMs: 1000 },
    });
  }

  function subscribeSegments(tams: TamsClient, after?: string, flowIds: string[] = [flowId]): Received & { ready: Promise<void> } {
    const received: Received = { events: [], errors: [], connection: [] };
    const subscription = tams.subscribe(FlowSegmentsAddedDocument, {
      variables: { flowIds },
      ...(after === undefined ? {} : { after }),
      onEvent: (data, cursor) => received.events.push({ data, cursor }),
      onError: (error) => received.errors.push(error),
      onConnectionChange: (up) => received.connection.push(up),
    });
    clients.push(subscription);
    return { ...received, ready: subscription.ready };
  }

  /** Registers one segment a second long through GraphQL (allocated, uploaded, registered); returns its timerange. */
  async function register(tams: TamsClient, flow = flowId): Promise<string> {
    const [allocation] = (await tams.request(AllocateStorageDocument, { flowId: flow, limit: 1 })).allocateStorage;
    const put = await checkedFetch(allocation!.putUrl.url, { method: 'PUT', body: Buffer.from('media'), headers: { 'content-type': allocation!.putUrl.contentType } });
    expect(put.status).toBeLessThan(300);
    await put.arrayBuffer();
    const timerange = `[${second}:0_${second + 1}:0)`;
    second += 1;
    const result = await tams.request(RegisterSegmentsDocument, { flowId: flow, segments: [{ objectId: allocation!.objectId, timerange }] });
    expect(result.registerSegments).toEqual({ registeredCount: 1, failed: [] });
    return timerange;
  }

  async function putFlow(tams: TamsClient, tags: Record<string, unknown> = {}): Promise<string> {
    const id = randomUUID();
    const { putFlow: put } = await tams.request(PutFlowDocument, {
      id,
      input: {
        sourceId: randomUUID(),
        codec: 'video/h264',
        container: 'video/mp2t',
        label: 'camera 1',
        tags,
        video: { frameWidth: 1920, frameHeight: 1080, frameRate: { numerator: 50, denominator: 1 } },
      },
    });
    expect(put).toMatchObject({ created: true, flow: { id, format: 'urn:x-nmos:format:video' } });
    return id;
  }

  beforeAll(async () => {
    buildIfStale();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-client-'));
    gateway = await startChildGateway({ LOG_LEVEL: 'warn' }, { dataDir });
    port = new URL(gateway.base).port;
    admin = gateway.token('read,write,delete,admin');
    flowId = await putFlow(client());
  }, 360_000);

  afterAll(async () => {
    for (const c of clients) c.unsubscribe();
    await gateway?.stop();
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('runs typed queries and mutations, and rejects with the error registry code', async () => {
    const tams = client(gateway.token('read,write'));
    const { me, service } = await tams.request(ServiceAndMeDocument);
    expect(me.scopes).toEqual(expect.arrayContaining(['read', 'write']));
    expect(service.apiVersion).toBe('8.2');
    expect((await tams.request(SetFlowLabelDocument, { flowId, label: 'studio 2' })).setFlowLabel).toEqual({ id: flowId, label: 'studio 2' });
    const timerange = await register(tams);
    const read = await tams.request(FlowWithSegmentsDocument, { id: flowId, timerange });
    expect(read.flow).toMatchObject({ id: flowId, label: 'studio 2', container: 'video/mp2t' });
    expect(read.segments.nodes.map((s) => s.timerange)).toEqual([timerange]);
    expect(read.segments.nodes[0]!.getUrls.length).toBeGreaterThan(0);

    const refused = await tams.request(FlowWithSegmentsDocument, { id: flowId, timerange: 'not a timerange' }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TamsGraphqlError);
    expect(refused).toMatchObject({ code: 'BAD_USER_INPUT' });
    const unauthenticated = await client('not-a-token').request(ServiceAndMeDocument).catch((err: unknown) => err);
    expect(unauthenticated).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('keeps a subscription across a gateway restart: segments registered while it was down arrive after, each once, in order', async () => {
    const tams = client();
    const sub = subscribeSegments(tams);
    await sub.ready;
    const expected = [await register(tams), await register(tams)];
    await waitFor(() => sub.events.length === 2, () => `2 events (have ${JSON.stringify(timeranges(sub))})`);
    // Objects for the segments registered while the gateway is down.
    const allocated = (await tams.request(AllocateStorageDocument, { flowId, limit: 3 })).allocateStorage.map((a) => a.objectId);

    await gateway.stop();
    await waitFor(() => sub.connection.includes(false), () => 'the client to see the connection go');
    const store = new SqliteMetadataStore({ filename: path.join(dataDir, 'tams.db') });
    await store.init();
    try {
      for (const objectId of allocated) {
        const timerange = `[${second}:0_${second + 1}:0)`;
        second += 1;
        const [outcome] = await store.addSegments(flowId, [{ object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange }], new Date().toISOString());
        expect(outcome).not.toHaveProperty('error');
        expected.push(timerange);
      }
    } finally {
      await store.close();
    }

    gateway = await startChildGateway({ LOG_LEVEL: 'warn', PORT: port }, { dataDir });
    // At once, most likely before the client's next attempt reaches the new process.
    expected.push(await register(client()));
    await waitFor(() => sub.events.length >= expected.length, () => `${expected.length} events (have ${JSON.stringify(timeranges(sub))})`);
    // One more live: had anything come twice, it would stand before this one.
    expected.push(await register(tams));
    await waitFor(() => sub.events.length >= expected.length, () => `${expected.length} events (have ${JSON.stringify(timeranges(sub))})`);
    expect(timeranges(sub)).toEqual(expected);
    expect(new Set(sub.events.map((e) => e.cursor)).size).toBe(sub.events.length);
    expect(sub.errors).toEqual([]);
    expect(sub.connection.slice(-2)).toEqual([false, true]);
  });

  it('replays after a cursor in the middle, then goes live', async () => {
    const tams = client();
    const first = subscribeSegments(tams);
    await first.ready;
    const expected = [await register(tams), await register(tams), await register(tams)];
    await waitFor(() => first.events.length === 3, () => 'the first subscription to see 3 events');

    const resumed = subscribeSegments(tams, first.events[0]!.cursor);
    await resumed.ready;
    await waitFor(() => resumed.events.length === 2, () => `2 replayed events (have ${JSON.stringify(timeranges(resumed))})`);
    expected.push(await register(tams));
    await waitFor(() => resumed.events.length === 3, () => `3 events (have ${JSON.stringify(timeranges(resumed))})`);
    expect(timeranges(resumed)).toEqual(expected.slice(1));
    await waitFor(() => first.events.length === 4, () => 'the first subscription to see the live event');
    expect(resumed.events.map((e) => e.cursor)).toEqual(first.events.slice(1).map((e) => e.cursor));
  });

  it('refuses a malformed cursor with BAD_USER_INPUT, and does not retry', async () => {
    const sub = subscribeSegments(client(), 'not!a!cursor');
    await waitFor(() => sub.errors.length > 0, () => 'an error');
    expect(sub.errors[0]).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/event cursor/) });
    const forged = subscribeSegments(client(), Buffer.from('outbox:99999999').toString('base64url'));
    await waitFor(() => forged.errors.length > 0, () => 'an error');
    expect(forged.errors[0]).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/past the newest event/) });
  });

  it('replays to a restricted token only the events it may see', async () => {
    const tams = client();
    const news = await putFlow(tams, { auth_classes: 'news' });
    const sport = await putFlow(tams, { auth_classes: 'sport' });
    const start = subscribeSegments(tams, undefined, [news, sport]);
    await start.ready;
    const newsSegments = [await register(tams, news)];
    await register(tams, sport);
    newsSegments.push(await register(tams, news));
    await waitFor(() => start.events.length === 3, () => 'the admin to see 3 events');

    const reader = client(gateway.token('read', ['--auth-classes', 'news']));
    const replayed = subscribeSegments(reader, start.events[0]!.cursor, [news, sport]);
    newsSegments.push(await register(tams, news));
    await waitFor(() => replayed.events.length === 2, () => `2 events (have ${JSON.stringify(timeranges(replayed))})`);
    // The sport event is not replayed; the first news one is the cursor itself.
    expect(timeranges(replayed)).toEqual(newsSegments.slice(1));
    expect(replayed.events.map((e) => e.data.flowSegmentsAdded.flowId)).toEqual([news, news]);
  });

  it('says when the cursor is older than the outbox retention kept', async () => {
    const tams = client();
    const sub = subscribeSegments(tams);
    await sub.ready;
    await register(tams);
    await waitFor(() => sub.events.length === 1, () => 'one event');
    const old = sub.events[0]!.cursor;
    await register(tams);
    await waitFor(() => sub.events.length === 2, () => 'two events');

    // Retention (TAMS_OUTBOX_RETENTION) removes what is older than its cutoff; here, everything so far.
    const store = new SqliteMetadataStore({ filename: path.join(dataDir, 'tams.db') });
    await store.init();
    try {
      expect(await store.pruneEvents(new Date(Date.now() + 60_000).toISOString(), 1_000_000)).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
    const expired = subscribeSegments(tams, old);
    await waitFor(() => expired.errors.length > 0, () => 'an error');
    expect(expired.errors[0]).toMatchObject({ code: 'EVENT_CURSOR_EXPIRED', message: expect.stringMatching(/retention/) });
    expect(expired.events).toEqual([]);

    // The newest cursor (pruned too) still resumes: nothing after it is missing.
    const latest = subscribeSegments(tams, sub.events[1]!.cursor);
    await latest.ready;
    const next = await register(tams);
    await waitFor(() => latest.events.length === 1, () => 'one event');
    expect(timeranges(latest)).toEqual([next]);
    expect(latest.errors).toEqual([]);
  });

  it('subscribes to every event in the TAMS webhook form with the same cursors', async () => {
    const tams = client();
    const seen: { type: string; cursor: string }[] = [];
    const subscription = tams.subscribe(TamsEventsDocument, {
      variables: { flowIds: [flowId], types: ['FLOWS_SEGMENTS_ADDED', 'FLOWS_UPDATED'] },
      onEvent: (data, cursor) => seen.push({ type: data.tamsEvents.eventType, cursor }),
    });
    clients.push(subscription);
    await subscription.ready;
    await tams.request(SetFlowLabelDocument, { flowId, label: 'studio 3' });
    await register(tams);
    await waitFor(() => seen.length === 2, () => `2 events (have ${JSON.stringify(seen)})`);
    expect(seen.map((e) => e.type)).toEqual(['FLOWS_UPDATED', 'FLOWS_SEGMENTS_ADDED']);
    expect(subscription.cursor).toBe(seen[1]!.cursor);
  });
});
