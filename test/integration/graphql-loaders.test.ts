import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { allocateObjects } from '../support/allocate-objects';
import { videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

/**
 * DataLoaders: every MetadataStore method of the real SQLite store is counted while one
 * GraphQL request runs, so batching is measured on the store the gateway really uses.
 */
describe('GraphQL DataLoaders', () => {
  let h: Harness;
  const run = randomUUID();
  const flowIds: string[] = [];
  // Four sources, so that every flow of one source collects flows of the same two other sources in
  // the same roles, wrapping round at 100 included: source collections must not conflict.
  const sources = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];

  async function data(query: string, variables?: Record<string, unknown>): Promise<Json> {
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as Json;
    expect(body.errors).toBeUndefined();
    return body.data;
  }

  /** Runs `action` and returns how many times each store method was called from outside the store meanwhile. */
  async function storeCalls(action: () => Promise<unknown>): Promise<Record<string, number>> {
    const store = h.gateway.store as unknown as Record<string, unknown>;
    const counts: Record<string, number> = {};
    let depth = 0;
    // readEvents is the event dispatcher's background poll, not part of any request: it is
    // wrapped (so the helpers it calls are not counted as calls from outside) but not counted.
    const names = Object.getOwnPropertyNames(Object.getPrototypeOf(store)).filter((name) => name !== 'constructor' && typeof store[name] === 'function');
    const spies = names.map((name) => {
      const original = store[name] as (...args: unknown[]) => unknown;
      return jest.spyOn(store as Record<string, (...args: unknown[]) => unknown>, name).mockImplementation((...args: unknown[]) => {
        // Only calls from outside count: the adapter's own helpers run inside them, synchronously.
        if (depth === 0 && name !== 'readEvents') counts[name] = (counts[name] ?? 0) + 1;
        depth++;
        try {
          return original.apply(store, args);
        } finally {
          depth--;
        }
      });
    });
    try {
      await action();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    return counts;
  }

  beforeAll(async () => {
    // No background work: the collector and webhook delivery off, the deletion worker stopped,
    // so every store call counted comes from the request under test.
    h = await startHarness({ TAMS_GC: 'off', TAMS_WEBHOOK_DELIVERY: 'off' });
    await h.gateway.deletions.stop();
    for (let i = 0; i < 100; i++) {
      const flow = videoFlow({ source_id: sources[i % 4], tags: { loader_run: run }, label: `flow ${i}` });
      expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      flowIds.push(flow.id as string);
      const segments = Array.from({ length: 12 }, (_, s) => ({ object_id: `${run}-${i}-${s}`, timerange: `[${s}:0_${s + 1}:0)` }));
      await allocateObjects(h, flow.id as string, segments.map((x) => x.object_id));
      expect((await h.request('POST', `/flows/${flow.id as string}/segments`, segments)).status).toBe(201);
    }
    // Every flow collects the next two.
    for (let i = 0; i < 100; i++) {
      const collection = [1, 2].map((k) => ({ id: flowIds[(i + k) % 100], role: `member ${k}` }));
      expect((await h.request('PUT', `/flows/${flowIds[i]!}/flow_collection`, collection)).status).toBe(204);
    }
  }, 120_000);

  afterAll(async () => {
    await h.close();
  });

  it('100 flows with their source, collection and first 10 segments cost at most 4 store calls', async () => {
    let result: Json;
    const counts = await storeCalls(async () => {
      result = await data(
        `query($run: [String!]) {
          flows(first: 100, filter: { tags: [{ name: "loader_run", values: $run }] }) {
            nodes {
              id
              source { id }
              collection { role flow { id label } }
              segments(first: 10) { nodes { objectId timerange getUrls { url } object { id } } }
            }
          }
        }`,
        { run: [run] },
      );
    });
    const nodes = result.flows.nodes as Json[];
    expect(nodes).toHaveLength(100);
    for (const node of nodes) {
      const i = flowIds.indexOf(node.id as string);
      expect(node.source.id).toBe(sources[i % 4]);
      expect(node.collection.map((c: Json) => c.flow.id)).toEqual([flowIds[(i + 1) % 100], flowIds[(i + 2) % 100]]);
      expect(node.segments.nodes).toHaveLength(10);
      expect(node.segments.nodes[0].objectId).toBe(`${run}-${i}-0`);
      expect(node.segments.nodes[9].timerange).toBe('[9:0_10:0)');
      // Allocated objects: one signed URL each, made without a store call.
      expect(node.segments.nodes[0].getUrls).toEqual([{ url: expect.stringContaining('/media/') }]);
      expect(node.segments.nodes[3].object.id).toBe(`${run}-${i}-3`);
    }
    const total = Object.entries(counts)
      .filter(([name]) => name !== 'getObjects')
      .reduce((sum, [, n]) => sum + n, 0);
    expect(counts).toMatchObject({ listFlows: 1, getSources: 1, listSegmentsBatch: 1 });
    // Every member is on the listed page, so the listing primed the flow loader.
    expect(counts.getFlows ?? 0).toBe(0);
    expect(total).toBeLessThanOrEqual(4);
    // The segments' objects, asked for too, cost one batch more (not part of the 4).
    expect(counts.getObjects).toBe(1);
  });

  it('loads collection members that are not on the listed page in one batch', async () => {
    let outside = 0;
    const counts = await storeCalls(async () => {
      const d = await data(
        `query($run: [String!]) {
          flows(first: 50, filter: { tags: [{ name: "loader_run", values: $run }] }) { nodes { id collection { flow { id } } } }
        }`,
        { run: [run] },
      );
      const listed = new Set((d.flows.nodes as Json[]).map((n) => n.id as string));
      expect(listed.size).toBe(50);
      for (const node of d.flows.nodes as Json[]) {
        const i = flowIds.indexOf(node.id as string);
        const members = [flowIds[(i + 1) % 100]!, flowIds[(i + 2) % 100]!];
        expect(node.collection.map((c: Json) => c.flow.id)).toEqual(members);
        outside += members.filter((id) => !listed.has(id)).length;
      }
    });
    // Half of 100 flows listed: some members are always elsewhere, and they cost one batch.
    expect(outside).toBeGreaterThan(0);
    expect(counts).toEqual({ listFlows: 1, getFlows: 1 });
  });

  it('asks the store once for a source however often one request names it', async () => {
    const counts = await storeCalls(async () => {
      const d = await data('query($s: ID!) { a: source(id: $s) { id } b: source(id: $s) { label } c: flow(id: $s) { id } }', {
        s: sources[0],
      });
      expect(d.a.id).toBe(sources[0]);
      expect(d.c).toBeNull();
    });
    expect(counts.getSources).toBe(1);
    expect(counts.getSource ?? 0).toBe(0);
  });

  it('pages past the first page without the loader and with the same results as one long page', async () => {
    const long = await data('query($id: ID!) { flow(id: $id) { segments(first: 12) { nodes { objectId } } } }', { id: flowIds[5] });
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const d: Json = await data('query($id: ID!, $after: String) { flow(id: $id) { segments(first: 5, after: $after) { nodes { objectId } pageInfo { hasNextPage endCursor } } } }', {
        id: flowIds[5],
        after,
      });
      seen.push(...(d.flow.segments.nodes as Json[]).map((n) => n.objectId as string));
      if (!d.flow.segments.pageInfo.hasNextPage) break;
      after = d.flow.segments.pageInfo.endCursor as string;
    }
    expect(seen).toEqual((long.flow.segments.nodes as Json[]).map((n) => n.objectId as string));
  });
});
