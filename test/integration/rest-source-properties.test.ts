import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { videoFlow } from '../fixtures/flows';

/** The source property endpoints: tags, tags/{name}, label, description. */
describe('REST source properties', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  /** A flow creates its source (with the flow's label and description). */
  async function newSource(): Promise<string> {
    const flow = videoFlow();
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    return flow.source_id as string;
  }

  const json = (value: string): string => JSON.stringify(value);

  it('reads, sets and deletes tags', async () => {
    const id = await newSource();
    let res = await h.request('GET', `/sources/${id}/tags`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await h.request('HEAD', `/sources/${id}/tags`)).status).toBe(200);

    const name = 'ingested by/ü';
    const path = `/sources/${id}/tags/${encodeURIComponent(name)}`;
    expect((await h.request('GET', path)).status).toBe(404);
    expect((await h.request('HEAD', path)).status).toBe(404);
    expect((await h.request('PUT', path, json('ingest_service_api'))).status).toBe(204);
    res = await h.request('GET', path);
    expect(res.status).toBe(200);
    expect(res.text).toBe('"ingest_service_api"');
    expect((await h.request('HEAD', path)).status).toBe(200);
    expect((await h.request('PUT', path, ['a', 'b'])).status).toBe(204);
    expect((await h.request('GET', path)).body).toEqual(['a', 'b']);
    expect((await h.request('GET', `/sources/${id}/tags`)).body).toEqual({ [name]: ['a', 'b'] });
    expect((await h.request('GET', `/sources/${id}`)).body.tags).toEqual({ [name]: ['a', 'b'] });
    expect((await h.request('GET', `/sources?tag.${encodeURIComponent(name)}=b`)).body.map((s: { id: string }) => s.id)).toEqual([id]);

    for (const bad of [1, false, null, { a: 'b' }, ['a', 2]]) {
      expect((await h.request('PUT', path, JSON.stringify(bad))).status).toBe(400);
    }
    expect((await h.request('PUT', path)).status).toBe(400);

    expect((await h.request('DELETE', path)).status).toBe(204);
    expect((await h.request('GET', path)).status).toBe(404);
    expect((await h.request('DELETE', path)).status).toBe(404);
    expect((await h.request('GET', `/sources/${id}/tags`)).body).toEqual({});
  });

  it('sets and deletes label and description', async () => {
    const id = await newSource();
    for (const property of ['label', 'description'] as const) {
      const path = `/sources/${id}/${property}`;
      let res = await h.request('GET', path);
      expect(res.status).toBe(200);
      expect(typeof res.body).toBe('string');
      expect((await h.request('HEAD', path)).status).toBe(200);
      expect((await h.request('PUT', path, json(`source ${property}`))).status).toBe(204);
      res = await h.request('GET', path);
      expect(res.body).toBe(`source ${property}`);
      expect((await h.request('GET', `/sources/${id}`)).body[property]).toBe(`source ${property}`);
      for (const bad of [5, true, null, ['a']]) {
        expect((await h.request('PUT', path, JSON.stringify(bad))).status).toBe(400);
      }
      expect((await h.request('DELETE', path)).status).toBe(204);
      expect((await h.request('GET', path)).status).toBe(404);
      expect((await h.request('HEAD', path)).status).toBe(404);
      expect((await h.request('GET', `/sources/${id}`)).body[property]).toBeUndefined();
      expect((await h.request('DELETE', path)).status).toBe(204);
    }
    // The label filter sees the new label.
    expect((await h.request('PUT', `/sources/${id}/label`, json('findable'))).status).toBe(204);
    expect((await h.request('GET', '/sources?label=findable')).body.map((s: { id: string }) => s.id)).toEqual([id]);
  });

  it('answers 404 for unknown and malformed source ids', async () => {
    const unknown = randomUUID();
    for (const sourceId of [unknown, 'nope', `${unknown}x`]) {
      for (const p of ['tags', 'tags/a', 'label', 'description']) {
        const path = `/sources/${sourceId}/${p}`;
        expect((await h.request('GET', path)).status).toBe(404);
        expect((await h.request('HEAD', path)).status).toBe(404);
        if (p === 'tags') continue;
        expect((await h.request('PUT', path, json('v'))).status).toBe(404);
        expect((await h.request('DELETE', path)).status).toBe(404);
      }
    }
  });

  it('writes sources/updated for each change', async () => {
    const id = await newSource();
    const seq = await h.gateway.store.lastEventSeq();
    await h.request('PUT', `/sources/${id}/label`, json('evented'));
    await h.request('PUT', `/sources/${id}/tags/k`, json('v'));
    await h.request('DELETE', `/sources/${id}/description`);
    await h.request('PUT', `/sources/${id}/label`, '5');
    const events = await h.gateway.store.readEvents(seq, 100);
    expect(events.map((e) => [e.event_type, e.source_id])).toEqual([
      ['sources/updated', id],
      ['sources/updated', id],
      ['sources/updated', id],
    ]);
    const sources = events.map((e) => (e.event as unknown as { source: Record<string, unknown> }).source);
    expect(sources[0]).toMatchObject({ id, label: 'evented' });
    expect(sources[1]?.tags).toEqual({ k: 'v' });
    expect(sources[2]?.description).toBeUndefined();
  });
});
