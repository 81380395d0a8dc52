/**
 * Our runtime request-body schemas against the official TAMS schemas: for mutations of valid
 * bodies (official examples and our fixtures), both must reach the same valid/invalid verdict.
 * Two passes: a systematic one (drop / retype / add a rule-crossing property at every path,
 * which is what reaches conditional rules such as vfr/frame_rate) and 1,000 fast-check
 * mutations per body kind (bad uuids, timestamps and timeranges, wrong types).
 *
 * Excluded on purpose, because we disagree by design (see the schema files):
 * - storage POST `limit` outside 1..10,000: the official schema accepts any integer;
 * - service POST `description` that is not a string: the official schema leaves it untyped;
 * - any string or array beyond REQUEST_LIMITS: the official schemas are unbounded. The
 *   mutations below never produce such sizes, so no exclusion is needed for them.
 */
import fc from 'fast-check';
import type { ValidateFunction } from 'ajv';
import {
  validateFlowCollectionPut,
  validateFlowPut,
  validateSegmentPost,
  validateServicePost,
  validateStoragePost,
} from '../../../src/validation/validators';
import { REQUEST_LIMITS } from '../../../src/validation/common.schema';
import { describeWithSpec, officialSchema, readSpecJson, requestValidator } from '../../support/tams-spec';
import { VALID_FLOW_PUTS, VALID_SEGMENT_POSTS, VALID_SERVICE_POSTS, VALID_STORAGE_POSTS } from './request-body-fixtures';

type Path = (string | number)[];

interface BodyKind {
  name: string;
  ours: (body: unknown) => string | undefined;
  official: () => ValidateFunction;
  /** True when ours and the official schema disagree on purpose for this body. */
  intentionallyDiffers: (body: unknown) => boolean;
  seeds: () => unknown[];
}

const specExamples = (...files: string[]) => files.map((file) => readSpecJson(`examples/${file}`));
const field = (body: unknown, key: string): unknown =>
  typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[key] : undefined;

const KINDS: BodyKind[] = [
  {
    name: 'flow PUT',
    ours: validateFlowPut,
    official: () => officialSchema('flow-put.json'),
    intentionallyDiffers: () => false,
    seeds: () => [...specExamples('flow-put.json', 'flow-put-multi.json', 'flow-put-profile.json'), ...Object.values(VALID_FLOW_PUTS)],
  },
  {
    name: 'flow collection PUT',
    ours: validateFlowCollectionPut,
    official: () => officialSchema('flow-collection.json'),
    intentionallyDiffers: () => false,
    seeds: () => [...specExamples('flow-collection-put.json'), VALID_FLOW_PUTS['multi with collection']!.flow_collection],
  },
  {
    name: 'segment POST',
    ours: validateSegmentPost,
    official: () => requestValidator('POST_flows-flowId-segments'),
    intentionallyDiffers: () => false,
    seeds: () => [...specExamples('flow-segment-post.json'), ...Object.values(VALID_SEGMENT_POSTS)],
  },
  {
    name: 'storage POST',
    ours: validateStoragePost,
    official: () => officialSchema('flow-storage-post.json'),
    intentionallyDiffers: (body) => {
      const limit = field(body, 'limit');
      return Number.isInteger(limit) && ((limit as number) < 1 || (limit as number) > REQUEST_LIMITS.storageLimitMax);
    },
    seeds: () => [...specExamples('flow-storage-post.json', 'flow-storage-post-object_ids.json'), ...Object.values(VALID_STORAGE_POSTS)],
  },
  {
    name: 'service POST',
    ours: validateServicePost,
    official: () => officialSchema('service-post.json'),
    intentionallyDiffers: (body) => {
      const description = field(body, 'description');
      return description !== undefined && typeof description !== 'string';
    },
    seeds: () => [...specExamples('service-post.json'), ...Object.values(VALID_SERVICE_POSTS)],
  },
];

/** Every location in a JSON value, including the root. */
function pathsOf(value: unknown, at: Path = []): Path[] {
  const children: Path[] = [];
  if (Array.isArray(value)) value.forEach((child, i) => children.push(...pathsOf(child, [...at, i])));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) children.push(...pathsOf(child, [...at, key]));
  }
  return [at, ...children];
}

type Mutation = { kind: 'drop' } | { kind: 'replace'; value: unknown } | { kind: 'add'; key: string; value: unknown };

function applyMutation(body: unknown, path: Path, mutation: Mutation): unknown {
  const copy = structuredClone(body);
  if (path.length === 0) {
    if (mutation.kind === 'replace') return mutation.value;
    if (mutation.kind === 'add' && typeof copy === 'object' && copy !== null && !Array.isArray(copy)) {
      return { ...copy, [mutation.key]: mutation.value };
    }
    return copy;
  }
  let parent = copy as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (mutation.kind === 'drop') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (mutation.kind === 'replace') {
    parent[last] = mutation.value;
  } else {
    const target = parent[last];
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
      (target as Record<string, unknown>)[mutation.key] = mutation.value;
    }
  }
  return copy;
}

const WRONG_TYPE_VALUES: readonly unknown[] = [42, -1, 0, 1.5, true, false, null, 'text', '', [], {}, ['a'], { a: 1 }];

/**
 * Well-typed additions that cross the schemas' conditional rules (vfr/frame_rate, profile_id
 * against technical metadata, limit against object_ids, per-format essence parameters).
 */
const TARGETED_ADDITIONS: readonly [string, unknown][] = [
  ['vfr', true], ['vfr', false], ['frame_rate', { numerator: 25 }], ['frame_rate', { numerator: 30000, denominator: 1001 }],
  ['profile_id', '329b98d6-adeb-418c-8eaf-eca14edc1706'], ['profile_id', ''], ['limit', 5], ['object_ids', ['a', 'b']],
  ['format', 'urn:x-nmos:format:video'], ['format', 'urn:x-nmos:format:data'], ['codec', 'video/h264'],
  ['essence_parameters', { frame_width: 1, frame_height: 1 }], ['essence_parameters', { sample_rate: 48000, channels: 1 }],
  ['bit_depth', 8], ['frame_width', 1920], ['sample_rate', 48000], ['data_type', 'x'], ['init_segments', true],
  ['unc_parameters', { unc_type: 'planar' }], ['unc_parameters', { unc_type: 'v210' }], ['codec_parameters', { mp4_oti: 2 }],
  ['container_mapping', { track_index: 0 }], ['description', 'text'], ['role', 'video'], ['extra', 1],
];

const badUuid = fc.oneof(
  fc.uuid().map((u) => u.toUpperCase()),
  fc.uuid().map((u) => u.replace(/-/g, '')),
  fc.uuid().map((u) => `${u.slice(0, 14)}0${u.slice(15)}`),
  fc.uuid().map((u) => `${u.slice(0, 14)}7${u.slice(15)}`),
  fc.uuid().map((u) => `${u.slice(0, 19)}c${u.slice(20)}`),
  fc.uuid().map((u) => `${u} `),
  fc.uuid({ version: [1, 2, 3, 4, 5] }),
  fc.string({ maxLength: 40 }),
);

const timestampish = fc.oneof(
  fc.tuple(fc.integer({ min: -5, max: 2_000_000_000 }), fc.integer({ min: 0, max: 999_999_999 })).map(([s, n]) => `${s}:${n}`),
  fc.constantFrom('0:0', '-0:0', '00:0', '1:00', '1:1000000000', '1.5', ':5', '1:', 'a:b', '1:-1', '+1:0'),
);

const badTimerange = fc.oneof(
  fc.tuple(fc.constantFrom('', '[', '(', '{', ']'), timestampish, fc.constantFrom('_', '-', ',', '__', ''), timestampish, fc.constantFrom('', ']', ')', '}', '['))
    .map(([open, start, sep, end, close]) => `${open}${start}${sep}${end}${close}`),
  fc.constantFrom('_', '()', '[]', '[_]', 'eternity', ' [0:0_1:0)', '[0:0_1:0) ', '[0:0]', '(0:0_)'),
  fc.string({ maxLength: 24 }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>({ kind: 'drop' }),
  fc.constantFrom(...WRONG_TYPE_VALUES).map<Mutation>((value) => ({ kind: 'replace', value })),
  badUuid.map<Mutation>((value) => ({ kind: 'replace', value })),
  badTimerange.map<Mutation>((value) => ({ kind: 'replace', value })),
  timestampish.map<Mutation>((value) => ({ kind: 'replace', value })),
  fc.constantFrom(...TARGETED_ADDITIONS).map<Mutation>(([key, value]) => ({ kind: 'add', key, value })),
);

/** Every drop, fixed wrong-type replacement and targeted addition, at every path of a seed. */
function systematicMutations(seed: unknown): unknown[] {
  const bodies: unknown[] = [];
  for (const path of pathsOf(seed)) {
    bodies.push(applyMutation(seed, path, { kind: 'drop' }));
    for (const value of WRONG_TYPE_VALUES) bodies.push(applyMutation(seed, path, { kind: 'replace', value }));
    for (const [key, value] of TARGETED_ADDITIONS) bodies.push(applyMutation(seed, path, { kind: 'add', key, value }));
  }
  return bodies;
}

describeWithSpec('request body schemas agree with the official TAMS schemas', () => {
  it.each(KINDS.map((kind) => [kind.name, kind] as const))('%s: the seeds are valid under both', (_name, kind) => {
    const official = kind.official();
    for (const seed of kind.seeds()) {
      expect(kind.ours(seed)).toBeUndefined();
      expect(official(seed)).toBe(true);
    }
  });

  it.each(KINDS.map((kind) => [kind.name, kind] as const))('%s: systematic mutations get the same verdict', (_name, kind) => {
    const official = kind.official();
    const disagreements: unknown[] = [];
    let checked = 0;
    for (const body of kind.seeds().flatMap(systematicMutations)) {
      if (kind.intentionallyDiffers(body)) continue;
      checked += 1;
      if ((kind.ours(body) === undefined) !== official(body)) disagreements.push(body);
    }
    expect(checked).toBeGreaterThan(100);
    expect(disagreements.slice(0, 3)).toEqual([]);
  });

  it.each(KINDS.map((kind) => [kind.name, kind] as const))('%s: generated mutations get the same verdict', (_name, kind) => {
    const official = kind.official();
    const seeds = kind.seeds();
    const verdicts = { valid: 0, invalid: 0, excluded: 0 };
    const mutated = fc
      .constantFrom(...seeds)
      .chain((seed) => fc.tuple(fc.constant(seed), fc.constantFrom(...pathsOf(seed)), mutation))
      .map(([seed, path, m]) => ({ path, mutation: m, body: applyMutation(seed, path, m) }));

    fc.assert(
      fc.property(mutated, ({ body }) => {
        if (kind.intentionallyDiffers(body)) {
          verdicts.excluded += 1;
          return;
        }
        const officialVerdict = official(body);
        const ours = kind.ours(body);
        expect({ body, ours: ours === undefined }).toEqual({ body, ours: officialVerdict });
        verdicts[officialVerdict ? 'valid' : 'invalid'] += 1;
      }),
      { numRuns: 1000, seed: 20240501 },
    );
    // A generator that only produced invalid (or only valid) bodies would prove little.
    expect(verdicts.invalid).toBeGreaterThan(200);
    expect(verdicts.valid).toBeGreaterThan(50);
    expect(verdicts.excluded).toBeLessThan(200);
  });
});
