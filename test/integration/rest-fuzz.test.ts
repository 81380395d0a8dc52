import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startHarness, Harness } from '../support/gateway-harness';
import { fileListing, tableHashes } from '../support/table-hash';
import { describeWithSpec, listOperations, readSpecJson, requestValidator, type OperationSummary } from '../support/tams-spec';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';

/**
 * Thousands of generated malformed requests (bad ids, timeranges, JSON, types, enums, huge
 * values, unicode, encoded slashes, duplicate parameters) against every operation of the
 * TAMS spec: none may answer 5xx or hang, and the stored data (every row of every table, and
 * the media directory) must be exactly as before.
 *
 * The requests come from a seeded generator; the seed is printed at the start. Replay with
 * `TAMS_FUZZ_SEED=<seed> npx jest test/integration/rest-fuzz` (TAMS_FUZZ_COUNT: how many).
 *
 * Every write (PUT/POST) carries a body the official request schema rejects (checked with
 * the spec's own schema before sending), or no JSON at all; every DELETE targets a
 * malformed or nonexistent id. So no request here may legitimately change anything.
 */

/** 6000 by default; TAMS_FUZZ_COUNT overrides it (e.g. smaller, to bisect a replay). */
const COUNT = process.env.TAMS_FUZZ_COUNT ? Number(process.env.TAMS_FUZZ_COUNT) : 6000;
/** The stored data is compared after every batch, to narrow down a request that changed it. */
const BATCH = 500;
const CONCURRENCY = 16;
const REQUEST_TIMEOUT_MS = 5000;
const MAX_BODY_BYTES = 256 * 1024;

// ---------------------------------------------------------------- seeded generator

function parseSeed(raw: string | undefined): number {
  if (raw === undefined || raw === '') return randomBytes(4).readUInt32BE(0);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`TAMS_FUZZ_SEED must be a 32-bit unsigned integer, got ${raw}`);
  return n;
}

/** mulberry32: small, fast, good enough for test generation, fully determined by the seed. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[this.int(4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}

// ---------------------------------------------------------------- malformed pieces

const UNICODE = ['💥', 'é', 'ñame', '日本語', '\u202e', '\u200b', 'Ω≈ç√', '\ud83d\ude00\ud83d\ude00', 'ﬁ', 'İ', '\u0301', '０１２'];

/** Path segments that are not a valid id of anything (raw: inserted unencoded). */
const BAD_IDS: { text: string; raw?: boolean }[] = [
  { text: 'not-a-uuid' },
  { text: '' },
  { text: ' ' },
  { text: '0' },
  { text: '-1' },
  { text: 'null' },
  { text: 'undefined' },
  { text: 'true' },
  { text: '%2F', raw: true },
  { text: 'a%2Fb', raw: true },
  { text: '%2e%2e', raw: true },
  { text: '..%2F..%2Fetc%2Fpasswd', raw: true },
  { text: '%00', raw: true },
  { text: '%zz', raw: true },
  { text: '%', raw: true },
  { text: '%E2%80%AE', raw: true },
  { text: '%C0%AF', raw: true },
  { text: '..', raw: true },
  { text: 'a;b=c' },
  { text: "' OR 1=1 --" },
  { text: '"; DROP TABLE flows; --' },
  { text: '<script>alert(1)</script>' },
  { text: '${jndi:ldap://x}' },
  { text: '00000000-0000-0000-0000-00000000000' },
  { text: '00000000-0000-0000-0000-0000000000000' },
  { text: 'g0000000-0000-4000-8000-000000000000' },
  { text: '{00000000-0000-4000-8000-000000000000}' },
  { text: '00000000000040008000000000000000' },
  { text: 'a'.repeat(300) },
  { text: 'b'.repeat(5000) },
  ...UNICODE.map((u) => ({ text: u })),
];

const BAD_TIMERANGES = [
  '1:1000000000', '01:0', ' 1:0', '_1:0_', '[1:0)', '(1:0]', 'abc', '[0:0_1:0)x', '[0:0;1:0)', '1:0_2:0_3:0', '', '[', ']', '[_', '[0:0_1:0', '[-:0_1:0)',
  '[99999999999999999999999999:0_)', '[1:9999999999_2:0)', '[1:-1_2:0)', '[1.5:0_2:0)', '[1e3:0_2:0)', '[０:0_1:0)', '[0:0_1:0)%00', '[0:0%5F1:0)', '[0:0_1:0)[0:0_1:0)',
  '[[0:0_1:0)', '[0:0__1:0)', '[:_:)', '[NaN:0_1:0)', '[Infinity:0_)', '2:0_1:0x', 'x'.repeat(2000), ...UNICODE,
];
const BAD_INTS = ['-1', 'abc', '1.5', '1e3', '99999999999999999999', '', 'NaN', 'Infinity', '-Infinity', '0x10', ' 1', '1 ', '+1', '١', '9007199254740993', '-0', '1,2', '[1]'];
const BAD_BOOLS = ['yes', 'no', 'TRUE', 'False', '', '1', '0', 'truee', 'null', 'undefined', 'on', '💥'];
const BAD_ENUMS = ['xyz', '', 'urn:x-nmos:format:bogus', 'urn:x-nmos:format:video/', 'URN:X-NMOS:FORMAT:VIDEO', 'created;drop', 'label,desc', ...UNICODE];
const BAD_KEYS = ['x', '!!!', 'eyJub3QiOiJhIGtleSJ9', '%%%', '%00', '-1', 'a'.repeat(4000), '..%2F', ...UNICODE];

/** Query parameters the TAMS operations read, with values each is likely to reject. */
const PARAM_VALUES: Record<string, readonly string[]> = {
  timerange: BAD_TIMERANGES,
  limit: BAD_INTS,
  page: BAD_KEYS,
  reverse_order: BAD_BOOLS,
  include_timerange: BAD_BOOLS,
  verbose_storage: BAD_BOOLS,
  accept_get_urls: [...BAD_ENUMS, ',', ',,,', 'a,,b'],
  accept_storage_ids: [...BAD_ENUMS, 'not-a-uuid', 'a,b'],
  presigned: BAD_BOOLS,
  include_object_timerange: BAD_BOOLS,
  init_segments: BAD_BOOLS,
  sort_by: BAD_ENUMS,
  format: BAD_ENUMS,
  codec: BAD_ENUMS,
  label: [...BAD_ENUMS, 'x'.repeat(5000)],
  source_id: BAD_IDS.map((b) => b.text),
  profile_id: BAD_IDS.map((b) => b.text),
  collected_by_ids: ['not-a-uuid', ',', 'a,b,c', ...UNICODE],
  frame_width: BAD_INTS,
  frame_height: BAD_INTS,
  status: BAD_ENUMS,
  object_id: ['', ...BAD_KEYS],
  storage_id: ['not-a-uuid', '', ...UNICODE],
  'tag.genre': ['', ...UNICODE, 'x'.repeat(3000)],
  'tag_exists.genre': BAD_BOOLS,
  'flow_tag.genre': UNICODE,
  'flow_tag_exists.genre': BAD_BOOLS,
  'storage_backend_tag.x': UNICODE,
  'storage_backend_tag_exists.x': BAD_BOOLS,
};
const ODD_PARAM_NAMES = ['tag.', 'tag_exists.', 'tag.💥', '__proto__', 'constructor', 'a[b]', 'limit[]', '', ' ', 'tag.%2F', 'x'.repeat(1000), 'timerange%00'];

/** Top-level bodies no TAMS operation accepts, sent as-is. */
const BROKEN_JSON = [
  '{', '{"a":', '[1,2', 'nul', "{'a':1}", '{"a":1,}', '[1,]', '\u0000', '01', '{"a":1}{"b":2}', '"unterminated', '{"a":"\\x"}', 'NaN', '-',
  '{"a":1e}', '\ufeff{"limit":', '[' .repeat(20000), '{"a":' .repeat(5000), 'true false', '{"__proto__":', '\t\n\r ', '{"a":"\ud800"',
];

const CONTENT_TYPES = [
  'text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream',
  'application/json-patch+json', 'application/jsonx', 'json', '*/*', 'application/json; charset=utf-16', 'APPLICATION/JSON',
];

// ---------------------------------------------------------------- random JSON

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ODD_NUMBERS = [0, -1, 1.5, -0.000001, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324, 4294967296, 1e21];
const ODD_STRINGS = ['', ' ', 'null', 'true', '0', '[0:0_1:0)', 'not-a-uuid', 'a'.repeat(5000), '\u0000', '\r\n', '%2F', ...UNICODE];
const ODD_KEYS = ['', '__proto__', 'constructor', 'prototype', 'id', 'timerange', 'object_id', 'limit', '💥', 'a.b', '$ref', 'x'.repeat(300)];

/** An own property even for `__proto__` (plain assignment would set the prototype instead). */
function setOwn(o: { [key: string]: Json }, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function randomJson(r: Rng, depth = 0): Json {
  const k = r.int(depth > 3 ? 4 : 7);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick(ODD_NUMBERS);
    case 3:
      return r.pick(ODD_STRINGS);
    case 4:
    case 5:
      return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    default: {
      const o: { [key: string]: Json } = {};
      for (let i = r.int(4); i > 0; i--) setOwn(o, r.pick(ODD_KEYS), randomJson(r, depth + 1));
      return o;
    }
  }
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Replaces, removes or adds one value somewhere inside `value` (or replaces the whole). */
function mutate(r: Rng, value: Json): Json {
  const v = clone(value);
  const containers: (Json[] | { [key: string]: Json })[] = [];
  const walk = (node: Json): void => {
    if (node !== null && typeof node === 'object') {
      containers.push(node);
      for (const child of Object.values(node)) walk(child);
    }
  };
  walk(v);
  if (containers.length === 0 || r.chance(0.15)) return randomJson(r);
  const target = r.pick(containers);
  const keys = Object.keys(target);
  const op = r.int(5);
  if (Array.isArray(target)) {
    if (op === 0 || target.length === 0) target.push(randomJson(r));
    else if (op === 1) target.splice(r.int(target.length), 1);
    else target[r.int(target.length)] = randomJson(r);
    return v;
  }
  if (op === 0 || keys.length === 0) setOwn(target, r.pick(ODD_KEYS), randomJson(r));
  else if (op === 1) delete target[r.pick(keys)];
  else setOwn(target, r.pick(keys), r.chance(0.3) ? r.pick(ODD_STRINGS) : randomJson(r));
  return v;
}

// ---------------------------------------------------------------- requests

interface FuzzRequest {
  index: number;
  method: string;
  url: string;
  body?: string;
  contentType?: string;
  operationId?: string;
  why: string;
}

interface Fixtures {
  flowIds: string[];
  sourceIds: string[];
  objectIds: string[];
}

function encodeId(r: Rng, bad: { text: string; raw?: boolean }): string {
  if (bad.raw) return bad.text;
  return r.chance(0.8) ? encodeURIComponent(bad.text) : encodeURI(bad.text);
}

function realIdFor(r: Rng, param: string, fx: Fixtures): string {
  if (param === 'flowId') return r.pick(fx.flowIds);
  if (param === 'sourceId') return r.pick(fx.sourceIds);
  if (param === 'objectId') return r.pick(fx.objectIds);
  if (param === 'name') return r.pick(['genre', 'location']);
  return r.uuid(); // webhooks, profiles, delete requests: none exist
}

function badIdFor(r: Rng, param: string, fx: Fixtures): string {
  const k = r.int(10);
  if (k < 2) return r.uuid(); // well formed, but nothing has it
  if (k === 2 && ['flowId', 'sourceId'].includes(param)) return realIdFor(r, param, fx).toUpperCase();
  if (k === 3 && ['flowId', 'sourceId', 'objectId'].includes(param)) return encodeURIComponent(`${realIdFor(r, param, fx)}${r.pick(['x', ' ', '/', '💥', '\u0000'])}`);
  return encodeId(r, r.pick(BAD_IDS));
}

function queryString(r: Rng, duplicate: boolean): string {
  const names = Object.keys(PARAM_VALUES);
  const parts: string[] = [];
  for (let i = 1 + r.int(3); i > 0; i--) {
    const name = r.chance(0.1) ? r.pick(ODD_PARAM_NAMES) : r.pick(names);
    const values = Object.hasOwn(PARAM_VALUES, name) ? PARAM_VALUES[name]! : BAD_ENUMS;
    const value = r.pick(values);
    const enc = (s: string): string => (r.chance(0.85) ? encodeURIComponent(s) : s.replace(/[#&]/g, encodeURIComponent));
    parts.push(`${enc(name)}=${enc(value)}`);
    if (duplicate || r.chance(0.1)) parts.push(`${enc(name)}=${enc(r.pick(values))}`);
  }
  if (r.chance(0.05)) parts.push(r.pick(['&', '=', '==', '&&&', 'limit', 'limit=', '=1', '%', '%zz=1']));
  return `?${parts.join('&')}`;
}

/** A valid request body of each writing operation, to be broken by `mutate`. */
function validBody(operationId: string, flowId: string): Json {
  switch (operationId) {
    case 'POST_service':
      return readSpecJson('examples/service-post.json') as Json;
    case 'POST_profiles-profileId':
      return readSpecJson('examples/profile-put.json') as Json;
    case 'POST_webhooks':
      return readSpecJson('examples/webhook-post.json') as Json;
    case 'PUT_webhooks':
      return readSpecJson('examples/webhook-put.json') as Json;
    case 'PUT_flows-flowId':
      return videoFlow({ id: flowId }) as Json;
    case 'PUT_flows-flowId-read-only':
      return true;
    case 'PUT_flows-flowId-flow-collection':
      return readSpecJson('examples/flow-collection-put.json') as Json;
    case 'PUT_flows-flowId-max-bit-rate':
    case 'PUT_flows-flowId-avg-bit-rate':
      return 5000;
    case 'POST_flows-flowId-segments':
      return { object_id: 'fuzz-object', timerange: '[100:0_101:0)' };
    case 'POST_flows-flowId-storage':
      return { limit: 1 };
    case 'POST_objects-instances':
      return readSpecJson('examples/objects-instances-uncontrolled-post.json') as Json;
    default:
      return 'fuzz'; // tags, labels, descriptions: a string
  }
}

/** A body text the official request schema of `operationId` rejects. */
function invalidBody(r: Rng, operationId: string, flowId: string): { text: string; why: string } {
  const k = r.int(20);
  if (k === 0) {
    // Larger than the gateway accepts, and invalid besides (an array of numbers).
    return { text: `[${'1,'.repeat(MAX_BODY_BYTES / 2 + 10)}1]`, why: 'huge body' };
  }
  if (k <= 4) return { text: r.pick(BROKEN_JSON), why: 'broken JSON' };
  let validate: ((v: unknown) => boolean) | undefined;
  try {
    const compiled = requestValidator(operationId);
    validate = (v) => compiled(v);
  } catch {
    validate = undefined;
  }
  if (validate === undefined) return { text: r.pick(BROKEN_JSON), why: 'broken JSON (no request schema)' };
  let candidate: Json = validBody(operationId, flowId);
  for (let attempt = 0; attempt < 20; attempt++) {
    candidate = mutate(r, attempt % 5 === 4 ? validBody(operationId, flowId) : candidate);
    // What the server will see is the text, so that is what must be invalid.
    const text = JSON.stringify(candidate);
    const parsed = JSON.parse(text) as Json;
    if (!validate(parsed)) {
      const [key] = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? Object.keys(parsed) : [];
      if (key !== undefined && r.chance(0.1)) {
        // A duplicate key: JSON parsers keep the last value, which is the invalid one.
        return { text: `{${JSON.stringify(key)}:"dup",${text.slice(1)}`, why: 'schema-invalid body, duplicate key' };
      }
      return { text, why: 'schema-invalid body' };
    }
  }
  return { text: r.pick(BROKEN_JSON), why: 'broken JSON (no invalid mutation found)' };
}

/** Bodies every writing operation gets once, with real ids, whenever its schema rejects them. */
const CORPUS_BODIES = ['null', '[]', '{}', '""', '0', '-1', 'true', '[null]', '{"":null}', '[[]]', '"\\u0000"', '1e999'];

/** The fixed part of every run: each corpus body against each writing operation. */
function corpus(operations: OperationSummary[], fx: Fixtures): FuzzRequest[] {
  const out: FuzzRequest[] = [];
  const r = new Rng(0);
  for (const op of operations.filter((o) => o.method === 'PUT' || o.method === 'POST')) {
    let validate: ((v: unknown) => boolean) | undefined;
    try {
      const compiled = requestValidator(op.operationId);
      validate = (v) => compiled(v);
    } catch {
      validate = () => false;
    }
    for (const text of CORPUS_BODIES) {
      if (validate(JSON.parse(text))) continue;
      const url = fillPath(r, op.path, (p) => encodeURIComponent(realIdFor(r, p, fx)));
      out.push({ index: -1, method: op.method, url, body: text, contentType: 'application/json', operationId: op.operationId, why: 'corpus body' });
    }
  }
  return out;
}

function fillPath(r: Rng, template: string, pick: (param: string) => string): string {
  return template.replace(/\{([^}]+)\}/g, (_m, param: string) => pick(param));
}

function generate(r: Rng, index: number, operations: OperationSummary[], fx: Fixtures): FuzzRequest {
  // Round robin over the operations so every one gets its share; 1 in 25 is a method the
  // spec does not define on that path.
  const op = operations[index % operations.length]!;
  const params = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const strayMethod = r.chance(0.04);
  const method = strayMethod ? r.pick(['PATCH', 'OPTIONS', 'PUT', 'POST', 'DELETE']) : op.method;
  const reason: string[] = [];

  let pathname: string;
  if (method === 'DELETE') {
    // Never a real id: every parameter malformed or nonexistent.
    pathname = fillPath(r, op.path, (p) => badIdFor(r, p, fx));
    reason.push('bad ids');
  } else if (params.length > 0 && r.chance(0.4)) {
    const bad = r.pick(params);
    pathname = fillPath(r, op.path, (p) => (p === bad ? badIdFor(r, p, fx) : encodeURIComponent(realIdFor(r, p, fx))));
    reason.push(`bad ${bad}`);
  } else {
    pathname = fillPath(r, op.path, (p) => encodeURIComponent(realIdFor(r, p, fx)));
  }

  const writes = method === 'PUT' || method === 'POST' || method === 'PATCH';
  let query = '';
  if (!writes || r.chance(0.2)) {
    if (r.chance(0.85)) {
      const duplicate = r.chance(0.2);
      query = queryString(r, duplicate);
      reason.push(duplicate ? 'duplicate params' : 'bad params');
    }
  }
  if (reason.length === 0) {
    // Nothing malformed yet (a read of real ids without parameters): add bad parameters.
    query = queryString(r, false);
    reason.push('bad params');
  }

  const req: FuzzRequest = { index, method, url: `${pathname}${query}`, why: '' };
  if (writes || (method === 'DELETE' && r.chance(0.05))) {
    const flowId = r.pick(fx.flowIds);
    const body = invalidBody(r, strayMethod ? 'none' : op.operationId, flowId);
    req.body = body.text;
    reason.push(body.why);
    const ct = r.int(10);
    if (ct === 0) req.contentType = r.pick(CONTENT_TYPES);
    else if (ct === 1) req.contentType = 'application/json; charset=utf-8';
    else if (ct === 2) req.contentType = undefined; // no content-type header at all
    else req.contentType = 'application/json';
    if (ct === 0) reason.push(`content-type ${req.contentType}`);
  }
  req.why = reason.join(', ');
  return req;
}

// ---------------------------------------------------------------- sending

interface Outcome {
  req: FuzzRequest;
  status?: number;
  error?: string;
  body?: string;
}

async function send(base: string, req: FuzzRequest): Promise<Outcome> {
  const init: RequestInit = { method: req.method, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), headers: {} };
  if (req.body !== undefined) {
    // A Uint8Array body makes fetch send no content-type unless one is given.
    init.body = Buffer.from(req.body, 'utf8');
    if (req.contentType !== undefined) (init.headers as Record<string, string>)['content-type'] = req.contentType;
  }
  try {
    // Recorded for the parity report as fuzz; a 2xx answer must still conform to the spec.
    const res = await checkedFetch(`${base}${req.url}`, init, { source: 'fuzz' });
    const text = await res.text();
    return { req, status: res.status, body: text.slice(0, 500) };
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
    return { req, error: e instanceof Error ? `${e.name}: ${e.message}${cause}` : String(e) };
  }
}

function describeRequest(req: FuzzRequest): string {
  const body = req.body === undefined ? '' : `\n    body (${req.body.length} chars, content-type ${req.contentType ?? 'none'}): ${JSON.stringify(req.body.slice(0, 300))}`;
  return `#${req.index} ${req.method} ${req.url.length > 400 ? `${req.url.slice(0, 400)}...` : req.url}  [${req.why}]${body}`;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- the suite

describeWithSpec('REST fuzz: malformed requests', () => {
  const seed = parseSeed(process.env.TAMS_FUZZ_SEED);
  let h: Harness;
  const fx: Fixtures = { flowIds: [], sourceIds: [], objectIds: [] };

  beforeAll(async () => {
    // A raw write so the seed is one plain line, printed even if the suite times out.
    process.stdout.write(`rest-fuzz: seed ${seed} (replay: TAMS_FUZZ_SEED=${seed} npx jest test/integration/rest-fuzz), ${COUNT} requests\n`);
    h = await startHarness({ TAMS_MAX_BODY_BYTES: String(MAX_BODY_BYTES) });
    const video = videoFlow();
    const audio = audioFlow();
    for (const flow of [video, audio]) {
      expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      fx.flowIds.push(flow.id as string);
      fx.sourceIds.push(flow.source_id as string);
    }
    const videoId = video.id as string;
    const storage = await h.request('POST', `/flows/${videoId}/storage`, { limit: 3 });
    expect(storage.status).toBe(201);
    const objects = (storage.body as { media_objects: { object_id: string; put_url: { url: string; 'content-type': string } }[] }).media_objects;
    for (const mo of objects) {
      const put = await checkedFetch(mo.put_url.url, { method: 'PUT', body: randomBytes(500), headers: { 'content-type': mo.put_url['content-type'] } });
      expect(put.status).toBe(200);
    }
    const segments = objects.map((mo, i) => ({ object_id: mo.object_id, timerange: `[${i}:0_${i + 1}:0)` }));
    expect((await h.request('POST', `/flows/${videoId}/segments`, segments)).status).toBe(201);
    const audioSeg = { object_id: 'fuzz-uncontrolled-0', timerange: '[0:0_1:0)' };
    expect((await h.request('POST', `/flows/${audio.id as string}/segments`, audioSeg)).status).toBe(201);
    fx.objectIds.push(...objects.map((mo) => mo.object_id), audioSeg.object_id);
  });

  afterAll(async () => {
    await h?.close();
  });

  function snapshot(): { db: string; files: string[] } {
    return { db: tableHashes(h.gateway.store.database), files: fileListing(path.join(h.dataDir, 'objects')) };
  }

  it(`answers ${COUNT} generated malformed requests (plus a fixed corpus) without a 5xx or a hang, and changes nothing`, async () => {
    // Let anything the fixtures started in the background (event dispatch) settle first.
    let before = snapshot();
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      const again = snapshot();
      if (again.db === before.db && JSON.stringify(again.files) === JSON.stringify(before.files)) break;
      before = again;
    }

    const r = new Rng(seed);
    const operations = listOperations();
    const requests = [...corpus(operations, fx), ...Array.from({ length: COUNT }, (_, i) => generate(r, i, operations, fx))];
    requests.forEach((req, i) => (req.index = i));

    const failures: Outcome[] = [];
    /** Writes answered 2xx without changing anything: not a failure, but worth a look. */
    const acceptedWrites: Outcome[] = [];
    const statusCounts = new Map<number, number>();
    const started = Date.now();
    for (let from = 0; from < requests.length; from += BATCH) {
      const batch = requests.slice(from, from + BATCH);
      const outcomes: Outcome[] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < batch.length) {
          const req = batch[next++]!;
          const outcome = await send(h.base, req);
          outcomes.push(outcome);
          if (outcome.status !== undefined) {
            statusCounts.set(outcome.status, (statusCounts.get(outcome.status) ?? 0) + 1);
          }
          if (outcome.status === undefined || outcome.status >= 500) failures.push(outcome);
          else if (outcome.status < 300 && !['GET', 'HEAD', 'OPTIONS'].includes(req.method)) acceptedWrites.push(outcome);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));

      const after = snapshot();
      if (after.db !== before.db || JSON.stringify(after.files) !== JSON.stringify(before.files)) {
        // The culprit is one of this batch's requests; the successful non-reads are the suspects.
        const suspects = outcomes
          .filter((o) => !['GET', 'HEAD'].includes(o.req.method) && o.status !== undefined && o.status < 300)
          .sort((a, b) => a.req.index - b.req.index)
          .slice(0, 20)
          .map((o) => `  ${describeRequest(o.req)}\n    -> ${o.status} ${o.body ?? ''}`);
        throw new Error(
          `seed ${seed}: requests #${from}..#${from + batch.length - 1} changed the stored data ` +
            `(tables ${after.db === before.db ? 'unchanged' : 'CHANGED'}, media files ` +
            `${JSON.stringify(after.files) === JSON.stringify(before.files) ? 'unchanged' : 'CHANGED'}); ` +
            `writes answered 2xx in that batch:\n${suspects.join('\n') || '  (none)'}`,
        );
      }
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const counts = [...statusCounts.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
    process.stdout.write(`rest-fuzz: ${requests.length} requests in ${seconds}s over ${operations.length} operations; statuses ${counts}\n`);
    if (acceptedWrites.length > 0) {
      const shown = acceptedWrites.slice(0, 5).map((o) => `  ${describeRequest(o.req)} -> ${o.status}`);
      process.stdout.write(`rest-fuzz: ${acceptedWrites.length} malformed writes answered 2xx (data unchanged):\n${shown.join('\n')}\n`);
    }

    if (failures.length > 0) {
      failures.sort((a, b) => a.req.index - b.req.index);
      const shown = failures.slice(0, 20).map((f) => `  ${describeRequest(f.req)}\n    -> ${f.error ?? `${f.status} ${f.body ?? ''}`}`);
      throw new Error(
        `seed ${seed}: ${failures.length} request(s) answered 5xx or no response within ${REQUEST_TIMEOUT_MS} ms:\n${shown.join('\n')}`,
      );
    }
  }, 180_000);
});
