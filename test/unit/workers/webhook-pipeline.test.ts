/**
 * DeliveryPipeline (src/workers/webhook-pipeline.ts): the cursor moves over the acknowledged
 * front only, whatever order the answers come in; a failure is reported for the first event
 * not acknowledged and abandons what was sent after it; a lost compare-and-set stops.
 * CursorWrites: moves asked for together go to the store in one write.
 */
import type { ContextualEvent } from '../../../src/ports/webhook-delivery';
import type { WebhookResponse } from '../../../src/ports/webhook-sender';
import { DeliveryPipeline } from '../../../src/workers/webhook-pipeline';
import { CursorWrites } from '../../../src/workers/webhook-cursor-writes';

function event(seq: number): ContextualEvent {
  return { seq, event_type: 'flows/updated', event_timestamp: '2030-01-01T00:00:00.000Z', event: {} } as ContextualEvent;
}

/** A response the test answers when it wants. */
function deferred(): { promise: Promise<WebhookResponse>; answer: (r: WebhookResponse) => void } {
  let answer!: (r: WebhookResponse) => void;
  const promise = new Promise<WebhookResponse>((resolve) => {
    answer = resolve;
  });
  return { promise, answer };
}

const OK: WebhookResponse = { ok: true, status: 204 };
const FAIL: WebhookResponse = { ok: false, kind: 'status', status: 500, message: 'answered 500' };

function pipeline(cursor: number, depth: number, casHolds = (): boolean => true) {
  const writes: [number, number][] = [];
  const sent: number[] = [];
  const p = new DeliveryPipeline(
    cursor,
    depth,
    async (from, to) => {
      writes.push([from, to]);
      return casHolds();
    },
    (e) => sent.push(e.seq),
  );
  return { p, writes, sent };
}

describe('DeliveryPipeline', () => {
  it('moves the cursor over skipped and acknowledged events at the front only, in one write per settle', async () => {
    const { p, writes, sent } = pipeline(10, 4);
    const a = deferred();
    const b = deferred();
    p.skip(11);
    p.sent(event(12), a.promise);
    p.skip(13);
    p.sent(event(14), b.promise);
    p.skip(15);
    expect(p.full).toBe(false);
    // The later answer first: nothing moves past 12 until 12 is answered.
    b.answer(OK);
    a.answer(OK);
    expect(await p.settleAll()).toEqual({ kind: 'ok' });
    expect(p.position).toBe(15);
    expect(sent).toEqual([12, 14]);
    expect(writes).toEqual([[10, 15]]);
  });

  it('is full at its depth and settles the oldest first', async () => {
    const { p, writes } = pipeline(0, 2);
    const a = deferred();
    const b = deferred();
    p.sent(event(1), a.promise);
    p.sent(event(2), b.promise);
    expect(p.full).toBe(true);
    a.answer(OK);
    expect(await p.settleOldest()).toEqual({ kind: 'ok' });
    expect(p.full).toBe(false);
    expect(p.position).toBe(1);
    b.answer(OK);
    expect(await p.settleAll()).toEqual({ kind: 'ok' });
    expect(writes).toEqual([[0, 1], [1, 2]]);
  });

  it('reports a failure for the first event not acknowledged, after moving over what came before it, and abandons the rest', async () => {
    const { p, writes, sent } = pipeline(0, 8);
    const answers = [deferred(), deferred(), deferred(), deferred()];
    answers.forEach((d, i) => p.sent(event(i + 1), d.promise));
    answers[0]!.answer(OK);
    answers[1]!.answer(FAIL);
    answers[2]!.answer(OK);
    const outcome = await p.settleAll();
    expect(outcome).toMatchObject({ kind: 'failed', event: { seq: 2 }, failure: { status: 500 } });
    expect(sent).toEqual([1]);
    expect(writes).toEqual([[0, 1]]);
    expect(p.position).toBe(1);
    expect(p.full).toBe(false);
    // Nothing is left to settle: the events after the failure go again from the cursor.
    expect(await p.settleAll()).toEqual({ kind: 'ok' });
    expect(writes).toEqual([[0, 1]]);
  });

  it('stops when the cursor moved under it (lost compare-and-set)', async () => {
    const { p } = pipeline(0, 2, () => false);
    p.sent(event(1), Promise.resolve(OK));
    expect(await p.settleAll()).toEqual({ kind: 'lost' });
    expect(p.position).toBe(0);
  });
});

describe('CursorWrites', () => {
  it('writes the moves asked for in one turn of the event loop together and answers each its own result', async () => {
    const calls: { id: string; from: number; to: number }[][] = [];
    const writes = new CursorWrites({
      advanceWebhookCursors: async (moves) => {
        calls.push([...moves]);
        return moves.map((m) => m.id !== 'b');
      },
    });
    const results = await Promise.all([writes.advance('a', 0, 1), writes.advance('b', 5, 6), writes.advance('c', 2, 9)]);
    expect(results).toEqual([true, false, true]);
    expect(calls).toEqual([[{ id: 'a', from: 0, to: 1 }, { id: 'b', from: 5, to: 6 }, { id: 'c', from: 2, to: 9 }]]);
    expect(await writes.advance('d', 1, 2)).toBe(true);
    expect(calls.length).toBe(2);
  });

  it('rejects every move of a write that failed', async () => {
    const writes = new CursorWrites({ advanceWebhookCursors: async () => Promise.reject(new Error('store down')) });
    await expect(Promise.all([writes.advance('a', 0, 1), writes.advance('b', 0, 1)])).rejects.toThrow('store down');
  });
});
