import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { startHarness, Harness, TamsResponse } from '../support/gateway-harness';
import { fileListing, tableHashes } from '../support/table-hash';
import { allocateObjects } from '../support/allocate-objects';
import { videoFlow } from '../fixtures/flows';
import { sqliteDatabase } from '../support/sqlite-database';

/**
 * Every kind of bad input answers the documented status with a TAMS error body, and leaves
 * the metadata database (every row of every table) and the media directory exactly as
 * they were.
 */

function snapshot(h: Harness): { db: string; files: string[] } {
  return { db: tableHashes(sqliteDatabase(h.gateway.store)), files: fileListing(path.join(h.dataDir, 'objects')) };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function expectErrorBody(res: TamsResponse): void {
  expect(res.headers.get('content-type') ?? '').toContain('application/json');
  const body = res.body as Record<string, unknown>;
  expect(typeof body).toBe('object');
  expect(typeof body.type).toBe('string');
  expect(typeof body.summary).toBe('string');
  expect(typeof body.message).toBe('string');
  expect(typeof body.time).toBe('string');
  expect(body.time).toMatch(ISO_TIME);
  expect(Number.isNaN(Date.parse(body.time as string))).toBe(false);
}

interface BadCase {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
}

/** Sends the request; asserts the status, the error body and that nothing changed. */
async function expectRejected(h: Harness, c: Omit<BadCase, 'name'>): Promise<TamsResponse> {
  const before = snapshot(h);
  const res = await h.request(c.method, c.path, c.body, c.headers);
  if (res.status !== c.status) {
    throw new Error(`${c.method} ${c.path} -> ${res.status}, expected ${c.status}: ${res.text.slice(0, 500)}`);
  }
  expectErrorBody(res);
  expect(snapshot(h)).toEqual(before);
  return res;
}

const q = encodeURIComponent;

// Fixed ids so the case tables below can be built before the harness starts.
const FLOW_A = randomUUID(); // video flow with segments [0:0_2:0) [2:0_4:0) [4:0_6:0)
const FLOW_NO_CONTAINER = randomUUID();
const NEW_FLOW = randomUUID(); // never created: bad PUTs must not create it
const flowA = videoFlow({ id: FLOW_A, label: 'flow a' });
const flowNoContainer = videoFlow({ id: FLOW_NO_CONTAINER, container: undefined, label: 'no container' });
const SOURCE_A = flowA.source_id as string;

const BAD_TIMERANGES = ['1:1000000000', '01:0', ' 1:0', '_1:0_', '[1:0)', '(1:0]', 'abc', '[0:0_1:0)x', '[0:0;1:0)', '1:0_2:0_3:0', ''];

const pathCases: BadCase[] = [
  { name: 'GET /flows/not-a-uuid', method: 'GET', path: '/flows/not-a-uuid', status: 404 },
  { name: 'GET /sources/XYZ', method: 'GET', path: '/sources/XYZ', status: 404 },
  { name: 'GET /flows/{UPPERCASE uuid}', method: 'GET', path: `/flows/${FLOW_A.toUpperCase()}`, status: 404 },
  { name: 'GET /sources/{UPPERCASE uuid}', method: 'GET', path: `/sources/${SOURCE_A.toUpperCase()}`, status: 404 },
  { name: 'GET /flows/{uuid with braces}', method: 'GET', path: `/flows/${q(`{${FLOW_A}}`)}`, status: 404 },
  { name: 'GET /flows/not-a-uuid/segments', method: 'GET', path: '/flows/not-a-uuid/segments', status: 404 },
  {
    name: 'POST /flows/not-a-uuid/segments',
    method: 'POST',
    path: '/flows/not-a-uuid/segments',
    body: { object_id: 'x', timerange: '[100:0_101:0)' },
    status: 404,
  },
  { name: 'DELETE /flows/not-a-uuid/segments', method: 'DELETE', path: '/flows/not-a-uuid/segments', status: 404 },
  { name: 'POST /flows/not-a-uuid/storage', method: 'POST', path: '/flows/not-a-uuid/storage', body: { limit: 1 }, status: 404 },
  { name: 'DELETE /flows/not-a-uuid', method: 'DELETE', path: '/flows/not-a-uuid', status: 404 },
  { name: 'DELETE /flows/{UPPERCASE uuid}', method: 'DELETE', path: `/flows/${FLOW_A.toUpperCase()}`, status: 404 },
  {
    name: 'PUT /flows/not-a-uuid',
    method: 'PUT',
    path: '/flows/not-a-uuid',
    body: { ...videoFlow(), id: 'not-a-uuid' },
    status: 404,
  },
];

const queryCases: BadCase[] = [
  ...BAD_TIMERANGES.flatMap((tr): BadCase[] => [
    { name: `GET /flows?timerange=${JSON.stringify(tr)}`, method: 'GET', path: `/flows?timerange=${q(tr)}`, status: 400 },
    { name: `GET /flows/{id}?timerange=${JSON.stringify(tr)}`, method: 'GET', path: `/flows/${FLOW_A}?timerange=${q(tr)}`, status: 400 },
    {
      name: `GET segments?timerange=${JSON.stringify(tr)}`,
      method: 'GET',
      path: `/flows/${FLOW_A}/segments?timerange=${q(tr)}`,
      status: 400,
    },
    {
      name: `DELETE segments?timerange=${JSON.stringify(tr)}`,
      method: 'DELETE',
      path: `/flows/${FLOW_A}/segments?timerange=${q(tr)}`,
      status: 400,
    },
  ]),
  ...['0', '-1', 'abc', '1.5', '', '1e2', '99999999999999999999'].flatMap((limit): BadCase[] => [
    { name: `GET /flows?limit=${limit}`, method: 'GET', path: `/flows?limit=${q(limit)}`, status: 400 },
    { name: `GET /sources?limit=${limit}`, method: 'GET', path: `/sources?limit=${q(limit)}`, status: 400 },
    { name: `GET segments?limit=${limit}`, method: 'GET', path: `/flows/${FLOW_A}/segments?limit=${q(limit)}`, status: 400 },
  ]),
  { name: 'GET /flows?reverse_order=yes', method: 'GET', path: '/flows?reverse_order=yes', status: 400 },
  { name: 'GET /sources?reverse_order=yes', method: 'GET', path: '/sources?reverse_order=yes', status: 400 },
  { name: 'GET segments?reverse_order=yes', method: 'GET', path: `/flows/${FLOW_A}/segments?reverse_order=yes`, status: 400 },
  { name: 'GET /flows/{id}?include_timerange=1', method: 'GET', path: `/flows/${FLOW_A}?include_timerange=1`, status: 400 },
  { name: 'GET /flows?format=bogus', method: 'GET', path: '/flows?format=bogus', status: 400 },
  { name: 'GET /sources?format=bogus', method: 'GET', path: '/sources?format=bogus', status: 400 },
  { name: 'GET /flows?sort_by=bogus', method: 'GET', path: '/flows?sort_by=bogus', status: 400 },
  { name: 'GET /sources?sort_by=bogus', method: 'GET', path: '/sources?sort_by=bogus', status: 400 },
  { name: 'GET /flows?source_id=not-uuid', method: 'GET', path: '/flows?source_id=not-uuid', status: 400 },
  { name: 'GET /flows?frame_width=x', method: 'GET', path: '/flows?frame_width=x', status: 400 },
  { name: 'GET /flows?frame_height=-1', method: 'GET', path: '/flows?frame_height=-1', status: 400 },
  { name: 'GET /flows?tag_exists.genre=maybe', method: 'GET', path: '/flows?tag_exists.genre=maybe', status: 400 },
  {
    name: 'GET segments?accept_storage_ids=bad',
    method: 'GET',
    path: `/flows/${FLOW_A}/segments?accept_storage_ids=bad`,
    status: 400,
  },
  { name: 'GET /objects/{id}?accept_storage_ids=bad', method: 'GET', path: '/objects/seg-0?accept_storage_ids=bad', status: 400 },
  { name: 'GET segments?presigned=maybe', method: 'GET', path: `/flows/${FLOW_A}/segments?presigned=maybe`, status: 400 },
  { name: 'GET segments?verbose_storage=1', method: 'GET', path: `/flows/${FLOW_A}/segments?verbose_storage=1`, status: 400 },
  {
    name: 'GET segments?include_object_timerange=yes',
    method: 'GET',
    path: `/flows/${FLOW_A}/segments?include_object_timerange=yes`,
    status: 400,
  },
  { name: 'GET /flows?limit=1&limit=2', method: 'GET', path: '/flows?limit=1&limit=2', status: 400 },
  { name: 'GET /sources?label=a&label=b', method: 'GET', path: '/sources?label=a&label=b', status: 400 },
  { name: 'GET segments?timerange=_&timerange=_', method: 'GET', path: `/flows/${FLOW_A}/segments?timerange=_&timerange=_`, status: 400 },
  {
    name: 'DELETE segments?timerange=_&timerange=_',
    method: 'DELETE',
    path: `/flows/${FLOW_A}/segments?timerange=_&timerange=_`,
    status: 400,
  },
  { name: 'GET /flows?page=garbage', method: 'GET', path: '/flows?page=garbage', status: 400 },
  { name: 'GET /sources?page=garbage', method: 'GET', path: '/sources?page=garbage', status: 400 },
  { name: 'GET segments?page=garbage', method: 'GET', path: `/flows/${FLOW_A}/segments?page=garbage`, status: 400 },
];

const { format: _format, ...flowWithoutFormat } = videoFlow({ id: NEW_FLOW });
const { source_id: _sourceId, ...flowWithoutSource } = videoFlow({ id: NEW_FLOW });

const flowBodyCases: BadCase[] = [
  { name: 'not JSON', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: '{"id": ', status: 400 },
  { name: 'empty JSON body', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: '', headers: { 'content-type': 'application/json' }, status: 400 },
  { name: 'JSON array', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: [videoFlow({ id: NEW_FLOW })], status: 400 },
  { name: 'JSON string', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: '"flow"', status: 400 },
  { name: 'JSON null', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: 'null', status: 400 },
  { name: 'missing format', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: flowWithoutFormat, status: 400 },
  { name: 'missing source_id', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: flowWithoutSource, status: 400 },
  {
    name: 'wrong format enum',
    method: 'PUT',
    path: `/flows/${NEW_FLOW}`,
    body: videoFlow({ id: NEW_FLOW, format: 'urn:x-nmos:format:smell' }),
    status: 400,
  },
  { name: 'id mismatch with path', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: videoFlow(), status: 400 },
  { name: 'id mismatch with path (existing flow)', method: 'PUT', path: `/flows/${FLOW_A}`, body: videoFlow({ source_id: SOURCE_A }), status: 400 },
  { name: 'codec without slash', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: videoFlow({ id: NEW_FLOW, codec: 'h264' }), status: 400 },
  {
    name: 'frame_width 0',
    method: 'PUT',
    path: `/flows/${NEW_FLOW}`,
    body: videoFlow({
      id: NEW_FLOW,
      essence_parameters: { frame_rate: { numerator: 25 }, frame_width: 0, frame_height: 1080 },
    }),
    status: 400,
  },
  {
    name: 'unknown essence parameter',
    method: 'PUT',
    path: `/flows/${NEW_FLOW}`,
    body: videoFlow({
      id: NEW_FLOW,
      essence_parameters: { frame_rate: { numerator: 25 }, frame_width: 1920, frame_height: 1080, smell: 'fresh' },
    }),
    status: 400,
  },
  {
    name: 'profile_id together with technical metadata',
    method: 'PUT',
    path: `/flows/${NEW_FLOW}`,
    body: videoFlow({ id: NEW_FLOW, profile_id: randomUUID() }),
    status: 400,
  },
  { name: 'label over the limit', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: videoFlow({ id: NEW_FLOW, label: 'x'.repeat(5000) }), status: 400 },
  { name: 'tags with a number value', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: videoFlow({ id: NEW_FLOW, tags: { genre: 3 } }), status: 400 },
  { name: 'read_only as a string', method: 'PUT', path: `/flows/${NEW_FLOW}`, body: videoFlow({ id: NEW_FLOW, read_only: 'yes' }), status: 400 },
  {
    name: 'content-type application/x-www-form-urlencoded',
    method: 'PUT',
    path: `/flows/${NEW_FLOW}`,
    body: 'id=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
  },
  {
    name: 'content-type text/plain',
    method: 'PUT',
    path: `/flows/${NEW_FLOW}`,
    body: JSON.stringify(videoFlow({ id: NEW_FLOW })),
    headers: { 'content-type': 'text/plain' },
    status: 415,
  },
];

const segmentsA = `/flows/${FLOW_A}/segments`;
const segmentBodyCases: BadCase[] = [
  { name: 'bad timerange', method: 'POST', path: segmentsA, body: { object_id: 'n-1', timerange: 'garbage' }, status: 400 },
  { name: 'empty () timerange', method: 'POST', path: segmentsA, body: { object_id: 'n-1', timerange: '()' }, status: 400 },
  { name: 'empty [5:0_5:0) timerange', method: 'POST', path: segmentsA, body: { object_id: 'n-1', timerange: '[100:0_100:0)' }, status: 400 },
  { name: 'unbounded [0:0_', method: 'POST', path: segmentsA, body: { object_id: 'n-1', timerange: '[0:0_' }, status: 400 },
  { name: 'unbounded [100:0_', method: 'POST', path: segmentsA, body: { object_id: 'n-1', timerange: '[100:0_' }, status: 400 },
  { name: 'unbounded _100:0)', method: 'POST', path: segmentsA, body: { object_id: 'n-1', timerange: '_100:0)' }, status: 400 },
  { name: 'eternity _', method: 'POST', path: segmentsA, body: { object_id: 'n-1', timerange: '_' }, status: 400 },
  {
    name: 'negative last_duration',
    method: 'POST',
    path: segmentsA,
    body: { object_id: 'n-1', timerange: '[100:0_102:0)', last_duration: '-1:0' },
    status: 400,
  },
  { name: 'missing object_id', method: 'POST', path: segmentsA, body: { timerange: '[100:0_102:0)' }, status: 400 },
  { name: 'missing timerange', method: 'POST', path: segmentsA, body: { object_id: 'n-1' }, status: 400 },
  {
    name: 'missing object_id in an array item',
    method: 'POST',
    path: segmentsA,
    body: [{ object_id: 'n-1', timerange: '[100:0_102:0)' }, { timerange: '[102:0_104:0)' }],
    status: 400,
  },
  { name: 'JSON string body', method: 'POST', path: segmentsA, body: '"segment"', status: 400 },
  { name: 'JSON number body', method: 'POST', path: segmentsA, body: '42', status: 400 },
  { name: 'JSON null body', method: 'POST', path: segmentsA, body: 'null', status: 400 },
  { name: 'array of non-objects', method: 'POST', path: segmentsA, body: [1, 2], status: 400 },
  { name: 'not JSON', method: 'POST', path: segmentsA, body: '[{', status: 400 },
  {
    name: 'overlapping an existing segment',
    method: 'POST',
    path: segmentsA,
    body: { object_id: 'n-1', timerange: '[1:0_3:0)' },
    status: 400,
  },
  {
    name: 'touching inside an existing segment (instant)',
    method: 'POST',
    path: segmentsA,
    body: { object_id: 'n-1', timerange: '[0:0]' },
    status: 400,
  },
  {
    name: 'a flow with no container',
    method: 'POST',
    path: `/flows/${FLOW_NO_CONTAINER}/segments`,
    body: { object_id: 'n-1', timerange: '[0:0_1:0)' },
    status: 400,
  },
  {
    name: 'unknown flow',
    method: 'POST',
    path: `/flows/${NEW_FLOW}/segments`,
    body: { object_id: 'n-1', timerange: '[0:0_1:0)' },
    status: 404,
  },
  {
    name: 'content-type text/plain',
    method: 'POST',
    path: segmentsA,
    body: JSON.stringify({ object_id: 'n-1', timerange: '[100:0_102:0)' }),
    headers: { 'content-type': 'text/plain' },
    status: 415,
  },
];

const storageA = `/flows/${FLOW_A}/storage`;
const storageBodyCases: BadCase[] = [
  { name: 'limit and object_ids both', method: 'POST', path: storageA, body: { limit: 1, object_ids: ['fresh-1'] }, status: 400 },
  { name: 'limit 0', method: 'POST', path: storageA, body: { limit: 0 }, status: 400 },
  { name: 'limit -3', method: 'POST', path: storageA, body: { limit: -3 }, status: 400 },
  { name: 'limit as a string', method: 'POST', path: storageA, body: { limit: 'three' }, status: 400 },
  { name: 'object_ids with a registered id', method: 'POST', path: storageA, body: { object_ids: ['seg-0'] }, status: 400 },
  { name: 'object_ids with an allocated id', method: 'POST', path: storageA, body: { object_ids: ['alloc-1'] }, status: 400 },
  {
    name: 'object_ids with a fresh id and an existing one',
    method: 'POST',
    path: storageA,
    body: { object_ids: ['fresh-1', 'seg-1'] },
    status: 400,
  },
  { name: 'object_ids with duplicates', method: 'POST', path: storageA, body: { object_ids: ['fresh-2', 'fresh-2'] }, status: 400 },
  { name: 'object_ids not an array', method: 'POST', path: storageA, body: { object_ids: 'fresh-1' }, status: 400 },
  { name: 'storage_id not an advertised backend', method: 'POST', path: storageA, body: { storage_id: randomUUID() }, status: 400 },
  { name: 'storage_id not a uuid', method: 'POST', path: storageA, body: { storage_id: 'local' }, status: 400 },
  { name: 'presigned false', method: 'POST', path: storageA, body: { limit: 1, presigned: false }, status: 400 },
  { name: 'content_type not a mime type', method: 'POST', path: storageA, body: { limit: 1, content_type: 'mpeg' }, status: 400 },
  { name: 'JSON array body', method: 'POST', path: storageA, body: [{ limit: 1 }], status: 400 },
  { name: 'flow with no container', method: 'POST', path: `/flows/${FLOW_NO_CONTAINER}/storage`, body: { limit: 1 }, status: 400 },
  { name: 'unknown flow', method: 'POST', path: `/flows/${NEW_FLOW}/storage`, body: { limit: 1 }, status: 404 },
];

const serviceBodyCases: BadCase[] = [
  { name: 'name as a number', method: 'POST', path: '/service', body: { name: 42 }, status: 400 },
  { name: 'description as an object', method: 'POST', path: '/service', body: { description: { a: 1 } }, status: 400 },
  { name: 'JSON array', method: 'POST', path: '/service', body: [{ name: 'x' }], status: 400 },
  { name: 'not JSON', method: 'POST', path: '/service', body: '{name:', status: 400 },
];

describe('REST bad input: each bad input gets the TAMS error body and changes nothing', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    expect((await h.request('PUT', `/flows/${FLOW_A}`, flowA)).status).toBe(201);
    expect((await h.request('PUT', `/flows/${FLOW_NO_CONTAINER}`, flowNoContainer)).status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const filler = videoFlow({ label: `filler ${i}` });
      expect((await h.request('PUT', `/flows/${filler.id as string}`, filler)).status).toBe(201);
    }
    const alloc = await h.request('POST', storageA, { object_ids: ['alloc-1'] });
    expect(alloc.status).toBe(201);
    const segs = [0, 1, 2].map((i) => ({ object_id: `seg-${i}`, timerange: `[${i * 2}:0_${i * 2 + 2}:0)` }));
    await allocateObjects(h, FLOW_A, segs.map((x) => x.object_id));
    expect((await h.request('POST', segmentsA, segs)).status).toBe(201);
  });

  afterAll(async () => {
    await h.close();
  });

  it('tableHashes sees a change (sanity check of the helper)', async () => {
    const before = tableHashes(sqliteDatabase(h.gateway.store));
    expect(tableHashes(sqliteDatabase(h.gateway.store))).toBe(before);
    const res = await h.request('POST', '/service', { description: `changed ${randomUUID()}` });
    expect(res.status).toBe(200);
    expect(tableHashes(sqliteDatabase(h.gateway.store))).not.toBe(before);
  });

  describe('malformed ids in the path -> 404', () => {
    it.each(pathCases)('$name', async (c) => {
      await expectRejected(h, c);
    });
  });

  describe('bad query parameters -> 400', () => {
    it.each(queryCases)('$name', async (c) => {
      await expectRejected(h, c);
    });

    it('accepts the open-ended timerange [0:0_ (valid per timerange.json), as a control', async () => {
      const res = await h.request('GET', `${segmentsA}?timerange=${q('[0:0_')}`);
      expect(res.status).toBe(200);
      expect((res.body as unknown[]).length).toBe(3);
    });
  });

  describe('tampered and foreign page cursors -> 400', () => {
    const flip = (s: string, at: number): string => `${s.slice(0, at)}${s[at] === 'A' ? 'B' : 'A'}${s.slice(at + 1)}`;

    async function cursorOf(p: string): Promise<string> {
      const res = await h.request('GET', p);
      expect(res.status).toBe(200);
      const key = res.headers.get('x-paging-nextkey');
      expect(key).toBeTruthy();
      // The real cursor is accepted.
      const sep = p.includes('?') ? '&' : '?';
      expect((await h.request('GET', `${p}${sep}page=${q(key!)}`)).status).toBe(200);
      return key!;
    }

    it.each([
      ['/flows', '/flows?limit=1'],
      ['/sources', '/sources?limit=1'],
      ['/flows/{id}/segments', `${segmentsA}?limit=1`],
    ])('%s: one character flipped anywhere in the sealed cursor (nonce, ciphertext, tag)', async (_name, listing) => {
      const cursor = await cursorOf(listing);
      expect(cursor.length).toBeGreaterThan(40);
      // 16 base64url characters are the nonce, the last 22 the tag, the middle the ciphertext.
      for (const at of [0, 8, 16, Math.floor(cursor.length / 2), cursor.length - 22, cursor.length - 1]) {
        await expectRejected(h, { method: 'GET', path: `${listing}&page=${q(flip(cursor, at))}`, status: 400 });
      }
      await expectRejected(h, { method: 'GET', path: `${listing}&page=${q(cursor.slice(0, -1))}`, status: 400 });
      await expectRejected(h, { method: 'GET', path: `${listing}&page=${q(`${cursor}x`)}`, status: 400 });
    });

    it('a cursor from /flows is refused by /sources and by segments, and vice versa', async () => {
      const flowsCursor = await cursorOf('/flows?limit=1');
      const sourcesCursor = await cursorOf('/sources?limit=1');
      const segmentsCursor = await cursorOf(`${segmentsA}?limit=1`);
      await expectRejected(h, { method: 'GET', path: `/sources?limit=1&page=${q(flowsCursor)}`, status: 400 });
      await expectRejected(h, { method: 'GET', path: `${segmentsA}?limit=1&page=${q(flowsCursor)}`, status: 400 });
      await expectRejected(h, { method: 'GET', path: `/flows?limit=1&page=${q(sourcesCursor)}`, status: 400 });
      await expectRejected(h, { method: 'GET', path: `/flows?limit=1&page=${q(segmentsCursor)}`, status: 400 });
      // Same listing but another ordering is another listing.
      await expectRejected(h, { method: 'GET', path: `/flows?limit=1&reverse_order=true&page=${q(flowsCursor)}`, status: 400 });
      await expectRejected(h, { method: 'GET', path: `/flows?limit=1&sort_by=label&page=${q(flowsCursor)}`, status: 400 });
      // A segments cursor of one flow on another flow.
      await expectRejected(h, { method: 'GET', path: `/flows/${FLOW_NO_CONTAINER}/segments?limit=1&page=${q(segmentsCursor)}`, status: 400 });
    });
  });

  describe('bad bodies for PUT /flows/{id}', () => {
    it.each(flowBodyCases)('$name', async (c) => {
      await expectRejected(h, c);
    });

    it('created nothing', async () => {
      expect((await h.request('GET', `/flows/${NEW_FLOW}`)).status).toBe(404);
    });
  });

  describe('bad bodies for POST /flows/{id}/segments', () => {
    it.each(segmentBodyCases)('$name', async (c) => {
      await expectRejected(h, c);
    });

    it('an array whose every segment fails answers 200 with all of them in failed_segments and stores nothing', async () => {
      const before = snapshot(h);
      const body = [
        { object_id: 'o-1', timerange: '[1:0_3:0)' },
        { object_id: 'o-2', timerange: '[3:0_5:0)' },
      ];
      const res = await h.request('POST', segmentsA, body);
      expect(res.status).toBe(200);
      const failed = (res.body as { failed_segments: { object_id: string; error: unknown }[] }).failed_segments;
      expect(failed.map((f) => f.object_id).sort()).toEqual(['o-1', 'o-2']);
      for (const f of failed) expectErrorBody({ ...res, body: f.error });
      expect(snapshot(h)).toEqual(before);
    });
  });

  describe('bad bodies for POST /flows/{id}/storage', () => {
    it.each(storageBodyCases)('$name', async (c) => {
      await expectRejected(h, c);
    });

    it('allocated none of the fresh ids', async () => {
      const res = await h.request('POST', storageA, { object_ids: ['fresh-1', 'fresh-2'] });
      expect(res.status).toBe(201);
    });
  });

  describe('bad bodies for POST /service', () => {
    it.each(serviceBodyCases)('$name', async (c) => {
      await expectRejected(h, c);
    });
  });

  describe('a read-only flow refuses every write with 403', () => {
    const ro = randomUUID();
    const roFlow = videoFlow({ id: ro, label: 'read only' });

    beforeAll(async () => {
      expect((await h.request('PUT', `/flows/${ro}`, roFlow)).status).toBe(201);
      await allocateObjects(h, ro, ['ro-0', 'ro-1']);
      expect((await h.request('POST', `/flows/${ro}/segments`, { object_id: 'ro-0', timerange: '[0:0_2:0)' })).status).toBe(201);
      expect((await h.request('PUT', `/flows/${ro}`, { ...roFlow, read_only: true })).status).toBe(204);
      expect((await h.request('GET', `/flows/${ro}`)).body).toMatchObject({ read_only: true });
    });

    it('POST segments', async () => {
      await expectRejected(h, { method: 'POST', path: `/flows/${ro}/segments`, body: { object_id: 'ro-1', timerange: '[2:0_4:0)' }, status: 403 });
    });

    it('POST segments (array)', async () => {
      await expectRejected(h, { method: 'POST', path: `/flows/${ro}/segments`, body: [{ object_id: 'ro-1', timerange: '[2:0_4:0)' }], status: 403 });
    });

    it('POST storage', async () => {
      await expectRejected(h, { method: 'POST', path: `/flows/${ro}/storage`, body: { limit: 1 }, status: 403 });
    });

    it('DELETE segments', async () => {
      await expectRejected(h, { method: 'DELETE', path: `/flows/${ro}/segments`, status: 403 });
      await expectRejected(h, { method: 'DELETE', path: `/flows/${ro}/segments?timerange=${q('[0:0_2:0)')}`, status: 403 });
    });

    it('DELETE the flow', async () => {
      await expectRejected(h, { method: 'DELETE', path: `/flows/${ro}`, status: 403 });
    });

    it('PUT again keeping read_only true (or leaving it out)', async () => {
      await expectRejected(h, { method: 'PUT', path: `/flows/${ro}`, body: { ...roFlow, read_only: true, label: 'renamed' }, status: 403 });
      await expectRejected(h, { method: 'PUT', path: `/flows/${ro}`, body: { ...roFlow, label: 'renamed' }, status: 403 });
    });

    it('still has its segment, and PUT with read_only false makes it writable again', async () => {
      const segs = await h.request('GET', `/flows/${ro}/segments`);
      expect((segs.body as { object_id: string }[]).map((s) => s.object_id)).toEqual(['ro-0']);
      expect((await h.request('PUT', `/flows/${ro}`, { ...roFlow, read_only: false })).status).toBe(204);
      expect((await h.request('DELETE', `/flows/${ro}`)).status).toBe(204);
    });
  });

  it('an array with one overlapping segment answers 200 naming it in failed_segments, and stores the others', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    expect((await h.request('PUT', `/flows/${id}`, flow)).status).toBe(201);
    await allocateObjects(h, id, ['p-0', 'p-1', 'p-bad', 'p-2', 'p-3']);
    expect((await h.request('POST', `/flows/${id}/segments`, { object_id: 'p-0', timerange: '[0:0_2:0)' })).status).toBe(201);
    const res = await h.request('POST', `/flows/${id}/segments`, [
      { object_id: 'p-1', timerange: '[2:0_4:0)' },
      { object_id: 'p-bad', timerange: '[1:0_3:0)' },
      { object_id: 'p-2', timerange: '[4:0_6:0)' },
      { object_id: 'p-3', timerange: '[6:0_8:0)' },
    ]);
    expect(res.status).toBe(200);
    const failed = (res.body as { failed_segments: { object_id: string; timerange?: string; error: unknown }[] }).failed_segments;
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ object_id: 'p-bad', timerange: '[1:0_3:0)' });
    expectErrorBody({ ...res, body: failed[0]!.error });
    const list = await h.request('GET', `/flows/${id}/segments`);
    expect((list.body as { object_id: string }[]).map((s) => s.object_id)).toEqual(['p-0', 'p-1', 'p-2', 'p-3']);
    expect((await h.request('GET', `/objects/p-bad`)).status).toBe(404);
    expect((await h.request('GET', `/objects/p-2`)).status).toBe(200);
  });
});

describe('REST bad input: partial failures of segment arrays', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('fails each bad segment alone (bad timerange, empty, unbounded, negative last_duration, overlap, duplicate in the body)', async () => {
    const flow = videoFlow();
    const id = flow.id as string;
    expect((await h.request('PUT', `/flows/${id}`, flow)).status).toBe(201);
    await allocateObjects(h, id, ['m-0', 'm-1', 'm-empty', 'm-open', 'm-neg', 'm-overlap', 'm-2', 'm-dup']);
    expect((await h.request('POST', `/flows/${id}/segments`, { object_id: 'm-0', timerange: '[0:0_2:0)' })).status).toBe(201);
    const res = await h.request('POST', `/flows/${id}/segments`, [
      { object_id: 'm-1', timerange: '[2:0_4:0)' },
      { object_id: 'm-empty', timerange: '()' },
      { object_id: 'm-open', timerange: '[50:0_' },
      { object_id: 'm-neg', timerange: '[60:0_61:0)', last_duration: '-1:0' },
      { object_id: 'm-overlap', timerange: '[1:0_2:500000000)' },
      { object_id: 'm-2', timerange: '[4:0_6:0)' },
      { object_id: 'm-dup', timerange: '[5:0_7:0)' },
    ]);
    expect(res.status).toBe(200);
    const failed = (res.body as { failed_segments: { object_id: string; error: unknown }[] }).failed_segments;
    expect(failed.map((x) => x.object_id).sort()).toEqual(['m-dup', 'm-empty', 'm-neg', 'm-open', 'm-overlap']);
    for (const x of failed) expectErrorBody({ ...res, body: x.error });
    const list = await h.request('GET', `/flows/${id}/segments`);
    expect((list.body as { object_id: string }[]).map((s) => s.object_id)).toEqual(['m-0', 'm-1', 'm-2']);
    for (const gone of ['m-empty', 'm-open', 'm-neg', 'm-overlap', 'm-dup']) {
      expect((await h.request('GET', `/objects/${gone}`)).status).toBe(404);
    }
  });
});

describe('REST bad input: bodies over TAMS_MAX_BODY_BYTES -> 413', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ TAMS_MAX_BODY_BYTES: '2048' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('PUT /flows/{id} with a 4 KiB description', async () => {
    const flow = videoFlow({ description: 'd'.repeat(4096) });
    await expectRejected(h, { method: 'PUT', path: `/flows/${flow.id as string}`, body: flow, status: 413 });
    expect((await h.request('GET', `/flows/${flow.id as string}`)).status).toBe(404);
  });

  it('POST segments with a large array', async () => {
    const flow = videoFlow();
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
    const body = Array.from({ length: 100 }, (_, i) => ({ object_id: `big-${i}`, timerange: `[${i}:0_${i + 1}:0)` }));
    await expectRejected(h, { method: 'POST', path: `/flows/${flow.id as string}/segments`, body, status: 413 });
  });

  it('a body just under the limit is still accepted', async () => {
    const flow = videoFlow({ description: 'd'.repeat(1000) });
    expect((await h.request('PUT', `/flows/${flow.id as string}`, flow)).status).toBe(201);
  });
});
