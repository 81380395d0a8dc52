/**
 * The TAMS rules of commit f4c8c2a over real HTTP, REST and GraphQL:
 *
 * 1. created_by / updated_by come from the caller (TAMS_AUTH=on, real tokens and a Basic
 *    user): a client's values are kept only from an admin-scope caller or a holder of a role
 *    named in AUTH_ATTRIBUTION_ROLES; AUTH_USER_CLAIM picks the claim recorded; a deletion
 *    request is created_by its caller.
 * 2. metadata_version: the client's value on creation, a new one on every metadata write that
 *    does not bring a new value of its own, none on segment writes; collection membership is
 *    a change of the member's metadata.
 * 3. init_segments: segments of a flow with init_segments true need an init object, others
 *    may not have one; a flow PUT cannot contradict its stored segments.
 * 4. A segment of an object never allocated nor registered needs get_urls.
 * 5. Source collections inferred from flow collections (collected_by kept, conflicts refused).
 * 6. A deleted flow leaves the collections that listed it, in the same commit as its deletion.
 *
 * Every REST answer goes through checkedFetch (h.request): 2xx bodies must validate against the
 * official schemas, error answers must be declared and carry a TAMS error body.
 */
import { randomUUID } from 'node:crypto';
import { runCli } from '../../src/cli';
import { startHarness, type Harness, type TamsResponse } from '../support/gateway-harness';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { bearerGateway, client, getFlow, getSource, idOf, json, multiFlow, put, sourceOf, tr, type Client, type Json } from '../support/tams-client';
import { Subscriber, sleep, waitFor } from '../support/ws-subscriber';
import { describeWithSpec, validateEvent } from '../support/tams-spec';


const ISSUER = 'https://tams.test';
const AUDIENCE = 'tams-gateway';







/** `n` new object ids allocated for the flow (POST /flows/{id}/storage). */
async function allocate(c: Client, flowId: string, n: number): Promise<string[]> {
  const res = await c.req('POST', `/flows/${flowId}/storage`, { limit: n });
  expect(res.status).toBe(201);
  const ids = (res.body.media_objects as { object_id: string }[]).map((o) => o.object_id);
  expect(ids).toHaveLength(n);
  return ids;
}

const FLOW_GQL = 'query ($id: ID!) { flow(id: $id) { id createdBy updatedBy metadataVersion } }';
const SOURCE_GQL = 'query ($id: ID!) { source(id: $id) { id createdBy updatedBy collection { sourceId role source { id } } collectedBy { id } } }';

describeWithSpec('TAMS rules over HTTP', () => {
  // ---------------------------------------------------------------------------------------
  describe('created_by / updated_by from the caller (TAMS_AUTH=on)', () => {
    const gateway = bearerGateway({ AUTH_ATTRIBUTION_ROLES: 'curator, archivist', TAMS_DELETE_ASYNC_THRESHOLD: '0' }, ISSUER, AUDIENCE);
    /** A client whose bearer token has subject `sub` and `scopes` (plus extra claims). */
    const { as } = gateway;

    it('a flow PUT records its caller; its new source too; a later PUT keeps created_by; GraphQL agrees', async () => {
      const [alice, bob] = [await as('alice'), await as('bob')];
      const flow = videoFlow();
      const created = await put(alice, flow);
      expect(created.body).toMatchObject({ created_by: 'alice', updated_by: 'alice' });
      expect(await getFlow(alice, idOf(flow))).toMatchObject({ created_by: 'alice', updated_by: 'alice' });
      expect(await getSource(alice, sourceOf(flow))).toMatchObject({ created_by: 'alice', updated_by: 'alice' });

      await put(bob, { ...flow, label: 'by bob' }, 204);
      const after = await getFlow(alice, idOf(flow));
      expect(after).toMatchObject({ label: 'by bob', created_by: 'alice', updated_by: 'bob' });
      // The source was made by alice; bob's flow PUT is not a write of the source.
      expect(await getSource(bob, sourceOf(flow))).toMatchObject({ created_by: 'alice' });

      const gqlFlow = (await bob.gql(FLOW_GQL, { id: idOf(flow) })).flow;
      expect(gqlFlow).toEqual({ id: idOf(flow), createdBy: 'alice', updatedBy: 'bob', metadataVersion: after.metadata_version });
      const gqlSource = (await bob.gql(SOURCE_GQL, { id: sourceOf(flow) })).source;
      expect(gqlSource).toMatchObject({ id: sourceOf(flow), createdBy: 'alice', updatedBy: 'alice' });
    });

    it('every flow property write sets updated_by to its caller (created_by kept)', async () => {
      const alice = await as('alice');
      const member = videoFlow();
      await put(alice, member);
      const flow = multiFlow();
      await put(alice, flow);
      const id = idOf(flow);
      const writes = flowPropertyWrites(id, idOf(member));
      for (const [i, [method, path, body]] of writes.entries()) {
        const who = `carol-${i}`;
        const res = await (await as(who)).req(method, path, body);
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 204 });
        const stored = await getFlow(alice, id);
        expect({ method, path, created_by: stored.created_by, updated_by: stored.updated_by }).toEqual({ method, path, created_by: 'alice', updated_by: who });
        expect((await alice.gql(FLOW_GQL, { id })).flow).toMatchObject({ createdBy: 'alice', updatedBy: who });
      }
      // A GraphQL mutation too.
      const gina = await as('gina');
      const mutated = await gina.gql('mutation ($id: ID!) { setFlowLabel(flowId: $id, label: "by gina") { createdBy updatedBy } }', { id });
      expect(mutated.setFlowLabel).toEqual({ createdBy: 'alice', updatedBy: 'gina' });
      expect(await getFlow(alice, id)).toMatchObject({ label: 'by gina', created_by: 'alice', updated_by: 'gina' });
    });

    it('every source property write sets the source updated_by to its caller', async () => {
      const alice = await as('alice');
      const flow = videoFlow();
      await put(alice, flow);
      const sid = sourceOf(flow);
      const writes: [string, string, unknown][] = [
        ['PUT', `/sources/${sid}/tags/x`, json('y')],
        ['DELETE', `/sources/${sid}/tags/x`, undefined],
        ['PUT', `/sources/${sid}/label`, json('renamed')],
        ['DELETE', `/sources/${sid}/label`, undefined],
        ['PUT', `/sources/${sid}/description`, json('described')],
        ['DELETE', `/sources/${sid}/description`, undefined],
      ];
      for (const [i, [method, path, body]] of writes.entries()) {
        const who = `sally-${i}`;
        const res = await (await as(who)).req(method, path, body);
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 204 });
        const stored = await getSource(alice, sid);
        expect({ method, path, created_by: stored.created_by, updated_by: stored.updated_by }).toEqual({ method, path, created_by: 'alice', updated_by: who });
        expect((await alice.gql(SOURCE_GQL, { id: sid })).source).toMatchObject({ createdBy: 'alice', updatedBy: who });
      }
    });

    it("a client's created_by / updated_by: ignored from a plain writer, kept from admin and from an AUTH_ATTRIBUTION_ROLES role", async () => {
      const sent = { created_by: 'mallory', updated_by: 'mallory-too' };
      // A writer without admin, and one holding a role not named in AUTH_ATTRIBUTION_ROLES.
      for (const c of [await as('alice'), await as('eve', ['read', 'write'], { roles: ['editor'] })]) {
        const flow = videoFlow(sent);
        const res = await put(c, flow);
        expect(res.body.created_by).not.toBe('mallory');
        expect(res.body.updated_by).not.toBe('mallory-too');
        expect([res.body.created_by, res.body.updated_by]).toEqual([res.body.created_by, res.body.created_by]);
        expect(['alice', 'eve']).toContain(res.body.created_by);
        // Not on a later PUT either.
        await put(c, { ...flow, label: 'again' }, 204);
        expect(await getFlow(c, idOf(flow))).toMatchObject({ created_by: res.body.created_by, updated_by: res.body.created_by });
      }

      const root = await as('root', ['read', 'write', 'delete', 'admin']);
      const byAdmin = videoFlow(sent);
      expect((await put(root, byAdmin)).body).toMatchObject(sent);
      expect(await getFlow(root, idOf(byAdmin))).toMatchObject(sent);

      // A role named in AUTH_ATTRIBUTION_ROLES (the role grants no scope; the scope claim does).
      const curator = await as('cora', ['read', 'write'], { roles: ['curator'] });
      const byCurator = videoFlow(sent);
      expect((await put(curator, byCurator)).body).toMatchObject(sent);
      // The second listed role counts too.
      const archivist = await as('arch', ['read', 'write'], { roles: ['viewer', 'archivist'] });
      await put(archivist, { ...byCurator, created_by: 'someone-else', updated_by: 'someone-else-too' }, 204);
      expect(await getFlow(archivist, idOf(byCurator))).toMatchObject({ created_by: 'someone-else', updated_by: 'someone-else-too' });

      // An admin sending back the document it read (updated_by as stored) is recorded as the updater.
      const read = await getFlow(root, idOf(byAdmin));
      delete read.segments_updated;
      await put(root, { ...read, label: 'read and sent back' }, 204);
      expect(await getFlow(root, idOf(byAdmin))).toMatchObject({ created_by: 'mallory', updated_by: 'root' });

      // A plain writer cannot rewrite the stored created_by.
      const bob = await as('bob');
      await put(bob, { ...byAdmin, created_by: 'bob-claims-it' }, 204);
      expect(await getFlow(bob, idOf(byAdmin))).toMatchObject({ created_by: 'mallory', updated_by: 'bob' });
      expect((await bob.gql(FLOW_GQL, { id: idOf(byAdmin) })).flow).toMatchObject({ createdBy: 'mallory', updatedBy: 'bob' });
    });

    it('a deletion request is created_by its caller; the collection its flow leaves keeps its own updated_by', async () => {
      const alice = await as('alice');
      const dave = await as('dave', ['read', 'write', 'delete']);
      const member = videoFlow();
      await put(alice, member);
      const collector = multiFlow({ flow_collection: [{ id: idOf(member), role: 'video' }] });
      await put(alice, collector);
      const objects = await allocate(dave, idOf(member), 2);
      const seg = await dave.req('POST', `/flows/${idOf(member)}/segments`, objects.map((object_id, i) => ({ object_id, timerange: tr(i) })));
      expect(seg.status).toBe(201);

      // More segments than TAMS_DELETE_ASYNC_THRESHOLD (0): a deletion request.
      const del = await dave.req('DELETE', `/flows/${idOf(member)}`);
      expect(del.status).toBe(202);
      expect(del.body).toMatchObject({ flow_id: idOf(member), delete_flow: true, created_by: 'dave' });
      const requestId = del.body.id as string;
      let request: Json;
      await waitForAsync(async () => {
        request = (await dave.req('GET', `/flow-delete-requests/${requestId}`)).body;
        return request.status === 'done';
      }, 'the deletion request to finish');
      expect(request).toMatchObject({ id: requestId, created_by: 'dave', status: 'done' });
      expect((await dave.req('GET', `/flows/${idOf(member)}`)).status).toBe(404);
      // The collector lost its member: the gateway's own change (a new version), not a write by dave.
      const after = await getFlow(alice, idOf(collector));
      expect(after.flow_collection).toBeUndefined();
      expect(after).toMatchObject({ created_by: 'alice', updated_by: 'alice' });
    });

    it('takes a metadata_version of a plain writer on creation only; an admin\'s also on update', async () => {
      const writer = await as('wanda');
      const admin = await as('root', ['read', 'write', 'admin']);
      const flow = videoFlow({ metadata_version: 'from-another-store' });
      expect((await put(writer, flow)).body.metadata_version).toBe('from-another-store');
      // The stale version sent again with other metadata (a read-modify-write that lost a race): replaced.
      expect((await writer.req('PUT', `/flows/${idOf(flow)}/label`, json('moved on'))).status).toBe(204);
      expect((await writer.req('PUT', `/flows/${idOf(flow)}`, { ...flow, label: 'other', metadata_version: 'from-another-store' })).status).toBe(204);
      const pinned = (await getFlow(writer, idOf(flow))).metadata_version as string;
      expect(pinned).not.toBe('from-another-store');
      expect((await writer.req('PUT', `/flows/${idOf(flow)}`, { ...flow, metadata_version: 'writer-chosen' })).status).toBe(204);
      expect((await getFlow(writer, idOf(flow))).metadata_version).not.toBe('writer-chosen');
      expect((await admin.req('PUT', `/flows/${idOf(flow)}`, { ...flow, metadata_version: 'admin-chosen' })).status).toBe(204);
      expect((await getFlow(writer, idOf(flow))).metadata_version).toBe('admin-chosen');
    });

    it('records a Basic user by name', async () => {
      const io = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => 'basil-password\n', env: { TAMS_DATA_DIR: gateway.h.dataDir } };
      expect(await runCli(['user', 'add', 'basil', '--scopes', 'read,write', '--password-stdin'], io)).toBe(0);
      // The gateway looks at the users file at most once a second.
      await sleep(1100);
      const basil = client(gateway.h, `Basic ${Buffer.from('basil:basil-password').toString('base64')}`);
      const flow = videoFlow();
      expect((await put(basil, flow)).body).toMatchObject({ created_by: 'basil', updated_by: 'basil' });
      expect(await getSource(basil, sourceOf(flow))).toMatchObject({ created_by: 'basil' });
      const alice = await as('alice');
      expect((await alice.req('PUT', `/flows/${idOf(flow)}/tags/t`, json('v'))).status).toBe(204);
      expect((await basil.req('PUT', `/flows/${idOf(flow)}/label`, json('by basil'))).status).toBe(204);
      expect(await getFlow(alice, idOf(flow))).toMatchObject({ created_by: 'basil', updated_by: 'basil' });
      expect((await basil.gql(FLOW_GQL, { id: idOf(flow) })).flow).toMatchObject({ createdBy: 'basil', updatedBy: 'basil' });
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('AUTH_USER_CLAIM=preferred_username', () => {
    const gateway = bearerGateway({ AUTH_USER_CLAIM: 'preferred_username' }, ISSUER, AUDIENCE);

    it('records the claim it names (the subject when a token lacks it)', async () => {
      const scope = 'tams-api/read tams-api/write';
      const alice = client(gateway.h, `Bearer ${await gateway.sign({ sub: 'u-0001', preferred_username: 'alice.smith', scope })}`);
      const anonymous = client(gateway.h, `Bearer ${await gateway.sign({ sub: 'u-0002', scope })}`);
      const flow = videoFlow();
      expect((await put(alice, flow)).body).toMatchObject({ created_by: 'alice.smith', updated_by: 'alice.smith' });
      expect(await getSource(alice, sourceOf(flow))).toMatchObject({ created_by: 'alice.smith' });
      expect((await anonymous.req('PUT', `/flows/${idOf(flow)}/label`, json('x'))).status).toBe(204);
      expect(await getFlow(alice, idOf(flow))).toMatchObject({ created_by: 'alice.smith', updated_by: 'u-0002' });
      expect((await alice.req('PUT', `/sources/${sourceOf(flow)}/label`, json('y'))).status).toBe(204);
      expect(await getSource(alice, sourceOf(flow))).toMatchObject({ created_by: 'alice.smith', updated_by: 'alice.smith' });
      expect((await alice.gql(FLOW_GQL, { id: idOf(flow) })).flow).toMatchObject({ createdBy: 'alice.smith', updatedBy: 'u-0002' });
    });
  });

  // ---------------------------------------------------------------------------------------
  describe('without authentication (TAMS_AUTH=off)', () => {
    let h: Harness;
    let c: Client;

    beforeAll(async () => {
      h = await startHarness();
      c = client(h);
    });
    afterAll(async () => {
      await h.close();
    });

    const version = async (id: string): Promise<string> => {
      const v = (await getFlow(c, id)).metadata_version as string;
      expect(typeof v).toBe('string');
      expect(v).not.toBe('');
      return v;
    };

    describe('metadata_version', () => {
      it("keeps the client's value on creation and sets one when there is none; GraphQL agrees", async () => {
        const given = videoFlow({ metadata_version: 'moved-from-another-store' });
        expect((await put(c, given)).body.metadata_version).toBe('moved-from-another-store');
        expect(await version(idOf(given))).toBe('moved-from-another-store');

        const plain = videoFlow();
        const created = await put(c, plain);
        expect(typeof created.body.metadata_version).toBe('string');
        expect(await version(idOf(plain))).toBe(created.body.metadata_version);
        for (const flow of [given, plain]) {
          expect((await c.gql(FLOW_GQL, { id: idOf(flow) })).flow.metadataVersion).toBe(await version(idOf(flow)));
        }
      });

      it('a PUT without a value, or with the stored one, gets a new one; a new value of its own is kept', async () => {
        const flow = videoFlow();
        await put(c, flow);
        const seen = [await version(idOf(flow))];
        // The same document again, without a version.
        await put(c, flow, 204);
        seen.push(await version(idOf(flow)));
        // The stored version sent back (the document as read).
        await put(c, { ...flow, label: 'changed', metadata_version: seen.at(-1) }, 204);
        seen.push(await version(idOf(flow)));
        expect(new Set(seen).size).toBe(seen.length);
        // A new value of the client's.
        await put(c, { ...flow, metadata_version: 'client-chosen-v2' }, 204);
        expect(await version(idOf(flow))).toBe('client-chosen-v2');
        await put(c, { ...flow, metadata_version: 'client-chosen-v2' }, 204);
        expect(await version(idOf(flow))).not.toBe('client-chosen-v2');
        expect((await c.gql(FLOW_GQL, { id: idOf(flow) })).flow.metadataVersion).toBe(await version(idOf(flow)));
      });

      it('every property endpoint write gives a new version', async () => {
        const member = videoFlow();
        await put(c, member);
        const flow = multiFlow();
        await put(c, flow);
        const id = idOf(flow);
        const writes = flowPropertyWrites(id, idOf(member));
        const seen = [await version(id)];
        for (const [method, path, body] of writes) {
          const res = await c.req(method, path, body);
          expect({ method, path, status: res.status }).toEqual({ method, path, status: 204 });
          const now = await version(id);
          expect({ method, path, unchanged: seen.includes(now) }).toEqual({ method, path, unchanged: false });
          seen.push(now);
          expect((await c.gql(FLOW_GQL, { id })).flow.metadataVersion).toBe(now);
        }
        // A GraphQL mutation too.
        const mutated = await c.gql('mutation ($id: ID!) { setFlowTag(flowId: $id, name: "g", value: "v") { metadataVersion } }', { id });
        expect(seen).not.toContain(mutated.setFlowTag.metadataVersion);
        expect(await version(id)).toBe(mutated.setFlowTag.metadataVersion);
      });

      it('segment POST and DELETE leave it alone', async () => {
        const flow = videoFlow();
        await put(c, flow);
        const id = idOf(flow);
        const before = await version(id);
        const objects = await allocate(c, id, 3);
        expect((await c.req('POST', `/flows/${id}/segments`, { object_id: objects[0], timerange: tr(0) })).status).toBe(201);
        expect((await c.req('POST', `/flows/${id}/segments`, objects.slice(1).map((object_id, i) => ({ object_id, timerange: tr(i + 1) })))).status).toBe(201);
        expect((await c.req('GET', `/flows/${id}/segments`)).body).toHaveLength(3);
        expect(await version(id)).toBe(before);
        expect((await c.req('DELETE', `/flows/${id}/segments?timerange=${encodeURIComponent(tr(0))}`)).status).toBe(204);
        expect((await c.req('DELETE', `/flows/${id}/segments`)).status).toBe(204);
        expect((await c.req('GET', `/flows/${id}/segments`)).body).toEqual([]);
        expect(await version(id)).toBe(before);
      });

      it("a member's version changes when it joins or leaves a collection", async () => {
        const member = videoFlow();
        const other = audioFlow();
        await put(c, member);
        await put(c, other);
        const seen = [await version(idOf(member))];
        const step = async (what: string, status: number, res: TamsResponse): Promise<void> => {
          expect({ what, status: res.status }).toEqual({ what, status });
          const now = await version(idOf(member));
          expect({ what, unchanged: seen.includes(now) }).toEqual({ what, unchanged: false });
          seen.push(now);
          expect((await c.gql(FLOW_GQL, { id: idOf(member) })).flow.metadataVersion).toBe(now);
        };
        const collector = multiFlow({ flow_collection: [{ id: idOf(member), role: 'video' }] });
        await step('added by a flow PUT', 201, await c.req('PUT', `/flows/${idOf(collector)}`, collector));
        expect((await getFlow(c, idOf(member))).collected_by).toEqual([idOf(collector)]);
        await step('removed by PUT flow_collection', 204, await c.req('PUT', `/flows/${idOf(collector)}/flow_collection`, [{ id: idOf(other), role: 'audio' }]));
        expect((await getFlow(c, idOf(member))).collected_by).toBeUndefined();
        await step('added by PUT flow_collection', 204, await c.req('PUT', `/flows/${idOf(collector)}/flow_collection`, [{ id: idOf(other), role: 'audio' }, { id: idOf(member), role: 'video' }]));
        await step('removed by DELETE flow_collection', 204, await c.req('DELETE', `/flows/${idOf(collector)}/flow_collection`));
        const second = multiFlow({ flow_collection: [{ id: idOf(member), role: 'video' }] });
        await step('added by another flow PUT', 201, await c.req('PUT', `/flows/${idOf(second)}`, second));
        expect((await getFlow(c, idOf(member))).collected_by).toEqual([idOf(second)]);
        // Not a change of the member: a collector PUT that keeps it in its collection.
        const unchanged = await version(idOf(member));
        await put(c, { ...second, label: 'relabelled collector' }, 204);
        expect(await version(idOf(member))).toBe(unchanged);
      });
    });

    describe('init_segments', () => {
      it('a flow without init_segments refuses segments with an init object (single: 400; array: 200 with failed_segments)', async () => {
        const flow = videoFlow();
        await put(c, flow);
        const id = idOf(flow);
        const [o1, o2, o3, init] = await allocate(c, id, 4);
        const single = await c.req('POST', `/flows/${id}/segments`, { object_id: o1, init_object_id: init, timerange: tr(0) });
        expect(single.status).toBe(400);
        expect(single.body).toMatchObject({ type: 'ValidationError' });
        expect(single.body.summary).toMatch(/init_segments/);

        const batch = await c.req('POST', `/flows/${id}/segments`, [
          { object_id: o2, timerange: tr(1) },
          { object_id: o3, init_object_id: init, timerange: tr(2) },
        ]);
        expect(batch.status).toBe(200);
        expect(batch.body.failed_segments).toHaveLength(1);
        expect(batch.body.failed_segments[0]).toMatchObject({ object_id: o3, timerange: tr(2), error: { type: 'ValidationError' } });
        const listed = (await c.req('GET', `/flows/${id}/segments`)).body as Json[];
        expect(listed.map((s) => s.object_id)).toEqual([o2]);
      });

      it('a flow with init_segments true needs an init object on each segment; a re-used object brings its own', async () => {
        const flow = videoFlow({ essence_parameters: { ...(videoFlow().essence_parameters as object), init_segments: true } });
        await put(c, flow);
        const id = idOf(flow);
        const [o1, o2, init] = await allocate(c, id, 3);
        const without = await c.req('POST', `/flows/${id}/segments`, { object_id: o1, timerange: tr(0) });
        expect(without.status).toBe(400);
        expect(without.body).toMatchObject({ type: 'ValidationError' });
        expect(without.body.summary).toMatch(/init_object_id/);
        const batch = await c.req('POST', `/flows/${id}/segments`, [{ object_id: o1, timerange: tr(0) }, { object_id: o2, init_object_id: init, timerange: tr(1) }]);
        expect(batch.status).toBe(200);
        expect(batch.body.failed_segments.map((f: Json) => f.object_id)).toEqual([o1]);
        expect((await c.req('POST', `/flows/${id}/segments`, { object_id: o1, init_object_id: init, timerange: tr(0) })).status).toBe(201);
        const listed = (await c.req('GET', `/flows/${id}/segments`)).body as Json[];
        expect(listed.map((s) => [s.object_id, s.init_object?.object_id])).toEqual([[o1, init], [o2, init]]);

        // Another init flow re-uses o1 without repeating its init object: accepted, listed with it.
        const reuser = videoFlow({ essence_parameters: { ...(videoFlow().essence_parameters as object), init_segments: true } });
        await put(c, reuser);
        expect((await c.req('POST', `/flows/${idOf(reuser)}/segments`, { object_id: o1, timerange: tr(0) })).status).toBe(201);
        const reused = (await c.req('GET', `/flows/${idOf(reuser)}/segments`)).body as Json[];
        expect(reused.map((s) => [s.object_id, s.init_object?.object_id])).toEqual([[o1, init]]);
        // A flow without init_segments cannot re-use it: the object brings an init object.
        const plain = videoFlow();
        await put(c, plain);
        const refused = await c.req('POST', `/flows/${idOf(plain)}/segments`, { object_id: o1, timerange: tr(0) });
        expect(refused.status).toBe(400);
        expect(refused.body.summary).toMatch(/init_segments/);
      });

      it('a flow PUT cannot contradict its segments; with no segments it may switch either way', async () => {
        const params = videoFlow().essence_parameters as Record<string, unknown>;
        const withInit = videoFlow({ essence_parameters: { ...params, init_segments: true } });
        await put(c, withInit);
        const [o1, init] = await allocate(c, idOf(withInit), 2);
        expect((await c.req('POST', `/flows/${idOf(withInit)}/segments`, { object_id: o1, init_object_id: init, timerange: tr(0) })).status).toBe(201);
        const off = await c.req('PUT', `/flows/${idOf(withInit)}`, { ...withInit, essence_parameters: params });
        expect(off.status).toBe(400);
        expect(off.body.type).toBe('ValidationError');
        const offFalse = await c.req('PUT', `/flows/${idOf(withInit)}`, { ...withInit, essence_parameters: { ...params, init_segments: false } });
        expect(offFalse.status).toBe(400);
        expect((await getFlow(c, idOf(withInit))).essence_parameters.init_segments).toBe(true);

        const withoutInit = videoFlow();
        await put(c, withoutInit);
        const [o2] = await allocate(c, idOf(withoutInit), 1);
        expect((await c.req('POST', `/flows/${idOf(withoutInit)}/segments`, { object_id: o2, timerange: tr(0) })).status).toBe(201);
        const on = await c.req('PUT', `/flows/${idOf(withoutInit)}`, { ...withoutInit, essence_parameters: { ...params, init_segments: true } });
        expect(on.status).toBe(400);
        expect(on.body.type).toBe('ValidationError');
        expect((await getFlow(c, idOf(withoutInit))).essence_parameters.init_segments).toBeUndefined();

        // No segments (never, or all deleted): either way is accepted.
        const empty = videoFlow();
        await put(c, empty);
        await put(c, { ...empty, essence_parameters: { ...params, init_segments: true } }, 204);
        expect((await getFlow(c, idOf(empty))).essence_parameters.init_segments).toBe(true);
        await put(c, { ...empty, essence_parameters: params }, 204);
        expect((await getFlow(c, idOf(empty))).essence_parameters.init_segments).toBeUndefined();
        expect((await c.req('DELETE', `/flows/${idOf(withoutInit)}/segments`)).status).toBe(204);
        await put(c, { ...withoutInit, essence_parameters: { ...params, init_segments: true } }, 204);
        expect((await getFlow(c, idOf(withoutInit))).essence_parameters.init_segments).toBe(true);
      });
    });

    describe('objects unknown to the store', () => {
      it('needs get_urls for an object never allocated nor registered; an allocated one does not', async () => {
        const flow = videoFlow();
        await put(c, flow);
        const id = idOf(flow);
        const unknown = `never-allocated-${randomUUID()}`;
        const single = await c.req('POST', `/flows/${id}/segments`, { object_id: unknown, timerange: tr(0) });
        expect(single.status).toBe(400);
        expect(single.body).toMatchObject({ type: 'ValidationError' });
        expect(single.body.summary).toContain(unknown);
        expect(typeof single.body.time).toBe('string');

        const [allocated, other] = await allocate(c, id, 2);
        const batch = await c.req('POST', `/flows/${id}/segments`, [
          { object_id: allocated, timerange: tr(0) },
          { object_id: unknown, timerange: tr(1) },
        ]);
        expect(batch.status).toBe(200);
        expect(batch.body.failed_segments).toEqual([expect.objectContaining({ object_id: unknown, timerange: tr(1), error: expect.objectContaining({ type: 'ValidationError' }) })]);

        const getUrls = [{ url: `https://elsewhere.example/${unknown}`, label: 'elsewhere' }];
        expect((await c.req('POST', `/flows/${id}/segments`, { object_id: unknown, timerange: tr(1), get_urls: getUrls })).status).toBe(201);
        expect((await c.req('POST', `/flows/${id}/segments`, { object_id: other, timerange: tr(2) })).status).toBe(201);
        // The registered object is known now: another flow may re-use it without get_urls.
        const reuser = videoFlow();
        await put(c, reuser);
        expect((await c.req('POST', `/flows/${idOf(reuser)}/segments`, { object_id: unknown, timerange: tr(1) })).status).toBe(201);
        const listed = (await c.req('GET', `/flows/${id}/segments`)).body as Json[];
        expect(listed.map((s) => s.object_id)).toEqual([allocated, unknown, other]);
        expect(listed[1].get_urls).toEqual(expect.arrayContaining([expect.objectContaining({ url: getUrls[0]!.url })]));
      });

      it('refuses object ids holding a lone UTF-16 surrogate (stored as U+FFFD, the id would change)', async () => {
        const flow = videoFlow();
        await put(c, flow);
        const id = idOf(flow);
        const lone = `lone-\ud800-${randomUUID()}`;
        const allocation = await c.req('POST', `/flows/${id}/storage`, { object_ids: [lone] });
        expect([allocation.status, allocation.body.type]).toEqual([400, 'ValidationError']);
        const external = await c.req('POST', `/flows/${id}/segments`, { object_id: lone, timerange: tr(0), get_urls: [{ url: 'https://elsewhere.example/x', label: 'x' }] });
        expect([external.status, external.body.type]).toEqual([400, 'ValidationError']);
        expect((await c.req('GET', `/flows/${id}/segments`)).body).toEqual([]);
        // A well-formed pair is fine.
        const pair = `pair-\ud83c\udfac-${randomUUID()}`;
        expect((await c.req('POST', `/flows/${id}/storage`, { object_ids: [pair] })).status).toBe(201);
        expect((await c.req('POST', `/flows/${id}/segments`, { object_id: pair, timerange: tr(0) })).status).toBe(201);
      });

      it('refuses an init object never allocated (it has no get_urls of its own to be read from)', async () => {
        const flow = videoFlow();
        await put(c, { ...flow, essence_parameters: { ...(flow.essence_parameters as Json), init_segments: true } });
        const id = idOf(flow);
        const [media, init] = await allocate(c, id, 2);
        const unknownInit = `never-allocated-init-${randomUUID()}`;
        const refused = await c.req('POST', `/flows/${id}/segments`, { object_id: media, init_object_id: unknownInit, timerange: tr(0) });
        expect([refused.status, refused.body.type]).toEqual([400, 'ValidationError']);
        expect(refused.body.summary).toContain(unknownInit);
        expect((await c.req('GET', `/objects/${unknownInit}`)).status).toBe(404);
        expect((await c.req('POST', `/flows/${id}/segments`, { object_id: media, init_object_id: init, timerange: tr(0) })).status).toBe(201);
      });
    });

    describe('source collections', () => {
      const labelled = (label: string) => ({
        video: videoFlow({ label }),
        audio: audioFlow({ label }),
      });

      /** A video flow a and an audio flow b (stored), and a multi flow x collecting them as video and audio (stored). */
      async function collectingTwo(label: string): Promise<{ a: Json; b: Json; x: Json; sx: string; sa: string; sb: string }> {
        const { video: a, audio: b } = labelled(label);
        await put(c, a);
        await put(c, b);
        const x = multiFlow({ label, flow_collection: [{ id: idOf(a), role: 'video' }, { id: idOf(b), role: 'audio' }] });
        await put(c, x);
        return { a, b, x, sx: sourceOf(x), sa: sourceOf(a), sb: sourceOf(b) };
      }

      async function sourceIds(query: string): Promise<string[]> {
        const res = await c.req('GET', `/sources?${query}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('link')).toBeNull();
        return (res.body as Json[]).map((s) => s.id as string).sort();
      }

      it('are inferred from flow collections, with collected_by, the listing filter and GraphQL', async () => {
        const label = `collections-${randomUUID()}`;
        const { sx, sa, sb } = await collectingTwo(label);

        expect((await getSource(c, sx)).source_collection).toEqual([{ id: sa, role: 'video' }, { id: sb, role: 'audio' }]);
        expect((await getSource(c, sx)).collected_by).toBeUndefined();
        expect((await getSource(c, sa)).collected_by).toEqual([sx]);
        expect((await getSource(c, sb)).collected_by).toEqual([sx]);
        expect(await sourceIds(`collected_by_ids=${sx}`)).toEqual([sa, sb].sort());
        expect(await sourceIds(`collected_by_ids=&label=${label}`)).toEqual([sx]);
        expect(await sourceIds(`collected_by_ids=${sx},${randomUUID()}&label=${label}`)).toEqual([sa, sb].sort());

        const gx = (await c.gql(SOURCE_GQL, { id: sx })).source;
        expect(gx.collection).toEqual([
          { sourceId: sa, role: 'video', source: { id: sa } },
          { sourceId: sb, role: 'audio', source: { id: sb } },
        ]);
        expect(gx.collectedBy).toEqual([]);
        expect((await c.gql(SOURCE_GQL, { id: sa })).source).toMatchObject({ collection: [], collectedBy: [{ id: sx }] });
        const listed = async (ids: string[]): Promise<string[]> =>
          ((await c.gql('query ($ids: [ID!], $label: String) { sources(first: 50, filter: { collectedByIds: $ids, label: $label }) { nodes { id } } }', { ids, label })).sources.nodes as Json[])
            .map((n) => n.id as string)
            .sort();
        expect(await listed([sx])).toEqual([sa, sb].sort());
        expect(await listed([])).toEqual([sx]);
      });

      it('refuse a second flow of the source with a contradicting collection, accept one that agrees', async () => {
        const label = `conflicts-${randomUUID()}`;
        const { a, b, x, sx, sa, sb } = await collectingTwo(label);
        const sourcesBefore = await Promise.all([sx, sa, sb].map((id) => getSource(c, id)));
        const bVersion = await version(idOf(b));

        const conflicting = [
          [{ id: idOf(b), role: 'audio' }, { id: idOf(a), role: 'video' }], // other order
          [{ id: idOf(a), role: 'main' }, { id: idOf(b), role: 'audio' }], // other role
          [{ id: idOf(b), role: 'video' }], // a member source in another role
        ];
        for (const flowCollection of conflicting) {
          const x2 = multiFlow({ source_id: sx, flow_collection: flowCollection });
          const res = await c.req('PUT', `/flows/${idOf(x2)}`, x2);
          expect({ flowCollection, status: res.status, type: res.body.type }).toEqual({ flowCollection, status: 400, type: 'ValidationError' });
          expect((await c.req('GET', `/flows/${idOf(x2)}`)).status).toBe(404);
        }
        // An existing flow of the source given a conflicting collection by its endpoint.
        const x3 = multiFlow({ source_id: sx });
        await put(c, x3);
        const refused = await c.req('PUT', `/flows/${idOf(x3)}/flow_collection`, conflicting[0]);
        expect(refused.status).toBe(400);
        expect(refused.body.type).toBe('ValidationError');
        expect((await getFlow(c, idOf(x3))).flow_collection).toBeUndefined();
        await put(c, { ...x3, flow_collection: conflicting[1] }, 400);
        expect((await getFlow(c, idOf(x3))).flow_collection).toBeUndefined();
        // Nothing changed anywhere.
        expect(await Promise.all([sx, sa, sb].map((id) => getSource(c, id)))).toEqual(sourcesBefore);
        expect((await getFlow(c, idOf(a))).collected_by).toEqual([idOf(x)]);
        expect(await version(idOf(b))).toBe(bVersion);

        // Part of it (a proxy without its audio) agrees where they overlap: accepted, nothing else changes.
        const part = multiFlow({ source_id: sx, flow_collection: [{ id: idOf(a), role: 'video' }] });
        await put(c, part);
        expect(await Promise.all([sx, sa, sb].map((id) => getSource(c, id)))).toEqual(sourcesBefore);
        expect((await c.req('DELETE', `/flows/${idOf(part)}`)).status).toBe(204);

        // The same collection (also through another flow of a member source) is accepted.
        const same = multiFlow({ source_id: sx, flow_collection: [{ id: idOf(a), role: 'video' }, { id: idOf(b), role: 'audio' }] });
        await put(c, same);
        const a2 = videoFlow({ source_id: sa });
        await put(c, a2);
        expect((await c.req('PUT', `/flows/${idOf(x3)}/flow_collection`, [{ id: idOf(a2), role: 'video' }, { id: idOf(b), role: 'audio' }])).status).toBe(204);
        expect((await getSource(c, sx)).source_collection).toEqual([{ id: sa, role: 'video' }, { id: sb, role: 'audio' }]);
        expect((await getSource(c, sa)).collected_by).toEqual([sx]);
      });

      it('follow PUT and DELETE of flow_collection', async () => {
        const label = `follow-${randomUUID()}`;
        const { video: a, audio: b } = labelled(label);
        await put(c, a);
        await put(c, b);
        const y = multiFlow({ label, flow_collection: [{ id: idOf(a), role: 'video' }] });
        await put(c, y);
        const [sy, sa, sb] = [sourceOf(y), sourceOf(a), sourceOf(b)];
        expect((await getSource(c, sy)).source_collection).toEqual([{ id: sa, role: 'video' }]);

        expect((await c.req('PUT', `/flows/${idOf(y)}/flow_collection`, [{ id: idOf(b), role: 'audio' }, { id: idOf(a), role: 'video' }])).status).toBe(204);
        expect((await getSource(c, sy)).source_collection).toEqual([{ id: sb, role: 'audio' }, { id: sa, role: 'video' }]);
        expect((await getSource(c, sb)).collected_by).toEqual([sy]);

        expect((await c.req('PUT', `/flows/${idOf(y)}/flow_collection`, [{ id: idOf(b), role: 'audio' }])).status).toBe(204);
        expect((await getSource(c, sy)).source_collection).toEqual([{ id: sb, role: 'audio' }]);
        expect((await getSource(c, sa)).collected_by).toBeUndefined();
        expect(await sourceIds(`collected_by_ids=${sy}`)).toEqual([sb]);
        expect((await c.gql(SOURCE_GQL, { id: sy })).source.collection).toEqual([{ sourceId: sb, role: 'audio', source: { id: sb } }]);
        expect((await c.gql(SOURCE_GQL, { id: sa })).source.collectedBy).toEqual([]);

        expect((await c.req('DELETE', `/flows/${idOf(y)}/flow_collection`)).status).toBe(204);
        expect((await getSource(c, sy)).source_collection).toBeUndefined();
        expect((await getSource(c, sb)).collected_by).toBeUndefined();
        expect(await sourceIds(`collected_by_ids=${sy}`)).toEqual([]);
        expect(await sourceIds(`collected_by_ids=&label=${label}`)).toEqual([sa, sb, sy].sort());
        expect((await c.gql(SOURCE_GQL, { id: sy })).source.collection).toEqual([]);
      });
    });

    describe('deleting a collected flow', () => {
      it('leaves the collection, with a flows/updated of the collector in the commit of its flows/deleted', async () => {
        const a = videoFlow();
        const b = audioFlow();
        const probe = videoFlow();
        for (const f of [a, b, probe]) await put(c, f);
        const x = multiFlow({ flow_collection: [{ id: idOf(a), role: 'video' }, { id: idOf(b), role: 'audio' }] });
        await put(c, x);
        const [sx, sa, sb] = [sourceOf(x), sourceOf(a), sourceOf(b)];
        const objects = await allocate(c, idOf(a), 1);
        expect((await c.req('POST', `/flows/${idOf(a)}/segments`, { object_id: objects[0], timerange: tr(0) })).status).toBe(201);
        const xBefore = await getFlow(c, idOf(x));

        const subscriber = new Subscriber(`${h.base.replace(/^http/, 'ws')}/graphql`, {});
        try {
          subscriber.subscribe(
            `subscription { tamsEvents(flowIds: ${JSON.stringify([idOf(x), idOf(a), idOf(probe)])}) { eventTimestamp eventType flowId sourceId event } }`,
          );
          await waitFor(() => subscriber.acknowledged, 'the connection');
          // The subscription is live once a probe change comes through.
          await waitForAsync(async () => {
            expect((await c.req('PUT', `/flows/${idOf(probe)}/tags/probe`, json(randomUUID()))).status).toBe(204);
            await sleep(50);
            return subscriber.data('tamsEvents').some((e: Json) => e.flowId === idOf(probe));
          }, 'the subscription to deliver');

          expect((await c.req('DELETE', `/flows/${idOf(a)}`)).status).toBe(204);

          // REST: X no longer lists A, with a new version; SX drops SA; SA went with its last flow.
          const xAfter = await getFlow(c, idOf(x));
          expect(xAfter.flow_collection).toEqual([{ id: idOf(b), role: 'audio' }]);
          expect(xAfter.metadata_version).not.toBe(xBefore.metadata_version);
          expect((await getSource(c, sx)).source_collection).toEqual([{ id: sb, role: 'audio' }]);
          expect((await c.req('GET', `/sources/${sa}`)).status).toBe(404);
          expect((await getSource(c, sb)).collected_by).toEqual([sx]);
          expect((await getFlow(c, idOf(b))).collected_by).toEqual([idOf(x)]);
          expect((await c.gql(SOURCE_GQL, { id: sx })).source.collection).toEqual([{ sourceId: sb, role: 'audio', source: { id: sb } }]);
          expect((await c.gql(FLOW_GQL, { id: idOf(x) })).flow.metadataVersion).toBe(xAfter.metadata_version);

          // Events: flows/deleted of A and flows/updated of X share the commit (one event_timestamp).
          const kind = (e: Json): string => (e.eventType as string).toLowerCase().replace('_', '/');
          const deletedOf = (): Json => subscriber.data('tamsEvents').find((e: Json) => kind(e) === 'flows/deleted' && e.flowId === idOf(a));
          const updatedOf = (): Json =>
            subscriber.data('tamsEvents').find((e: Json) => kind(e) === 'flows/updated' && e.flowId === idOf(x) && e.event.flow.metadata_version === xAfter.metadata_version);
          await waitFor(() => deletedOf() !== undefined && updatedOf() !== undefined, 'flows/deleted of A and flows/updated of X');
          const [deleted, updated] = [deletedOf(), updatedOf()];
          expect(updated.eventTimestamp).toBe(deleted.eventTimestamp);
          expect(updated.event.flow.flow_collection).toEqual([{ id: idOf(b), role: 'audio' }]);
          const events = subscriber.data('tamsEvents');
          expect(events.indexOf(updated)).toBeGreaterThan(events.indexOf(deleted));
          const sourceUpdate = events.find((e) => kind(e) === 'sources/updated' && e.sourceId === sx && e.eventTimestamp === deleted.eventTimestamp);
          expect(sourceUpdate?.event.source.source_collection).toEqual([{ id: sb, role: 'audio' }]);
          expect(events.some((e) => kind(e) === 'sources/deleted' && e.sourceId === sa && e.eventTimestamp === deleted.eventTimestamp)).toBe(true);
          for (const e of [deleted, updated, sourceUpdate]) {
            const envelope = { event_timestamp: e.eventTimestamp, event_type: kind(e), event: e.event };
            const verdict = validateEvent(envelope.event_type, envelope);
            if (!verdict.ok) throw new Error(`${envelope.event_type} is not a TAMS webhook payload: ${verdict.errors}`);
          }
        } finally {
          await subscriber.client.dispose();
        }
      });
    });
  });
});

/** Polls an async condition every 50 ms. */
async function waitForAsync(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Every property write of a flow (each answered 204), with the member a collection write names. */
function flowPropertyWrites(id: string, memberId: string): [string, string, unknown][] {
  return [
    ['PUT', `/flows/${id}/tags/x`, json('y')],
    ['DELETE', `/flows/${id}/tags/x`, undefined],
    ['PUT', `/flows/${id}/label`, json('relabelled')],
    ['DELETE', `/flows/${id}/label`, undefined],
    ['PUT', `/flows/${id}/description`, json('described')],
    ['DELETE', `/flows/${id}/description`, undefined],
    ['PUT', `/flows/${id}/max_bit_rate`, 8000],
    ['DELETE', `/flows/${id}/max_bit_rate`, undefined],
    ['PUT', `/flows/${id}/avg_bit_rate`, 6000],
    ['DELETE', `/flows/${id}/avg_bit_rate`, undefined],
    ['PUT', `/flows/${id}/flow_collection`, [{ id: memberId, role: 'video' }]],
    ['DELETE', `/flows/${id}/flow_collection`, undefined],
    ['PUT', `/flows/${id}/read_only`, true],
    ['PUT', `/flows/${id}/read_only`, false],
  ];
}
