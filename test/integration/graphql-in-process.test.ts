import { randomUUID } from 'node:crypto';
import { startHarness, Harness } from '../support/gateway-harness';
import { DEVELOPMENT_PRINCIPAL, Principal } from '../../src/domain/principal';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON results
type Json = any;

/**
 * The gateway's own Apollo server driven in process with executeOperation: the same schema,
 * shield, limits and error formatting as over HTTP, without a socket.
 */
describe('GraphQL in process (executeOperation)', () => {
  let h: Harness;

  async function run(query: string, variables?: Record<string, unknown>, principal: Principal = DEVELOPMENT_PRINCIPAL): Promise<Json> {
    const server = h.gateway.app.graphql.server;
    if (server === undefined) throw new Error('GraphQL server not started');
    const response = await server.executeOperation(
      { query, ...(variables === undefined ? {} : { variables }) },
      { contextValue: h.gateway.app.graphql.contextFor(principal) },
    );
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    return response.body.singleResult;
  }

  beforeAll(async () => {
    h = await startHarness();
  });

  afterAll(async () => {
    await h.close();
  });

  it('writes a flow and its segments by mutation and reads them back by query', async () => {
    const id = randomUUID();
    const sourceId = randomUUID();
    const put = await run(
      `mutation($id: ID!, $input: PutFlowInput!) { putFlow(id: $id, input: $input) { created flow { id sourceId ... on VideoFlow { frameWidth } } } }`,
      {
        id,
        input: { sourceId, label: 'in process', codec: 'video/h264', container: 'video/mp2t', video: { frameWidth: 1280, frameHeight: 720, frameRate: { numerator: 50, denominator: 1 } } },
      },
    );
    expect(put.errors).toBeUndefined();
    expect(put.data.putFlow).toEqual({ created: true, flow: { id, sourceId, frameWidth: 1280 } });
    // The objects are allocated first, as a client does (an unknown object without get_urls is refused).
    const allocated = await run(`mutation($id: ID!) { allocateStorage(flowId: $id, objectIds: ["in-process-1", "in-process-2"]) { objectId } }`, { id });
    expect(allocated.errors).toBeUndefined();
    const registered = await run(
      `mutation($id: ID!) { registerSegments(flowId: $id, segments: [{ objectId: "in-process-1", timerange: "[0:0_1:0)" }, { objectId: "in-process-2", timerange: "[0:500000000_2:0)" }]) { registeredCount failed { objectId code } } }`,
      { id },
    );
    expect(registered.errors).toBeUndefined();
    expect(registered.data.registerSegments.registeredCount).toBe(1);
    expect(registered.data.registerSegments.failed).toEqual([{ objectId: 'in-process-2', code: 'BAD_USER_INPUT' }]);
    const read = await run(
      `query($id: ID!) { flow(id: $id) { label source { id } segments { nodes { objectId timerange object { id referencedByFlowIds } } } timerange } }`,
      { id },
    );
    expect(read.errors).toBeUndefined();
    expect(read.data.flow).toEqual({
      label: 'in process',
      source: { id: sourceId },
      segments: { nodes: [{ objectId: 'in-process-1', timerange: '[0:0_1:0)', object: { id: 'in-process-1', referencedByFlowIds: [id] } }] },
      timerange: '[0:0_1:0)',
    });
  });

  it('answers every root query', async () => {
    const missing = randomUUID();
    const result = await run(
      `query($missing: ID!) {
        service { name } storageBackends { id } me { subject }
        sources(first: 1) { nodes { id } } source(id: $missing) { id }
        flows(first: 1) { nodes { id } } flow(id: $missing) { id }
        segments(flowId: $missing) { nodes { objectId } }
        profiles { nodes { id } } profile(id: $missing) { id }
        webhooks { nodes { id } } webhook(id: $missing) { id }
        deletionRequests { nodes { id } } deletionRequest(id: $missing) { id }
        object(id: "no-such-object") { id }
      }`,
      { missing },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data.me.subject).toBe('development');
    for (const field of ['source', 'flow', 'profile', 'webhook', 'deletionRequest', 'object']) expect(result.data[field]).toBeNull();
    expect(result.data.segments.nodes).toEqual([]);
  });

  it('applies the shield: a principal without the write scope cannot mutate', async () => {
    const reader: Principal = { subject: 'reader', scopes: ['read'], authClasses: [], method: 'bearer', authenticated: true };
    const res = await run('mutation { updateService(input: { name: "nope" }) { name } }', undefined, reader);
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const service = await run('{ service { name } }', undefined, reader);
    expect(service.data.service.name).not.toBe('nope');
  });

  it('applies the query limits and formats errors through the registry', async () => {
    const deep = `{ ${'flows(first: 1) { nodes { source { '.repeat(5)}id${' } } }'.repeat(5)} }`;
    expect((await run(deep)).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect((await run('{ flow(id: "bad") { id } }')).errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT' });
  });
});
