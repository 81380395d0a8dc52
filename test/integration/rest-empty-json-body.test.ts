/**
 * Browser TAMS clients send every DELETE (and other body-less requests) with
 * `Content-Type: application/json` and no body. An empty body is no body: every DELETE route of
 * the spec answers such a request exactly as it answers the same request without the header,
 * each on a store in the same state. Python clients send booleans as `True`/`False`: any letter
 * case is accepted.
 */
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness, type TamsResponse } from '../support/gateway-harness';
import { allocateObjects } from '../support/allocate-objects';
import { describeWithSpec, listOperations } from '../support/tams-spec';
import { videoFlow } from '../fixtures/flows';

/** A flow with a source, a label, a description, tags, bit rates, a collection and segments, and a webhook. */
interface World {
  flowId: string;
  sourceId: string;
  webhookId: string;
}

async function world(h: Harness): Promise<World> {
  const member = videoFlow();
  expect((await h.request('PUT', `/flows/${member.id as string}`, member)).status).toBe(201);
  const flow = videoFlow({ max_bit_rate: 5000, avg_bit_rate: 4000, flow_collection: [{ id: member.id, role: 'member' }] });
  const flowId = flow.id as string;
  const sourceId = flow.source_id as string;
  expect((await h.request('PUT', `/flows/${flowId}`, flow)).status).toBe(201);
  expect((await h.request('PUT', `/sources/${sourceId}/label`, JSON.stringify('a label'))).status).toBe(204);
  expect((await h.request('PUT', `/sources/${sourceId}/description`, JSON.stringify('a description'))).status).toBe(204);
  expect((await h.request('PUT', `/sources/${sourceId}/tags/genre`, JSON.stringify('news'))).status).toBe(204);
  const segments = [0, 1, 2].map((i) => ({ object_id: `obj-${randomUUID()}`, timerange: `[${i}:0_${i + 1}:0)` }));
  await allocateObjects(h, flowId, segments.map((x) => x.object_id));
  expect((await h.request('POST', `/flows/${flowId}/segments`, segments)).status).toBe(201);
  const webhook = await h.request('POST', '/service/webhooks', { url: 'https://hooks.example.com/in', events: ['flows/created'] });
  expect(webhook.status).toBe(201);
  return { flowId, sourceId, webhookId: webhook.body.id as string };
}

function concrete(template: string, w: World): string {
  return template
    .replace('{flowId}', w.flowId)
    .replace('{sourceId}', w.sourceId)
    .replace('{webhookId}', w.webhookId)
    .replace('{objectId}', `obj-${randomUUID()}`)
    .replace('{name}', 'genre')
    .replace(/\{[^}]+\}/g, randomUUID())
    // Removing an instance names it (by label or storage_id) in the query.
    .replace(/\/instances$/, '/instances?label=copy');
}

/** What must be equal: status and, for an error, its type; for a success, the body. */
function outcome(res: TamsResponse): unknown {
  return res.status >= 400 ? { status: res.status, type: (res.body as { type?: unknown } | undefined)?.type } : { status: res.status, body: res.text };
}

describe('an empty JSON body is no body; booleans in any letter case', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });

  afterAll(async () => {
    await h.close();
  });

  // The DELETE operations come from the spec: without it these are reported skipped (failed when CI=true).
  describeWithSpec('every DELETE operation of the spec', () => {
    const deletes = listOperations().filter((o) => o.method === 'DELETE');

    it('covers every DELETE operation of the spec', () => {
      expect(deletes.length).toBeGreaterThanOrEqual(12);
    });

    it.each(deletes.map((o) => [`${o.method} ${o.path}`, o.path] as const))('%s answers with an empty JSON body as without one', async (_name, template) => {
      const [a, b] = [await world(h), await world(h)];
      const withHeader = await h.request('DELETE', concrete(template, a), '', { 'content-type': 'application/json' });
      const without = await h.request('DELETE', concrete(template, b));
      expect({ template, outcome: outcome(withHeader) }).toEqual({ template, outcome: outcome(without) });
      expect(withHeader.status).toBeLessThan(500);
      // The refusal browser clients met: 400 "Body cannot be empty when content-type is set".
      expect(withHeader.status).not.toBe(400);
    });
  });

  it('still refuses a write that needs a body when the JSON body is empty, with a TAMS error', async () => {
    const w = await world(h);
    const res = await h.request('PUT', `/flows/${w.flowId}/label`, '', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(typeof (res.body as { type?: unknown }).type).toBe('string');
    expect((await h.request('GET', `/flows/${w.flowId}/label`)).body).toBe('camera 1');
  });

  it.each(['True', 'TRUE', 'true', 'tRuE'])('reads reverse_order=%s as true', async (value) => {
    await world(h);
    const ascending = await h.request('GET', '/flows?limit=100');
    const reversed = await h.request('GET', `/flows?limit=100&reverse_order=${value}`);
    expect(reversed.status).toBe(200);
    expect((reversed.body as { id: string }[]).map((f) => f.id)).toEqual((ascending.body as { id: string }[]).map((f) => f.id).reverse());
  });

  it.each(['False', 'FALSE', 'false'])('reads reverse_order=%s as false, and refuses anything else', async (value) => {
    const ascending = await h.request('GET', '/flows?limit=100');
    expect((await h.request('GET', `/flows?limit=100&reverse_order=${value}`)).body).toEqual(ascending.body);
    expect((await h.request('GET', '/flows?reverse_order=yes')).status).toBe(400);
  });
});
