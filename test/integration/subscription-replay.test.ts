import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { VastMetadataStore } from '../../src/adapters/vast/vast-metadata-store';
import type { Flow } from '../../src/domain/entities';
import type { OutboxEvent } from '../../src/domain/events';
import type { Principal } from '../../src/domain/principal';
import { type EventSelector, type EventVisibility, SubscriptionEvents } from '../../src/graphql/subscriptions/subscription-events';
import type { ResourceClasses } from '../../src/services/access-policy';
import type { MetadataStore } from '../../src/ports/metadata-store';
import { EventDispatcher } from '../../src/services/event-dispatcher';
import { addSegments, expectCode, seg } from '../contract/contract-fixtures';
import { TEST_DATABASE_URL, TestSchemas, describePostgres } from '../support/postgres';
import { type FakeVastClient, startFakeVastClient } from '../support/vast-fake-client';

const NEWS = '00000000-0000-4000-8000-00000000000a';
const SPORT = '00000000-0000-4000-8000-00000000000b';

function flow(id: string): Flow {
  return { id, source_id: id.replace(/.$/, 'f'), format: 'urn:x-nmos:format:data', codec: 'text/plain', container: 'text/plain' };
}

const all = (): boolean => true;
const segmentsAdded = (after: number, accepts: EventSelector['accepts'] = all): EventSelector & { after: number } => ({ types: ['flows/segments_added'], accepts, after });

/** The seqs of the next `n` events of a stream. */
async function seqs(stream: AsyncIterableIterator<OutboxEvent>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const next = await stream.next();
    if (next.done === true) throw new Error(`the stream ended after ${out.join(',')}`);
    out.push(next.value.seq);
  }
  return out;
}

/** A fresh, initialised store, and what removes it. */
type OpenStore = () => Promise<{ store: MetadataStore; remove: () => Promise<void> }>;

function describeReplay(name: string, open: OpenStore): void {
  describe(`Subscriptions resumed after a cursor, over a real ${name} outbox`, () => {
    let remove: () => Promise<void>;
    let store: MetadataStore;
    let dispatcher: EventDispatcher;
    let second = 0;
    /** The seq of each flows/segments_added event committed so far, in order. */
    const added: number[] = [];
    /** The flow of each of them. */
    const addedTo: string[] = [];

    async function addSegment(flowId: string): Promise<void> {
      second += 1;
      const [outcome] = await addSegments(store, flowId, [seg(`o-${flowId}-${second}`, `[${second}:0_${second + 1}:0)`)], new Date().toISOString());
      expect(outcome).not.toHaveProperty('error');
      await dispatcher.flush();
      added.push(await store.lastEventSeq());
      addedTo.push(flowId);
    }

    beforeEach(async () => {
      ({ store, remove } = await open());
      dispatcher = new EventDispatcher(store, { pollMs: 0 });
      await dispatcher.start();
      second = 0;
      added.length = 0;
      addedTo.length = 0;
      for (const id of [NEWS, SPORT]) await store.putFlow(flow(id), new Date().toISOString());
      for (let i = 0; i < 3; i++) await addSegment(NEWS);
    });
    afterEach(async () => {
      await dispatcher.stop();
      await remove();
    });

    it('replays the retained events after the cursor in outbox order, then the live ones, none twice', async () => {
      const hub = new SubscriptionEvents(dispatcher, { history: dispatcher });
      const stream = await hub.resume(segmentsAdded(added[0]!));
      // Committed before the replayed ones are taken: they queue behind them.
      await addSegment(NEWS);
      await addSegment(NEWS);
      expect(await seqs(stream, 4)).toEqual(added.slice(1));
      await addSegment(NEWS);
      expect(await seqs(stream, 1)).toEqual([added[5]]);
      await stream.return!();
      expect(hub.size).toBe(0);
    });

    it('pages through a long replay (a page at most maxQueue events) and keeps only what the selector wants', async () => {
      for (let i = 0; i < 12; i++) await addSegment(i % 3 === 0 ? SPORT : NEWS);
      // The replay's own reads: the dispatcher also reads the store (its drain, woken when a
      // store such as VAST's hears of a commit late).
      const reads: number[] = [];
      const replay = dispatcher.replay.bind(dispatcher);
      jest.spyOn(dispatcher, 'replay').mockImplementation((after, until, limit) => {
        reads.push(limit);
        return replay(after, until, limit);
      });
      const hub = new SubscriptionEvents(dispatcher, { history: dispatcher, maxQueue: 2 });
      const stream = await hub.resume(segmentsAdded(0, (e) => e.flow_id === NEWS));
      const news = added.filter((_, i) => addedTo[i] === NEWS);
      expect(await seqs(stream, news.length)).toEqual(news);
      expect(Math.max(...reads)).toBe(2);
      await stream.return!();
    });

    it('checks each replayed event against the viewer as live ones are checked', async () => {
      await addSegment(SPORT);
      const classes: Record<string, ResourceClasses> = { [NEWS]: ['news'], [SPORT]: ['sport'] };
      const visibility: EventVisibility = {
        seesAll: (viewer) => viewer.scopes.includes('admin'),
        classesOf: async (event) => classes[event.flow_id!] ?? [],
        canSee: (viewer, _event, resource) => (resource ?? []).some((c) => viewer.authClasses.includes(c)),
      };
      const sportViewer: Principal = { subject: 's', scopes: ['read'], authClasses: ['sport'], method: 'bearer', authenticated: true };
      const hub = new SubscriptionEvents(dispatcher, { history: dispatcher, visibility });
      const stream = await hub.forViewer(sportViewer).resume(segmentsAdded(0));
      await addSegment(NEWS);
      await addSegment(SPORT);
      // Three NEWS events replayed and one live are not for this viewer.
      expect(await seqs(stream, 2)).toEqual([added[3], added[5]]);
      await stream.return!();
    });

    it('refuses a cursor whose following events retention removed, and one past every event', async () => {
      const hub = new SubscriptionEvents(dispatcher, { history: dispatcher });
      // Everything up to the first segments_added event goes.
      const pruned = added[0]!;
      expect(await store.pruneEvents(new Date(Date.now() + 60_000).toISOString(), pruned)).toBe(pruned);
      await expectCode(hub.resume(segmentsAdded(pruned - 1)), 'event_cursor_expired');
      expect(hub.size).toBe(0);
      await expectCode(hub.resume(segmentsAdded(added[2]! + 1000)), 'bad_event_cursor');
      expect(hub.size).toBe(0);
      // From the pruned point on nothing is missing.
      const stream = await hub.resume(segmentsAdded(pruned));
      expect(await seqs(stream, 2)).toEqual(added.slice(1));
      await stream.return!();
    });

    it('refuses, before reading anything, a cursor further behind the newest event than maxReplayEvents', async () => {
      const reads: number[] = [];
      const replay = dispatcher.replay.bind(dispatcher);
      jest.spyOn(dispatcher, 'replay').mockImplementation((after, until, limit) => {
        reads.push(after);
        return replay(after, until, limit);
      });
      const newest = dispatcher.position;
      const hub = new SubscriptionEvents(dispatcher, { history: dispatcher, maxReplayEvents: newest - added[0]! });
      await expectCode(hub.resume(segmentsAdded(added[0]! - 1)), 'event_cursor_expired');
      expect(hub.size).toBe(0);
      expect(reads).toEqual([]);
      // At the bound it replays.
      const stream = await hub.resume(segmentsAdded(added[0]!));
      expect(await seqs(stream, 2)).toEqual(added.slice(1));
      await stream.return!();
    });

    it('takes a cursor from the newest event as live from there, and one ahead of this replica as a floor', async () => {
      const hub = new SubscriptionEvents(dispatcher, { history: dispatcher });
      const stream = await hub.resume(segmentsAdded(added[2]!));
      await addSegment(NEWS);
      expect(await seqs(stream, 1)).toEqual([added[3]]);
      await stream.return!();

      // Another replica's subscriber has seen events this one has not published yet (a
      // dispatcher not started is at position 0, and publishes the whole outbox when flushed).
      const behind = new EventDispatcher(store, { pollMs: 0 });
      await addSegments(store, NEWS, [seg('o-ahead-1', '[100:0_101:0)')], new Date().toISOString());
      const seen = await store.lastEventSeq();
      await addSegments(store, NEWS, [seg('o-ahead-2', '[101:0_102:0)')], new Date().toISOString());
      const next = await store.lastEventSeq();
      expect(behind.position).toBe(0);
      const lagging = new SubscriptionEvents(behind, { history: behind });
      const resumed = await lagging.resume(segmentsAdded(seen));
      await behind.flush();
      expect(await seqs(resumed, 1)).toEqual([next]);
      await resumed.return!();
    });
  });
}

describeReplay('SQLite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-replay-'));
  const store = new SqliteMetadataStore({ filename: path.join(dir, 'tams.db') });
  await store.init();
  return {
    store,
    remove: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describePostgres('resumed subscriptions on PostgreSQL', () => {
  const schemas = new TestSchemas();
  afterAll(async () => {
    await schemas.dropAll();
  });
  describeReplay('PostgreSQL', async () => {
    const store = new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 4, schema: schemas.next() });
    await store.init();
    return { store, remove: () => store.close() };
  });
});

describe('resumed subscriptions on VAST (fake server)', () => {
  let fake: FakeVastClient;
  let n = 0;
  beforeAll(async () => {
    fake = await startFakeVastClient();
  });
  afterAll(async () => {
    await fake.close();
  });
  describeReplay('VAST', async () => {
    n += 1;
    const store = new VastMetadataStore({ client: fake.client, schema: `replay_${n}` });
    await store.init();
    return { store, remove: () => store.close() };
  });
});
