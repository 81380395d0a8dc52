/**
 * Tests the conformance harness itself: every response example the TAMS document attaches to
 * an operation validates against that operation's schema, and every broken copy of it is
 * rejected, each one on its own (a test names each copy that got through). The second half is
 * what proves the schemas were resolved for real: a wrong or dangling `$ref` that degraded to
 * "accept anything" would let broken copies through.
 *
 * The broken copies are ones a correct schema must refuse: each property of each item given a
 * value of the wrong type (every property of a TAMS body is typed), and each property the
 * official schema requires removed. What is required is read from the schema files themselves
 * (`required` through `$ref`, `allOf`, and the `oneOf` branch the example is), not from the
 * validator under test.
 */
import {
  describeWithSpec,
  listEventTypes,
  listOperations,
  listResponseExamples,
  officialSchema,
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

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The official schema file a `$ref` names (`flow-get.json`, `schemas/flow-get.json`), as the spec folder has it. */
function referenced(ref: string): Schema {
  const schema: unknown = officialSchema(ref.replace(/^(\.\/)?schemas\//, '')).schema;
  if (!isSchema(schema)) throw new Error(`${ref} is not a schema object`);
  return schema;
}

/** What a schema says of the properties of one object. */
interface ObjectRules {
  /** Properties it requires. */
  required: Set<string>;
  /** Properties it declares (`properties`), each with a schema of its own. */
  declared: Set<string>;
  /** Whether properties it does not declare must match a schema (`additionalProperties: {...}`). */
  typedExtras: boolean;
}

/**
 * What `schema` says of the properties of the object `value`: its own `required` and
 * `properties`, those of what it `$ref`s and of each `allOf` member, and those every
 * `oneOf`/`anyOf` branch that `value` matches says (a branch is matched with its official
 * schema file; an inline branch counts as not matched, so it adds nothing).
 */
function objectRules(schema: unknown, value: unknown, depth = 0): ObjectRules {
  const out: ObjectRules = { required: new Set(), declared: new Set(), typedExtras: false };
  if (!isSchema(schema) || depth > 30) return out;
  const add = (more: ObjectRules): void => {
    for (const name of more.required) out.required.add(name);
    for (const name of more.declared) out.declared.add(name);
    out.typedExtras ||= more.typedExtras;
  };
  if (Array.isArray(schema.required)) for (const r of schema.required) if (typeof r === 'string') out.required.add(r);
  if (isSchema(schema.properties)) for (const name of Object.keys(schema.properties)) out.declared.add(name);
  if (isSchema(schema.additionalProperties)) out.typedExtras = true;
  if (typeof schema.$ref === 'string') add(objectRules(referenced(schema.$ref), value, depth + 1));
  for (const member of Array.isArray(schema.allOf) ? schema.allOf : []) add(objectRules(member, value, depth + 1));
  const branches = [...(Array.isArray(schema.oneOf) ? schema.oneOf : []), ...(Array.isArray(schema.anyOf) ? schema.anyOf : [])];
  const matched = branches.filter((b) => isSchema(b) && typeof b.$ref === 'string' && officialSchema(b.$ref.replace(/^(\.\/)?schemas\//, ''))(value));
  if (matched.length > 0) {
    const each = matched.map((b) => objectRules(b, value, depth + 1));
    const inAll = (pick: (r: ObjectRules) => Set<string>): string[] => [...pick(each[0]!)].filter((name) => each.every((r) => pick(r).has(name)));
    add({ required: new Set(inAll((r) => r.required)), declared: new Set(inAll((r) => r.declared)), typedExtras: each.every((r) => r.typedExtras) });
  }
  return out;
}

/** The schema of a list body's items (through `$ref`s and `allOf`), or undefined when `schema` is not a list. */
function itemsSchema(schema: unknown, depth = 0): unknown {
  if (!isSchema(schema) || depth > 30) return undefined;
  if (schema.items !== undefined) return schema.items;
  if (typeof schema.$ref === 'string') return itemsSchema(referenced(schema.$ref), depth + 1);
  for (const member of Array.isArray(schema.allOf) ? schema.allOf : []) {
    const found = itemsSchema(member, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Breakages of one object a correct schema must each refuse: every property the schema types
 * given a value of another type, every required one removed. (A property an example adds that
 * the schema does not declare, where it allows any, has no type to break.)
 */
function objectMutations(value: Record<string, unknown>, schema: unknown, at: string): Mutation[] {
  const rules = objectRules(schema, value);
  const missing = [...rules.required].filter((key) => !Object.hasOwn(value, key));
  if (missing.length > 0) throw new Error(`${at || 'the body'} lacks required ${missing.join(', ')}: the example itself is invalid`);
  const typed = Object.keys(value).filter((key) => rules.declared.has(key) || rules.typedExtras);
  const retyped = typed.map((key) => ({
    description: `retype ${at}${key}`,
    body: { ...value, [key]: wrongTypeFor(value[key]) },
  }));
  const dropped = [...rules.required].map((key) => {
    const copy = { ...value };
    delete copy[key];
    return { description: `remove required ${at}${key}`, body: copy };
  });
  return [...retyped, ...dropped];
}

/** Breakages of a body: of the body itself, or of each item of a list (the others left whole). */
function mutationsOf(body: unknown, schema: unknown): Mutation[] {
  if (Array.isArray(body)) {
    const items = itemsSchema(schema);
    return (body as unknown[]).flatMap((item, i) => {
      const broken: Mutation[] =
        typeof item === 'object' && item !== null && !Array.isArray(item)
          ? objectMutations(item as Record<string, unknown>, items, `[${i}].`)
          : [{ description: `retype [${i}]`, body: wrongTypeFor(item) }];
      return broken.map(({ description, body: copy }) => ({ description, body: body.map((other, j) => (j === i ? copy : other)) }));
    });
  }
  if (typeof body === 'object' && body !== null) return objectMutations(body as Record<string, unknown>, schema, '');
  return [{ description: 'retype the body', body: wrongTypeFor(body) }];
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

    it('rejects every broken copy, each on its own', () => {
      const candidates = mutationsOf(body, responseValidator(example.operationId, example.status)?.schema);
      expect(candidates.length).toBeGreaterThan(0);
      // Each copy is validated by itself: one refused copy says nothing of the others.
      const accepted = candidates.filter((m) => validateResponse(example.operationId, example.status, m.body).ok).map((m) => m.description);
      expect({ file: example.file, accepted }).toEqual({ file: example.file, accepted: [] });
    });
  });

  it('reads required and typed properties through $ref, allOf and the oneOf branch an example is (the breakages above rely on it)', () => {
    const flow = readSpecJson('examples/flow-get-200-video-h264.json') as Record<string, unknown>;
    const rules = objectRules(responseValidator('GET_flows-flowId', 200)?.schema, flow);
    // flow-common.json's, then flow-video.json's (the branch a video flow is).
    expect([...rules.required]).toEqual(expect.arrayContaining(['codec', 'essence_parameters', 'format', 'id', 'source_id']));
    expect([...rules.declared]).toEqual(expect.arrayContaining(['label', 'tags', 'container', 'avg_bit_rate']));
    const audio = readSpecJson('examples/flow-get-200-audio-wav.json') as Record<string, unknown>;
    expect([...objectRules(itemsSchema(responseValidator('GET_flows', 200)?.schema), audio).required]).toEqual(expect.arrayContaining(['id', 'source_id', 'format']));
    // Tags are free-form: nothing required, every value typed (a string or strings).
    const tags = objectRules(responseValidator('GET_flows-flowId-tags', 200)?.schema, { a: 'b' });
    expect({ required: [...tags.required], typedExtras: tags.typedExtras }).toEqual({ required: [], typedExtras: true });
    // Every other example has something required to remove, so no removal list is empty by a
    // walk gone wrong. The spec requires nothing of tags, nor `media_objects` of a storage answer.
    const nothingRequired = examples
      .filter((e) => {
        const example = readSpecJson(e.file);
        const first: unknown = Array.isArray(example) ? example[0] : example;
        if (typeof first !== 'object' || first === null) return false;
        const schema = responseValidator(e.operationId, e.status)?.schema;
        return objectRules(Array.isArray(example) ? itemsSchema(schema) : schema, first).required.size === 0;
      })
      .map((e) => e.file);
    expect(nothingRequired.sort()).toEqual(['examples/flow-storage-post-201-wav.json', 'examples/flow-storage-post-201.json', 'examples/flow-tags-get-200.json']);
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
