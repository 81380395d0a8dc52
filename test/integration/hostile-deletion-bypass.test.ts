/**
 * Hostile review of issue 18: the deletion worker and FlowBeingDeleted.
 *
 * The worker is stopped while requests are made, so they stay pending exactly as they do
 * behind a long deletion of another flow (one worker works requests one after another) or
 * while no process is up; it is started again when the test says.
 *
 * - Every door that writes a flow being deleted (REST and GraphQL: metadata, segments,
 *   storage, collections) answers FlowBeingDeleted, and the worker then finishes.
 * - A flow deleted some other way while its request waits, then re-created under the same id
 *   (by anyone): the stale request must not delete the new flow, nor block it.
 * - A collection adding a member that is being deleted.
 * - Expiry pruning of deletion requests racing the worker (test clock).
 * - Deleting a flow whose webhook events are still being delivered.
 */
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { client, type Client } from '../support/tams-client';
import { startReceiver } from '../support/webhook-receiver';
import { TestClock } from '../support/test-clock';
import { videoFlow } from '../fixtures/flows';
import { DeletionWorker } from '../../src/workers/deletion-worker';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ENV = { TAMS_DELETE_ASYNC_THRESHOLD: '2', TAMS_WEBHOOK_TIMEOUT_MS: '1000', TAMS_WEBHOOK_LEASE_MS: '2000' };

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

/** `count` one-second segments from second `from`, each with its own object (uncontrolled get_urls: no upload needed). */
function segments(count: number, from = 0): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    object_id: randomUUID(),
    timerange: `[${from + i}:0_${from + i + 1}:0)`,
    get_urls: [{ url: `https://cdn.example.com/${randomUUID()}.ts`, label: 'cdn' }],
  }));
}

async function flowWithSegments(h: Harness, count: number, overrides: Record<string, unknown> = {}): Promise<{ id: string; objects: string[] }> {
  const flow = videoFlow(overrides);
  const id = flow.id as string;
  expect((await h.request('PUT', `/flows/${id}`, flow)).status).toBe(201);
  const segs = segments(count);
  const res = await h.request('POST', `/flows/${id}/segments`, segs);
  expect(res.status).toBe(201);
  return { id, objects: segs.map((s) => s.object_id as string) };
}

/** DELETE /flows/{id} answered 202: the request's id. */
async function deleteAsync(h: Harness, flowId: string): Promise<string> {
  const res = await h.request('DELETE', `/flows/${flowId}`);
  expect({ status: res.status, body: res.status === 202 ? undefined : res.body }).toEqual({ status: 202, body: undefined });
  return res.body.id as string;
}

async function requestStatus(h: Harness, id: string): Promise<string | number> {
  const res = await h.request('GET', `/flow-delete-requests/${id}`);
  return res.status === 200 ? (res.body.status as string) : res.status;
}

function restartWorker(h: Harness): void {
  h.gateway.deletions.start(() => undefined);
}

describe('hostile deletion: writes to a flow being deleted', () => {
  let h: Harness;
  let gql: Client;
  beforeAll(async () => {
    h = await startHarness(ENV);
    gql = client(h);
  });
  afterAll(async () => {
    await h.close();
  });

  it('every REST and GraphQL write to the flow answers FlowBeingDeleted, and the worker then finishes the flow', async () => {
    await h.gateway.deletions.stop();
    const member = await flowWithSegments(h, 1);
    const other = await flowWithSegments(h, 1);
    const { id } = await flowWithSegments(h, 5);
    // A collection of its own, so removing it is a real change.
    expect((await h.request('PUT', `/flows/${id}/flow_collection`, [{ id: other.id, role: 'a' }])).status).toBeLessThan(300);
    const requestId = await deleteAsync(h, id);
    const flow = (await h.request('GET', `/flows/${id}`)).body;

    const rest: [string, string, unknown][] = [
      ['PUT', `/flows/${id}`, { ...flow, label: 'changed' }],
      ['PUT', `/flows/${id}/label`, JSON.stringify('changed')],
      ['PUT', `/flows/${id}/tags/x`, JSON.stringify('y')],
      ['PUT', `/flows/${id}/read_only`, 'true'],
      ['PUT', `/flows/${id}/flow_collection`, [{ id: member.id, role: 'v' }]],
      ['POST', `/flows/${id}/segments`, segments(1, 100)],
      ['POST', `/flows/${id}/storage`, { limit: 1 }],
    ];
    for (const [method, path, body] of rest) {
      const res = await h.request(method, path, body);
      expect({ method, path, status: res.status, type: res.body?.type }).toEqual({ method, path, status: 403, type: 'FlowBeingDeleted' });
    }
    const mutations = [
      `mutation { setFlowLabel(flowId: "${id}", label: "x") { id } }`,
      `mutation { setFlowTag(flowId: "${id}", name: "x", value: "y") { id } }`,
      `mutation { setFlowReadOnly(flowId: "${id}", readOnly: true) { id } }`,
      `mutation { setFlowCollection(flowId: "${id}", collection: [{ id: "${member.id}" }]) { id } }`,
      `mutation { deleteFlowCollection(flowId: "${id}") { id } }`,
      `mutation { registerSegments(flowId: "${id}", segments: [{ objectId: "${randomUUID()}", timerange: "[200:0_201:0)" }]) { __typename } }`,
      `mutation { allocateStorage(flowId: "${id}", limit: 1) { objectId } }`,
    ];
    for (const m of mutations) {
      const out = await gql.gqlRaw(m);
      expect({ m, data: out.data ?? null, message: out.errors?.[0]?.message as string }).toEqual({ m, data: null, message: expect.stringContaining('being deleted') });
    }
    restartWorker(h);
    await until(async () => (await requestStatus(h, requestId)) === 'done');
    expect((await h.request('GET', `/flows/${id}`)).status).toBe(404);
  });

  it('a flow with a pending request cannot be deleted another way (by object or synchronously), so it cannot be re-created under its id meanwhile', async () => {
    await h.gateway.deletions.stop();
    const { id, objects } = await flowWithSegments(h, 5);
    const requestId = await deleteAsync(h, id);
    for (const path of [`/flows/${id}/segments?object_id=${objects[0]!}`, `/flows/${id}/segments?timerange=[0:0_1:0)`]) {
      const res = await h.request('DELETE', path);
      expect({ path, status: res.status, type: res.body?.type }).toEqual({ path, status: 403, type: 'FlowBeingDeleted' });
    }
    // Deleting the flow again names the pending request (202 in REST), as a retry should.
    const gqlDelete = await gql.gqlRaw(`mutation { deleteFlow(id: "${id}") { done } }`);
    expect(gqlDelete.data).toEqual({ deleteFlow: { done: false } });
    expect(await requestStatus(h, requestId)).toBe('created');
    restartWorker(h);
    await until(async () => (await requestStatus(h, requestId)) === 'done');
  });

  it('a second DELETE /flows/{id} (a client retrying) answers 202 naming the pending request, and DELETEs of a flow property on a flow being deleted answer a status the spec declares (403)', async () => {
    // DELETE /flows/{flowId} declares 202, 204, 403, 404; DELETE .../tags/{name} and .../flow_collection declare 204, 403, 404.
    // A retried DELETE of a flow being deleted would naturally get 202 with the pending request.
    await h.gateway.deletions.stop();
    const other = await flowWithSegments(h, 1);
    const { id } = await flowWithSegments(h, 5);
    expect((await h.request('PUT', `/flows/${id}/flow_collection`, [{ id: other.id, role: 'a' }])).status).toBeLessThan(300);
    for (const p of ['max_bit_rate', 'avg_bit_rate']) expect((await h.request('PUT', `/flows/${id}/${p}`, '5000')).status).toBeLessThan(300);
    const requestId = await deleteAsync(h, id);
    const outcome = async (method: string, path: string): Promise<unknown> => {
      try {
        const res = await h.request(method, path);
        return { status: res.status, location: res.headers.get('location')?.endsWith(`/flow-delete-requests/${requestId}`) ?? false };
      } catch (err) {
        return { conformance: (err as Error).message.split('\n')[0] };
      }
    };
    const again = await outcome('DELETE', `/flows/${id}`);
    const properties: Record<string, unknown> = {};
    for (const p of ['tags/genre', 'description', 'label', 'flow_collection', 'max_bit_rate', 'avg_bit_rate']) properties[p] = await outcome('DELETE', `/flows/${id}/${p}`);
    restartWorker(h);
    await until(async () => (await requestStatus(h, requestId)) === 'done');
    const declared = { status: expect.any(Number), location: false };
    expect({ again, ...properties }).toEqual({ again: { status: 202, location: true }, ...Object.fromEntries(Object.keys(properties).map((p) => [p, declared])) });
  });

  it('a collection that adds a member being deleted: the member is still deleted and the collection ends without it', async () => {
    await h.gateway.deletions.stop();
    const member = await flowWithSegments(h, 5);
    const collector = await flowWithSegments(h, 1);
    const requestId = await deleteAsync(h, member.id);
    const put = await h.request('PUT', `/flows/${collector.id}/flow_collection`, [{ id: member.id, role: 'video' }]);
    // Either refused, or accepted and undone when the member goes.
    expect([201, 204, 403]).toContain(put.status);
    restartWorker(h);
    await until(async () => (await requestStatus(h, requestId)) === 'done');
    expect((await h.request('GET', `/flows/${member.id}`)).status).toBe(404);
    const collection = await h.request('GET', `/flows/${collector.id}/flow_collection`);
    expect((collection.status === 200 ? (collection.body as { id: string }[]) : []).map((m) => m.id)).not.toContain(member.id);
  });
});

describe('hostile deletion: a worker that stalls past its lease', () => {
  it('a holder that stalled mid-chunk past its lease writes nothing once another finished the request: the request stays done and a flow re-created under the same id keeps its segments', async () => {
    // A pause longer than the lease (30 s in main.ts): a VM or container frozen, the event loop
    // blocked. The chunk and its progress are written without checking that this process still
    // holds the lease (deletion-worker.ts work(): deleteSegments with progress, then acquireLease).
    const clock = new TestClock();
    const h = await startHarness(ENV, { clock });
    try {
      await h.gateway.deletions.stop();
      const store = h.gateway.store;
      const { id } = await flowWithSegments(h, 6);
      const requestId = await deleteAsync(h, id);

      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let stalled = false;
      const stalling = new Proxy(store, {
        get(target, prop) {
          if (prop === 'listSegments') {
            return async (...args: Parameters<typeof store.listSegments>) => {
              const page = await target.listSegments(...args);
              if (!stalled) {
                stalled = true;
                await gate;
              }
              return page;
            };
          }
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const a = new DeletionWorker(stalling, clock, { holder: 'A', batch: 2, leaseMs: 1000 });
      const b = new DeletionWorker(store, clock, { holder: 'B', batch: 2, leaseMs: 1000 });
      const aRun = a.runOnce();
      await until(async () => stalled);
      clock.advance(5000);
      await b.runOnce();
      expect(await requestStatus(h, requestId)).toBe('done');
      expect((await h.request('GET', `/flows/${id}`)).status).toBe(404);

      // The id is free: someone makes a new flow under it, with media.
      expect((await h.request('PUT', `/flows/${id}`, videoFlow({ id, label: 'reborn' }))).status).toBe(201);
      expect((await h.request('POST', `/flows/${id}/segments`, segments(6))).status).toBe(201);

      release();
      await aRun;
      const after = await h.request('GET', `/flows/${id}`);
      const left = after.status === 200 ? ((await h.request('GET', `/flows/${id}/segments`)).body as unknown[]).length : 0;
      expect({ request: await requestStatus(h, requestId), reborn: after.status, segmentsLeft: left }).toEqual({ request: 'done', reborn: 200, segmentsLeft: 6 });
    } finally {
      await h.close();
    }
  });
});

describe('hostile deletion: expiry pruning racing the worker', () => {
  it('a request past its expiry before any worker took it is still worked to done, and removed only one retention after it finished', async () => {
    const clock = new TestClock();
    const h = await startHarness(ENV, { clock });
    try {
      await h.gateway.deletions.stop();
      const { id } = await flowWithSegments(h, 5);
      const requestId = await deleteAsync(h, id);
      clock.advance(25 * 3_600_000);
      restartWorker(h);
      await until(async () => (await requestStatus(h, requestId)) === 'done');
      expect((await h.request('GET', `/flows/${id}`)).status).toBe(404);
      await h.gateway.deletions.runOnce();
      expect(await requestStatus(h, requestId)).toBe('done');
      clock.advance(25 * 3_600_000);
      await h.gateway.deletions.runOnce();
      expect(await requestStatus(h, requestId)).toBe(404);
    } finally {
      await h.close();
    }
  });
});

describe('hostile deletion: a flow deleted while its webhook events are being delivered', () => {
  it('the receiver gets every segments_added, the per-chunk segments_deleted and one flows/deleted, in order, none lost', async () => {
    const h = await startHarness(ENV);
    const r = await startReceiver();
    r.respond = () => ({ status: 200, delayMs: 40 });
    try {
      const flow = videoFlow({ tags: { auth_classes: 'news' } });
      const id = flow.id as string;
      const hook = await h.request('POST', '/service/webhooks', { url: r.url, events: ['flows/segments_added', 'flows/segments_deleted', 'flows/deleted'], flow_ids: [id] });
      expect(hook.status).toBe(201);
      expect((await h.request('PUT', `/flows/${id}`, flow)).status).toBe(201);
      for (let i = 0; i < 6; i++) expect((await h.request('POST', `/flows/${id}/segments`, segments(1, i))).status).toBe(201);
      await r.waitFor(1);
      const requestId = await deleteAsync(h, id);
      await until(async () => (await requestStatus(h, requestId)) === 'done');
      const lastSeq = await h.gateway.store.lastEventSeq();
      const expected = (await h.gateway.store.readEvents(0, 10_000)).filter((e) => e.flow_id === id && e.event_type !== 'flows/created' && e.event_type !== 'flows/updated');
      await r.waitFor(expected.length, 10_000);
      await sleep(100);
      await h.gateway.webhooks!.idle();
      expect(await h.gateway.store.lastEventSeq()).toBeGreaterThanOrEqual(lastSeq);
      expect(r.received.map((x) => x.body.event_type)).toEqual(expected.map((e) => e.event_type));
      expect(r.received.filter((x) => x.body.event_type === 'flows/deleted').length).toBe(1);
      for (const x of r.received.filter((y) => y.body.event_type === 'flows/segments_added')) {
        expect(x.body.event.segments[0].get_urls.length).toBeGreaterThan(0);
      }
    } finally {
      await h.close();
      await r.close();
    }
  });
});
