import type { OutboxEvent, TamsEventType } from '../../../src/domain/events';
import { TamsError } from '../../../src/domain/errors';
import { EventSource, SubscriptionEvents } from '../../../src/graphql/subscriptions/subscription-events';

/** An event source that counts its listeners and publishes on demand. */
class FakeSource implements EventSource {
  readonly listeners = new Set<(event: OutboxEvent) => void>();
  private seq = 0;

  subscribe(listener: (event: OutboxEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(type: TamsEventType, ids: { flow_id?: string; source_id?: string } = {}): OutboxEvent {
    this.seq += 1;
    const event: OutboxEvent = { seq: this.seq, event_type: type, event_timestamp: new Date().toISOString(), event: { flow_id: 'f' }, ...ids };
    for (const listener of this.listeners) listener(event);
    return event;
  }
}

const all = (): boolean => true;

describe('SubscriptionEvents', () => {
  it('routes events by type to every subscriber that accepts them, in order', async () => {
    const source = new FakeSource();
    const hub = new SubscriptionEvents(source);
    const flows = hub.subscribe({ types: ['flows/created', 'flows/deleted'], accepts: all });
    const onlyF1 = hub.subscribe({ types: ['flows/created'], accepts: (e) => e.flow_id === 'f1' });
    const sources = hub.subscribe({ types: ['sources/created'], accepts: all });

    const e1 = source.publish('flows/created', { flow_id: 'f2' });
    const e2 = source.publish('sources/created');
    const e3 = source.publish('flows/created', { flow_id: 'f1' });
    const e4 = source.publish('flows/deleted', { flow_id: 'f2' });

    expect(await flows.next()).toEqual({ value: e1, done: false });
    expect(await flows.next()).toEqual({ value: e3, done: false });
    expect(await flows.next()).toEqual({ value: e4, done: false });
    expect(await onlyF1.next()).toEqual({ value: e3, done: false });
    expect(await sources.next()).toEqual({ value: e2, done: false });
  });

  it('holds one source listener while anyone subscribes, and none after', async () => {
    const source = new FakeSource();
    const hub = new SubscriptionEvents(source);
    expect(source.listeners.size).toBe(0);
    const a = hub.subscribe({ types: ['flows/created'], accepts: all });
    const b = hub.subscribe({ types: ['flows/updated'], accepts: all });
    expect(source.listeners.size).toBe(1);
    await a.return!();
    expect(source.listeners.size).toBe(1);
    await b.return!();
    expect(source.listeners.size).toBe(0);
    hub.subscribe({ types: ['flows/created'], accepts: all });
    expect(source.listeners.size).toBe(1);
  });

  it('ends a waiting next() when the subscriber returns, and delivers nothing after', async () => {
    const source = new FakeSource();
    const hub = new SubscriptionEvents(source);
    const stream = hub.subscribe({ types: ['flows/created'], accepts: all });
    const waiting = stream.next();
    await stream.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
    source.publish('flows/created');
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(source.listeners.size).toBe(0);
  });

  it('fails a subscriber that falls more than maxQueue events behind, and only that one', async () => {
    const source = new FakeSource();
    const hub = new SubscriptionEvents(source, { maxQueue: 2 });
    const slow = hub.subscribe({ types: ['flows/created'], accepts: all });
    const fast = hub.subscribe({ types: ['flows/created'], accepts: all });
    for (let i = 0; i < 3; i++) {
      const event = source.publish('flows/created');
      expect(await fast.next()).toEqual({ value: event, done: false });
    }
    const failure = slow.next();
    await expect(failure).rejects.toBeInstanceOf(TamsError);
    await expect(failure).rejects.toMatchObject({ code: 'unavailable' });
    expect(await slow.next()).toEqual({ value: undefined, done: true });
    // The failed subscriber left the hub; the other one still holds the listener.
    expect(source.listeners.size).toBe(1);
  });

  it('fails only the subscriber whose check throws', async () => {
    const source = new FakeSource();
    const hub = new SubscriptionEvents(source);
    const broken = hub.subscribe({
      types: ['flows/created'],
      accepts: () => {
        throw new Error('broken check');
      },
    });
    const fine = hub.subscribe({ types: ['flows/created'], accepts: all });
    const event = source.publish('flows/created');
    await expect(broken.next()).rejects.toThrow('broken check');
    expect(await fine.next()).toEqual({ value: event, done: false });
  });
});
