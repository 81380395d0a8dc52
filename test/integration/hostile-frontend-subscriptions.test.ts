/**
 * Hostile review of resumable GraphQL subscriptions (src/graphql/subscriptions/*,
 * src/services/event-cursor.ts) over graphql-ws on a real gateway: forged, malformed, huge,
 * negative and future `after:` cursors, and a restricted token replaying from the start of the
 * outbox, over a thousand events it may not see, naming the hidden flows in its filter.
 */
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { embeddedTokens } from '../support/auth-tokens';
import { Subscriber, waitFor } from '../support/ws-subscriber';
import { videoFlow } from '../fixtures/flows';

const ISSUER = 'https://tams.test';
const AUDIENCE = 'tams-gateway';
const cursorOf = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
/** The very first position: a client may forge it, and it asks for everything retained. */
const FROM_THE_START = cursorOf('outbox:0');

describe('hostile subscriptions: after: cursors (TAMS_AUTH=on)', () => {
  let h: Harness;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  let admin: string;
  let news: string;
  const open: Subscriber[] = [];
  const scope = (...scopes: string[]): string => scopes.map((s) => `tams-api/${s}`).join(' ');
  const asAdmin = (method: string, path: string, body?: unknown): ReturnType<Harness['request']> => h.request(method, path, body, { authorization: `Bearer ${admin}` });
  const connect = (token: string): Subscriber => {
    const subscriber = new Subscriber(`${h.base.replace(/^http/, 'ws')}/graphql`, { authorization: `Bearer ${token}` });
    open.push(subscriber);
    return subscriber;
  };
  const segment = (second: number): Record<string, unknown> => ({
    object_id: randomUUID(),
    timerange: `[${second}:0_${second + 1}:0)`,
    get_urls: [{ label: 'cdn', url: 'https://cdn.example/s.ts' }],
  });

  beforeAll(async () => {
    h = await startHarness({ TAMS_AUTH: 'on', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, RATE_LIMIT_WRITE_PER_MINUTE: '100000' });
    const issued = await embeddedTokens(h.dataDir, ISSUER, AUDIENCE);
    sign = async (claims) => issued.sign(claims);
    admin = await sign({ sub: 'admin', scope: scope('read', 'write', 'delete', 'admin') });
    news = await sign({ sub: 'news-viewer', scope: scope('read'), auth_classes: ['news'] });
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.client.dispose();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses malformed, forged, negative, huge, non-canonical and future cursors as BAD_USER_INPUT, never an internal error, and the connection stays usable', async () => {
    const cursors = [
      '',
      ' ',
      '=',
      'outbox:1',
      cursorOf('outbox:-1'),
      cursorOf('outbox:00'),
      cursorOf('outbox:1e3'),
      cursorOf('outbox:0x10'),
      cursorOf('outbox:1 '),
      cursorOf('outbox:9007199254740993'),
      cursorOf('outbox:99999999999999'),
      cursorOf('inbox:1'),
      cursorOf('outbox:1\u0000'),
      `${FROM_THE_START}=`,
      `${FROM_THE_START}\u0000`,
      'x'.repeat(65),
      'A'.repeat(64),
      '../../../etc/passwd',
      "'; DROP TABLE outbox; --",
      '\u{1F600}',
    ];
    const subscriber = connect(news);
    for (const after of cursors) {
      const before = subscriber.results.length + subscriber.errors.length;
      subscriber.subscribe(`subscription { flowCreated(after: ${JSON.stringify(after)}) { id } }`);
      await waitFor(() => subscriber.results.length + subscriber.errors.length > before, `the answer to after: ${JSON.stringify(after)}`, 10_000);
      const answer = JSON.stringify([...subscriber.results.slice(before), ...subscriber.errors.slice(before)]);
      expect({ after, internal: /INTERNAL_SERVER_ERROR|Internal server error/i.test(answer) }).toEqual({ after, internal: false });
      expect({ after, code: /BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED|BAD_REQUEST/.test(answer) }).toEqual({ after, code: true });
    }
    // Still usable: a valid cursor replays.
    const flow = videoFlow();
    expect((await asAdmin('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    subscriber.subscribe(`subscription { flowCreated(after: "${FROM_THE_START}") { id } }`);
    await waitFor(() => subscriber.data('flowCreated').some((f: { id: string }) => f.id === flow.id), 'the replayed flowCreated', 10_000);
  }, 60_000);

  it('replays from the start of the outbox, over a thousand events it may not see, only what a restricted token may see', async () => {
    const secretSource = randomUUID();
    const ownClass = videoFlow({ source_id: secretSource, label: `SECRET-${randomUUID()}`, tags: { auth_classes: 'secret' } });
    expect((await asAdmin('PUT', `/flows/${ownClass.id as string}`, ownClass)).status).toBe(201);
    expect((await h.request('PUT', `/sources/${secretSource}/tags/auth_classes`, '"secret"', { authorization: `Bearer ${admin}` })).status).toBe(204);
    const inherited = videoFlow({ source_id: secretSource, label: `INHERITED-${randomUUID()}` });
    expect((await asAdmin('PUT', `/flows/${inherited.id as string}`, inherited)).status).toBe(201);
    const hidden = [ownClass.id as string, inherited.id as string];
    for (let i = 0; i < 1000; i++) expect((await asAdmin('POST', `/flows/${hidden[i % 2]!}/segments`, [segment(1000 + i)])).status).toBe(201);
    expect((await asAdmin('DELETE', `/flows/${ownClass.id as string}`)).status).toBeLessThan(300);
    const open = videoFlow({ label: 'PUBLIC', tags: { auth_classes: 'news' } });
    expect((await asAdmin('PUT', `/flows/${open.id as string}`, open)).status).toBe(201);

    const viewer = connect(news);
    // Every event type, and a filter naming the hidden flows: neither lets them through.
    viewer.subscribe(`subscription { tamsEvents(after: "${FROM_THE_START}") { eventType flowId sourceId event } }`);
    viewer.subscribe(`subscription { flowSegmentsAdded(after: "${FROM_THE_START}", flowIds: ${JSON.stringify([...hidden, open.id])}) { flowId } }`);
    // The replay ends, and the live events after it arrive.
    expect((await asAdmin('POST', `/flows/${open.id as string}/segments`, [segment(5000)])).status).toBe(201);
    await waitFor(() => viewer.data('flowSegmentsAdded').some((e: { flowId: string }) => e.flowId === open.id), 'the live public segment event', 30_000);
    await waitFor(() => viewer.data('tamsEvents').some((e: { eventType: string; flowId: string }) => e.flowId === open.id && e.eventType === 'FLOWS_SEGMENTS_ADDED'), 'the live public event', 30_000);

    const seen = JSON.stringify(viewer.results);
    for (const id of [...hidden, secretSource]) expect({ id, leaked: seen.includes(id) }).toEqual({ id, leaked: false });
    expect(seen).not.toContain(ownClass.label as string);
    expect(seen).not.toContain(inherited.label as string);
    expect(viewer.errors).toEqual([]);
    expect(viewer.data('flowSegmentsAdded').map((e: { flowId: string }) => e.flowId)).toEqual([open.id]);

    // The admin replaying the same range sees the hidden flows' events: the filter above was the viewer's, not missing data.
    const auditor = connect(admin);
    auditor.subscribe(`subscription { flowSegmentsAdded(after: "${FROM_THE_START}", flowIds: ${JSON.stringify(hidden)}) { flowId } }`);
    await waitFor(() => auditor.data('flowSegmentsAdded').length === 1000, 'the admin replay of 1000 events', 60_000);
  }, 180_000);
});
