import type { OutboxEvent, TamsEventType } from '../../../src/domain/events';
import type { Principal } from '../../../src/domain/principal';
import type { ResourceClasses } from '../../../src/services/access-policy';
import { type EventSource, type EventVisibility, SubscriptionEvents } from '../../../src/graphql/subscriptions/subscription-events';

class FakeSource implements EventSource {
  private listener: ((event: OutboxEvent) => void) | undefined;
  private seq = 0;

  subscribe(listener: (event: OutboxEvent) => void): () => void {
    this.listener = listener;
    return () => (this.listener = undefined);
  }

  publish(type: TamsEventType, flowId: string): OutboxEvent {
    this.seq += 1;
    const event: OutboxEvent = { seq: this.seq, event_type: type, event_timestamp: new Date().toISOString(), event: { flow_id: flowId }, flow_id: flowId };
    this.listener?.(event);
    return event;
  }
}

const viewer = (subject: string, authClasses: string[] = []): Principal => ({ subject, scopes: ['read'], authClasses, method: 'bearer', authenticated: true });
const admin: Principal = { ...viewer('admin'), scopes: ['admin'] };

/** Classes by flow id (`f-news` -> news), looked up after a delay; `fail` makes the lookup reject. */
function visibility(delays: Record<string, number> = {}, fail = new Set<string>()): EventVisibility & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    seesAll: (p) => p.scopes.includes('admin'),
    classesOf: async (event) => {
      const id = event.flow_id!;
      lookups.push(id);
      await new Promise((r) => setTimeout(r, delays[id] ?? 0));
      if (fail.has(id)) throw new Error('store down');
      return [id.slice(2)] as ResourceClasses;
    },
    canSee: (p, _event, classes) => (classes ?? []).some((c) => p.authClasses.includes(c)),
  };
}

const all = (): boolean => true;

async function take(stream: AsyncIterableIterator<OutboxEvent>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(((await stream.next()).value as OutboxEvent).flow_id!);
  return out;
}

describe('SubscriptionEvents with per-viewer visibility', () => {
  it('filters each event per viewer, looks it up once whatever the subscribers, and keeps outbox order', async () => {
    const source = new FakeSource();
    const checks = visibility({ 'f-news': 30 });
    const hub = new SubscriptionEvents(source, { visibility: checks });
    const news = [hub.forViewer(viewer('n1', ['news'])), hub.forViewer(viewer('n2', ['news']))].map((feed) => feed.subscribe({ types: ['flows/created'], accepts: all }));
    const sport = hub.forViewer(viewer('s', ['sport'])).subscribe({ types: ['flows/created'], accepts: all });
    const everything = hub.forViewer(admin).subscribe({ types: ['flows/created'], accepts: all });
    // The slow lookup comes first: later events wait for it.
    for (const id of ['f-news', 'f-sport', 'f-news', 'f-open']) source.publish('flows/created', id);
    expect(await take(everything, 4)).toEqual(['f-news', 'f-sport', 'f-news', 'f-open']);
    for (const stream of news) expect(await take(stream, 2)).toEqual(['f-news', 'f-news']);
    expect(await take(sport, 1)).toEqual(['f-sport']);
    expect(checks.lookups).toEqual(['f-news', 'f-sport', 'f-news', 'f-open']);
  });

  it('looks nothing up while only unrestricted viewers subscribe', async () => {
    const source = new FakeSource();
    const checks = visibility();
    const hub = new SubscriptionEvents(source, { visibility: checks });
    const stream = hub.forViewer(admin).subscribe({ types: ['flows/created'], accepts: all });
    source.publish('flows/created', 'f-news');
    expect(await take(stream, 1)).toEqual(['f-news']);
    expect(checks.lookups).toEqual([]);
  });

  it('ends the checked subscriptions when a lookup fails, never delivering unchecked', async () => {
    const source = new FakeSource();
    const hub = new SubscriptionEvents(source, { visibility: visibility({}, new Set(['f-news'])) });
    const news = hub.forViewer(viewer('n', ['news'])).subscribe({ types: ['flows/created'], accepts: all });
    const everything = hub.forViewer(admin).subscribe({ types: ['flows/created'], accepts: all });
    source.publish('flows/created', 'f-news');
    expect(await take(everything, 1)).toEqual(['f-news']);
    await expect(news.next()).rejects.toMatchObject({ code: 'unavailable' });
    expect(hub.size).toBe(1);
  });
});
