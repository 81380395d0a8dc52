/**
 * The VAST store's webhooks, delivery positions and outbox retention (store/webhooks.ts,
 * webhook-deliveries.ts, outbox-retention.ts, outbox.ts readEvents) against the fake VAST server
 * over loopback sockets: one script of calls made on an in-memory SqliteMetadataStore too, every
 * answer compared (revisions, backlogs, reads below the pruned point included); then writers
 * racing, in both of the fake's conflict modes: one webhook id created twice at once, two cursor
 * moves from one position, a prune beside a prune, a deletion beside a cursor move, and an idle
 * move decided on a registration that a client replaces before the move commits.
 */
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { VastClient } from '../../src/adapters/vast/client/vast-client';
import type { VastTransaction } from '../../src/adapters/vast/client/vast-transaction';
import { VastMetadataStore } from '../../src/adapters/vast/vast-metadata-store';
import { vastStoreTables } from '../../src/adapters/vast/store/vast-tables';
import { advanceIdleWebhookCursors, putWebhook } from '../../src/adapters/vast/store/webhooks';
import type { Flow, Webhook } from '../../src/domain/entities';
import type { MetadataStore, TagFilter } from '../../src/ports/metadata-store';
import type { FakeVastOptions } from '../support/vast-fake-server';
import { allPages, startFakeVastClient, type FakeVastClient } from '../support/vast-fake-client';

const SCHEMA = 'hooks';
const MODES: NonNullable<FakeVastOptions['conflictDetection']>[] = ['at-write', 'at-commit'];

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function vastStore(options: Parameters<typeof startFakeVastClient>[0] = {}): Promise<{ fake: FakeVastClient; store: VastMetadataStore }> {
  const fake = await startFakeVastClient({ ...options, client: { conflictRetry: { maxRuns: 60, baseDelayMs: 2, maxDelayMs: 20 }, ...options.client } });
  closers.push(fake.close);
  const store = new VastMetadataStore({ client: fake.client, schema: SCHEMA });
  await store.init();
  closers.push(() => store.close());
  return { fake, store };
}

function flow(id: string, label?: string): Flow {
  return { id, source_id: `${id}-source`, format: 'urn:x-nmos:format:video', ...(label === undefined ? {} : { label }), tags: { auth_classes: ['news'] } };
}

function hook(id: string, extra: Partial<Webhook> = {}): Webhook {
  return { id, url: 'https://hook.example.com/', events: ['flows/updated'], status: 'created', ...extra };
}

const day = (n: number): string => `2030-01-0${n}T00:00:00.000Z`;

/** metadata_version values are random UUIDs in both stores: compared as "present". */
function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'metadata_version' && typeof v === 'string' ? 'version' : normalise(v)]));
}

/** Backlogs have no order in any store: compared as sorted JSON. */
async function backlogs(store: MetadataStore): Promise<string[]> {
  return (await store.webhookBacklogs()).map((b) => JSON.stringify(b)).sort();
}

describe('VAST webhooks and delivery positions compared with SQLite', () => {
  it('answers a whole script of registrations, cursor moves, failures and prunes as SQLite does', async () => {
    const { store: vast } = await vastStore();
    const sqlite = new SqliteMetadataStore({ filename: ':memory:' });
    await sqlite.init();
    closers.push(() => sqlite.close());
    const each = async <T>(work: (s: MetadataStore) => Promise<T>): Promise<T> => {
      const [a, b] = [await work(vast), await work(sqlite)];
      expect(normalise(a)).toEqual(normalise(b));
      return a;
    };

    await each((s) => s.putFlow(flow('f1'), day(1)));
    await each((s) => s.putWebhook(hook('a', { owner: 'alice', tags: { kind: 'x' } })));
    await each((s) => s.putWebhook(hook('b', { status: 'started', url: 'https://a.example/', owner: 'alice' })));
    await each((s) => s.putWebhook(hook('c', { status: 'disabled', url: 'https://a.example/', tags: { kind: ['y', 'x'] } })));
    await each((s) => s.putWebhook(hook('d', { url: 'https://b.example/' })));
    for (const limit of [1, 2, 10]) {
      for (const tags of [undefined, { values: { kind: ['x'] }, exists: {} }, { values: {}, exists: { kind: false } }] as (TagFilter | undefined)[]) {
        await each(async (s) => (await allPages((after) => s.listWebhooks(tags === undefined ? {} : { tags }, { limit, after }))).map((p) => p));
      }
    }
    await each((s) => s.countWebhooksOwnedBy('alice'));
    await each((s) => s.listWebhookDeliveries());
    await each((s) => s.listWebhookDeliveries({ behind: true }));

    await each((s) => s.updateFlow('f1', (f) => ({ ...f, label: 'one' }), day(2)));
    await each((s) => s.putFlow(flow('f2'), day(3)));
    await each((s) => s.listWebhookDeliveries({ behind: true }));
    expect(await backlogs(vast)).toEqual(await backlogs(sqlite));
    const start = (await each((s) => s.getWebhookDelivery('a')))!.cursor;
    await each((s) => s.readEventsWithContext(start, 2));
    await each((s) => s.advanceWebhookCursor('a', start, start + 1, { type: 'skipped', summary: 'gone', time: day(3) }));
    await each((s) => s.advanceWebhookCursor('a', start, start + 2));
    const b = (await each((s) => s.getWebhookDelivery('b')))!;
    await each((s) => s.advanceIdleWebhookCursors([{ id: 'b', from: b.cursor, to: b.cursor + 1, revision: `${b.revision} ` }]));
    await each((s) => s.advanceIdleWebhookCursors([{ id: 'b', from: b.cursor, to: b.cursor + 1, revision: b.revision }]));
    await each((s) => s.advanceWebhookCursors([{ id: 'd', from: start, to: start + 2 }, { id: 'd', from: start + 2, to: start + 3 }, { id: 'c', from: start + 1, to: start + 3 }]));
    await each((s) => s.recordWebhookFailure('a', 4, 777, 'answered 502'));
    await each((s) => s.recordWebhookFailure('gone', 4, 777, 'answered 502'));
    await each((s) => s.failWebhook('a', { type: 'delivery_failed', summary: 'x', time: day(4) }));
    await each((s) => s.failWebhook('c', { type: 'delivery_failed', summary: 'x', time: day(4) }));
    await each((s) => s.putWebhook(hook('a', { owner: 'alice', status: 'created' })));
    await each((s) => s.recordWebhookFailure('b', 2, 5, 'timed out'));
    await each((s) => s.putWebhook(hook('b', { status: 'started', url: 'https://c.example/' })));
    await each((s) => s.listWebhookDeliveries());
    expect(await backlogs(vast)).toEqual(await backlogs(sqlite));

    // Retention: oldest first, stopping at the first young event, a few at a time.
    await each((s) => s.putFlow(flow('f3'), day(5)));
    await each((s) => s.pruneEvents(day(3), 1));
    await each((s) => s.outboxPruned());
    await each((s) => s.readEvents(0, 2));
    await each((s) => s.pruneEvents(day(3), 1000));
    await each((s) => s.outboxPruned());
    for (const [after, limit] of [
      [0, 1],
      [0, 100],
      [1, 2],
      [-3, 2],
    ] as const) {
      await each((s) => s.readEventsWithContext(after, limit));
    }
    expect(await backlogs(vast)).toEqual(await backlogs(sqlite));
    await each((s) => s.listWebhookDeliveries({ behind: true }));

    // Everything pruned: a new webhook still starts past the newest event.
    await each((s) => s.pruneEvents(day(9), 1000));
    await each((s) => s.outboxPruned());
    await each((s) => s.readEvents(0, 10));
    await each((s) => s.putWebhook(hook('e')));
    await each((s) => s.getWebhookDelivery('e'));
    expect(await backlogs(vast)).toEqual(await backlogs(sqlite));
    await each((s) => s.listWebhookDeliveries({ behind: true }));
    await each((s) => s.deleteWebhook('a'));
    await each((s) => s.deleteWebhook('a'));
    await each((s) => s.getWebhookDelivery('a'));
    await each((s) => s.listWebhookDeliveries());
  });
});

describe.each(MODES)('VAST webhooks with writers racing (conflicts %s)', (conflictDetection) => {
  it('keeps one registration and one delivery row when one id is created twice at once', async () => {
    const { fake, store } = await vastStore({ fake: { conflictDetection } });
    await Promise.all([store.putWebhook(hook('w', { url: 'https://one.example/' })), store.putWebhook(hook('w', { url: 'https://two.example/' }))]);
    expect(fake.server.committedRows(SCHEMA, 'webhooks')).toHaveLength(1);
    expect(fake.server.committedRows(SCHEMA, 'webhook_deliveries')).toHaveLength(1);
    expect(['https://one.example/', 'https://two.example/']).toContain((await store.getWebhook('w'))?.url);
  });

  it('moves a cursor once when two workers move it from one position at once', async () => {
    const { store } = await vastStore({ fake: { conflictDetection } });
    await store.putWebhook(hook('w', { status: 'started' }));
    const from = (await store.getWebhookDelivery('w'))!.cursor;
    const moved = await Promise.all([store.advanceWebhookCursor('w', from, from + 1), store.advanceWebhookCursor('w', from, from + 2)]);
    expect(moved.filter(Boolean)).toHaveLength(1);
    expect((await store.getWebhookDelivery('w'))!.cursor).toBe(moved[0] ? from + 1 : from + 2);
  });

  it('leaves no delivery row when a webhook is deleted while its cursor moves', async () => {
    const { fake, store } = await vastStore({ fake: { conflictDetection } });
    await store.putWebhook(hook('w'));
    const from = (await store.getWebhookDelivery('w'))!.cursor;
    const [, deleted] = await Promise.all([store.advanceWebhookCursor('w', from, from + 1), store.deleteWebhook('w')]);
    expect(deleted).toBe(true);
    expect(fake.server.committedRows(SCHEMA, 'webhook_deliveries')).toHaveLength(0);
    expect(fake.server.committedRows(SCHEMA, 'webhooks')).toHaveLength(0);
  });

  it('removes each event once when two prunes run at once', async () => {
    const { store } = await vastStore({ fake: { conflictDetection } });
    for (const [i, id] of ['f1', 'f2', 'f3', 'f4'].entries()) await store.putFlow(flow(id), day(i + 1));
    const last = await store.lastEventSeq();
    const removed = await Promise.all([store.pruneEvents(day(9), 3), store.pruneEvents(day(9), 1000)]);
    expect(removed[0] + removed[1]).toBe(last);
    expect(await store.outboxPruned()).toEqual({ through_seq: last, before: day(9) });
    expect(await store.readEvents(0, 100)).toEqual([]);
  });

  it('does not move an idle cursor on a registration replaced before the move commits', async () => {
    const { fake, store } = await vastStore({ fake: { conflictDetection } });
    const tables = vastStoreTables(SCHEMA);
    await store.putWebhook(hook('w', { status: 'started', events: ['flows/updated'] }));
    await store.putFlow(flow('f1'), day(1));
    const before = (await store.getWebhookDelivery('w'))!;

    // The idle move's transaction stops after its work, before its commit, until released.
    let reached!: () => void;
    const atCommit = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    const gated = {
      withTransaction: <T>(work: (tx: VastTransaction) => Promise<T>) =>
        fake.client.withTransaction(async (tx) => {
          const result = await work(tx);
          if (!held) {
            held = true;
            reached();
            await released;
          }
          return result;
        }),
    } as unknown as VastClient;
    const idle = advanceIdleWebhookCursors(gated, tables, [{ id: 'w', from: before.cursor, to: before.cursor + 1, revision: before.revision }]);
    await atCommit;

    // A client changes the registration meanwhile (another client, over the same server).
    let conflicted = false;
    const other = new VastClient({ transport: fake.transport, bucket: 'tams', conflictRetry: { maxRuns: 1000, baseDelayMs: 1, maxDelayMs: 5 }, onConflict: () => (conflicted = true) });
    let putDone = false;
    const put = putWebhook(other, tables, hook('w', { status: 'started', events: ['flows/created'] })).then(() => (putDone = true));
    while (!putDone && !conflicted) await new Promise((resolve) => setTimeout(resolve, 2));
    const putFirst = putDone;
    release();
    const moved = await idle;
    await put;

    // Either the move committed first (then the client's change waited for it), or the change
    // did and the move, run again, saw the new registration.
    if (putFirst) expect(moved).toBe(0);
    const after = (await store.getWebhookDelivery('w'))!;
    expect(after.webhook.events).toEqual(['flows/created']);
    expect(after.cursor).toBe(moved === 1 ? before.cursor + 1 : before.cursor);
  });
});
