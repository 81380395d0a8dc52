/**
 * Tests the conformance harness itself: every response example the TAMS document attaches to
 * an operation validates against that operation's schema, and a broken copy of each is
 * rejected. The second half is what proves the schemas were resolved for real: a wrong or
 * dangling `$ref` that degraded to "accept anything" would let every broken copy through.
 */
import {
  describeWithSpec,
  listEventTypes,
  listOperations,
  listResponseExamples,
  operationFor,
  readSpecJson,
  responseValidator,
  validateEvent,
  validateResponse,
} from '../support/tams-spec';

type Mutation = { description: string; body: unknown };

/**
 * Official examples that break their own schema. Each is pinned to its exact defect (so any
 * other error still fails) and repaired before the rest of the checks.
 * Two flow examples give `created` without a UTC offset ("2023-12-14T16:34:58.131620"),
 * which RFC 3339 `date-time` (format of flow-common.json `created`) does not allow.
 */
const KNOWN_EXAMPLE_DEFECTS: Readonly<Record<string, { error: string; repair: (body: Record<string, unknown>) => unknown }>> = {
  'examples/flow-get-200-data-ttml.json': {
    error: 'data/created must match format "date-time"',
    repair: (body) => ({ ...body, created: `${String(body.created)}Z` }),
  },
  'examples/flow-get-200-multi.json': {
    error: 'data/created must match format "date-time"',
    repair: (body) => ({ ...body, created: `${String(body.created)}Z` }),
  },
};

function wrongTypeFor(value: unknown): unknown {
  if (typeof value === 'string') return 12345;
  if (typeof value === 'number' || typeof value === 'boolean') return 'not-a-number-or-boolean';
  return 'not-an-object-or-array';
}

/** Candidate breakages of one object: drop each property, then retype each property. */
function objectMutations(value: Record<string, unknown>, at: string): Mutation[] {
  const keys = Object.keys(value);
  const dropped = keys.map((key) => {
    const copy = { ...value };
    delete copy[key];
    return { description: `remove ${at}${key}`, body: copy };
  });
  const retyped = keys.map((key) => ({
    description: `retype ${at}${key}`,
    body: { ...value, [key]: wrongTypeFor(value[key]) },
  }));
  return [...dropped, ...retyped];
}

/** Breakages that a correct schema of a typed body must reject at least one of; arrays break their first item. */
function mutationsOf(body: unknown): Mutation[] {
  if (Array.isArray(body)) {
    if (body.length === 0) return [];
    const [first, ...rest] = body as unknown[];
    const firstItem: Mutation[] =
      typeof first === 'object' && first !== null && !Array.isArray(first)
        ? objectMutations(first as Record<string, unknown>, '[0].')
        : [{ description: 'retype [0]', body: wrongTypeFor(first) }];
    return firstItem.map(({ description, body: broken }) => ({ description, body: [broken, ...rest] }));
  }
  if (typeof body === 'object' && body !== null) return objectMutations(body as Record<string, unknown>, '');
  return [];
}

describeWithSpec('TAMS conformance harness', () => {
  const examples = listResponseExamples();

  it('finds the response examples the document references', () => {
    expect(examples.length).toBeGreaterThanOrEqual(30);
    expect(examples.map((e) => e.file)).toEqual(expect.arrayContaining(['examples/flow-get-200-video-h264.json', 'examples/service-get-200.json']));
  });

  describe.each(examples.map((e) => [`${e.operationId} ${e.status} ${e.file}`, e] as const))('%s', (_name, example) => {
    const original = readSpecJson(example.file);
    const defect = KNOWN_EXAMPLE_DEFECTS[example.file];
    const body = defect ? defect.repair(original as Record<string, unknown>) : original;

    if (defect) {
      it('fails only on its known upstream defect', () => {
        expect(validateResponse(example.operationId, example.status, original).errors).toBe(defect.error);
      });
    }

    it('validates against its operation schema', () => {
      expect(responseValidator(example.operationId, example.status)).toBeDefined();
      const result = validateResponse(example.operationId, example.status, body);
      expect(result.errors).toBe('');
      expect(result.ok).toBe(true);
    });

    it('rejects a broken copy', () => {
      const candidates = mutationsOf(body);
      expect(candidates.length).toBeGreaterThan(0);
      const rejected = candidates.find((m) => !validateResponse(example.operationId, example.status, m.body).ok);
      expect(rejected?.description ?? `no mutation of ${example.file} was rejected`).not.toMatch(/^no mutation/);
    });
  });

  it('lists operations with their method, path and statuses', () => {
    const operations = listOperations();
    expect(operations.length).toBeGreaterThan(50);
    expect(operations).toContainEqual({
      operationId: 'PUT_flows-flowId',
      method: 'PUT',
      path: '/flows/{flowId}',
      statuses: [201, 204, 400, 403, 404],
    });
  });

  it('maps method and path template (OpenAPI or fastify style) to an operationId', () => {
    expect(operationFor('get', '/flows/{flowId}/segments')).toBe('GET_flows-flowId-segments');
    expect(operationFor('POST', '/flows/:id/storage')).toBe('POST_flows-flowId-storage');
    expect(() => operationFor('PATCH', '/flows')).toThrow(/no TAMS operation/);
  });

  it('throws for an unknown operationId instead of passing', () => {
    expect(() => validateResponse('GET_no-such-thing', 200, {})).toThrow(/unknown TAMS operationId/);
    expect(() => responseValidator('GET_no-such-thing', 200)).toThrow(/unknown TAMS operationId/);
  });

  it('does not accept an undeclared status', () => {
    expect(validateResponse('GET_service', 418, {}).ok).toBe(false);
    expect(() => responseValidator('GET_service', 418)).toThrow(/declares no 418/);
  });

  it('treats statuses without a body schema as empty or a TAMS error', () => {
    expect(validateResponse('PUT_flows-flowId', 204, undefined).ok).toBe(true);
    expect(validateResponse('PUT_flows-flowId', 204, { id: 'x' }).ok).toBe(false);
    const error = { type: 'BadRequest', summary: 'body/id must be a lowercase UUID', time: '2024-01-01T00:00:00Z' };
    expect(validateResponse('PUT_flows-flowId', 400, error).ok).toBe(true);
    expect(validateResponse('PUT_flows-flowId', 400, { summary: 'no type or time' }).ok).toBe(false);
    expect(validateResponse('HEAD_flows', 200, '').ok).toBe(true);
  });

  describe('webhook events', () => {
    const flow = readSpecJson('examples/flow-get-200-video-h264.json') as Record<string, unknown>;
    const envelope = (eventType: string, event: unknown) => ({ event_timestamp: '2024-05-01T12:00:00Z', event_type: eventType, event });

    it('declares the TAMS event types', () => {
      expect(listEventTypes()).toEqual(expect.arrayContaining([
        'flows/created', 'flows/updated', 'flows/deleted', 'flows/segments_added', 'flows/segments_deleted',
        'sources/created', 'sources/updated', 'sources/deleted',
      ]));
    });

    it('accepts well-formed envelopes and rejects broken ones', () => {
      expect(validateEvent('flows/created', envelope('flows/created', { flow })).ok).toBe(true);
      expect(validateEvent('flows/created', envelope('flows/updated', { flow })).ok).toBe(false);
      expect(validateEvent('flows/created', envelope('flows/created', { flow: { ...flow, id: 'nope' } })).ok).toBe(false);
      expect(validateEvent('flows/deleted', envelope('flows/deleted', { flow_id: flow.id })).ok).toBe(true);
      expect(validateEvent('flows/segments_deleted', envelope('flows/segments_deleted', { flow_id: flow.id, timerange: '[0:0_10:0)' })).ok).toBe(true);
      expect(validateEvent('flows/segments_deleted', envelope('flows/segments_deleted', { flow_id: flow.id, timerange: 'bad' })).ok).toBe(false);
      const segment = { object_id: 'obj-1', timerange: '[0:0_1:0)', get_urls: [{ url: 'https://example.com/obj-1' }] };
      expect(validateEvent('flows/segments_added', envelope('flows/segments_added', { flow_id: flow.id, segments: [segment] })).ok).toBe(true);
      expect(validateEvent('sources/deleted', envelope('sources/deleted', {})).ok).toBe(false);
    });

    it('throws for an unknown event type', () => {
      expect(() => validateEvent('flows/exploded', {})).toThrow(/unknown TAMS webhook event type/);
    });
  });
});
