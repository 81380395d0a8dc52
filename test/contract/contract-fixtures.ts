/**
 * Fixtures shared by the store contract suites (test/contract/*.contract.ts), so every
 * adapter is exercised with the same flows, segments, paging walk and event reads.
 */
import { randomUUID } from 'node:crypto';
import type { Flow, NewSegment } from '../../src/domain/entities';
import type { OutboxEvent } from '../../src/domain/events';
import { TamsError } from '../../src/domain/errors';
import { parseTimeRange } from '../../src/domain/timerange';
import type { MetadataStore, Page, SegmentOutcome } from '../../src/ports/metadata-store';

export const VIDEO = 'urn:x-nmos:format:video';
export const AUDIO = 'urn:x-nmos:format:audio';
/** A flow whose media objects all have init objects (essence_parameters.init_segments). */
export const INIT_SEGMENTS = { essence_parameters: { init_segments: true } } as const;

/** ISO time `n` seconds after a fixed origin: later n, newer time. */
export function at(n: number): string {
  return new Date(Date.UTC(2024, 0, 1, 0, 0, 0) + n * 1000).toISOString();
}

export function seg(objectId: string, timerange: string, extra: Partial<NewSegment> = {}): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, ...extra };
}

export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(TamsError);
  await expect(promise).rejects.toMatchObject({ code });
}

/** No optional member may be present-but-undefined or null (except the `nullable` ones). */
export function expectNoEmptyMembers(value: object, nullable: string[] = []): void {
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || (v === null && !nullable.includes(key))) {
      throw new Error(`member ${key} is ${String(v)}`);
    }
  }
}

export interface StoreFixtures {
  /** A flow tagged with the test's run id (so a shared database keeps tests apart). */
  flow: (extra?: Partial<Flow>) => Flow;
  addFlow: (extra?: Partial<Flow>, now?: string) => Promise<Flow>;
  /** The newest event's position, found by reading the outbox (not lastEventSeq). */
  lastSeq: () => Promise<number>;
  eventsSince: (seq: number) => Promise<OutboxEvent[]>;
  /** Walks every page, checking each `next` survives a JSON round trip as a client would. */
  allPages: <T>(fetch: (after: unknown) => Promise<Page<T>>) => Promise<T[]>;
}

/** Fixtures over the store and run id of the current test (read when called, not when made). */
export function storeFixtures(current: () => { store: MetadataStore; run: string }): StoreFixtures {
  const flow = (extra: Partial<Flow> = {}): Flow => ({
    id: randomUUID(),
    source_id: randomUUID(),
    format: VIDEO,
    ...extra,
    tags: { contract_run: current().run, ...(extra.tags ?? {}) },
  });
  return {
    flow,
    addFlow: async (extra: Partial<Flow> = {}, now = at(0)): Promise<Flow> => {
      return (await current().store.putFlow(flow(extra), now)).flow;
    },
    lastSeq: async (): Promise<number> => {
      let seq = 0;
      for (;;) {
        const events = await current().store.readEvents(seq, 1000);
        const last = events[events.length - 1];
        if (!last) return seq;
        seq = last.seq;
      }
    },
    eventsSince: async (seq: number): Promise<OutboxEvent[]> => {
      return current().store.readEvents(seq, 10_000);
    },
    allPages: async <T>(fetch: (after: unknown) => Promise<Page<T>>): Promise<T[]> => {
      const items: T[] = [];
      let after: unknown = undefined;
      for (let guard = 0; guard < 10_000; guard++) {
        const page = await fetch(after);
        items.push(...page.items);
        if (page.next === undefined) return items;
        expect(JSON.parse(JSON.stringify(page.next))).toEqual(page.next);
        after = JSON.parse(JSON.stringify(page.next));
      }
      throw new Error('paging did not end');
    },
  };
}

/**
 * store.addSegments as a client reaches it: the media and init objects the store does not know yet are
 * allocated for the flow first (POST /flows/{id}/storage), since a store refuses a segment of an
 * unknown object that brings no get_urls. Segments with get_urls, and known objects, go as they are.
 */
export async function addSegments(store: MetadataStore, flowId: string, segments: NewSegment[], now: string): Promise<SegmentOutcome[]> {
  const media = segments.filter((s) => s.get_urls === undefined || s.get_urls.length === 0).map((s) => s.object_id);
  const inits = segments.flatMap((s) => (s.init_object_id === undefined ? [] : [s.init_object_id]));
  const ids = [...new Set([...media, ...inits])];
  const known = await store.getObjects(ids);
  const unknown = ids.filter((_, i) => known[i] === undefined);
  if (unknown.length > 0) await store.allocateObjects(flowId, unknown.map((id) => ({ id, storage_id: 'contract-storage', key: `contract/${randomUUID()}` })), now);
  return store.addSegments(flowId, segments, now);
}
