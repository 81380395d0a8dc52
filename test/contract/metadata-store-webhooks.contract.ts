/**
 * Store contract for webhook delivery (issue 18): cursors made with the webhook, events with the
 * context they committed with (deleted flows included), compare-and-set cursor moves, status
 * changes that never overwrite a client's, and outbox retention.
 */
import { randomUUID } from 'node:crypto';
import type { Flow, Webhook } from '../../src/domain/entities';
import type { MetadataStore } from '../../src/ports/metadata-store';

const NOW = '2030-01-01T00:00:00.000Z';

function flow(overrides: Partial<Flow> = {}): Flow {
  return { id: randomUUID(), source_id: randomUUID(), format: 'urn:x-nmos:format:video', ...overrides };
}

function hook(overrides: Partial<Webhook> = {}): Webhook {
  return { id: randomUUID(), url: 'https://hook.example.com/', events: ['flows/updated'], status: 'created', ...overrides };
}

export function runMetadataStoreWebhooksContract(name: string, makeStore: () => Promise<MetadataStore>): void {
  describe(`MetadataStore contract (webhook delivery): ${name}`, () => {
    let store: MetadataStore;
    beforeEach(async () => {
      store = await makeStore();
      await store.init();
    });
    afterEach(async () => {
      await store.close();
    });

    it('starts a webhook at the end of the outbox and forgets it with the webhook', async () => {
      await store.putFlow(flow(), NOW);
      const w = hook();
      await store.putWebhook(w);
      const d = await store.getWebhookDelivery(w.id);
      expect(d).toMatchObject({ cursor: await store.lastEventSeq(), attempts: 0, next_attempt_ms: 0, webhook: { id: w.id } });
      expect((await store.listWebhookDeliveries()).map((x) => x.webhook.id)).toContain(w.id);
      await store.deleteWebhook(w.id);
      expect(await store.getWebhookDelivery(w.id)).toBeUndefined();
    });

    it('records the context an event committed with, for deleted flows too', async () => {
      const from = await store.lastEventSeq();
      const member = flow({ tags: { auth_classes: 'news' } });
      const collector = flow({ flow_collection: [{ id: member.id, role: 'v' }] });
      await store.putFlow(member, NOW);
      await store.putFlow(collector, NOW);
      await store.deleteFlow(member.id, NOW);
      const events = await store.readEventsWithContext(from, 100);
      const deleted = events.find((e) => e.event_type === 'flows/deleted');
      expect(deleted?.context).toEqual({ source_id: member.source_id, flow_collected_by: [collector.id], flow_classes: 'news', source_classes: 'news', source_collected_by: [collector.source_id] });
      const created = events.find((e) => e.event_type === 'flows/created' && (e.event as { flow: Flow }).flow.id === member.id);
      expect(created?.context).toEqual({ source_id: member.source_id, flow_classes: 'news', source_classes: 'news' });
    });

    it('moves a cursor only from where it is, marks created webhooks started, and fails only enabled ones', async () => {
      const w = hook();
      await store.putWebhook(w);
      const start = (await store.getWebhookDelivery(w.id))!.cursor;
      await store.recordWebhookFailure(w.id, 2, 12345, 'answered 500');
      expect(await store.getWebhookDelivery(w.id)).toMatchObject({ attempts: 2, next_attempt_ms: 12345, last_error: 'answered 500' });
      expect(await store.advanceWebhookCursor(w.id, start + 1, start + 5)).toBe(false);
      expect(await store.advanceWebhookCursor(w.id, start, start + 5)).toBe(true);
      expect(await store.getWebhookDelivery(w.id)).toMatchObject({ cursor: start + 5, attempts: 0, next_attempt_ms: 0, webhook: { status: 'started' } });
      await store.putWebhook({ ...w, status: 'disabled' });
      expect(await store.failWebhook(w.id, { type: 'delivery_failed', summary: 'x', time: NOW })).toBe(false);
      expect(await store.advanceWebhookCursor(w.id, start + 5, start + 6)).toBe(true);
      expect((await store.getWebhook(w.id))?.status).toBe('disabled');
      await store.putWebhook({ ...w, status: 'created' });
      expect(await store.failWebhook(w.id, { type: 'delivery_failed', summary: 'x', time: NOW })).toBe(true);
      expect(await store.getWebhook(w.id)).toMatchObject({ status: 'error', error: { type: 'delivery_failed' } });
      await store.recordWebhookFailure(w.id, 3, 99, 'x');
      await store.putWebhook({ ...w, status: 'created' });
      expect(await store.getWebhookDelivery(w.id)).toMatchObject({ attempts: 0, next_attempt_ms: 0 });
    });

    it('moves many cursors in one write, each only from where it is, and says which moved', async () => {
      const [a, b, c] = [hook(), hook({ status: 'started' }), hook()];
      for (const w of [a, b, c]) await store.putWebhook(w);
      const start = (await store.getWebhookDelivery(a.id))!.cursor;
      await store.recordWebhookFailure(a.id, 2, 12345, 'answered 500');
      expect(await store.advanceWebhookCursors([])).toEqual([]);
      const moved = await store.advanceWebhookCursors([
        { id: a.id, from: start, to: start + 3 },
        { id: b.id, from: start + 1, to: start + 3 },
        { id: 'no-such-webhook', from: start, to: start + 3 },
        { id: c.id, from: start, to: start + 2 },
      ]);
      expect(moved).toEqual([true, false, false, true]);
      expect(await store.getWebhookDelivery(a.id)).toMatchObject({ cursor: start + 3, attempts: 0, next_attempt_ms: 0, webhook: { status: 'started' } });
      expect(await store.getWebhookDelivery(b.id)).toMatchObject({ cursor: start, webhook: { status: 'started' } });
      expect(await store.getWebhookDelivery(c.id)).toMatchObject({ cursor: start + 2, webhook: { status: 'started' } });
      expect((await store.getWebhookDelivery(a.id))?.last_error).toBeUndefined();
    });

    it('prunes events older than the cutoff whatever the cursors, oldest first, and says how far', async () => {
      const f = flow();
      await store.putFlow(f, '2030-01-01T00:00:00.000Z');
      await store.updateFlow(f.id, (x) => ({ ...x, label: 'a' }), '2030-01-02T00:00:00.000Z');
      await store.updateFlow(f.id, (x) => ({ ...x, label: 'b' }), '2030-01-03T00:00:00.000Z');
      const last = await store.lastEventSeq();
      const removed = await store.pruneEvents('2030-01-02T12:00:00.000Z', 1000);
      expect(removed).toBeGreaterThanOrEqual(3);
      const left = await store.readEvents(0, 1000);
      expect(left.map((e) => e.event_timestamp)).toEqual(['2030-01-03T00:00:00.000Z']);
      expect((await store.outboxPruned()).through_seq).toBe(last - 1);
      expect(await store.pruneEvents('2030-01-02T12:00:00.000Z', 1000)).toBe(0);
    });
  });
}
