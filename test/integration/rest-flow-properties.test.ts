import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { audioFlow, videoFlow } from '../fixtures/flows';
import type { OutboxEvent } from '../../src/domain/events';

/**
 * The flow property endpoints (ADR 0025): tags, label, description, read_only,
 * flow_collection and the bit rates. Every response is checked against the YAML by the
 * harness; bodies are bare JSON values.
 */
describe('REST flow properties', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  async function newFlow(overrides: Record<string, unknown> = {}): Promise<string> {
    const flow = videoFlow(overrides);
    const res = await h.request('PUT', `/flows/${flow.id as string}`, flow);
    expect(res.status).toBe(201);
    return flow.id as string;
  }

  async function eventsSince(seq: number): Promise<OutboxEvent[]> {
    return h.gateway.store.readEvents(seq, 10_000);
  }

  const json = (value: string): string => JSON.stringify(value);

  it('reads, sets and deletes tags, with URL-encoded names and array values', async () => {
    const id = await newFlow();
    let res = await h.request('GET', `/flows/${id}/tags`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ genre: ['news', 'live'], location: 'studio' });
    expect((await h.request('HEAD', `/flows/${id}/tags`)).status).toBe(200);

    res = await h.request('GET', `/flows/${id}/tags/genre`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body).toEqual(['news', 'live']);
    res = await h.request('GET', `/flows/${id}/tags/location`);
    expect(res.body).toBe('studio');
    expect(res.text).toBe('"studio"');

    const name = 'odd name/with?chars&é';
    const path = `/flows/${id}/tags/${encodeURIComponent(name)}`;
    expect((await h.request('GET', path)).status).toBe(404);
    expect((await h.request('HEAD', path)).status).toBe(404);
    res = await h.request('PUT', path, json('proxy'));
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect((await h.request('GET', path)).body).toBe('proxy');
    expect((await h.request('HEAD', path)).status).toBe(200);
    expect((await h.request('PUT', path, ['a', 'b'])).status).toBe(204);
    expect((await h.request('GET', path)).body).toEqual(['a', 'b']);
    expect((await h.request('PUT', path, [])).status).toBe(204);
    expect((await h.request('GET', path)).body).toEqual([]);
    expect((await h.request('GET', `/flows/${id}/tags`)).body[name]).toEqual([]);

    expect((await h.request('DELETE', path)).status).toBe(204);
    expect((await h.request('GET', path)).status).toBe(404);
    expect((await h.request('DELETE', path)).status).toBe(404);
    expect((await h.request('GET', `/flows/${id}`)).body.tags).toEqual({ genre: ['news', 'live'], location: 'studio' });
  });

  it('refuses bad tag values', async () => {
    const id = await newFlow();
    for (const bad of [5, true, { a: 'b' }, ['a', 1], [['a']], null]) {
      const res = await h.request('PUT', `/flows/${id}/tags/x`, JSON.stringify(bad));
      expect(res.status).toBe(400);
      expect(res.body.type).toBe('ValidationError');
    }
    expect((await h.request('PUT', `/flows/${id}/tags/x`, 'not json')).status).toBe(400);
    expect((await h.request('PUT', `/flows/${id}/tags/x`)).status).toBe(400);
    expect((await h.request('GET', `/flows/${id}/tags/x`)).status).toBe(404);
    // text/plain is not parsed: a 415, never a stored tag.
    expect((await h.request('PUT', `/flows/${id}/tags/x`, 'value', { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('sets and deletes label and description, which answer 404 while unset', async () => {
    const id = await newFlow();
    for (const property of ['label', 'description'] as const) {
      const path = `/flows/${id}/${property}`;
      let res = await h.request('GET', path);
      expect(res.status).toBe(200);
      expect(typeof res.body).toBe('string');
      expect((await h.request('HEAD', path)).status).toBe(200);
      res = await h.request('PUT', path, json(`new ${property}`));
      expect(res.status).toBe(204);
      expect((await h.request('GET', path)).body).toBe(`new ${property}`);
      expect((await h.request('GET', `/flows/${id}`)).body[property]).toBe(`new ${property}`);
      expect((await h.request('PUT', path, json(''))).status).toBe(204);
      expect((await h.request('GET', path)).body).toBe('');
      expect((await h.request('DELETE', path)).status).toBe(204);
      expect((await h.request('GET', path)).status).toBe(404);
      expect((await h.request('HEAD', path)).status).toBe(404);
      expect((await h.request('GET', `/flows/${id}`)).body[property]).toBeUndefined();
      // Deleting what is not set is a no-op.
      expect((await h.request('DELETE', path)).status).toBe(204);
      for (const bad of [5, true, null, ['a'], { a: 1 }]) {
        res = await h.request('PUT', path, JSON.stringify(bad));
        expect(res.status).toBe(400);
      }
    }
    expect((await h.request('PUT', `/flows/${id}/label`, json('x'.repeat(5000)))).status).toBe(400);
  });

  it('answers 404 for unknown and malformed flow ids on every operation', async () => {
    const unknown = randomUUID();
    const paths = ['tags', 'tags/a', 'label', 'description', 'read_only', 'flow_collection', 'max_bit_rate', 'avg_bit_rate'];
    const bodies: Record<string, unknown> = {
      tags: undefined,
      'tags/a': json('v'),
      label: json('l'),
      description: json('d'),
      read_only: true,
      flow_collection: [],
      max_bit_rate: 5,
      avg_bit_rate: 5,
    };
    for (const flowId of [unknown, 'not-a-uuid', unknown.toUpperCase()]) {
      for (const p of paths) {
        const path = `/flows/${flowId}/${p}`;
        expect((await h.request('GET', path)).status).toBe(404);
        expect((await h.request('HEAD', path)).status).toBe(404);
        if (p === 'tags') continue;
        const put = await h.request('PUT', path, bodies[p]);
        expect([path, put.status]).toEqual([path, 404]);
        if (p === 'read_only') continue;
        const del = await h.request('DELETE', path);
        expect([path, del.status]).toEqual([path, 404]);
      }
    }
    // read_only has no DELETE and the tag list no PUT.
    const id = await newFlow();
    expect((await h.request('DELETE', `/flows/${id}/read_only`)).status).toBe(404);
    expect((await h.request('PUT', `/flows/${id}/tags`, { a: 'b' })).status).toBe(404);
  });

  it('read_only blocks every write but read_only itself', async () => {
    const other = await newFlow();
    const id = await newFlow({ max_bit_rate: 9000 });
    expect((await h.request('GET', `/flows/${id}/read_only`)).body).toBe(false);
    expect((await h.request('PUT', `/flows/${id}/read_only`, true)).status).toBe(204);
    expect((await h.request('GET', `/flows/${id}/read_only`)).body).toBe(true);
    expect((await h.request('GET', `/flows/${id}`)).body.read_only).toBe(true);

    const writes: [string, string, unknown][] = [
      ['PUT', 'tags/genre', json('x')],
      ['DELETE', 'tags/genre', undefined],
      ['PUT', 'label', json('x')],
      ['DELETE', 'label', undefined],
      ['PUT', 'description', json('x')],
      ['DELETE', 'description', undefined],
      ['PUT', 'max_bit_rate', 1],
      ['DELETE', 'max_bit_rate', undefined],
      ['PUT', 'avg_bit_rate', 1],
      ['DELETE', 'avg_bit_rate', undefined],
      ['PUT', 'flow_collection', [{ id: other, role: 'video' }]],
      ['DELETE', 'flow_collection', undefined],
    ];
    const before = await h.request('GET', `/flows/${id}`);
    for (const [method, p, body] of writes) {
      const res = await h.request(method, `/flows/${id}/${p}`, body);
      expect([method, p, res.status, res.body?.type]).toEqual([method, p, 403, 'FlowReadOnly']);
    }
    expect((await h.request('DELETE', `/flows/${id}`)).status).toBe(403);
    expect((await h.request('POST', `/flows/${id}/storage`, { limit: 1 })).status).toBe(403);
    expect((await h.request('POST', `/flows/${id}/segments`, { object_id: 'o', timerange: '[0:0_1:0)' })).status).toBe(403);
    expect((await h.request('DELETE', `/flows/${id}/segments`)).status).toBe(403);
    expect((await h.request('GET', `/flows/${id}`)).body).toEqual(before.body);

    expect((await h.request('PUT', `/flows/${id}/read_only`, true)).status).toBe(204);
    expect((await h.request('PUT', `/flows/${id}/read_only`, false)).status).toBe(204);
    expect((await h.request('PUT', `/flows/${id}/label`, json('writable again'))).status).toBe(204);
    for (const bad of ['true', 1, null, json('yes')]) {
      expect((await h.request('PUT', `/flows/${id}/read_only`, typeof bad === 'string' ? bad : JSON.stringify(bad))).status).toBe(
        bad === 'true' ? 204 : 400,
      );
    }
    expect((await h.request('PUT', `/flows/${id}/read_only`, false)).status).toBe(204);
    expect((await h.request('DELETE', `/flows/${id}`)).status).toBe(204);
  });

  it('sets and deletes max_bit_rate and avg_bit_rate, refusing bad values', async () => {
    const id = await newFlow();
    for (const property of ['max_bit_rate', 'avg_bit_rate']) {
      const path = `/flows/${id}/${property}`;
      expect((await h.request('GET', path)).status).toBe(404);
      expect((await h.request('HEAD', path)).status).toBe(404);
      expect((await h.request('PUT', path, 5000)).status).toBe(204);
      const res = await h.request('GET', path);
      expect(res.status).toBe(200);
      expect(res.body).toBe(5000);
      expect((await h.request('HEAD', path)).status).toBe(200);
      expect((await h.request('GET', `/flows/${id}`)).body[property]).toBe(5000);
      expect((await h.request('PUT', path, 0)).status).toBe(204);
      expect((await h.request('GET', path)).body).toBe(0);
      for (const bad of [-1, 1.5, json('5000'), true, null, [5000], 2 ** 60]) {
        const r = await h.request('PUT', path, typeof bad === 'string' ? bad : JSON.stringify(bad));
        expect([bad, r.status]).toEqual([bad, 400]);
      }
      expect((await h.request('GET', path)).body).toBe(0);
      expect((await h.request('DELETE', path)).status).toBe(204);
      expect((await h.request('GET', path)).status).toBe(404);
      expect((await h.request('DELETE', path)).status).toBe(204);
    }
  });

  it('manages an ordered flow_collection and the members collected_by', async () => {
    const video = await newFlow();
    const audio = audioFlow();
    expect((await h.request('PUT', `/flows/${audio.id as string}`, audio)).status).toBe(201);
    const audioId = audio.id as string;
    const multi = { id: randomUUID(), source_id: randomUUID(), format: 'urn:x-nmos:format:multi', container: 'video/mp2t' };
    expect((await h.request('PUT', `/flows/${multi.id}`, multi)).status).toBe(201);
    const path = `/flows/${multi.id}/flow_collection`;

    expect((await h.request('GET', path)).body).toEqual([]);
    expect((await h.request('HEAD', path)).status).toBe(200);
    const collection = [
      { id: audioId, role: 'audio', container_mapping: { track_index: 1 } },
      { id: video, role: 'video', container_mapping: { track_index: 0 } },
    ];
    const seq = await h.gateway.store.lastEventSeq();
    expect((await h.request('PUT', path, collection)).status).toBe(204);
    expect((await h.request('GET', path)).body).toEqual(collection);
    expect((await h.request('GET', `/flows/${multi.id}`)).body.flow_collection).toEqual(collection);
    expect((await h.request('GET', `/flows/${video}`)).body.collected_by).toEqual([multi.id]);
    expect((await h.request('GET', `/flows/${audioId}`)).body.collected_by).toEqual([multi.id]);
    expect((await h.request('GET', `/flows?collected_by_ids=${multi.id}`)).body.map((f: { id: string }) => f.id).sort()).toEqual(
      [video, audioId].sort(),
    );
    const events = await eventsSince(seq);
    const flowEvents = events.filter((e) => e.event_type.startsWith('flows/'));
    expect(flowEvents.map((e) => [e.event_type, e.flow_id])).toEqual(
      expect.arrayContaining([
        ['flows/updated', multi.id],
        ['flows/updated', video],
        ['flows/updated', audioId],
      ]),
    );
    expect(flowEvents).toHaveLength(3);
    // The multi flow's source now collects the members' sources (inferred): one sources/updated each.
    expect(events.filter((e) => e.event_type === 'sources/updated')).toHaveLength(events.length - 3);

    // Reordering keeps the order given; dropping a member clears its collected_by.
    const reordered = [{ id: video, role: 'video' }];
    expect((await h.request('PUT', path, reordered)).status).toBe(204);
    expect((await h.request('GET', path)).body).toEqual(reordered);
    expect((await h.request('GET', `/flows/${audioId}`)).body.collected_by ?? []).toEqual([]);
    expect((await h.request('GET', `/flows/${video}`)).body.collected_by).toEqual([multi.id]);

    expect((await h.request('DELETE', path)).status).toBe(204);
    expect((await h.request('GET', path)).body).toEqual([]);
    expect((await h.request('GET', `/flows/${video}`)).body.collected_by ?? []).toEqual([]);
    expect((await h.request('DELETE', path)).status).toBe(204);
  });

  it('refuses bad flow collections', async () => {
    const id = await newFlow();
    const member = await newFlow();
    const path = `/flows/${id}/flow_collection`;
    const bads: unknown[] = [
      [{ id: 'not-a-uuid', role: 'x' }],
      [{ role: 'x' }],
      [{ id: member, role: 5 }],
      { id: member },
      [member],
      [{ id: randomUUID(), role: 'unknown flow' }],
      [{ id, role: 'itself' }],
      [{ id: member }, { id: member }],
      [{ id: member, container_mapping: { track_index: -1 } }],
    ];
    for (const bad of bads) {
      const res = await h.request('PUT', path, bad);
      expect([bad, res.status]).toEqual([bad, 400]);
    }
    expect((await h.request('GET', path)).body).toEqual([]);
    expect((await h.request('GET', `/flows/${member}`)).body.collected_by).toBeUndefined();
    // role is optional (collection-item.json).
    expect((await h.request('PUT', path, [{ id: member }])).status).toBe(204);
  });

  it('writes one flows/updated per property change, carrying the new flow', async () => {
    const id = await newFlow();
    const seq = await h.gateway.store.lastEventSeq();
    await h.request('PUT', `/flows/${id}/label`, json('evented'));
    await h.request('PUT', `/flows/${id}/tags/a`, json('b'));
    await h.request('DELETE', `/flows/${id}/description`);
    await h.request('PUT', `/flows/${id}/max_bit_rate`, 100);
    await h.request('PUT', `/flows/${id}/read_only`, true);
    await h.request('PUT', `/flows/${id}/label`, json('refused'));
    const events = await eventsSince(seq);
    expect(events.map((e) => e.event_type)).toEqual(Array(5).fill('flows/updated'));
    const flows = events.map((e) => (e.event as { flow: Record<string, unknown> }).flow);
    expect(flows[0]).toMatchObject({ id, label: 'evented' });
    expect(flows[1]?.tags).toMatchObject({ a: 'b' });
    expect(flows[2]?.description).toBeUndefined();
    expect(flows[3]?.max_bit_rate).toBe(100);
    expect(flows[4]?.read_only).toBe(true);
    // A no-op delete writes nothing.
    await h.request('PUT', `/flows/${id}/read_only`, false);
    const seq2 = await h.gateway.store.lastEventSeq();
    await h.request('DELETE', `/flows/${id}/avg_bit_rate`);
    expect(await eventsSince(seq2)).toEqual([]);
    // metadata_updated moves with property writes.
    const before = (await h.request('GET', `/flows/${id}`)).body.metadata_updated as string;
    await new Promise((r) => setTimeout(r, 5));
    await h.request('PUT', `/flows/${id}/label`, json('later'));
    expect((await h.request('GET', `/flows/${id}`)).body.metadata_updated > before).toBe(true);
  });
});
