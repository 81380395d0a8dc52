/**
 * Hostile review of the VAST metadata store from outside: two gateways on one schema of one fake
 * VAST server (two replicas), sent conflicting REST requests at once, in both of the fake's
 * conflict modes. Whatever the interleaving, the rows after must keep the SQL stores' keys: one
 * row per flow, profile, webhook and delivery position, no overlapping segments, no segment of a
 * deleted flow, outbox seqs unique and gap-free with one creation event per flow.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../support/gateway-harness';
import { FakeVastServer, type FakeVastOptions } from '../support/vast-fake-server';

jest.setTimeout(60_000);

const SCHEMA = 'hostile';
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function replicas(options: FakeVastOptions, env: Record<string, string> = {}): Promise<{ server: FakeVastServer; a: Harness; b: Harness }> {
  const server = await FakeVastServer.start(options);
  closers.push(() => server.close());
  const secret = randomBytes(32).toString('base64');
  const start = async (): Promise<Harness> => {
    const h = await startHarness({ TAMS_SECRET: secret, ...env }, { store: 'vast', fakeVast: server, vastSchema: SCHEMA });
    closers.push(() => h.close());
    return h;
  };
  const [a, b] = await Promise.all([start(), start()]);
  return { server, a, b };
}

function rows(server: FakeVastServer, table: string): Record<string, unknown>[] {
  return server.committedRows(SCHEMA, table);
}

function flowBody(id: string, sourceId: string, label: string): Record<string, unknown> {
  return { id, source_id: sourceId, format: 'urn:x-nmos:format:data', codec: 'text/plain', container: 'application/json', essence_parameters: {}, label };
}

function segment(objectId: string, timerange: string): Record<string, unknown> {
  return { object_id: objectId, timerange, get_urls: [{ label: 'origin', url: `https://media.example/${objectId}` }] };
}

function expectOutboxGapFree(server: FakeVastServer): void {
  const seqs = rows(server, 'outbox')
    .map((r) => Number(r.seq))
    .sort((x, y) => x - y);
  expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] ?? 1) + i));
  expect(Number(rows(server, 'outbox_counter')[0]?.last_seq)).toBe(seqs[seqs.length - 1]);
}

function countBy(values: unknown[]): Map<unknown, number> {
  const counts = new Map<unknown, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

function eventTypes(server: FakeVastServer): string[] {
  return rows(server, 'outbox').map((r) => String(r.event_type));
}

for (const conflictDetection of ['at-write', 'at-commit'] as const) {
  describe(`two replicas, conflicts ${conflictDetection}`, () => {
    it('create one flow id on both at once, each with its own source: one flow row, one guard row, one creation event', async () => {
      const { server, a, b } = await replicas({ conflictDetection });
      const id = randomUUID();
      const answers = await Promise.all([
        a.request('PUT', `/flows/${id}`, flowBody(id, randomUUID(), 'from a')),
        b.request('PUT', `/flows/${id}`, flowBody(id, randomUUID(), 'from b')),
        a.request('PUT', `/flows/${id}`, flowBody(id, randomUUID(), 'from a again')),
      ]);
      for (const res of answers) expect([200, 201, 204]).toContain(res.status);
      expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
      expect(rows(server, 'flows').filter((r) => r.id === id)).toHaveLength(1);
      expect(rows(server, 'flow_guards').filter((r) => r.flow_id === id)).toHaveLength(1);
      expect(countBy(eventTypes(server)).get('flows/created')).toBe(1);
      expectOutboxGapFree(server);
      // The flow's source is one of the three, and the other two left no source row behind.
      const flow = (await a.request('GET', `/flows/${id}`)).body as { source_id: string };
      expect(rows(server, 'sources').map((r) => r.id)).toEqual([flow.source_id]);
    });

    it('overlapping segments posted on both at once: one registered, no overlap stored', async () => {
      const { server, a, b } = await replicas({ conflictDetection });
      const id = randomUUID();
      expect((await a.request('PUT', `/flows/${id}`, flowBody(id, randomUUID(), 'f'))).status).toBe(201);
      const answers = await Promise.all([
        a.request('POST', `/flows/${id}/segments`, [segment('a1', '[0:0_2:0)')]),
        b.request('POST', `/flows/${id}/segments`, [segment('b1', '[1:0_3:0)')]),
        b.request('POST', `/flows/${id}/segments`, [segment('b2', '[1:500000000_2:500000000)')]),
      ]);
      expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
      expect(rows(server, 'segments').filter((r) => r.flow_id === id)).toHaveLength(1);
      expect(rows(server, 'flow_guards').find((r) => r.flow_id === id)?.segment_count).toBe(1n);
      expectOutboxGapFree(server);
    });

    it('tags put on one flow from both replicas at once: no update lost', async () => {
      const { a, b } = await replicas({ conflictDetection });
      const id = randomUUID();
      expect((await a.request('PUT', `/flows/${id}`, flowBody(id, randomUUID(), 'f'))).status).toBe(201);
      const names = ['t0', 't1', 't2', 't3', 't4', 't5'];
      const answers = await Promise.all(names.map((name, i) => (i % 2 === 0 ? a : b).request('PUT', `/flows/${id}/tags/${name}`, `"${name}-value"`)));
      for (const res of answers) expect(res.status).toBeLessThan(300);
      const tags = ((await b.request('GET', `/flows/${id}`)).body as { tags?: Record<string, string> }).tags ?? {};
      expect(Object.keys(tags).sort()).toEqual(names);
    });

    it('one object id allocated for two flows on both replicas at once: one object row', async () => {
      const { server, a, b } = await replicas({ conflictDetection });
      const [f1, f2] = [randomUUID(), randomUUID()];
      expect((await a.request('PUT', `/flows/${f1}`, flowBody(f1, randomUUID(), 'f1'))).status).toBe(201);
      expect((await a.request('PUT', `/flows/${f2}`, flowBody(f2, randomUUID(), 'f2'))).status).toBe(201);
      const answers = await Promise.all([a.request('POST', `/flows/${f1}/storage`, { object_ids: ['shared-1'] }), b.request('POST', `/flows/${f2}/storage`, { object_ids: ['shared-1'] })]);
      expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
      expect(rows(server, 'objects').filter((r) => r.id === 'shared-1')).toHaveLength(1);
    });

    it('one profile created on both at once: one row, the other refused (400, as SQLite answers an existing profile)', async () => {
      const { server, a, b } = await replicas({ conflictDetection });
      const id = randomUUID();
      const profile = { id, label: 'p', flow_metadata: { format: 'urn:x-nmos:format:audio', codec: 'audio/aac', container: 'video/mp2t', essence_parameters: { sample_rate: 48000, channels: 2 } } };
      const answers = await Promise.all([a.request('POST', `/service/profiles/${id}`, profile), b.request('POST', `/service/profiles/${id}`, profile)]);
      expect(answers.map((r) => r.status).sort()).toEqual([201, 400]);
      expect(rows(server, 'profiles').filter((r) => r.id === id)).toHaveLength(1);
    });

    it('one webhook id put on both at once: one registration row, one delivery row', async () => {
      const { server, a, b } = await replicas({ conflictDetection });
      const id = randomUUID();
      const hook = (url: string) => ({ id, url, events: ['flows/created'], status: 'created', api_key_name: 'k', api_key_value: 'v' });
      const answers = await Promise.all([
        a.request('PUT', `/service/webhooks/${id}`, hook('http://127.0.0.1:9/a')),
        b.request('PUT', `/service/webhooks/${id}`, hook('http://127.0.0.1:9/b')),
      ]);
      for (const res of answers) expect([200, 201, 404]).toContain(res.status);
      expect(rows(server, 'webhooks').filter((r) => r.id === id).length).toBeLessThanOrEqual(1);
      expect(rows(server, 'webhook_deliveries').filter((r) => r.webhook_id === id).length).toBe(rows(server, 'webhooks').filter((r) => r.id === id).length);
    });

    it('a flow deleted on one replica while the other registers segments on it: no segment or guard of a deleted flow is left', async () => {
      const { server, a, b } = await replicas({ conflictDetection });
      for (let round = 0; round < 3; round += 1) {
        const id = randomUUID();
        expect((await a.request('PUT', `/flows/${id}`, flowBody(id, randomUUID(), 'f'))).status).toBe(201);
        expect((await a.request('POST', `/flows/${id}/segments`, [segment(`s${round}`, '[0:0_1:0)')])).status).toBe(201);
        const [deleted, posted] = await Promise.all([
          a.request('DELETE', `/flows/${id}`),
          b.request('POST', `/flows/${id}/segments`, [segment(`t${round}`, '[1:0_2:0)'), segment(`u${round}`, '[2:0_3:0)')]),
        ]);
        expect([200, 204]).toContain(deleted.status);
        expect([201, 404]).toContain(posted.status);
        expect(rows(server, 'flows').filter((r) => r.id === id)).toHaveLength(0);
        expect(rows(server, 'flow_guards').filter((r) => r.flow_id === id)).toHaveLength(0);
        expect(rows(server, 'segments').filter((r) => r.flow_id === id)).toHaveLength(0);
      }
      expectOutboxGapFree(server);
    });

    it('an asynchronous deletion request on one replica refuses registration on the other from then on', async () => {
      const { server, a, b } = await replicas({ conflictDetection }, { TAMS_DELETE_ASYNC_THRESHOLD: '0', TAMS_DELETION_WORKER: 'off' });
      const id = randomUUID();
      expect((await a.request('PUT', `/flows/${id}`, flowBody(id, randomUUID(), 'f'))).status).toBe(201);
      expect((await a.request('POST', `/flows/${id}/segments`, [segment('s0', '[0:0_1:0)')])).status).toBe(201);
      const [deleted, posted] = await Promise.all([a.request('DELETE', `/flows/${id}`), b.request('POST', `/flows/${id}/segments`, [segment('s1', '[1:0_2:0)')])]);
      expect([202, 204]).toContain(deleted.status);
      if (deleted.status === 202) {
        const later = await b.request('POST', `/flows/${id}/segments`, [segment('s2', '[2:0_3:0)')]);
        expect(later.status).toBeGreaterThanOrEqual(400);
        expect(rows(server, 'segments').filter((r) => r.flow_id === id && r.object_id === 's2')).toHaveLength(0);
      }
      void posted;
    });
  });
}
