/**
 * Two VastMetadataStore replicas on one schema of the fake VAST server: a replica hears of the
 * other's commits by polling the outbox counter (VAST has no NOTIFY), reads what the other wrote,
 * and stops polling when its last listener goes; its own writes wake its listeners at once.
 */
import { VastMetadataStore } from '../../src/adapters/vast/vast-metadata-store';
import type { Flow } from '../../src/domain/entities';
import { videoFlow } from '../fixtures/flows';
import { startFakeVastClient, type FakeVastClient } from '../support/vast-fake-client';

let fake: FakeVastClient;

beforeAll(async () => {
  fake = await startFakeVastClient();
});

afterAll(async () => {
  await fake.close();
});

const NOW = '2026-12-07T00:00:00.000Z';

function flow(id: string): Flow {
  return videoFlow({ id }) as unknown as Flow;
}

function nextCommit(store: VastMetadataStore): Promise<void> {
  return new Promise((resolve) => {
    const stop = store.onCommit(() => {
      stop();
      resolve();
    });
  });
}

describe('VAST replicas', () => {
  it('a replica is woken by the other replica\'s commit and reads it', async () => {
    const a = new VastMetadataStore({ client: fake.client, schema: 'replicas', commitPollMs: 10 });
    const b = new VastMetadataStore({ client: fake.client, schema: 'replicas', commitPollMs: 10 });
    await a.init();
    await b.init();
    const before = await b.lastEventSeq();
    const from = fake.server.log.length;
    const woken = nextCommit(b);
    // b's first poll only records where the counter is: a writes once b has read it (and answered).
    const polled = (): boolean => fake.server.log.slice(from).some((r) => r.path[2] === 'outbox_counter' && r.status === 200);
    while (!polled()) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const written = flow('7d3b8e2c-1d4f-4a5b-8c6d-7e8f9a0b1c2d');
    await a.putFlow(written, NOW);
    await woken;
    expect(await b.lastEventSeq()).toBeGreaterThan(before);
    const events = await b.readEventsWithContext(before, 10);
    expect(events.map((e) => e.event_type)).toEqual(['sources/created', 'flows/created']);
    expect(events[1]?.context?.source_id).toBe(written.source_id);
    expect((await b.getFlow('7d3b8e2c-1d4f-4a5b-8c6d-7e8f9a0b1c2d'))?.id).toBe('7d3b8e2c-1d4f-4a5b-8c6d-7e8f9a0b1c2d');
    await a.close();
    await b.close();
  });

  it('own writes wake listeners without a poll, and polling stops with the last listener', async () => {
    const a = new VastMetadataStore({ client: fake.client, schema: 'replicas_own', commitPollMs: 3_600_000 });
    await a.init();
    const woken = nextCommit(a);
    await a.putFlow(flow('8d3b8e2c-1d4f-4a5b-8c6d-7e8f9a0b1c2d'), NOW);
    await woken;
    const selectsBefore = fake.server.log.length;
    const c = new VastMetadataStore({ client: fake.client, schema: 'replicas_own', commitPollMs: 5 });
    const stop = c.onCommit(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 60));
    stop();
    expect(fake.server.log.length).toBeGreaterThan(selectsBefore);
    // A poll in flight when the listener went finishes; after that, nothing more is sent.
    await new Promise((resolve) => setTimeout(resolve, 60));
    const settled = fake.server.log.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fake.server.log.length).toBe(settled);
    await a.close();
    await c.close();
  });
});
