import { randomBytes, randomUUID } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { allocateObjects } from '../support/allocate-objects';
import { checkedFetch } from '../support/checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

/** Above this many segments, deletions run as deletion requests. */
const ASYNC_THRESHOLD = 3;

const FLOW_FIELDS = 'id sourceId format label description codec container tags readOnly maxBitRate avgBitRate profileId essenceParameters';

const PUT_FLOW = `mutation($id: ID!, $input: PutFlowInput!) {
  putFlow(id: $id, input: $input) { created flow { ${FLOW_FIELDS} ... on VideoFlow { frameWidth frameHeight frameRate { numerator denominator } } } }
}`;

const REGISTER = `mutation($flowId: ID!, $segments: [FlowSegmentInput!]!) {
  registerSegments(flowId: $flowId, segments: $segments) {
    registeredCount
    failed { objectId timerange code error { type summary time } }
    flow { id segmentsUpdated }
  }
}`;

/**
 * GraphQL mutations over real HTTP. Every change is read back through REST: both edges run
 * the same services over the same store, with the same validation.
 */
describe('GraphQL mutations', () => {
  let h: Harness;

  async function gql(query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: Json }> {
    const res = await checkedFetch(`${h.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: await res.json() };
  }

  async function data(query: string, variables?: Record<string, unknown>): Promise<Json> {
    const res = await gql(query, variables);
    expect(res.body.errors).toBeUndefined();
    expect(res.status).toBe(200);
    return res.body.data;
  }

  /** The mutation fails with exactly `code` (never masked as INTERNAL_SERVER_ERROR) and changes nothing visible in `data`. */
  async function refused(code: string, query: string, variables?: Record<string, unknown>): Promise<string> {
    const res = await gql(query, variables);
    expect({ variables, code: res.body.errors?.[0]?.extensions?.code }).toEqual({ variables, code });
    expect(res.body.data ?? null).toBeNull();
    return res.body.errors[0].message as string;
  }

  /** The GraphQL input for the fixture video flow (test/fixtures/flows.ts). */
  function videoInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      sourceId: randomUUID(),
      codec: 'video/h264',
      container: 'video/mp2t',
      label: 'camera 1',
      description: 'programme video',
      tags: { genre: ['news', 'live'], location: 'studio' },
      video: { frameWidth: 1920, frameHeight: 1080, frameRate: { numerator: 50, denominator: 1 }, interlaceMode: 'progressive' },
      ...overrides,
    };
  }

  async function putVideoFlow(overrides: Record<string, unknown> = {}): Promise<string> {
    const id = randomUUID();
    const d = await data(PUT_FLOW, { id, input: videoInput(overrides) });
    expect(d.putFlow.created).toBe(true);
    return id;
  }

  async function restFlow(id: string): Promise<Json> {
    const res = await h.request('GET', `/flows/${id}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  async function restSegments(flowId: string): Promise<[string, string][]> {
    const res = await h.request('GET', `/flows/${flowId}/segments`);
    expect(res.status).toBe(200);
    return (res.body as { object_id: string; timerange: string }[]).map((s) => [s.object_id, s.timerange]);
  }

  /** registerSegments, with the objects the store does not know yet allocated for the flow first, as a client does. */
  async function register(flowId: string, segments: Record<string, unknown>[]): Promise<Json> {
    await allocateObjects(h, flowId, [...new Set(segments.filter((x) => x.getUrls === undefined).map((x) => x.objectId as string))]);
    return (await data(REGISTER, { flowId, segments })).registerSegments;
  }

  async function makeReadOnly(flowId: string): Promise<void> {
    expect((await h.request('PUT', `/flows/${flowId}/read_only`, true)).status).toBe(204);
  }

  beforeAll(async () => {
    h = await startHarness({ TAMS_DELETE_ASYNC_THRESHOLD: String(ASYNC_THRESHOLD) });
  });

  afterAll(async () => {
    await h.close();
  });

  describe('putFlow', () => {
    it('creates and replaces a video flow that REST reads back exactly as if PUT through REST', async () => {
      const id = randomUUID();
      const input = videoInput({ maxBitRate: 8000, avgBitRate: 6000, segmentDuration: { numerator: 2 }, containerMapping: { mp2tsContainer: { pid: 256 } } });
      const created = await data(PUT_FLOW, { id, input });
      expect(created.putFlow).toMatchObject({
        created: true,
        flow: {
          id,
          sourceId: input.sourceId,
          format: 'urn:x-nmos:format:video',
          codec: 'video/h264',
          container: 'video/mp2t',
          label: 'camera 1',
          tags: { genre: ['news', 'live'], location: 'studio' },
          readOnly: false,
          maxBitRate: 8000,
          avgBitRate: 6000,
          frameWidth: 1920,
          frameHeight: 1080,
          frameRate: { numerator: 50, denominator: 1 },
        },
      });
      const rest = await restFlow(id);
      expect(rest).toMatchObject({
        id,
        source_id: input.sourceId,
        format: 'urn:x-nmos:format:video',
        codec: 'video/h264',
        container: 'video/mp2t',
        label: 'camera 1',
        description: 'programme video',
        max_bit_rate: 8000,
        avg_bit_rate: 6000,
        segment_duration: { numerator: 2 },
        container_mapping: { mp2ts_container: { pid: 256 } },
        essence_parameters: { frame_width: 1920, frame_height: 1080, frame_rate: { numerator: 50, denominator: 1 }, interlace_mode: 'progressive' },
      });
      expect((await h.request('GET', `/sources/${input.sourceId as string}`)).status).toBe(200);

      const replaced = await data(PUT_FLOW, { id, input: videoInput({ sourceId: input.sourceId, label: 'camera 2', tags: null }) });
      expect(replaced.putFlow.created).toBe(false);
      expect(replaced.putFlow.flow).toMatchObject({ label: 'camera 2', tags: null, maxBitRate: null });
      const after = await restFlow(id);
      expect(after.label).toBe('camera 2');
      expect(after.max_bit_rate).toBeUndefined();
    });

    it('creates flows of every other format from their typed essence inputs', async () => {
      const cases: [Record<string, unknown>, string, Record<string, unknown> | undefined][] = [
        [{ codec: 'audio/aac', audio: { sampleRate: 48000, channels: 2, bitDepth: 24 } }, 'urn:x-nmos:format:audio', { sample_rate: 48000, channels: 2, bit_depth: 24 }],
        [{ codec: 'image/jpeg', image: { frameWidth: 640, frameHeight: 480 } }, 'urn:x-tam:format:image', { frame_width: 640, frame_height: 480 }],
        [{ codec: 'application/json', data: { dataType: 'subtitles' } }, 'urn:x-nmos:format:data', { data_type: 'subtitles' }],
        [{ multi: {} }, 'urn:x-nmos:format:multi', undefined],
      ];
      for (const [form, format, essence] of cases) {
        const id = randomUUID();
        const d = await data(
          'mutation($id: ID!, $input: PutFlowInput!) { putFlow(id: $id, input: $input) { flow { __typename format } } }',
          { id, input: { sourceId: randomUUID(), container: 'video/mp2t', ...form } },
        );
        expect(d.putFlow.flow.format).toBe(format);
        const rest = await restFlow(id);
        expect(rest.format).toBe(format);
        expect(rest.essence_parameters).toEqual(essence);
      }
    });

    it('links a flow to a profile, and unlinks it', async () => {
      const profileId = randomUUID();
      await data(
        'mutation($id: ID!, $input: ProfileInput!) { createProfile(id: $id, input: $input) { id } }',
        { id: profileId, input: { label: 'HD', flowMetadata: { codec: 'video/h264', container: 'video/mp2t', video: { frameWidth: 1280, frameHeight: 720, frameRate: { numerator: 25 } } } } },
      );
      const id = randomUUID();
      const sourceId = randomUUID();
      const linked = await data(PUT_FLOW, { id, input: { sourceId, label: 'linked', profileId } });
      expect(linked.putFlow.flow).toMatchObject({ profileId, codec: 'video/h264', format: 'urn:x-nmos:format:video', frameWidth: 1280 });
      expect(await restFlow(id)).toMatchObject({ profile_id: profileId, codec: 'video/h264', container: 'video/mp2t', essence_parameters: { frame_width: 1280 } });

      const unlinked = await data(PUT_FLOW, { id, input: videoInput({ sourceId, unlinkProfile: true }) });
      expect(unlinked.putFlow.flow).toMatchObject({ profileId: null, frameWidth: 1920 });
      expect((await restFlow(id)).profile_id).toBeUndefined();
    });

    it('refuses bad input with BAD_USER_INPUT, a read-only flow with FORBIDDEN', async () => {
      const id = randomUUID();
      const bad = async (input: Record<string, unknown>, flowId: string = id): Promise<string> => refused('BAD_USER_INPUT', PUT_FLOW, { id: flowId, input });
      await bad(videoInput(), 'not-a-uuid');
      expect(await bad(videoInput({ video: null }))).toMatch(/exactly one of video, audio/);
      expect(await bad(videoInput({ audio: { sampleRate: 48000, channels: 2 } }))).toMatch(/exactly one of/);
      expect(await bad(videoInput({ profileId: randomUUID() }))).toMatch(/exactly one of/);
      expect(await bad(videoInput({ codec: null }))).toMatch(/codec/);
      expect(await bad(videoInput({ sourceId: 'nope' }))).toMatch(/source_id/);
      expect(await bad(videoInput({ video: { frameWidth: 0, frameHeight: 1080, frameRate: { numerator: 25 } } }))).toMatch(/frame_width/);
      expect(await bad(videoInput({ video: { frameWidth: 1920, frameHeight: 1080 } }))).toMatch(/frame_rate/);
      expect(await bad(videoInput({ video: { frameWidth: 1920, frameHeight: 1080, frameRate: { numerator: 25 }, colorspace: 'sRGB' } }))).toMatch(/colorspace/);
      await bad(videoInput({ tags: { genre: 42 } }));
      await bad(videoInput({ status: 'bogus' }));
      await bad(videoInput({ codec: 'not a mime type' }));
      // A required field of a typed input left out: graphql-js refuses the variables.
      await bad(videoInput({ video: { frameWidth: 1920 } }));
      expect(await bad({ sourceId: randomUUID(), profileId: randomUUID() })).toMatch(/Profile .* does not exist/);
      await bad({ sourceId: randomUUID(), profileId: randomUUID(), unlinkProfile: true });
      expect((await h.request('GET', `/flows/${id}`)).status).toBe(404);

      const readOnly = await putVideoFlow({ readOnly: true });
      await refused('FORBIDDEN', PUT_FLOW, { id: readOnly, input: videoInput({ label: 'changed' }) });
      expect((await restFlow(readOnly)).label).toBe('camera 1');
    });
  });

  describe('flow properties', () => {
    const FLOW = `{ ${FLOW_FIELDS} tag(name: "genre") }`;

    it('sets and removes every property, each answering the flow as stored', async () => {
      const id = await putVideoFlow();
      const m = async (field: string, args: string, variables: Record<string, unknown> = {}): Promise<Json> => {
        const decl = Object.keys(variables).map((k) => `, $${k}: ${k === 'value' ? 'JSON!' : k === 'collection' ? '[FlowCollectionItemInput!]!' : 'String!'}`).join('');
        return (await data(`mutation($id: ID!${decl}) { r: ${field}(flowId: $id${args}) ${FLOW} }`, { id, ...variables })).r;
      };

      expect((await m('setFlowTag', ', name: "genre", value: $value', { value: ['sport'] })).tag).toEqual(['sport']);
      expect((await m('setFlowTag', ', name: "desk", value: $value', { value: 'uk' })).tags).toEqual({ genre: ['sport'], location: 'studio', desk: 'uk' });
      expect((await h.request('GET', `/flows/${id}/tags/desk`)).body).toBe('uk');
      expect((await m('deleteFlowTag', ', name: "desk"')).tags).toEqual({ genre: ['sport'], location: 'studio' });
      expect((await h.request('GET', `/flows/${id}/tags/desk`)).status).toBe(404);

      expect((await m('setFlowLabel', ', label: "renamed"')).label).toBe('renamed');
      expect((await h.request('GET', `/flows/${id}/label`)).body).toBe('renamed');
      expect((await m('deleteFlowLabel', '')).label).toBeNull();
      expect((await h.request('GET', `/flows/${id}/label`)).status).toBe(404);

      expect((await m('setFlowDescription', ', description: "about"')).description).toBe('about');
      expect((await h.request('GET', `/flows/${id}/description`)).body).toBe('about');
      expect((await m('deleteFlowDescription', '')).description).toBeNull();
      expect((await h.request('GET', `/flows/${id}/description`)).status).toBe(404);

      expect((await m('setFlowMaxBitRate', ', maxBitRate: 9000')).maxBitRate).toBe(9000);
      expect((await h.request('GET', `/flows/${id}/max_bit_rate`)).body).toBe(9000);
      expect((await m('deleteFlowMaxBitRate', '')).maxBitRate).toBeNull();
      expect((await h.request('GET', `/flows/${id}/max_bit_rate`)).status).toBe(404);

      expect((await m('setFlowAvgBitRate', ', avgBitRate: 7000')).avgBitRate).toBe(7000);
      expect((await h.request('GET', `/flows/${id}/avg_bit_rate`)).body).toBe(7000);
      expect((await m('deleteFlowAvgBitRate', '')).avgBitRate).toBeNull();
      expect((await h.request('GET', `/flows/${id}/avg_bit_rate`)).status).toBe(404);

      const member = await putVideoFlow();
      const collected = await m('setFlowCollection', ', collection: $collection', { collection: [{ id: member, role: 'backup', containerMapping: { trackIndex: 1 } }] });
      expect(collected.id).toBe(id);
      expect((await h.request('GET', `/flows/${id}/flow_collection`)).body).toEqual([{ id: member, role: 'backup', container_mapping: { track_index: 1 } }]);
      expect((await restFlow(member)).collected_by).toEqual([id]);
      await m('deleteFlowCollection', '');
      expect((await h.request('GET', `/flows/${id}/flow_collection`)).body).toEqual([]);

      expect((await m('setFlowReadOnly', ', readOnly: true')).readOnly).toBe(true);
      expect((await h.request('GET', `/flows/${id}/read_only`)).body).toBe(true);
      expect((await m('setFlowReadOnly', ', readOnly: false')).readOnly).toBe(false);
      expect((await h.request('GET', `/flows/${id}/read_only`)).body).toBe(false);
    });

    it('refuses bad input, unknown flows and tags, read-only flows and profile-linked bit rates', async () => {
      const id = await putVideoFlow();
      const missing = randomUUID();
      const q = (field: string, args = ''): string => `mutation($id: ID!) { ${field}(flowId: $id${args}) { id } }`;

      await refused('BAD_USER_INPUT', q('setFlowLabel', ', label: "x"'), { id: 'not-a-uuid' });
      await refused('BAD_USER_INPUT', q('deleteFlowTag', ', name: "genre"'), { id: 'not-a-uuid' });
      await refused('NOT_FOUND', q('setFlowLabel', ', label: "x"'), { id: missing });
      await refused('NOT_FOUND', q('deleteFlowDescription'), { id: missing });
      await refused('NOT_FOUND', q('setFlowReadOnly', ', readOnly: true'), { id: missing });
      await refused('NOT_FOUND', q('deleteFlowTag', ', name: "nope"'), { id });
      await refused('BAD_USER_INPUT', q('setFlowTag', ', name: "", value: "x"'), { id });
      await refused('BAD_USER_INPUT', q('setFlowTag', ', name: "n", value: 42'), { id });
      await refused('BAD_USER_INPUT', q('setFlowTag', ', name: "n", value: {a: "b"}'), { id });
      await refused('BAD_USER_INPUT', q('setFlowMaxBitRate', ', maxBitRate: -1'), { id });
      await refused('BAD_USER_INPUT', q('setFlowLabel', `, label: "${'x'.repeat(4097)}"`), { id });
      await refused('BAD_USER_INPUT', q('setFlowCollection', ', collection: [{ id: $id }]'), { id });
      await refused('BAD_USER_INPUT', q('setFlowCollection', `, collection: [{ id: "${missing}" }]`), { id });
      await refused('BAD_USER_INPUT', q('setFlowCollection', ', collection: [{ id: "not-a-uuid" }]'), { id });
      expect((await h.request('GET', `/flows/${id}/tags/n`)).status).toBe(404);

      await makeReadOnly(id);
      await refused('FORBIDDEN', q('setFlowLabel', ', label: "x"'), { id });
      await refused('FORBIDDEN', q('setFlowTag', ', name: "n", value: "v"'), { id });
      await refused('FORBIDDEN', q('deleteFlowLabel'), { id });
      await refused('FORBIDDEN', q('deleteFlowCollection'), { id });
      expect((await restFlow(id)).label).toBe('camera 1');

      const profileId = randomUUID();
      expect((await h.request('POST', `/service/profiles/${profileId}`, { id: profileId, flow_metadata: { format: 'urn:x-nmos:format:audio', codec: 'audio/aac', avg_bit_rate: 128, essence_parameters: { sample_rate: 48000, channels: 2 } } })).status).toBe(201);
      const linked = randomUUID();
      await data(PUT_FLOW, { id: linked, input: { sourceId: randomUUID(), profileId } });
      await refused('BAD_USER_INPUT', q('setFlowAvgBitRate', ', avgBitRate: 64'), { id: linked });
      await refused('FORBIDDEN', q('deleteFlowAvgBitRate'), { id: linked });
      expect((await restFlow(linked)).avg_bit_rate).toBe(128);
    });

    it('reads fresh data after each mutation of one request', async () => {
      const id = await putVideoFlow();
      const sourceId = (await restFlow(id)).source_id as string;
      const d = await data(
        `mutation($id: ID!, $s: ID!) {
          a: setFlowLabel(flowId: $id, label: "first") { label source { label } }
          b: setSourceLabel(sourceId: $s, label: "renamed source") { label }
          c: setFlowLabel(flowId: $id, label: "second") { label source { label } }
        }`,
        { id, s: sourceId },
      );
      expect(d).toEqual({
        a: { label: 'first', source: { label: 'camera 1' } },
        b: { label: 'renamed source' },
        c: { label: 'second', source: { label: 'renamed source' } },
      });
    });
  });

  describe('source properties', () => {
    it('sets and removes label, description and tags, each answering the source', async () => {
      const flowId = await putVideoFlow();
      const id = (await restFlow(flowId)).source_id as string;
      const m = async (query: string, variables: Record<string, unknown> = {}): Promise<Json> => {
        const decl = 'v' in variables ? ', $v: JSON!' : '';
        return (await data(`mutation($id: ID!${decl}) { r: ${query} { id label description tags tag(name: "k") } }`, { id, ...variables })).r;
      };
      const tagValue = ['a', 'b'];

      expect(await m('setSourceLabel(sourceId: $id, label: "studio")')).toMatchObject({ id, label: 'studio' });
      expect((await h.request('GET', `/sources/${id}/label`)).body).toBe('studio');
      expect((await m('deleteSourceLabel(sourceId: $id)')).label).toBeNull();
      expect((await h.request('GET', `/sources/${id}/label`)).status).toBe(404);

      expect((await m('setSourceDescription(sourceId: $id, description: "the studio")')).description).toBe('the studio');
      expect((await h.request('GET', `/sources/${id}/description`)).body).toBe('the studio');
      expect((await m('deleteSourceDescription(sourceId: $id)')).description).toBeNull();
      expect((await h.request('GET', `/sources/${id}/description`)).status).toBe(404);

      expect((await m('setSourceTag(sourceId: $id, name: "k", value: $v)', { v: tagValue })).tag).toEqual(tagValue);
      expect((await h.request('GET', `/sources/${id}/tags`)).body).toEqual({ k: tagValue });
      expect((await m('deleteSourceTag(sourceId: $id, name: "k")')).tags).toEqual({});
      expect((await h.request('GET', `/sources/${id}/tags/k`)).status).toBe(404);
    });

    it('refuses bad ids, unknown sources and tags, and bad values', async () => {
      const id = (await restFlow(await putVideoFlow())).source_id as string;
      const q = (field: string): string => `mutation($id: ID!) { ${field} { id } }`;
      await refused('BAD_USER_INPUT', q('setSourceLabel(sourceId: $id, label: "x")'), { id: 'nope' });
      await refused('NOT_FOUND', q('setSourceLabel(sourceId: $id, label: "x")'), { id: randomUUID() });
      await refused('NOT_FOUND', q('deleteSourceDescription(sourceId: $id)'), { id: randomUUID() });
      await refused('NOT_FOUND', q('deleteSourceTag(sourceId: $id, name: "missing")'), { id });
      await refused('BAD_USER_INPUT', q('setSourceTag(sourceId: $id, name: "k", value: [1, 2])'), { id });
      await refused('BAD_USER_INPUT', q(`setSourceDescription(sourceId: $id, description: "${'x'.repeat(65537)}")`), { id });
      expect((await h.request('GET', `/sources/${id}/tags`)).body).toEqual({});
    });
  });

  describe('segments', () => {
    it('registers many segments, returning each failure with its code and TAMS error', async () => {
      const flowId = await putVideoFlow();
      const result = await register(flowId, [
        { objectId: 'obj-a', timerange: '[0:0_1:0)', tsOffset: '0:0', lastDuration: '0:20000000', keyFrameCount: 1, getUrls: [{ url: 'https://cdn.example.com/a', label: 'cdn' }] },
        { objectId: 'obj-b', timerange: '[1:0_2:0)', objectTimerange: '[10:0_11:0)' },
        { objectId: 'obj-overlap', timerange: '[0:500000000_1:500000000)' },
        { objectId: 'obj-open', timerange: '[3:0_' },
      ]);
      expect(result.registeredCount).toBe(2);
      expect(result.flow.id).toBe(flowId);
      expect(result.flow.segmentsUpdated).toEqual(expect.any(String));
      expect(result.failed).toEqual([
        expect.objectContaining({ objectId: 'obj-open', timerange: '[3:0_', code: 'BAD_USER_INPUT', error: expect.objectContaining({ type: 'BadTimeRange' }) }),
        expect.objectContaining({ objectId: 'obj-overlap', timerange: '[0:500000000_1:500000000)', code: 'BAD_USER_INPUT', error: expect.objectContaining({ type: 'SegmentOverlap' }) }),
      ]);
      expect(result.failed[0].error.summary).toEqual(expect.any(String));
      expect(await restSegments(flowId)).toEqual([
        ['obj-a', '[0:0_1:0)'],
        ['obj-b', '[1:0_2:0)'],
      ]);
      const rest = (await h.request('GET', `/flows/${flowId}/segments`)).body;
      expect(rest[0]).toMatchObject({ ts_offset: '0:0', last_duration: '0:20000000', key_frame_count: 1 });
      expect(rest[0].get_urls.map((u: { url: string }) => u.url)).toEqual(['https://cdn.example.com/a']);
      expect(rest[1].object_timerange).toBe('[10:0_11:0)');

      const one = await register(flowId, [{ objectId: 'obj-c', timerange: '[2:0_3:0)' }]);
      expect(one).toMatchObject({ registeredCount: 1, failed: [] });
      expect(await restSegments(flowId)).toHaveLength(3);
    });

    it('fails the whole registration for a bad body, flow id, unknown, read-only or container-less flow', async () => {
      const flowId = await putVideoFlow();
      const seg = { objectId: 'x', timerange: '[0:0_1:0)' };
      const bad = (segments: unknown[], id = flowId): Promise<string> => refused('BAD_USER_INPUT', REGISTER, { flowId: id, segments });
      await bad([seg], 'not-a-uuid');
      await bad([{ objectId: 'x', timerange: 'bogus' }]);
      expect(await bad([{ ...seg, tsOffset: 'nope' }])).toMatch(/ts_offset/);
      await bad([{ timerange: '[0:0_1:0)' }]);
      await bad([{ ...seg, getUrls: [{ url: 'https://x.example.com' }] }]);
      await refused('NOT_FOUND', REGISTER, { flowId: randomUUID(), segments: [seg] });
      expect(await restSegments(flowId)).toEqual([]);

      const noContainer = randomUUID();
      await data(PUT_FLOW, { id: noContainer, input: { sourceId: randomUUID(), codec: 'text/vtt', data: {} } });
      expect(await refused('BAD_USER_INPUT', REGISTER, { flowId: noContainer, segments: [seg] })).toMatch(/container/);

      await makeReadOnly(flowId);
      await refused('FORBIDDEN', REGISTER, { flowId, segments: [seg] });
      expect(await restSegments(flowId)).toEqual([]);
    });

    const DELETE_SEGMENTS = `mutation($flowId: ID!, $tr: TimeRange, $objectId: String) {
      deleteSegments(flowId: $flowId, timerange: $tr, objectId: $objectId) {
        done deletionRequest { id flowId status timerangeToDelete deleteFlow } flow { id }
      }
    }`;

    it('deletes segments within a timerange or of one object, synchronously', async () => {
      const flowId = await putVideoFlow();
      await register(flowId, [0, 1, 2].map((i) => ({ objectId: `o${i}`, timerange: `[${i}:0_${i + 1}:0)` })));
      const d = await data(DELETE_SEGMENTS, { flowId, tr: '[0:0_1:0)' });
      expect(d.deleteSegments).toEqual({ done: true, deletionRequest: null, flow: { id: flowId } });
      expect(await restSegments(flowId)).toEqual([
        ['o1', '[1:0_2:0)'],
        ['o2', '[2:0_3:0)'],
      ]);
      expect((await data(DELETE_SEGMENTS, { flowId, objectId: 'o2' })).deleteSegments.done).toBe(true);
      expect(await restSegments(flowId)).toEqual([['o1', '[1:0_2:0)']]);
    });

    it('deletes many segments through a deletion request', async () => {
      const flowId = await putVideoFlow();
      await register(flowId, [0, 1, 2, 3, 4].map((i) => ({ objectId: `o${i}`, timerange: `[${i}:0_${i + 1}:0)` })));
      const d = (await data(DELETE_SEGMENTS, { flowId, tr: '[1:0_4:0)' })).deleteSegments;
      expect(d.done).toBe(false);
      expect(d.deletionRequest).toMatchObject({ flowId, timerangeToDelete: '[1:0_4:0)', deleteFlow: false });
      expect((await h.request('GET', `/flow-delete-requests/${d.deletionRequest.id as string}`)).body.flow_id).toBe(flowId);
      for (let i = 0; i < 200 && (await restSegments(flowId)).length > 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect((await restSegments(flowId)).map(([o]) => o)).toEqual(['o0', 'o4']);
    });

    it('refuses bad timeranges, ids and object ids, unknown and read-only flows', async () => {
      const flowId = await putVideoFlow();
      await register(flowId, [{ objectId: 'keep', timerange: '[0:0_1:0)' }]);
      await refused('BAD_USER_INPUT', DELETE_SEGMENTS, { flowId, tr: 'bogus' });
      await refused('BAD_USER_INPUT', 'mutation($f: ID!) { deleteSegments(flowId: $f, timerange: "nope") { done } }', { f: flowId });
      await refused('BAD_USER_INPUT', DELETE_SEGMENTS, { flowId, objectId: '' });
      await refused('BAD_USER_INPUT', DELETE_SEGMENTS, { flowId: 'not-a-uuid' });
      await refused('NOT_FOUND', DELETE_SEGMENTS, { flowId: randomUUID() });
      await makeReadOnly(flowId);
      await refused('FORBIDDEN', DELETE_SEGMENTS, { flowId });
      expect(await restSegments(flowId)).toEqual([['keep', '[0:0_1:0)']]);
    });
  });

  describe('allocateStorage', () => {
    const ALLOCATE = `mutation($flowId: ID!, $limit: Int, $objectIds: [String!], $storageId: ID, $contentType: String) {
      allocateStorage(flowId: $flowId, limit: $limit, objectIds: $objectIds, storageId: $storageId, contentType: $contentType) {
        objectId presigned putUrl { url contentType headers { name value } }
      }
    }`;

    it('allocates objects whose put URLs take the media that segments then serve', async () => {
      const flowId = await putVideoFlow();
      const allocated = (await data(ALLOCATE, { flowId, limit: 2 })).allocateStorage as Json[];
      expect(allocated).toHaveLength(2);
      const bytes = randomBytes(300);
      const first = allocated[0];
      expect(first).toMatchObject({ presigned: true, putUrl: { contentType: 'video/mp2t' } });
      const headers = new Headers({ 'content-type': first.putUrl.contentType });
      for (const header of first.putUrl.headers as { name: string; value: string }[]) headers.set(header.name, header.value);
      const put = await checkedFetch(first.putUrl.url, { method: 'PUT', body: bytes, headers });
      expect(put.status).toBe(200);
      await register(flowId, [{ objectId: first.objectId, timerange: '[0:0_1:0)' }]);
      const segments = (await h.request('GET', `/flows/${flowId}/segments`)).body;
      expect(segments[0].object_id).toBe(first.objectId);
      const served = Buffer.from(await (await checkedFetch(segments[0].get_urls[0].url)).arrayBuffer());
      expect(served.equals(bytes)).toBe(true);

      const named = (await data(ALLOCATE, { flowId, objectIds: ['mine/1', 'mine/2'], storageId: h.gateway.localObjects.backend.id, contentType: 'video/mp4' })).allocateStorage;
      expect(named.map((o: Json) => [o.objectId, o.putUrl.contentType])).toEqual([
        ['mine/1', 'video/mp4'],
        ['mine/2', 'video/mp4'],
      ]);
    });

    it('refuses bad requests, unknown, read-only and container-less flows', async () => {
      const flowId = await putVideoFlow();
      await refused('BAD_USER_INPUT', ALLOCATE, { flowId: 'nope', limit: 1 });
      expect(await refused('BAD_USER_INPUT', ALLOCATE, { flowId, limit: 1, objectIds: ['a'] })).toMatch(/limit/);
      await refused('BAD_USER_INPUT', ALLOCATE, { flowId, limit: 0 });
      await refused('BAD_USER_INPUT', ALLOCATE, { flowId, storageId: randomUUID() });
      await refused('BAD_USER_INPUT', ALLOCATE, { flowId, storageId: 'not-a-uuid' });
      await refused('BAD_USER_INPUT', ALLOCATE, { flowId, contentType: 'nonsense' });
      await refused('BAD_USER_INPUT', ALLOCATE, { flowId, objectIds: ['dup', 'dup'] });
      await refused('BAD_USER_INPUT', 'mutation($f: ID!) { allocateStorage(flowId: $f, presigned: false) { objectId } }', { f: flowId });
      await refused('NOT_FOUND', ALLOCATE, { flowId: randomUUID() });
      const noContainer = randomUUID();
      await data(PUT_FLOW, { id: noContainer, input: { sourceId: randomUUID(), multi: {} } });
      await refused('BAD_USER_INPUT', ALLOCATE, { flowId: noContainer });
      await makeReadOnly(flowId);
      await refused('FORBIDDEN', ALLOCATE, { flowId, limit: 1 });
    });
  });

  describe('object instances', () => {
    const ADD = `mutation($o: String!, $storageId: ID, $url: String, $label: String) {
      addObjectInstance(objectId: $o, storageId: $storageId, url: $url, label: $label) { id getUrls { url label controlled } referencedByFlowIds }
    }`;
    const REMOVE = `mutation($o: String!, $storageId: ID, $label: String) {
      removeObjectInstance(objectId: $o, storageId: $storageId, label: $label) { id getUrls { url label } }
    }`;

    it('adds and removes uncontrolled instances, answering the object', async () => {
      const flowId = await putVideoFlow();
      const o = `ext/${randomUUID()}`;
      await register(flowId, [{ objectId: o, timerange: '[0:0_1:0)', getUrls: [{ url: 'https://cdn.example.com/x', label: 'cdn' }] }]);
      const added = (await data(ADD, { o, url: 'https://mirror.example.com/x', label: 'mirror' })).addObjectInstance;
      expect(added).toEqual({
        id: o,
        referencedByFlowIds: [flowId],
        getUrls: [
          { url: 'https://cdn.example.com/x', label: 'cdn', controlled: false },
          { url: 'https://mirror.example.com/x', label: 'mirror', controlled: false },
        ],
      });
      const rest = await h.request('GET', `/objects/${encodeURIComponent(o)}`);
      expect(rest.body.get_urls.map((u: Json) => u.label)).toEqual(['cdn', 'mirror']);

      const removed = (await data(REMOVE, { o, label: 'cdn' })).removeObjectInstance;
      expect(removed).toEqual({ id: o, getUrls: [{ url: 'https://mirror.example.com/x', label: 'mirror' }] });
      expect((await h.request('GET', `/objects/${encodeURIComponent(o)}`)).body.get_urls.map((u: Json) => u.label)).toEqual(['mirror']);
    });

    it('refuses bad forms, conflicts, unknown objects and the last instance', async () => {
      const flowId = await putVideoFlow();
      const o = `ext/${randomUUID()}`;
      await register(flowId, [{ objectId: o, timerange: '[0:0_1:0)', getUrls: [{ url: 'https://cdn.example.com/x', label: 'cdn' }] }]);
      const backendId = h.gateway.localObjects.backend.id;
      await refused('BAD_USER_INPUT', ADD, { o });
      await refused('BAD_USER_INPUT', ADD, { o, url: 'https://a.example.com/x' });
      await refused('BAD_USER_INPUT', ADD, { o, storageId: backendId, url: 'https://a.example.com/x', label: 'a' });
      await refused('BAD_USER_INPUT', ADD, { o, url: 'ftp://a.example.com/x', label: 'a' });
      await refused('BAD_USER_INPUT', ADD, { o, storageId: 'not-a-uuid' });
      await refused('BAD_USER_INPUT', ADD, { o, url: 'https://a.example.com/x', label: 'cdn' });
      await refused('BAD_USER_INPUT', ADD, { o: '', url: 'https://a.example.com/x', label: 'a' });
      await refused('NOT_FOUND', ADD, { o: 'never-registered', url: 'https://a.example.com/x', label: 'a' });

      await refused('BAD_USER_INPUT', REMOVE, { o });
      await refused('BAD_USER_INPUT', REMOVE, { o, storageId: backendId, label: 'cdn' });
      await refused('BAD_USER_INPUT', REMOVE, { o, storageId: 'not-a-uuid' });
      await refused('BAD_USER_INPUT', REMOVE, { o, label: '' });
      await refused('NOT_FOUND', REMOVE, { o, label: 'nope' });
      await refused('NOT_FOUND', REMOVE, { o: 'never-registered', label: 'cdn' });
      expect(await refused('BAD_USER_INPUT', REMOVE, { o, label: 'cdn' })).toMatch(/last instance/);
      expect((await h.request('GET', `/objects/${encodeURIComponent(o)}`)).body.get_urls.map((u: Json) => u.label)).toEqual(['cdn']);
    });
  });

  describe('deleteFlow', () => {
    const DELETE_FLOW = 'mutation($id: ID!) { deleteFlow(id: $id) { done deletionRequest { id flowId deleteFlow timerangeToDelete } } }';

    it('deletes a small flow at once and a large one through a deletion request', async () => {
      const small = await putVideoFlow();
      await register(small, [{ objectId: 's', timerange: '[0:0_1:0)' }]);
      expect((await data(DELETE_FLOW, { id: small })).deleteFlow).toEqual({ done: true, deletionRequest: null });
      expect((await h.request('GET', `/flows/${small}`)).status).toBe(404);

      const large = await putVideoFlow();
      await register(large, [0, 1, 2, 3, 4].map((i) => ({ objectId: `l${i}`, timerange: `[${i}:0_${i + 1}:0)` })));
      const d = (await data(DELETE_FLOW, { id: large })).deleteFlow;
      expect(d).toMatchObject({ done: false, deletionRequest: { flowId: large, deleteFlow: true, timerangeToDelete: '_' } });
      expect((await h.request('GET', `/flow-delete-requests/${d.deletionRequest.id as string}`)).status).toBe(200);
      let status = 200;
      for (let i = 0; i < 200 && status === 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        status = (await h.request('GET', `/flows/${large}`)).status;
      }
      expect(status).toBe(404);
    });

    it('refuses a bad id, an unknown flow and a read-only flow', async () => {
      await refused('BAD_USER_INPUT', DELETE_FLOW, { id: 'not-a-uuid' });
      await refused('NOT_FOUND', DELETE_FLOW, { id: randomUUID() });
      const id = await putVideoFlow();
      await makeReadOnly(id);
      await refused('FORBIDDEN', DELETE_FLOW, { id });
      expect((await h.request('GET', `/flows/${id}`)).status).toBe(200);
    });
  });

  describe('updateService', () => {
    const UPDATE = 'mutation($input: ServiceInput!) { updateService(input: $input) { name description apiVersion } }';

    it('sets the name and description, keeping what is left out', async () => {
      expect((await data(UPDATE, { input: { name: 'Studio store', description: 'All the studio media' } })).updateService).toEqual({
        name: 'Studio store',
        description: 'All the studio media',
        apiVersion: '8.2',
      });
      expect((await data(UPDATE, { input: { description: 'Only the description' } })).updateService.name).toBe('Studio store');
      const rest = await h.request('GET', '/service');
      expect(rest.body).toMatchObject({ name: 'Studio store', description: 'Only the description' });
    });

    it('refuses an over-long name', async () => {
      await refused('BAD_USER_INPUT', UPDATE, { input: { name: 'x'.repeat(4097) } });
      expect((await h.request('GET', '/service')).body.name).not.toHaveLength(4097);
    });
  });

  describe('webhooks', () => {
    const FIELDS = 'id url events status apiKeyName flowIds tags presigned';
    const CREATE = `mutation($input: WebhookInput!) { createWebhook(input: $input) { ${FIELDS} } }`;
    const UPDATE = `mutation($id: ID!, $input: WebhookInput!) { updateWebhook(id: $id, input: $input) { ${FIELDS} } }`;
    const DELETE = `mutation($id: ID!) { deleteWebhook(id: $id) { ${FIELDS} } }`;
    const SECRET = 'Bearer never-shown-5f1c';

    it('creates, updates and deletes a registration, never showing the key', async () => {
      const flowId = randomUUID();
      const res = await gql(CREATE, {
        input: { url: 'https://hooks.example.com/tams', events: ['flows/created', 'flows/segments_added'], apiKeyName: 'Authorization', apiKeyValue: SECRET, flowIds: [flowId], tags: { site: 'north' } },
      });
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
      const created = res.body.data.createWebhook;
      expect(created).toMatchObject({ url: 'https://hooks.example.com/tams', status: 'created', apiKeyName: 'Authorization', flowIds: [flowId], tags: { site: 'north' }, presigned: null });
      const rest = await h.request('GET', `/service/webhooks/${created.id as string}`);
      expect(rest.body).toMatchObject({ url: 'https://hooks.example.com/tams', events: ['flows/created', 'flows/segments_added'], flow_ids: [flowId], api_key_name: 'Authorization' });
      expect(rest.text).not.toContain(SECRET);

      const updated = (await data(UPDATE, { id: created.id, input: { url: 'https://hooks.example.com/v2', events: ['sources/created'], status: 'disabled', presigned: true } })).updateWebhook;
      expect(updated).toMatchObject({ id: created.id, url: 'https://hooks.example.com/v2', status: 'disabled', flowIds: null, apiKeyName: null, presigned: true });
      expect((await h.request('GET', `/service/webhooks/${created.id as string}`)).body).toMatchObject({ url: 'https://hooks.example.com/v2', status: 'disabled', events: ['sources/created'] });

      expect((await data(DELETE, { id: created.id })).deleteWebhook).toMatchObject({ id: created.id, url: 'https://hooks.example.com/v2' });
      expect((await h.request('GET', `/service/webhooks/${created.id as string}`)).status).toBe(404);
    });

    it('refuses bad registrations, unknown ids and bad ids', async () => {
      const hook = { url: 'https://hooks.example.com/x', events: ['flows/created'] };
      await refused('BAD_USER_INPUT', CREATE, { input: { ...hook, url: 'not a url' } });
      await refused('BAD_USER_INPUT', CREATE, { input: { ...hook, url: 'ftp://hooks.example.com/x' } });
      await refused('BAD_USER_INPUT', CREATE, { input: { ...hook, events: ['flows/exploded'] } });
      await refused('BAD_USER_INPUT', CREATE, { input: { ...hook, status: 'started' } });
      await refused('BAD_USER_INPUT', CREATE, { input: { ...hook, apiKeyName: 'Authorization' } });
      await refused('BAD_USER_INPUT', CREATE, { input: { ...hook, flowIds: ['not-a-uuid'] } });
      const created = (await data(CREATE, { input: hook })).createWebhook;
      await refused('BAD_USER_INPUT', UPDATE, { id: created.id, input: hook });
      await refused('BAD_USER_INPUT', UPDATE, { id: 'not-a-uuid', input: { ...hook, status: 'created' } });
      await refused('NOT_FOUND', UPDATE, { id: randomUUID(), input: { ...hook, status: 'created' } });
      await refused('BAD_USER_INPUT', DELETE, { id: 'not-a-uuid' });
      await refused('NOT_FOUND', DELETE, { id: randomUUID() });
      expect((await h.request('GET', `/service/webhooks/${created.id as string}`)).body.status).toBe('created');
    });
  });

  describe('createProfile', () => {
    const CREATE = 'mutation($id: ID!, $input: ProfileInput!) { createProfile(id: $id, input: $input) { id label tags created flowMetadata } }';
    const audio = { codec: 'audio/aac', container: 'audio/mp4', avgBitRate: 128, audio: { sampleRate: 48000, channels: 2 } };

    it('creates an immutable profile that REST serves', async () => {
      const id = randomUUID();
      const profile = (await data(CREATE, { id, input: { label: 'AAC stereo', tags: { tier: 'web' }, flowMetadata: audio } })).createProfile;
      expect(profile).toMatchObject({
        id,
        label: 'AAC stereo',
        tags: { tier: 'web' },
        created: expect.any(String),
        flowMetadata: { format: 'urn:x-nmos:format:audio', codec: 'audio/aac', container: 'audio/mp4', avg_bit_rate: 128, essence_parameters: { sample_rate: 48000, channels: 2 } },
      });
      const rest = await h.request('GET', `/service/profiles/${id}`);
      expect(rest.body).toMatchObject({ id, label: 'AAC stereo', flow_metadata: profile.flowMetadata });
      await refused('BAD_USER_INPUT', CREATE, { id, input: { label: 'again', flowMetadata: audio } });
      expect((await h.request('GET', `/service/profiles/${id}`)).body.label).toBe('AAC stereo');
    });

    it('refuses bad ids and technical metadata', async () => {
      const id = randomUUID();
      await refused('BAD_USER_INPUT', CREATE, { id: 'not-a-uuid', input: { flowMetadata: audio } });
      expect(await refused('BAD_USER_INPUT', CREATE, { id, input: { flowMetadata: { codec: 'audio/aac' } } })).toMatch(/exactly one of/);
      await refused('BAD_USER_INPUT', CREATE, { id, input: { flowMetadata: { ...audio, video: { frameWidth: 1, frameHeight: 1, frameRate: { numerator: 25 } } } } });
      await refused('BAD_USER_INPUT', CREATE, { id, input: { flowMetadata: { ...audio, codec: null } } });
      await refused('BAD_USER_INPUT', CREATE, { id, input: { flowMetadata: { ...audio, audio: { sampleRate: 0, channels: 2 } } } });
      // Multi-essence flows have no profiles: the input type has no such field.
      await refused('BAD_USER_INPUT', CREATE, { id, input: { flowMetadata: { multi: {} } } });
      expect((await h.request('GET', `/service/profiles/${id}`)).status).toBe(404);
    });
  });
});
