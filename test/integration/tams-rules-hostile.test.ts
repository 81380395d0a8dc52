/**
 * Hostile review of the TAMS rules (attribution, metadata_version, source collections,
 * init_segments and unknown objects) over real HTTP, as callers with write scope only, or with
 * grants on one auth class, would attack them. Regression tests for what the gateway gets
 * right; what it gets wrong was reported, not written down here as if it were right.
 *
 * Every REST answer goes through checkedFetch (h.request): a 2xx body must validate against the
 * official schema, an error must be a declared status with a TAMS error body; so no test here
 * passes on a 5xx.
 */
import { randomUUID } from 'node:crypto';
import { allocateObjects } from '../support/allocate-objects';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { bearerGateway, getFlow, getSource, idOf, json, multiFlow, put, sourceOf, tr, type Json } from '../support/tams-client';
import { describeWithSpec } from '../support/tams-spec';

const ALL = ['read', 'write', 'delete', 'admin'];

function initFlow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const flow = videoFlow(overrides);
  return { ...flow, essence_parameters: { ...(flow.essence_parameters as Json), init_segments: true } };
}

const PUT_FLOW_GQL = `mutation ($id: ID!, $input: PutFlowInput!) {
  putFlow(id: $id, input: $input) { created flow { id createdBy updatedBy metadataVersion } }
}`;
const REGISTER_GQL = `mutation ($flowId: ID!, $segments: [FlowSegmentInput!]!) {
  registerSegments(flowId: $flowId, segments: $segments) { registeredCount failed { objectId error { type summary } } }
}`;
const SOURCE_GQL = 'query ($id: ID!) { source(id: $id) { id collection { sourceId role } collectedBy { id } } }';

/** A GraphQL PutFlowInput for a plain video flow of `sourceId`. */
function videoInput(sourceId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sourceId,
    codec: 'video/h264',
    container: 'video/mp2t',
    video: { frameWidth: 1920, frameHeight: 1080, frameRate: { numerator: 25 } },
    ...extra,
  };
}

describeWithSpec('TAMS rules under attack', () => {
  /** Bearer callers (subject `sub`, TAMS `scopes`, extra claims) of a gateway naming callers by preferred_username. */
  const { as } = bearerGateway({ AUTH_USER_CLAIM: 'preferred_username' });

  // ---------------------------------------------------------------------------------------
  describe('created_by / updated_by', () => {
    it('a plain writer cannot set them through GraphQL putFlow, on creation or update; REST and GraphQL agree', async () => {
      const mallory = await as('m-1', ['read', 'write'], { preferred_username: 'mallory' });
      const id = randomUUID();
      const sourceId = randomUUID();
      const created = await mallory.gql(PUT_FLOW_GQL, { id, input: videoInput(sourceId, { createdBy: 'the-ceo', updatedBy: 'the-cfo' }) });
      expect(created.putFlow).toMatchObject({ created: true, flow: { id, createdBy: 'mallory', updatedBy: 'mallory' } });
      expect(await getFlow(mallory, id)).toMatchObject({ created_by: 'mallory', updated_by: 'mallory' });
      expect(await getSource(mallory, sourceId)).toMatchObject({ created_by: 'mallory', updated_by: 'mallory' });

      const bob = await as('b-1', ['read', 'write'], { preferred_username: 'bob' });
      const updated = await bob.gql(PUT_FLOW_GQL, { id, input: videoInput(sourceId, { label: 'x', createdBy: 'bob-made-it', updatedBy: 'mallory' }) });
      expect(updated.putFlow).toMatchObject({ created: false, flow: { createdBy: 'mallory', updatedBy: 'bob' } });
      // The REST form of the same attempt.
      const doc = await getFlow(bob, id);
      delete doc.segments_updated;
      await put(bob, { ...doc, label: 'y', created_by: 'bob-made-it', updated_by: 'someone-else' }, 204);
      expect(await getFlow(mallory, id)).toMatchObject({ label: 'y', created_by: 'mallory', updated_by: 'bob' });
      // Nor through a property write.
      expect((await bob.req('PUT', `/flows/${id}/tags/created_by`, json('bob-made-it'))).status).toBe(204);
      expect(await getFlow(mallory, id)).toMatchObject({ created_by: 'mallory', updated_by: 'bob', tags: { created_by: 'bob-made-it' } });
    });

    it('a user claim that is not a non-empty string records the subject; control characters are kept as sent and the documents stay valid', async () => {
      for (const [i, claim] of [{ nested: 'object' }, 42, ['listed'], '', true].entries()) {
        const c = await as(`subject-${i}`, ['read', 'write'], { preferred_username: claim });
        const flow = videoFlow();
        const res = await put(c, flow);
        expect({ claim, created_by: res.body.created_by, updated_by: res.body.updated_by }).toEqual({ claim, created_by: `subject-${i}`, updated_by: `subject-${i}` });
        expect(await getSource(c, sourceOf(flow))).toMatchObject({ created_by: `subject-${i}` });
      }
      const odd = 'eve\u0000\n\u001e\u202e\t"\\';
      const eve = await as('eve-subject', ['read', 'write'], { preferred_username: odd });
      const flow = videoFlow();
      expect((await put(eve, flow)).body).toMatchObject({ created_by: odd, updated_by: odd });
      // Read back over REST (schema-checked) and GraphQL, and sent back as read: accepted.
      const doc = await getFlow(eve, idOf(flow));
      expect(doc).toMatchObject({ created_by: odd, updated_by: odd });
      expect((await eve.gql('query ($id: ID!) { flow(id: $id) { createdBy updatedBy } }', { id: idOf(flow) })).flow).toEqual({ createdBy: odd, updatedBy: odd });
      delete doc.segments_updated;
      await put(eve, { ...doc, label: 'round trip' }, 204);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('metadata_version', () => {
    it('concurrent PUTs bringing one new value: only the first stored state carries it', async () => {
      const c = await as('writer');
      const flow = videoFlow({ label: 'start' });
      await put(c, flow);
      const answers = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((i) => c.req('PUT', `/flows/${idOf(flow)}`, { ...flow, label: `concurrent ${i}`, metadata_version: 'pinned-by-client' })),
      );
      expect(answers.map((a) => a.status)).toEqual([204, 204, 204, 204, 204, 204]);
      // Each PUT after the first found the value stored and got a new one: the last state has its own.
      const final = await getFlow(c, idOf(flow));
      expect(final.label).toMatch(/^concurrent [1-6]$/);
      expect(final.metadata_version).not.toBe('pinned-by-client');
    });

    it('GraphQL putFlow keeps a version given on creation and makes a new one when it is sent back', async () => {
      const c = await as('writer');
      const id = randomUUID();
      const sourceId = randomUUID();
      const created = await c.gql(PUT_FLOW_GQL, { id, input: videoInput(sourceId, { metadataVersion: 'carried-over' }) });
      expect(created.putFlow.flow.metadataVersion).toBe('carried-over');
      const again = await c.gql(PUT_FLOW_GQL, { id, input: videoInput(sourceId, { label: 'changed', metadataVersion: 'carried-over' }) });
      expect(again.putFlow.flow.metadataVersion).not.toBe('carried-over');
      expect((await getFlow(c, id)).metadata_version).toBe(again.putFlow.flow.metadataVersion);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('flow and source collections', () => {
    it('a flow cannot collect itself, by REST PUT, the flow_collection endpoint or GraphQL; nothing changes', async () => {
      const c = await as('writer');
      const flow = multiFlow();
      await put(c, flow);
      const before = await getFlow(c, idOf(flow));
      const self = [{ id: idOf(flow), role: 'me' }];
      const viaPut = await c.req('PUT', `/flows/${idOf(flow)}`, { ...flow, flow_collection: self });
      expect([viaPut.status, viaPut.body.type]).toEqual([400, 'ValidationError']);
      const viaEndpoint = await c.req('PUT', `/flows/${idOf(flow)}/flow_collection`, self);
      expect([viaEndpoint.status, viaEndpoint.body.type]).toEqual([400, 'ValidationError']);
      const viaGql = await c.gqlRaw('mutation ($id: ID!, $c: [FlowCollectionItemInput!]!) { setFlowCollection(flowId: $id, collection: $c) { id } }', {
        id: idOf(flow),
        c: [{ id: idOf(flow), role: 'me' }],
      });
      expect(viaGql.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      // A new flow naming itself is not created either.
      const fresh = multiFlow();
      const refused = await c.req('PUT', `/flows/${idOf(fresh)}`, { ...fresh, flow_collection: [{ id: idOf(fresh), role: 'me' }] });
      expect(refused.status).toBe(400);
      expect((await c.req('GET', `/flows/${idOf(fresh)}`)).status).toBe(404);
      expect((await c.req('GET', `/sources/${sourceOf(fresh)}`)).status).toBe(404);
      expect(await getFlow(c, idOf(flow))).toEqual(before);
    });

    it('flows and sources collecting each other stay consistent, and a deletion unwinds the cycle', async () => {
      const c = await as('writer', ['read', 'write', 'delete']);
      const p = multiFlow();
      const q = multiFlow();
      await put(c, p);
      await put(c, q);
      expect((await c.req('PUT', `/flows/${idOf(p)}/flow_collection`, [{ id: idOf(q), role: 'q' }])).status).toBe(204);
      expect((await c.req('PUT', `/flows/${idOf(q)}/flow_collection`, [{ id: idOf(p), role: 'p' }])).status).toBe(204);
      const [sp, sq] = [sourceOf(p), sourceOf(q)];
      expect(await getFlow(c, idOf(p))).toMatchObject({ flow_collection: [{ id: idOf(q), role: 'q' }], collected_by: [idOf(q)] });
      expect(await getFlow(c, idOf(q))).toMatchObject({ flow_collection: [{ id: idOf(p), role: 'p' }], collected_by: [idOf(p)] });
      expect(await getSource(c, sp)).toMatchObject({ source_collection: [{ id: sq, role: 'q' }], collected_by: [sq] });
      expect(await getSource(c, sq)).toMatchObject({ source_collection: [{ id: sp, role: 'p' }], collected_by: [sp] });
      expect((await c.gql(SOURCE_GQL, { id: sp })).source).toEqual({ id: sp, collection: [{ sourceId: sq, role: 'q' }], collectedBy: [{ id: sq }] });

      expect((await c.req('DELETE', `/flows/${idOf(p)}`)).status).toBe(204);
      const qAfter = await getFlow(c, idOf(q));
      expect(qAfter.flow_collection).toBeUndefined();
      expect(qAfter.collected_by).toBeUndefined();
      expect((await c.req('GET', `/sources/${sp}`)).status).toBe(404);
      const sqAfter = await getSource(c, sq);
      expect(sqAfter.source_collection).toBeUndefined();
      expect(sqAfter.collected_by).toBeUndefined();
    });

    it('a member moving to another source takes its collectors’ source collections with it', async () => {
      const c = await as('writer');
      const a = videoFlow();
      await put(c, a);
      const x = multiFlow({ flow_collection: [{ id: idOf(a), role: 'video' }] });
      await put(c, x);
      const [sx, oldSource] = [sourceOf(x), sourceOf(a)];
      const newSource = randomUUID();
      await put(c, { ...a, source_id: newSource }, 204);
      expect((await getSource(c, sx)).source_collection).toEqual([{ id: newSource, role: 'video' }]);
      expect((await getSource(c, newSource)).collected_by).toEqual([sx]);
      expect((await c.req('GET', `/sources/${oldSource}`)).status).toBe(404);
      expect((await getFlow(c, idOf(a))).collected_by).toEqual([idOf(x)]);
    });

    it('a writer cannot collect a flow of a class it has no grant on: told it does not exist, the flow untouched', async () => {
      const root = await as('root', ALL);
      const sport = videoFlow({ tags: { auth_classes: 'sport' } });
      await put(root, sport);
      const sportBefore = await getFlow(root, idOf(sport));
      const sportSourceBefore = await getSource(root, sourceOf(sport));
      const nick = await as('nick', ['read', 'write'], { auth_classes: ['news'] });
      const news = multiFlow({ tags: { auth_classes: 'news' } });
      await put(nick, news);
      const viaEndpoint = await nick.req('PUT', `/flows/${idOf(news)}/flow_collection`, [{ id: idOf(sport), role: 'video' }]);
      expect([viaEndpoint.status, viaEndpoint.body.type]).toEqual([400, 'ValidationError']);
      expect(viaEndpoint.body.summary).toContain('does not exist');
      const viaPut = await nick.req('PUT', `/flows/${idOf(news)}`, { ...news, flow_collection: [{ id: idOf(sport), role: 'video' }] });
      expect(viaPut.status).toBe(400);
      const viaGql = await nick.gqlRaw(PUT_FLOW_GQL, {
        id: randomUUID(),
        input: {
          sourceId: randomUUID(),
          container: 'video/mp2t',
          multi: {},
          tags: { auth_classes: 'news' },
          flowCollection: [{ id: idOf(sport), role: 'video' }],
        },
      });
      expect(viaGql.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(await getFlow(root, idOf(sport))).toEqual(sportBefore);
      expect(await getSource(root, sourceOf(sport))).toEqual(sportSourceBefore);
      expect((await getFlow(nick, idOf(news))).flow_collection).toBeUndefined();
    });

    it('deleting a member of a read-only collector the deleter cannot see drops the reference and leaves the collector read-only (docs/rest.md)', async () => {
      const root = await as('root', ALL);
      const dan = await as('dan', ['read', 'write', 'delete'], { auth_classes: ['news'] });
      const member = videoFlow({ tags: { auth_classes: 'news' } });
      await put(root, member);
      const collector = multiFlow({ tags: { auth_classes: 'sport' }, flow_collection: [{ id: idOf(member), role: 'video' }] });
      await put(root, collector);
      expect((await root.req('PUT', `/flows/${idOf(collector)}/read_only`, true)).status).toBe(204);
      expect((await dan.req('GET', `/flows/${idOf(collector)}`)).status).toBe(404);
      // The deleter cannot write the collector...
      expect((await dan.req('PUT', `/flows/${idOf(collector)}/label`, json('by dan'))).status).toBe(404);
      // ...yet its member may go, and with it the reference.
      expect((await dan.req('DELETE', `/flows/${idOf(member)}`)).status).toBe(204);
      const after = await getFlow(root, idOf(collector));
      expect(after.flow_collection).toBeUndefined();
      expect(after.read_only).toBe(true);
      expect(after.label).toBe('multi');
      expect((await getSource(root, sourceOf(collector))).source_collection).toBeUndefined();
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('init_segments and unknown objects', () => {
    it('a mixed array: each bad segment fails alone with its reason, only the good one is stored', async () => {
      const root = await as('root', ALL);
      const nick = await as('nick', ['read', 'write'], { auth_classes: ['news'] });
      const flow = initFlow({ tags: { auth_classes: 'news' } });
      const other = videoFlow({ tags: { auth_classes: 'news' } });
      const sport = videoFlow({ tags: { auth_classes: 'sport' } });
      for (const f of [flow, other, sport]) await put(root, f);
      const [sportMedia, sportAllocated] = [randomUUID(), randomUUID()];
      await allocateObjects(root.req, idOf(sport), [sportMedia, sportAllocated]);
      expect((await root.req('POST', `/flows/${idOf(sport)}/segments`, { object_id: sportMedia, timerange: tr(0) })).status).toBe(201);
      const [m1, m2, m3, init] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await allocateObjects(nick.req, idOf(flow), [m1, m2, m3, init]);
      const otherInit = randomUUID();
      await allocateObjects(nick.req, idOf(other), [otherInit]);
      const unknown = `never-allocated-${randomUUID()}`;

      const cases: [Record<string, unknown>, string | undefined][] = [
        [{ object_id: m1, init_object_id: init, timerange: tr(0) }, undefined],
        [{ object_id: m2, timerange: tr(1) }, 'ValidationError'], // init_segments: true without an init object
        [{ object_id: unknown, init_object_id: init, timerange: tr(2) }, 'ValidationError'], // unknown media object
        [{ object_id: m3, init_object_id: `unknown-init-${randomUUID()}`, timerange: tr(3) }, 'ValidationError'], // unknown init object
        [{ object_id: m2, init_object_id: sportMedia, timerange: tr(4) }, 'Forbidden'], // another class's media as init
        [{ object_id: sportMedia, init_object_id: init, timerange: tr(5) }, 'Forbidden'], // another class's media re-used
        [{ object_id: sportAllocated, init_object_id: init, timerange: tr(6) }, 'ObjectReuseConflict'], // allocated for another flow
        [{ object_id: m2, init_object_id: sportAllocated, timerange: tr(7) }, 'ObjectReuseConflict'], // init allocated for another flow
        [{ object_id: m2, init_object_id: otherInit, timerange: tr(8) }, 'ObjectReuseConflict'], // init allocated for another readable flow
        [{ object_id: m3, init_object_id: m1, timerange: tr(9) }, 'ObjectReuseConflict'], // a media object as init
        [{ object_id: init, init_object_id: init, timerange: tr(10) }, 'ObjectReuseConflict'], // its own init object
      ];
      const res = await nick.req('POST', `/flows/${idOf(flow)}/segments`, cases.map(([segment]) => segment));
      expect(res.status).toBe(200);
      const failed = res.body.failed_segments as Json[];
      const expected = cases.filter(([, type]) => type !== undefined);
      // The service's refusals come before the store's: compared in timeline order.
      const byStart = (a: unknown[], b: unknown[]): number => parseInt((a[1] as string).slice(1), 10) - parseInt((b[1] as string).slice(1), 10);
      expect(failed.map((f) => [f.object_id, f.timerange, f.error.type]).sort(byStart)).toEqual(expected.map(([s, type]) => [s.object_id, s.timerange, type]));

      const listed = (await nick.req('GET', `/flows/${idOf(flow)}/segments`)).body as Json[];
      expect(listed.map((s) => [s.object_id, s.timerange, s.init_object?.object_id])).toEqual([[m1, tr(0), init]]);
      // Nothing the failures named became an object, or a reference.
      expect((await root.req('GET', `/objects/${unknown}`)).status).toBe(404);
      const allocatedForSport = await root.req('GET', `/objects/${sportAllocated}`);
      expect([allocatedForSport.status, allocatedForSport.body?.referenced_by_flows]).toEqual([404, undefined]);
      expect((await root.req('GET', `/objects/${sportMedia}`)).body.referenced_by_flows).toEqual([idOf(sport)]);
      expect((await nick.req('GET', `/objects/${sportMedia}`)).status).toBe(404);
      expect((await root.req('GET', `/flows/${idOf(sport)}/segments`)).body).toHaveLength(1);
    });

    it('GraphQL registerSegments refuses what REST refuses', async () => {
      const c = await as('writer');
      const flow = initFlow();
      const plain = videoFlow();
      await put(c, flow);
      await put(c, plain);
      const [media, init] = [randomUUID(), randomUUID()];
      await allocateObjects(c.req, idOf(flow), [media, init]);
      const [plainMedia] = [randomUUID()];
      await allocateObjects(c.req, idOf(plain), [plainMedia]);
      const unknown = `never-allocated-${randomUUID()}`;

      const mixed = await c.gql(REGISTER_GQL, {
        flowId: idOf(flow),
        segments: [
          { objectId: unknown, initObjectId: init, timerange: tr(0) },
          { objectId: media, timerange: tr(1) },
          { objectId: media, initObjectId: `unknown-init-${randomUUID()}`, timerange: tr(2) },
          { objectId: `external-${randomUUID()}`, initObjectId: init, timerange: tr(3), getUrls: [] },
          { objectId: media, initObjectId: init, timerange: tr(4) },
        ],
      });
      expect(mixed.registerSegments.registeredCount).toBe(1);
      expect((mixed.registerSegments.failed as Json[]).map((f) => f.error.type)).toEqual(['ValidationError', 'ValidationError', 'ValidationError', 'ValidationError']);
      const onPlain = await c.gql(REGISTER_GQL, { flowId: idOf(plain), segments: [{ objectId: plainMedia, initObjectId: init, timerange: tr(0) }] });
      expect(onPlain.registerSegments).toMatchObject({ registeredCount: 0, failed: [{ objectId: plainMedia, error: { type: 'ValidationError' } }] });
      // Re-using the media object (registered with its init object) on the plain flow is refused too.
      const reuse = await c.gql(REGISTER_GQL, { flowId: idOf(plain), segments: [{ objectId: media, timerange: tr(1) }] });
      expect(reuse.registerSegments).toMatchObject({ registeredCount: 0, failed: [{ objectId: media, error: { type: 'ValidationError' } }] });
      expect((await c.req('GET', `/flows/${idOf(plain)}/segments`)).body).toEqual([]);
      expect((await c.req('GET', `/objects/${unknown}`)).status).toBe(404);
    });

    it('init_segments cannot be switched off under segments that have init objects, by REST or GraphQL', async () => {
      const c = await as('writer');
      const flow = initFlow();
      await put(c, flow);
      const [media, init] = [randomUUID(), randomUUID()];
      await allocateObjects(c.req, idOf(flow), [media, init]);
      expect((await c.req('POST', `/flows/${idOf(flow)}/segments`, { object_id: media, init_object_id: init, timerange: tr(0) })).status).toBe(201);
      const before = await getFlow(c, idOf(flow));
      const off = await c.req('PUT', `/flows/${idOf(flow)}`, { ...flow, essence_parameters: { ...(flow.essence_parameters as Json), init_segments: false } });
      expect([off.status, off.body.type]).toEqual([400, 'ValidationError']);
      const viaGql = await c.gqlRaw(PUT_FLOW_GQL, { id: idOf(flow), input: videoInput(sourceOf(flow)) });
      expect(viaGql.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(await getFlow(c, idOf(flow))).toEqual(before);
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('a collection with members of another format and source', () => {
    it('an audio and a video member give the multi flow’s source both, in order, and both members list it', async () => {
      const c = await as('writer');
      const v = videoFlow();
      const a = audioFlow();
      await put(c, v);
      await put(c, a);
      const x = multiFlow({ flow_collection: [{ id: idOf(a), role: 'audio' }, { id: idOf(v), role: 'video' }] });
      await put(c, x);
      expect((await getSource(c, sourceOf(x))).source_collection).toEqual([
        { id: sourceOf(a), role: 'audio' },
        { id: sourceOf(v), role: 'video' },
      ]);
      for (const member of [v, a]) expect((await getSource(c, sourceOf(member))).collected_by).toEqual([sourceOf(x)]);
    });
  });
});
