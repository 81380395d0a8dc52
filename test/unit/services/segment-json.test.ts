/**
 * REST writes segment listings from listSegmentsJson (the store's ready field texts); GraphQL
 * reads listSegments (records). Both must show exactly the same segments, whatever the options.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { SqliteMetadataStore } from '../../../src/adapters/sqlite/sqlite-metadata-store';
import { LocalObjectStore } from '../../../src/adapters/local-objects/local-object-store';
import { ObjectStores } from '../../../src/services/object-stores';
import { PageCursorCodec } from '../../../src/services/page-cursor';
import { FlowService } from '../../../src/services/flow-service';
import { SegmentService, type SegmentListOptions } from '../../../src/services/segment-service';
import { DEVELOPMENT_PRINCIPAL } from '../../../src/domain/principal';
import { formatTimeRange, parseTimeRange } from '../../../src/domain/timerange';
import type { NewSegment } from '../../../src/domain/entities';
import type { SegmentQuery } from '../../../src/ports/metadata-store';
import { localBackend } from '../../fixtures/local-backend';

const backend = localBackend({ id: randomUUID() });
const now = '2026-01-01T00:00:00.000Z';

function seg(objectId: string, timerange: string, extra: Partial<NewSegment> = {}): NewSegment {
  return { object_id: objectId, timerange: parseTimeRange(timerange), timerange_text: timerange, ...extra };
}

describe('SegmentService.listSegmentsJson', () => {
  const store = new SqliteMetadataStore({ filename: ':memory:' });
  const objects = new LocalObjectStore({ rootDir: path.resolve('/srv/unused'), secret: Buffer.alloc(32, 9), backend, maxObjectBytes: 1024 });
  const cursors = new PageCursorCodec(Buffer.alloc(32, 5));
  const clock = { nowMs: () => Date.parse(now) };
  const flows = new FlowService(store, cursors, clock);
  const segments = new SegmentService(store, new ObjectStores([objects]), flows, cursors, clock, { presignedUrlTimeoutSec: 3600, verifyUploads: false });
  const contexts = [
    { baseUrl: 'https://tams.example/api', principal: DEVELOPMENT_PRINCIPAL },
    // A base URL that needs escaping in JSON (a Host header can hold anything).
    { baseUrl: 'https://tams.example/a"b\\c', principal: DEVELOPMENT_PRINCIPAL },
  ];
  const flowId = randomUUID();

  beforeAll(async () => {
    await store.init();
    await store.putFlow({ id: flowId, source_id: randomUUID(), format: 'urn:x-nmos:format:video', container: 'video/mp2t' }, now);
    const ids = ['init', 'm1', 'm2'];
    await store.allocateObjects(flowId, ids.map((id) => ({ id, storage_id: backend.id, key: objects.keyFor(id) })), now);
    await store.addSegments(flowId, [
      seg('m1', '[0:0_1:0)', { init_object_id: 'init', ts_offset: '0:5', key_frame_count: 1, object_timerange: '[0:0_2:0)' }),
      seg('m1', '[1:0_2:0)', { init_object_id: 'init', last_duration: '0:500', sample_offset: 3, sample_count: 25 }),
      seg('m2', '[2:0_3:0]', { get_urls: [{ url: 'https://cdn.example/m2?a="b"', label: 'cdn' }], key_frame_count: 2 }),
      seg('external é "x"', '(3:0_4:0)', { get_urls: [{ url: 'https://elsewhere.example/x', label: 'elsewhere' }] }),
      seg('plain', '[4:0_5:0)'),
      // Neighbours with the same stored optional fields, with and without uncontrolled URLs.
      seg('twin-1', '[5:0_6:0)', { get_urls: [{ url: 'https://cdn.example/t', label: 'cdn' }], key_frame_count: 3 }),
      seg('twin-2', '[6:0_7:0)', { get_urls: [{ url: 'https://cdn.example/t', label: 'cdn' }], key_frame_count: 3 }),
      seg('twin-3', '[7:0_8:0)', { key_frame_count: 3 }),
      seg('twin-4', '[8:0_9:0)', { key_frame_count: 3 }),
    ], now);
  });
  afterAll(() => store.close());

  const optionSets: Omit<SegmentListOptions, 'limit'>[] = [
    { getUrls: { verbose: false }, includeObjectTimerange: false },
    { getUrls: { verbose: false }, includeObjectTimerange: true },
    { getUrls: { verbose: true }, includeObjectTimerange: false },
    { getUrls: { verbose: false, acceptGetUrls: ['cdn'] }, includeObjectTimerange: false },
    { getUrls: { verbose: false, acceptGetUrls: [] }, includeObjectTimerange: true },
    { getUrls: { verbose: false, presigned: true }, includeObjectTimerange: false },
    { getUrls: { verbose: true, presigned: false }, includeObjectTimerange: false },
    { getUrls: { verbose: false, acceptStorageIds: [randomUUID()] }, includeObjectTimerange: false },
  ];
  const queries: SegmentQuery[] = [
    { timerange: parseTimeRange('_') },
    { timerange: parseTimeRange('[0:500_3:500)'), reverse: true },
    { timerange: parseTimeRange('_'), object_id: 'm1' },
    { timerange: parseTimeRange('[10:0_11:0)') },
  ];

  for (const ctx of contexts) for (const options of optionSets) {
    for (const query of queries) {
      it(`shows what listSegments shows: base ${ctx.baseUrl} ${JSON.stringify(options)} ${formatTimeRange(query.timerange)}${query.reverse ? ' reversed' : ''}${query.object_id ? ` object ${query.object_id}` : ''}`, async () => {
        let page: string | undefined;
        let pages = 0;
        do {
          const request = { ...options, limit: 3, ...(page === undefined ? {} : { page }) };
          const records = await segments.listSegments(ctx, flowId, query, request);
          const json = await segments.listSegmentsJson(ctx, flowId, query, request);
          expect(JSON.parse(`[${json.items.join(',')}]`)).toEqual(records.items);
          expect(formatTimeRange(json.timerange)).toBe(formatTimeRange(records.timerange));
          expect(json.limit).toBe(records.limit);
          expect(json.next).toBe(records.next);
          page = records.next;
          pages += 1;
        } while (page !== undefined && pages < 10);
        expect(pages).toBeLessThan(10);
      });
    }
  }
});
