/**
 * A write the gateway answered with a 2xx is durable: it survives the process being killed
 * (SIGKILL, so no shutdown code runs) right after the answer. The built gateway
 * (dist/src/main.js) runs on a SQLite file and a media directory in a temporary data
 * directory; a flow is created, storage allocated, media bytes uploaded to the put_urls and
 * segments registered, each answered 2xx; the process is then killed at once, a new one is
 * started on the same files, and the flow, the segments and the media bytes must all be there.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildIfStale, startChildGateway, type ChildGateway } from '../support/child-gateway';
import { checkedFetch } from '../support/checked-fetch';
import { videoFlow } from '../fixtures/flows';

const SEGMENTS = 3;

interface MediaObject {
  object_id: string;
  put_url: { url: string; 'content-type': string };
}

interface Segment {
  object_id: string;
  timerange: string;
  get_urls: { url: string }[];
}

function request(gw: ChildGateway, token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return checkedFetch(`${gw.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe('durability across SIGKILL', () => {
  let dataDir: string;
  const started: ChildGateway[] = [];

  beforeAll(() => {
    buildIfStale();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-sigkill-'));
  }, 360_000);

  afterAll(async () => {
    for (const gw of started) await gw.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('keeps every write answered 2xx: flow, segments and media bytes are there after kill -9 and a restart on the same files', async () => {
    const first = await startChildGateway({ LOG_LEVEL: 'warn' }, { dataDir });
    started.push(first);
    const writer = first.token('read,write');

    const flow = videoFlow();
    const flowId = flow.id as string;
    expect((await request(first, writer, 'PUT', `/flows/${flowId}`, flow)).status).toBe(201);
    const allocation = await request(first, writer, 'POST', `/flows/${flowId}/storage`, { limit: SEGMENTS });
    expect(allocation.status).toBe(201);
    const objects = ((await allocation.json()) as { media_objects: MediaObject[] }).media_objects;
    expect(objects).toHaveLength(SEGMENTS);

    const bytes = new Map<string, Buffer>();
    const expected: { object_id: string; timerange: string }[] = [];
    for (const [i, object] of objects.entries()) {
      const data = randomBytes(10_000 + i * 4_321);
      bytes.set(object.object_id, data);
      const put = await checkedFetch(object.put_url.url, { method: 'PUT', body: data, headers: { 'content-type': object.put_url['content-type'] } });
      expect(put.status).toBe(200);
      await put.arrayBuffer();
      const segment = { object_id: object.object_id, timerange: `[${i * 10}:0_${(i + 1) * 10}:0)` };
      const registered = await request(first, writer, 'POST', `/flows/${flowId}/segments`, segment);
      expect(registered.status).toBe(201);
      await registered.arrayBuffer();
      expected.push(segment);
    }

    // At once after the last 2xx: no graceful shutdown, no checkpoint, no close of the store.
    process.kill(first.child.pid!, 'SIGKILL');
    expect(await first.closed).toEqual({ code: null, signal: 'SIGKILL' });
    expect(first.logLines().map((l) => l.msg)).not.toContain('shutting down');

    const second = await startChildGateway({ LOG_LEVEL: 'warn' }, { dataDir });
    started.push(second);
    const reader = second.token('read');

    const gotFlow = await request(second, reader, 'GET', `/flows/${flowId}`);
    expect(gotFlow.status).toBe(200);
    expect(await gotFlow.json()).toMatchObject({ id: flowId, source_id: flow.source_id, label: flow.label });

    const listed = await request(second, reader, 'GET', `/flows/${flowId}/segments`);
    expect(listed.status).toBe(200);
    const segments = (await listed.json()) as Segment[];
    expect(segments.map(({ object_id, timerange }) => ({ object_id, timerange }))).toEqual(expected);

    for (const segment of segments) {
      expect(segment.get_urls.length).toBeGreaterThan(0);
      const media = await checkedFetch(segment.get_urls[0]!.url);
      expect(media.status).toBe(200);
      const got = Buffer.from(await media.arrayBuffer());
      expect({ object: segment.object_id, size: got.length, same: got.equals(bytes.get(segment.object_id)!) }).toEqual({
        object: segment.object_id,
        size: bytes.get(segment.object_id)!.length,
        same: true,
      });
    }
  });
});
