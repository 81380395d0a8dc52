import { randomBytes, randomUUID } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
type Json = any;

/** GraphQL queries over real HTTP, against data written through REST. */
describe('GraphQL queries', () => {
  let h: Harness;
  const sharedSource = randomUUID();
  const videoIds: string[] = [];
  let audioId: string;
  const bytes = new Map<string, Buffer>();
  const objectIds: string[] = [];

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

  function codeOf(body: Json): string {
    return body.errors?.[0]?.extensions?.code;
  }

  beforeAll(async () => {
    h = await startHarness();
    for (let i = 0; i < 10; i++) {
      const flow = videoFlow({ source_id: sharedSource, label: `camera ${i}` });
      expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      videoIds.push(flow.id as string);
    }
    const audio = audioFlow();
    expect((await h.request('PUT', `/flows/${audio.id as string}`, audio)).status).toBe(201);
    audioId = audio.id as string;

    const alloc = await h.request('POST', `/flows/${videoIds[0]!}/storage`, { limit: 2 });
    expect(alloc.status).toBe(201);
    let second = 0;
    for (const media of alloc.body.media_objects as { object_id: string; put_url: { url: string } }[]) {
      const body = randomBytes(256 + second);
      bytes.set(media.object_id, body);
      objectIds.push(media.object_id);
      expect((await checkedFetch(media.put_url.url, { method: 'PUT', body })).status).toBe(200);
      const seg = { object_id: media.object_id, timerange: `[${second}:0_${second + 1}:0)` };
      expect((await h.request('POST', `/flows/${videoIds[0]!}/segments`, seg)).status).toBe(201);
      second++;
    }
  });

  afterAll(async () => {
    await h.close();
  });

  it('describes the service and its storage backends as REST does', async () => {
    const rest = await h.request('GET', '/service');
    const backends = await h.request('GET', '/service/storage-backends');
    const d = await data('{ service { name type apiVersion serviceVersion minObjectTimeout minPresignedUrlTimeout } storageBackends { id label defaultStorage } }');
    expect(d.service).toEqual({
      name: rest.body.name,
      type: rest.body.type,
      apiVersion: '8.2',
      serviceVersion: rest.body.service_version,
      minObjectTimeout: rest.body.min_object_timeout,
      minPresignedUrlTimeout: rest.body.min_presigned_url_timeout,
    });
    expect(d.storageBackends).toEqual([{ id: backends.body[0].id, label: backends.body[0].label, defaultStorage: true }]);
  });

  it('pages through every flow exactly once with first/after', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const d = await data('query($after: String) { flows(first: 3, after: $after) { edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } } }', { after });
      const conn = d.flows;
      expect(conn.nodes.map((n: { id: string }) => n.id)).toEqual(conn.edges.map((e: { node: { id: string } }) => e.node.id));
      seen.push(...conn.nodes.map((n: { id: string }) => n.id));
      if (!conn.pageInfo.hasNextPage) break;
      expect(conn.pageInfo.endCursor).toBe(conn.edges[conn.edges.length - 1].cursor);
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(11);
    expect(new Set(seen)).toEqual(new Set([...videoIds, audioId]));
  });

  it('continues after any edge, not only the last', async () => {
    const all = await data('{ flows(first: 11) { nodes { id } } }');
    const page = await data('{ flows(first: 4) { edges { cursor } } }');
    const next = await data('query($after: String) { flows(first: 3, after: $after) { nodes { id } } }', { after: page.flows.edges[1].cursor });
    expect(next.flows.nodes).toEqual(all.flows.nodes.slice(2, 5));
  });

  it('filters and sorts flows', async () => {
    const audio = await data('{ flows(filter: { format: "urn:x-nmos:format:audio" }) { nodes { __typename id ... on AudioFlow { sampleRate channels } } } }');
    expect(audio.flows.nodes).toEqual([{ __typename: 'AudioFlow', id: audioId, sampleRate: 48000, channels: 2 }]);
    const bySource = await data('query($s: ID) { flows(filter: { sourceId: $s }, sortBy: LABEL, reverse: true) { nodes { label } } }', { s: sharedSource });
    expect(bySource.flows.nodes.map((n: { label: string }) => n.label)).toEqual(
      Array.from({ length: 10 }, (_, i) => `camera ${9 - i}`),
    );
    const tagged = await data('{ flows(filter: { tags: [{ name: "location", values: ["studio"] }] }) { nodes { id } } }');
    expect(tagged.flows.nodes).toHaveLength(10);
  });

  it('answers flow(id) with typed essence parameters, tags, source and timerange', async () => {
    const d = await data(
      `query($id: ID!) { flow(id: $id) {
        __typename id sourceId format codec container readOnly tags tag(name: "genre") missing: tag(name: "nope")
        ... on VideoFlow { frameWidth frameHeight frameRate { numerator denominator } interlaceMode }
        source { id format flows { nodes { id } } }
        timerange
        within: timerange(within: "[1:0_5:0)")
      } }`,
      { id: videoIds[0] },
    );
    expect(d.flow).toMatchObject({
      __typename: 'VideoFlow',
      id: videoIds[0],
      sourceId: sharedSource,
      format: 'urn:x-nmos:format:video',
      codec: 'video/h264',
      container: 'video/mp2t',
      readOnly: false,
      tags: { genre: ['news', 'live'], location: 'studio' },
      tag: ['news', 'live'],
      missing: null,
      frameWidth: 1920,
      frameHeight: 1080,
      frameRate: { numerator: 50, denominator: 1 },
      interlaceMode: 'progressive',
      timerange: '[0:0_2:0)',
      within: '[1:0_2:0)',
    });
    expect(d.flow.source.id).toBe(sharedSource);
    expect(new Set(d.flow.source.flows.nodes.map((n: { id: string }) => n.id))).toEqual(new Set(videoIds));
  });

  it('lists sources and resolves source(id)', async () => {
    const d = await data('query($id: ID!) { sources(first: 100) { nodes { id } } source(id: $id) { id format flows(first: 2) { pageInfo { hasNextPage } } } }', { id: sharedSource });
    expect(d.sources.nodes.map((n: { id: string }) => n.id)).toContain(sharedSource);
    expect(d.source).toEqual({ id: sharedSource, format: 'urn:x-nmos:format:video', flows: { pageInfo: { hasNextPage: true } } });
  });

  it('lists segments whose getUrls download the same bytes as REST', async () => {
    const rest = await h.request('GET', `/flows/${videoIds[0]!}/segments`);
    const d = await data(
      `query($id: ID!) {
        segments(flowId: $id) { nodes { objectId timerange getUrls { url presigned label storageId controlled } } }
        flow(id: $id) { segments(timerange: "[1:0_2:0)") { nodes { objectId } pageInfo { hasNextPage } } }
      }`,
      { id: videoIds[0] },
    );
    const nodes = d.segments.nodes as { objectId: string; timerange: string; getUrls: { url: string; presigned: boolean; controlled: boolean }[] }[];
    expect(nodes.map((n) => [n.objectId, n.timerange])).toEqual([
      [objectIds[0], '[0:0_1:0)'],
      [objectIds[1], '[1:0_2:0)'],
    ]);
    for (const [i, node] of nodes.entries()) {
      expect(node.getUrls).toHaveLength(1);
      expect(node.getUrls[0]).toMatchObject({ presigned: true, controlled: true });
      const viaGraphql = Buffer.from(await (await checkedFetch(node.getUrls[0]!.url)).arrayBuffer());
      const viaRest = Buffer.from(await (await checkedFetch(rest.body[i].get_urls[0].url)).arrayBuffer());
      expect(viaGraphql.equals(viaRest)).toBe(true);
      expect(viaGraphql.equals(bytes.get(node.objectId)!)).toBe(true);
    }
    expect(d.flow.segments).toEqual({ nodes: [{ objectId: objectIds[1] }], pageInfo: { hasNextPage: false } });
    const paged = await data('query($id: ID!) { segments(flowId: $id, first: 1, reverse: true) { nodes { objectId } pageInfo { hasNextPage endCursor } } }', { id: videoIds[0] });
    expect(paged.segments.nodes).toEqual([{ objectId: objectIds[1] }]);
    const rest2 = await data('query($id: ID!, $after: String) { segments(flowId: $id, first: 1, reverse: true, after: $after) { nodes { objectId } pageInfo { hasNextPage } } }', {
      id: videoIds[0],
      after: paged.segments.pageInfo.endCursor,
    });
    expect(rest2.segments).toEqual({ nodes: [{ objectId: objectIds[0] }], pageInfo: { hasNextPage: false } });
  });

  it('refuses bad input with BAD_USER_INPUT and answers null for an unknown id', async () => {
    let res = await gql('query($id: ID!) { segments(flowId: $id, timerange: "bogus") { nodes { objectId } } }', { id: videoIds[0] });
    expect(codeOf(res.body)).toBe('BAD_USER_INPUT');
    res = await gql('query($id: ID!, $tr: TimeRange) { segments(flowId: $id, timerange: $tr) { nodes { objectId } } }', { id: videoIds[0], tr: '[1:0_' + 'x' });
    expect(codeOf(res.body)).toBe('BAD_USER_INPUT');
    res = await gql('{ flows(after: "not-a-cursor") { nodes { id } } }');
    expect(codeOf(res.body)).toBe('BAD_USER_INPUT');
    const forged = Buffer.from(JSON.stringify({ p: 'abc.def', s: 0 })).toString('base64url');
    res = await gql('query($after: String) { flows(after: $after) { nodes { id } } }', { after: forged });
    expect(codeOf(res.body)).toBe('BAD_USER_INPUT');
    res = await gql('{ flows(first: 0) { nodes { id } } }');
    expect(codeOf(res.body)).toBe('BAD_USER_INPUT');
    res = await gql('{ flow(id: "not-a-uuid") { id } }');
    expect(codeOf(res.body)).toBe('BAD_USER_INPUT');
    res = await gql('{ flows(filter: { format: "video" }) { nodes { id } } }');
    expect(codeOf(res.body)).toBe('BAD_USER_INPUT');
    const unknown = await data('query($id: ID!) { flow(id: $id) { id } source(id: $id) { id } }', { id: randomUUID() });
    expect(unknown).toEqual({ flow: null, source: null });
  });

  it('masks unexpected errors and shows no stack trace', async () => {
    const spy = jest.spyOn(h.gateway.store, 'getSources').mockRejectedValueOnce(new Error('secret detail'));
    try {
      const res = await gql('query($id: ID!) { source(id: $id) { id } }', { id: sharedSource });
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors[0].message).toBe('Internal server error');
      expect(res.body.errors[0].extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
      expect(JSON.stringify(res.body)).not.toContain('secret detail');
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses a simple cross-site request (CSRF prevention)', async () => {
    const res = await checkedFetch(`${h.base}/graphql?query=${encodeURIComponent('{ service { name } }')}`);
    expect(res.status).toBe(400);
  });

  it('loads a source once per request, however many flows ask for it', async () => {
    const spy = jest.spyOn(h.gateway.store, 'getSources');
    try {
      const d = await data('query($s: ID) { flows(filter: { sourceId: $s }, first: 10) { nodes { source { id } } } }', { s: sharedSource });
      expect(d.flows.nodes).toHaveLength(10);
      for (const node of d.flows.nodes) expect(node.source.id).toBe(sharedSource);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});
