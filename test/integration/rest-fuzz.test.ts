import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startHarness, Harness } from '../support/gateway-harness';
import { tableHashes } from '../support/table-hash';
import { describeWithSpec, listOperations, readSpecJson, requestValidator, type OperationSummary } from '../support/tams-spec';
import { audioFlow, videoFlow } from '../fixtures/flows';
import { checkedFetch } from '../support/checked-fetch';
import { sqliteDatabase } from '../support/sqlite-database';

/**
 * Thousands of generated malformed requests (bad ids, timeranges, JSON, types, enums, huge
 * values, unicode, encoded slashes, duplicate parameters) against every operation of the
 * TAMS spec, and malformed, unsigned or wrongly signed requests to the media URLs the
 * gateway serves itself (`/media/...`: traversal, Range headers, methods, signatures,
 * expiries, bodies, second uploads). None may answer 5xx or hang, no write may be answered
 * with success, and the stored data (every row of every table, and the contents of every
 * file in the media directory, by sha256) must be exactly as before each batch.
 *
 * The requests come from a seeded generator; the seed is printed at the start. Replay with
 * `TAMS_FUZZ_SEED=<seed> npx jest test/integration/rest-fuzz` (TAMS_FUZZ_COUNT,
 * TAMS_FUZZ_MEDIA_COUNT: how many).
 *
 * Every write (PUT/POST) carries a body the official request schema rejects (checked with
 * the spec's own schema before sending), or no JSON at all; every DELETE targets a
 * malformed or nonexistent id. So no request here may legitimately change anything. (The
 * media requests' rules are in their own section below.)
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

// ---------------------------------------------------------------- the media routes

/**
 * The local object store's own URLs (src/http/media-routes.ts): `PUT|GET|HEAD /media/<key>?exp=&sig=`,
 * outside the TAMS operations, so the generator above never reaches them. These requests
 * come from the same seed. What they may do:
 * - a PUT with a valid PUT signature goes only to an object that holds bytes already (the
 *   store is write-once: 409) or carries a body over TAMS_MAX_OBJECT_BYTES (413); every other
 *   write is unsigned, wrongly signed, expired, signed for GET or another object, or aims at
 *   a path that is no object key (traversal, encodings, temp-file names). So no media request
 *   here may write, and any write method answered 2xx fails the suite;
 * - a GET or HEAD answers 2xx only for a valid GET signature of an uploaded object, and then
 *   with that object's own bytes (the whole, or the slice its Content-Range names).
 * They are sent with node:http, not fetch: fetch resolves `..` segments and will not send a
 * Content-Length that disagrees with the body, and these requests must reach the server raw.
 */

/** TAMS_MAX_OBJECT_BYTES of the fuzzed gateway: small, so bodies over it stay cheap. */
const MAX_OBJECT_BYTES = 16 * 1024;
/** 1500 by default; TAMS_FUZZ_MEDIA_COUNT overrides it. */
const MEDIA_COUNT = process.env.TAMS_FUZZ_MEDIA_COUNT ? Number(process.env.TAMS_FUZZ_MEDIA_COUNT) : 1500;

interface MediaFixtures {
  /** Objects uploaded through their put_url, with the bytes that were sent. */
  uploaded: { key: string; bytes: Buffer }[];
  /** Keys of objects allocated by POST /flows/{id}/storage and never uploaded. */
  empty: string[];
  /** Signs (method, key, expiry) as the gateway does (its own LocalObjectStore). */
  sign: (method: 'GET' | 'PUT', key: string, expSec: number) => { exp: string; sig: string };
}

/** What a media answer must be (checked in `checkMedia`). */
type MediaExpectation =
  /** A valid GET URL of an uploaded object: 2xx carries exactly its bytes; 416 allowed. */
  | { kind: 'read'; bytes: Buffer }
  /** A valid PUT URL of an object that holds bytes already: 409 MediaObjectExists (413 if the body is declared too large). */
  | { kind: 'exists'; declaredTooLarge: boolean }
  /** A valid PUT URL of an empty object, with a body over the limit: 413, nothing written. */
  | { kind: 'too-large' }
  /** Anything else: a 4xx, never a success. */
  | { kind: 'refused' };

interface MediaRequest {
  index: number;
  method: string;
  /** Sent as-is (raw, not normalised). */
  path: string;
  headers: Record<string, string>;
  /** Bytes sent with a Content-Length (or whatever `headers` declares), or `chunked` bytes streamed without one. */
  body?: Buffer;
  chunked?: number;
  expect: MediaExpectation;
  why: string;
}

const MEDIA_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'COPY', 'MOVE'] as const;

const RANGES = [
  'bytes=0-0', 'bytes=0-', 'bytes=-1', 'bytes=-0', 'bytes=10-5', 'bytes=499-', 'bytes=500-', 'bytes=999999-', 'bytes=0-999999999999',
  'bytes=0-18446744073709551616', `bytes=${'9'.repeat(400)}-`, `bytes=0-${'9'.repeat(400)}`, `bytes=-${'9'.repeat(30)}`, 'bytes=0-1,2-3',
  'bytes=0-1, 5-', 'bytes=', 'bytes=-', 'bytes=a-b', 'bytes=1.5-2', 'bytes=+1-2', 'bytes=0x10-', 'bytes= 0 - 1', 'BYTES=0-1', 'items=0-1',
  'bytes=0-1\t', '', ' ', `bytes=${'0-1,'.repeat(2000)}0-1`, 'bytes=-1-2', 'bytes=--1', 'bytes=1-1-1', 'bytes=0-0;x', 'bytes\u00a0=0-1',
];

/** Well-formed media types (a PUT may carry any: the type is the uploader's choice). */
const MEDIA_TYPES = ['video/mp2t', 'application/octet-stream', 'text/plain; charset=utf-8', 'text/html', 'image/svg+xml', '*/*', 'video/mp4; codecs="avc1.64001f"'];
const BAD_MEDIA_TYPES = ['x', '', ' ', 'video/', '/mp2t', 'video/mp2t;', 'a/b; c', 'text/html, video/mp2t', `video/${'x'.repeat(300)}`, 'vidéo/mp2t'];
const BAD_TYPE_PARAMS = ['&ct=', '&ct=x', '&ct=video%2F', '&ct=video%2Fmp2t&ct=text%2Fhtml', '&ct[]=video%2Fmp2t', `&ct=${'x'.repeat(3000)}`, '&ct=%0d%0aX-Injected:%201'];

const BAD_EXPS = ['', '-1', '0', '1e10', '0x10', '+9999999999', '9'.repeat(16), '9'.repeat(400), '1.5', ' 1', 'NaN', 'Infinity', '٣', '%00'];
const BAD_SIGS = ['', 'x', 'AAAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAB', '='.repeat(22), 'a'.repeat(5000), '%00', '%2F%2F', 'AAAAAAAAAAAAAAAAAAAAAA==', '💥'];

/** Garbage in the places of a key: traversal, encodings, near-misses of the key format, temp-file names. */
function badMediaPaths(key: string): string[] {
  const [a, b, uuid] = key.split('/') as [string, string, string];
  return [
    '/media', '/media/', '/media//', '/media/..', '/media/../tams.db', '/media/../../etc/passwd', '/media/..%2Ftams.db', '/media/%2e%2e/tams.db',
    '/media/%2e%2e%2f%2e%2e%2fsecret.key', '/media/..%5c..%5csecret.key', '/media/..\\..\\secret.key', `/media/${key}/../../../../secret.key`,
    `/media/${a}/${b}/../../../tams.db`, `/media/${key}%2f..%2f..%2f..%2fsecret.key`, `/media/${key.toUpperCase()}`, `/media/${key}/`,
    `/media/${key}.tmp`, `/media/${a}/${b}/.${uuid}.00000000-0000-4000-8000-000000000000.tmp`, `/media/${a}/${b}`, `/media/${a}`,
    `/media/${key}%00`, `/media/${key}%2500`, `/media/${key.replace(/\//g, '%252F')}`, `/media/${key.replace(/\//g, '%5C')}`, `/media//${key}`,
    `/media/./${key}`, `/media/${a}/./${b}/${uuid}`, `/media/${key}x`, `/media/${key.slice(0, -1)}`, `/media/${a}/${b}/${uuid}/${uuid}`,
    `/media/ff/ff/${uuid}`, `/media/${b}/${a}/${uuid}`, `/media/${uuid}`, `/media/${a}${b}/${uuid}`, `/MEDIA/${key}`, `/media/${key};x=y`,
    `/media/${key}%20`, `/media/%20${key}`, `/media/${encodeURIComponent('💥')}`, `/media/${'a'.repeat(5000)}`, `/media/${key}#frag`,
    `/media/${a}/${b}/${uuid.replace(/-/g, '')}`, `/media/${a}/${b}/{${uuid}}`, `/media/${a}/${b}/${uuid.replace('4', '1')}`,
    `/tams.db`, `/objects/${key}`, `/media/${key}/..`, `/media/${key}/.`,
  ];
}

/** The query of a media URL: a valid signature of `method`, or one of the ways it can be wrong. */
function mediaQuery(r: Rng, mx: MediaFixtures, method: 'GET' | 'PUT', key: string, kind: string, nowSec: number): string {
  const valid = mx.sign(method, key, nowSec + 3600);
  const other = method === 'GET' ? 'PUT' : 'GET';
  switch (kind) {
    case 'valid':
      return `?exp=${valid.exp}&sig=${valid.sig}`;
    case 'other-method': {
      const s = mx.sign(other, key, nowSec + 3600);
      return `?exp=${s.exp}&sig=${s.sig}`;
    }
    case 'expired': {
      const s = mx.sign(method, key, nowSec - 600);
      return `?exp=${s.exp}&sig=${s.sig}`;
    }
    case 'other-key': {
      const s = mx.sign(method, newKey(r), nowSec + 3600);
      return `?exp=${s.exp}&sig=${s.sig}`;
    }
    case 'tampered': {
      const i = r.int(valid.sig.length - 1);
      const c = valid.sig[i] === 'A' ? 'B' : 'A';
      return `?exp=${valid.exp}&sig=${valid.sig.slice(0, i)}${c}${valid.sig.slice(i + 1)}`;
    }
    case 'exp-shifted':
      return `?exp=${Number(valid.exp) + r.pick([60, 3600, -60, 1])}&sig=${valid.sig}`;
    case 'bad-exp':
      return `?exp=${r.pick(BAD_EXPS)}&sig=${valid.sig}`;
    case 'bad-sig':
      return `?exp=${valid.exp}&sig=${r.pick(BAD_SIGS)}`;
    case 'no-sig':
      return `?exp=${valid.exp}`;
    case 'no-exp':
      return `?sig=${valid.sig}`;
    case 'none':
      return r.pick(['', '?', '?&', '?exp&sig', '?exp=&sig=']);
    case 'repeated':
      // Repeated parameters arrive as arrays: never a signature, even when each copy is valid.
      return r.pick([
        `?exp=${valid.exp}&sig=${valid.sig}&sig=${valid.sig}`,
        `?exp=${valid.exp}&exp=${valid.exp}&sig=${valid.sig}`,
        `?exp=${valid.exp}&sig=AAAAAAAAAAAAAAAAAAAAAA&sig=${valid.sig}`,
        `?exp=${valid.exp}&sig[]=${valid.sig}`,
        `?exp[]=${valid.exp}&sig=${valid.sig}`,
      ]);
    case 'upper-case':
      return `?EXP=${valid.exp}&SIG=${valid.sig}`;
    default:
      return `?exp=${valid.exp}&sig=${valid.sig}&${r.pick(['x=1', '__proto__[sig]=x', 'constructor=1', `${'a'.repeat(3000)}=1`])}`;
  }
}

const SIGNATURE_KINDS = ['other-method', 'expired', 'other-key', 'tampered', 'exp-shifted', 'bad-exp', 'bad-sig', 'no-sig', 'no-exp', 'none', 'repeated', 'upper-case'];

/** A key of the store's format that nothing allocated. */
function newKey(r: Rng): string {
  const uuid = r.uuid();
  return `${uuid.slice(0, 2)}/${uuid.slice(2, 4)}/${uuid}`;
}

/** A body for a write: bytes, garbled text, JSON, nothing, or over the object limit (declared, or streamed without a length). */
function mediaBody(r: Rng, allowTooLarge: boolean): { body?: Buffer; chunked?: number; why: string; tooLarge: boolean } {
  const k = r.int(allowTooLarge ? 8 : 6);
  if (k === 0) return { body: Buffer.alloc(0), why: 'empty body', tooLarge: false };
  if (k === 1) return { body: Buffer.from(r.pick(BROKEN_JSON).slice(0, 4000), 'utf8'), why: 'JSON-ish body', tooLarge: false };
  if (k === 2) return { body: Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x00, 0xf4, 0x90]), why: 'invalid UTF-8', tooLarge: false };
  if (k === 6) return { body: Buffer.alloc(MAX_OBJECT_BYTES + 1 + r.int(4096), 0x5a), why: 'body over the object limit', tooLarge: true };
  if (k === 7) return { chunked: MAX_OBJECT_BYTES + 1024 + r.int(4096), why: 'chunked body over the object limit', tooLarge: true };
  const bytes = Buffer.alloc(1 + r.int(3000));
  for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
  return { body: bytes, why: `${bytes.length} random bytes`, tooLarge: false };
}

function generateMedia(r: Rng, index: number, mx: MediaFixtures, nowSec: number): MediaRequest {
  const method = r.chance(0.75) ? r.pick(['GET', 'HEAD', 'PUT']) : r.pick(MEDIA_METHODS);
  const signedFor: 'GET' | 'PUT' = method === 'PUT' ? 'PUT' : 'GET';
  const headers: Record<string, string> = {};
  const why: string[] = [];
  const uploaded = r.pick(mx.uploaded);

  // The target: an uploaded object, an allocated empty one, a key nothing allocated, or no key at all.
  const t = r.int(10);
  let key: string;
  let rawPath: string | undefined;
  let target: 'uploaded' | 'empty' | 'unknown' | 'bad';
  if (t < 4) {
    key = uploaded.key;
    target = 'uploaded';
  } else if (t < 6) {
    key = r.pick(mx.empty);
    target = 'empty';
  } else if (t < 7) {
    key = newKey(r);
    target = 'unknown';
  } else {
    key = r.chance(0.5) ? uploaded.key : r.pick(mx.empty);
    rawPath = r.pick(badMediaPaths(key));
    target = 'bad';
  }
  if (target !== 'bad' && r.chance(0.15)) {
    // The same key percent-encoded: the route decodes it, so it names the same object (and must obey the same rules).
    rawPath = `/media/${[...key].map((c) => (r.chance(0.3) ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join('')}`;
    why.push('percent-encoded key');
  }
  why.push(target === 'bad' ? 'bad path' : `${target} object`);

  // The signature: valid only where no write can follow (see the section comment).
  const kind = r.chance(0.35) ? 'valid' : r.pick(SIGNATURE_KINDS);
  const writes = !['GET', 'HEAD', 'OPTIONS'].includes(method);
  let body: ReturnType<typeof mediaBody> | undefined;
  if (writes) {
    body = mediaBody(r, true);
    why.push(body.why);
  }
  const validPut = method === 'PUT' && kind === 'valid' && target !== 'bad';
  if (validPut && target !== 'uploaded' && !body!.tooLarge) {
    // A valid PUT URL of an object without bytes would rightly store them: send too much instead.
    body = r.chance(0.5)
      ? { body: Buffer.alloc(MAX_OBJECT_BYTES + 1 + r.int(4096), 0x5a), why: 'body over the object limit', tooLarge: true }
      : { chunked: MAX_OBJECT_BYTES + 1024 + r.int(4096), why: 'chunked body over the object limit', tooLarge: true };
    why[why.length - 1] = body.why;
  }
  why.push(`signature ${kind}${kind === 'valid' ? ` (${signedFor})` : ''}`);
  const query = mediaQuery(r, mx, signedFor, key, kind, nowSec);

  if ((method === 'GET' || method === 'HEAD') && r.chance(0.6)) {
    headers.range = r.pick(RANGES);
    why.push(`range ${JSON.stringify(headers.range.slice(0, 40))}`);
  }
  // Media types: a valid PUT only gets well-formed ones (a malformed one is refused with 400
  // before the upload is looked at), in the header or in the URL's `ct=`; the rest get anything.
  let typeParam = '';
  if (writes && r.chance(0.7)) headers['content-type'] = r.pick(validPut ? MEDIA_TYPES : [...MEDIA_TYPES, ...BAD_MEDIA_TYPES]);
  if (method === 'PUT' && r.chance(0.2)) {
    typeParam = validPut ? `&ct=${encodeURIComponent(r.pick(MEDIA_TYPES))}` : r.pick(BAD_TYPE_PARAMS);
    why.push('ct= in the URL');
  }
  let declaredTooLarge = body?.tooLarge === true && body.chunked === undefined;
  if (writes && body?.body !== undefined && kind !== 'valid' && r.chance(0.15)) {
    // A Content-Length that lies: shorter (the rest reads as a next request) or huge (refused unread).
    const lie = r.pick(['short', 'huge', 'negative', 'both']);
    if (lie === 'short') headers['content-length'] = String(Math.max(0, body.body.length - 1 - r.int(10)));
    else if (lie === 'huge') headers['content-length'] = String(Number.MAX_SAFE_INTEGER);
    else if (lie === 'negative') headers['content-length'] = '-1';
    else {
      headers['content-length'] = String(body.body.length);
      headers['transfer-encoding'] = 'chunked';
    }
    if (lie === 'huge') declaredTooLarge = true;
    why.push(`content-length ${lie}`);
  }

  // Raw, but HTTP/1.1 request targets are printable ASCII: anything else is percent-encoded.
  const requestPath = `${rawPath ?? `/media/${key}`}${query}${typeParam}`.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));

  let expect: MediaExpectation = { kind: 'refused' };
  if (kind === 'valid' && target === 'uploaded' && (method === 'GET' || method === 'HEAD')) expect = { kind: 'read', bytes: uploaded.bytes };
  else if (validPut && target === 'uploaded') expect = { kind: 'exists', declaredTooLarge };
  else if (validPut) expect = { kind: 'too-large' };
  const req: MediaRequest = { index, method, path: requestPath, headers, expect, why: why.join(', ') };
  if (body?.body !== undefined) req.body = body.body;
  if (body?.chunked !== undefined) req.chunked = body.chunked;
  return req;
}

/** The writes every run makes once: each way of uploading again to an object that has its bytes, and of overfilling an empty one. */
function mediaCorpus(mx: MediaFixtures, nowSec: number): MediaRequest[] {
  const out: MediaRequest[] = [];
  const put = (key: string): string => {
    const s = mx.sign('PUT', key, nowSec + 3600);
    return `/media/${key}?exp=${s.exp}&sig=${s.sig}`;
  };
  for (const { key, bytes } of mx.uploaded) {
    const exists: MediaExpectation = { kind: 'exists', declaredTooLarge: false };
    out.push({ index: -1, method: 'PUT', path: put(key), headers: {}, body: Buffer.from(bytes), expect: exists, why: 'the same bytes again' });
    out.push({ index: -1, method: 'PUT', path: put(key), headers: {}, body: randomBytes(bytes.length), expect: exists, why: 'other bytes, same size' });
    out.push({ index: -1, method: 'PUT', path: put(key), headers: {}, body: Buffer.alloc(0), expect: exists, why: 'an empty body' });
    out.push({ index: -1, method: 'PUT', path: put(key), headers: {}, chunked: 2048, expect: exists, why: 'chunked bytes' });
  }
  for (const key of mx.empty) {
    out.push({ index: -1, method: 'PUT', path: put(key), headers: {}, body: Buffer.alloc(MAX_OBJECT_BYTES + 1, 1), expect: { kind: 'too-large' }, why: 'one byte over the limit' });
    out.push({ index: -1, method: 'PUT', path: put(key), headers: {}, chunked: MAX_OBJECT_BYTES + 1024, expect: { kind: 'too-large' }, why: 'chunked, over the limit' });
  }
  return out;
}

interface MediaOutcome {
  req: MediaRequest;
  status?: number;
  headers?: http.IncomingHttpHeaders;
  body?: Buffer;
  error?: string;
}

async function sendMedia(base: string, req: MediaRequest): Promise<MediaOutcome> {
  const url = new URL(base);
  return new Promise((resolve) => {
    let settled = false;
    let request: http.ClientRequest | undefined;
    const done = (outcome: Omit<MediaOutcome, 'req'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ req, ...outcome });
    };
    const timer = setTimeout(() => {
      request?.destroy();
      done({ error: `no answer within ${REQUEST_TIMEOUT_MS} ms` });
    }, REQUEST_TIMEOUT_MS);
    try {
      // A connection of its own: a request that leaves the stream unreadable must not hit the next one.
      request = http.request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers: req.headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) => done({ error: `response: ${e.message}` }));
      });
    } catch (e) {
      // The generator's fault, not the server's: reported as a failure all the same.
      done({ error: `not sent (${e instanceof Error ? e.message : String(e)})` });
      return;
    }
    const sending = request;
    sending.on('error', (e) => done({ error: `${e.name}: ${e.message}` }));
    if (req.chunked === undefined) {
      sending.end(req.body);
      return;
    }
    let left = req.chunked;
    const chunk = Buffer.alloc(1024, 0x42);
    const write = (): void => {
      while (left > 0 && !settled) {
        const piece = chunk.subarray(0, Math.min(left, chunk.length));
        left -= piece.length;
        if (!sending.write(piece)) {
          sending.once('drain', write);
          return;
        }
      }
      sending.end();
    };
    write();
  });
}

/** What is wrong with a media answer, or undefined (see MediaExpectation). */
function checkMedia(o: MediaOutcome): string | undefined {
  const { req } = o;
  if (o.status === undefined) return o.error ?? 'no answer';
  const status = o.status;
  if (status >= 500) return `${status}`;
  const success = status >= 200 && status < 300;
  const writes = !['GET', 'HEAD', 'OPTIONS'].includes(req.method);
  if (success && writes) return `a malformed write answered ${status}`;
  const typeOf = (): string | undefined => {
    try {
      return (JSON.parse(o.body!.toString('utf8')) as { type?: string }).type;
    } catch {
      return undefined;
    }
  };
  switch (req.expect.kind) {
    case 'exists': {
      if (status === 409 && typeOf() === 'MediaObjectExists') return undefined;
      if (status === 413 && req.expect.declaredTooLarge) return undefined;
      return `${status} ${typeOf() ?? ''} to a second upload (write-once: 409 MediaObjectExists)`;
    }
    case 'too-large':
      return status === 413 && typeOf() === 'PayloadTooLarge' ? undefined : `${status} ${typeOf() ?? ''} to a body over the object limit (413 PayloadTooLarge)`;
    case 'read':
      return checkRead(o, req.expect.bytes);
    default:
      if (success) return `${status} without a valid GET signature of an uploaded object`;
      if (status < 400) return `${status} (expected a 4xx)`;
      return undefined;
  }
}

/** A valid GET or HEAD of an uploaded object: exactly its bytes, the whole or the slice Content-Range names. */
function checkRead(o: MediaOutcome, bytes: Buffer): string | undefined {
  const status = o.status!;
  const body = o.body ?? Buffer.alloc(0);
  const head = o.req.method === 'HEAD';
  const contentRange = o.headers?.['content-range'];
  if (status === 416) return contentRange === `bytes */${bytes.length}` ? undefined : `416 with Content-Range ${contentRange}`;
  if (status === 200) {
    if (contentRange !== undefined) return `200 with Content-Range ${contentRange}`;
    if (o.headers?.['content-length'] !== String(bytes.length)) return `200 with Content-Length ${o.headers?.['content-length']}, the object has ${bytes.length} bytes`;
    if (head) return body.length === 0 ? undefined : 'HEAD answered with a body';
    return body.equals(bytes) ? undefined : `200 with ${body.length} bytes that are not the object's`;
  }
  if (status === 206) {
    if (o.req.headers.range === undefined) return '206 to a request without Range';
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange ?? '');
    if (!m) return `206 with Content-Range ${contentRange}`;
    const [start, end, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (size !== bytes.length || start > end || end >= size) return `206 with Content-Range ${contentRange} of a ${bytes.length}-byte object`;
    if (o.headers?.['content-length'] !== String(end - start + 1)) return `206 with Content-Length ${o.headers?.['content-length']} for ${contentRange}`;
    if (head) return body.length === 0 ? undefined : 'HEAD answered with a body';
    return body.equals(bytes.subarray(start, end + 1)) ? undefined : `206 ${contentRange} with bytes that are not that slice of the object`;
  }
  return status >= 400 && status < 500 && status !== 416 ? `${status} to a valid GET URL of an uploaded object` : `${status}`;
}

function describeMedia(req: MediaRequest): string {
  const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}...` : v}`);
  const body = req.chunked !== undefined ? `, ${req.chunked} bytes chunked` : req.body !== undefined ? `, ${req.body.length}-byte body` : '';
  return `#${req.index} ${req.method} ${req.path.length > 300 ? `${req.path.slice(0, 300)}...` : req.path}  [${req.why}]${headers.length > 0 ? ` {${headers.join('; ')}}` : ''}${body}`;
}

/** sha256 and size of every file under `dir`, by relative path (directories are listed by name only). */
function mediaContents(dir: string): string {
  if (!fs.existsSync(dir)) return '[]';
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, full);
    if (entry.isDirectory()) continue;
    if (!entry.isFile()) {
      out.push(`${rel}: not a regular file`);
      continue;
    }
    const bytes = fs.readFileSync(full);
    out.push(`${rel}: ${bytes.length} bytes sha256 ${createHash('sha256').update(bytes).digest('hex')}`);
  }
  return JSON.stringify(out.sort());
}

/** The lines of `after` not in `before`, and those gone: which files a batch changed. */
function mediaDiff(before: string, after: string): string {
  const b = new Set(JSON.parse(before) as string[]);
  const a = new Set(JSON.parse(after) as string[]);
  const added = [...a].filter((l) => !b.has(l)).map((l) => `  + ${l}`);
  const removed = [...b].filter((l) => !a.has(l)).map((l) => `  - ${l}`);
  return [...removed, ...added].join('\n');
}

// ---------------------------------------------------------------- the suite

describeWithSpec('REST fuzz: malformed requests', () => {
  const seed = parseSeed(process.env.TAMS_FUZZ_SEED);
  let h: Harness;
  const fx: Fixtures = { flowIds: [], sourceIds: [], objectIds: [] };
  let mx: MediaFixtures;

  beforeAll(async () => {
    // A raw write so the seed is one plain line, printed even if the suite times out.
    process.stdout.write(
      `rest-fuzz: seed ${seed} (replay: TAMS_FUZZ_SEED=${seed} npx jest test/integration/rest-fuzz), ${COUNT} requests, ${MEDIA_COUNT} media requests\n`,
    );
    h = await startHarness({ TAMS_MAX_BODY_BYTES: String(MAX_BODY_BYTES), TAMS_MAX_OBJECT_BYTES: String(MAX_OBJECT_BYTES) });
    const video = videoFlow();
    const audio = audioFlow();
    for (const flow of [video, audio]) {
      expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
      fx.flowIds.push(flow.id as string);
      fx.sourceIds.push(flow.source_id as string);
    }
    type Allocated = { object_id: string; put_url: { url: string; 'content-type': string } };
    const allocate = async (flowId: string, limit: number): Promise<Allocated[]> => {
      const storage = await h.request('POST', `/flows/${flowId}/storage`, { limit });
      expect(storage.status).toBe(201);
      return (storage.body as { media_objects: Allocated[] }).media_objects;
    };
    const keyOf = (putUrl: string): string => new URL(putUrl).pathname.replace(/^\/media\//, '');
    const uploaded: MediaFixtures['uploaded'] = [];
    // Segments only name objects allocated here (the gateway refuses object ids it never handed out).
    for (const [flowId, count] of [[video.id as string, 3], [audio.id as string, 1]] as const) {
      const objects = await allocate(flowId, count);
      for (const mo of objects) {
        const bytes = randomBytes(300 + uploaded.length * 100);
        const put = await checkedFetch(mo.put_url.url, { method: 'PUT', body: bytes, headers: { 'content-type': mo.put_url['content-type'] } });
        expect(put.status).toBe(200);
        uploaded.push({ key: keyOf(mo.put_url.url), bytes });
      }
      const segments = objects.map((mo, i) => ({ object_id: mo.object_id, timerange: `[${i}:0_${i + 1}:0)` }));
      expect((await h.request('POST', `/flows/${flowId}/segments`, segments)).status).toBe(201);
      fx.objectIds.push(...objects.map((mo) => mo.object_id));
    }
    // Allocated and never uploaded: a PUT URL exists for each, so a write there would land.
    const empty = (await allocate(video.id as string, 3)).map((mo) => keyOf(mo.put_url.url));
    const objects = h.gateway.localObjects;
    mx = {
      uploaded,
      empty,
      sign: (method, key, expSec) => {
        const url = new URL(method === 'GET' ? objects.signGet(key, h.base, expSec) : objects.signPut(key, h.base, expSec).url);
        return { exp: url.searchParams.get('exp')!, sig: url.searchParams.get('sig')! };
      },
    };
    // The stored bytes are the uploaded ones (what the snapshots below then keep comparing).
    for (const { key, bytes } of uploaded) {
      expect(fs.readFileSync(path.join(objects.rootDir, ...key.split('/'))).equals(bytes)).toBe(true);
    }
    for (const key of empty) expect(fs.existsSync(path.join(objects.rootDir, ...key.split('/')))).toBe(false);
  });

  afterAll(async () => {
    await h?.close();
  });

  /** Every row of every table, and the name, size and sha256 of every file in the media directory. */
  function snapshot(): { db: string; media: string } {
    return { db: tableHashes(sqliteDatabase(h.gateway.store)), media: mediaContents(h.gateway.localObjects.rootDir) };
  }

  const same = (a: { db: string; media: string }, b: { db: string; media: string }): boolean => a.db === b.db && a.media === b.media;

  /** The snapshot once anything the fixtures started in the background (event dispatch) has settled. */
  async function settled(): Promise<{ db: string; media: string }> {
    let before = snapshot();
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      const again = snapshot();
      if (same(again, before)) break;
      before = again;
    }
    return before;
  }

  it(`answers ${COUNT} generated malformed requests (plus a fixed corpus) without a 5xx, a hang or a write`, async () => {
    let before = await settled();

    const r = new Rng(seed);
    const operations = listOperations();
    const requests = [...corpus(operations, fx), ...Array.from({ length: COUNT }, (_, i) => generate(r, i, operations, fx))];
    requests.forEach((req, i) => (req.index = i));

    const failures: Outcome[] = [];
    /** Malformed writes answered 2xx: the request was refused nowhere, whatever it changed. */
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
          if (outcome.status !== undefined) statusCounts.set(outcome.status, (statusCounts.get(outcome.status) ?? 0) + 1);
          if (outcome.status === undefined || outcome.status >= 500) failures.push(outcome);
          else if (outcome.status < 300 && !['GET', 'HEAD', 'OPTIONS'].includes(req.method)) acceptedWrites.push(outcome);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));

      const after = snapshot();
      if (!same(after, before)) {
        // The culprit is one of this batch's requests; the successful non-reads are the suspects.
        const suspects = outcomes
          .filter((o) => !['GET', 'HEAD'].includes(o.req.method) && o.status !== undefined && o.status < 300)
          .sort((a, b) => a.req.index - b.req.index)
          .slice(0, 20)
          .map((o) => `  ${describeRequest(o.req)}\n    -> ${o.status} ${o.body ?? ''}`);
        throw new Error(
          `seed ${seed}: requests #${from}..#${from + batch.length - 1} changed the stored data ` +
            `(tables ${after.db === before.db ? 'unchanged' : 'CHANGED'}, media files ` +
            `${after.media === before.media ? 'unchanged' : `CHANGED:\n${mediaDiff(before.media, after.media)}\n`}); ` +
            `writes answered 2xx in that batch:\n${suspects.join('\n') || '  (none)'}`,
        );
      }
      before = after;
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const counts = [...statusCounts.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
    process.stdout.write(`rest-fuzz: ${requests.length} requests in ${seconds}s over ${operations.length} operations; statuses ${counts}\n`);

    const problems: string[] = [];
    if (failures.length > 0) {
      failures.sort((a, b) => a.req.index - b.req.index);
      const shown = failures.slice(0, 20).map((f) => `  ${describeRequest(f.req)}\n    -> ${f.error ?? `${f.status} ${f.body ?? ''}`}`);
      problems.push(`${failures.length} request(s) answered 5xx or no response within ${REQUEST_TIMEOUT_MS} ms:\n${shown.join('\n')}`);
    }
    if (acceptedWrites.length > 0) {
      acceptedWrites.sort((a, b) => a.req.index - b.req.index);
      const shown = acceptedWrites.slice(0, 20).map((o) => `  ${describeRequest(o.req)}\n    -> ${o.status} ${o.body ?? ''}`);
      problems.push(`${acceptedWrites.length} malformed write(s) answered with success:\n${shown.join('\n')}`);
    }
    if (problems.length > 0) throw new Error(`seed ${seed}: ${problems.join('\n')}`);
  }, 180_000);

  it(`answers ${MEDIA_COUNT} generated media requests (plus a fixed corpus of re-uploads) as their signatures allow, writing nothing`, async () => {
    let before = await settled();
    const nowSec = Math.floor(Date.now() / 1000);
    const r = new Rng(seed ^ 0x6d656469);
    const requests = [...mediaCorpus(mx, nowSec), ...Array.from({ length: MEDIA_COUNT }, (_, i) => generateMedia(r, i, mx, nowSec))];
    requests.forEach((req, i) => (req.index = i));

    const failures: { o: MediaOutcome; why: string }[] = [];
    const tally = new Map<string, number>();
    const started = Date.now();
    for (let from = 0; from < requests.length; from += BATCH) {
      const batch = requests.slice(from, from + BATCH);
      const outcomes: MediaOutcome[] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < batch.length) {
          const o = await sendMedia(h.base, batch[next++]!);
          outcomes.push(o);
          const key = `${o.req.method} ${o.status ?? 'none'}`;
          tally.set(key, (tally.get(key) ?? 0) + 1);
          const wrong = checkMedia(o);
          if (wrong !== undefined) failures.push({ o, why: wrong });
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));

      const after = snapshot();
      if (!same(after, before)) {
        // Writes answered 2xx first, then the ones with a valid PUT URL (answered otherwise).
        const rank = (o: MediaOutcome): number => (o.status !== undefined && o.status < 300 ? 0 : 1);
        const suspects = outcomes
          .filter((o) => !['GET', 'HEAD', 'OPTIONS'].includes(o.req.method))
          .filter((o) => o.status === undefined || o.status < 300 || o.req.expect.kind !== 'refused')
          .sort((a, b) => rank(a) - rank(b) || a.req.index - b.req.index)
          .slice(0, 20)
          .map((o) => `  ${describeMedia(o.req)}\n    -> ${o.status ?? o.error} ${o.body?.toString('utf8').slice(0, 200) ?? ''}`);
        throw new Error(
          `seed ${seed}: media requests #${from}..#${from + batch.length - 1} changed the stored data ` +
            `(tables ${after.db === before.db ? 'unchanged' : 'CHANGED'}, media files ` +
            `${after.media === before.media ? 'unchanged' : `CHANGED:\n${mediaDiff(before.media, after.media)}\n`}); ` +
            `writes answered 2xx or aimed at a signed URL in that batch:\n${suspects.join('\n') || '  (none)'}`,
        );
      }
      before = after;
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const counts = [...tally.entries()].sort().map(([k, n]) => `${k}:${n}`).join(' ');
    process.stdout.write(`rest-fuzz: ${requests.length} media requests in ${seconds}s; ${counts}\n`);

    // Each way a request can be answered was reached, or the run proves less than it says.
    const reached = (pred: (o: MediaRequest) => boolean): boolean => requests.some(pred);
    expect({
      reads: reached((q) => q.expect.kind === 'read'),
      reUploads: reached((q) => q.expect.kind === 'exists'),
      overLimit: reached((q) => q.expect.kind === 'too-large'),
      refusedWrites: reached((q) => q.expect.kind === 'refused' && q.method === 'PUT'),
    }).toEqual({ reads: true, reUploads: true, overLimit: true, refusedWrites: true });

    if (failures.length > 0) {
      failures.sort((a, b) => a.o.req.index - b.o.req.index);
      const shown = failures.slice(0, 20).map(({ o, why }) => `  ${describeMedia(o.req)}\n    -> ${why}: ${o.status ?? o.error} ${o.body?.toString('utf8').slice(0, 200) ?? ''}`);
      throw new Error(`seed ${seed}: ${failures.length} media request(s) answered wrongly:\n${shown.join('\n')}`);
    }
  }, 180_000);
});
