/**
 * VAST data for the rest-segments-vast bench scenario (bench/run.ts): the fake VAST server
 * (test/support/vast-fake-server.ts) in the bench process, one flow of N segments seeded into
 * it, the gateway environment naming it, and what the gateway asked of it per page (from the
 * fake's request log).
 *
 * Seeding goes through the real VAST client (the tables made by the store's own init, the flow
 * by putFlow), then writes the rows registration of each segment with `key_frame_count: 1` on an
 * object allocated on the local backend would leave: the segment row as registration writes it
 * (segmentRow: the object's storage id/key and own timerange copied in) and the flow's guard
 * row's segment_count, min_start_ns, max_end_ns and segments_updated as registration moves them
 * (the window reader probes from those bounds). Rows go in large inserts, a transaction per
 * chunk; like the SQL seeders it skips the checks and writes NO outbox events. Unlike them it
 * writes no objects rows: the listing reads the copies in the segment rows and never the
 * objects table, and the fake keeps every row in this process's heap (1,000,000 objects rows
 * would double it to about 2.5 GB, and the seeding time).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { VastClient } from '../src/adapters/vast/client/vast-client';
import { VastTransport } from '../src/adapters/vast/transport/vast-transport';
import { VastMetadataStore } from '../src/adapters/vast/vast-metadata-store';
import { readFlowGuard, segmentRow } from '../src/adapters/vast/store/segment-registration';
import { vastStoreTables } from '../src/adapters/vast/store/vast-tables';
import { ROW_ID_COLUMN_NAME } from '../src/adapters/vast/protocol/vast-columns';
import type { VastRow } from '../src/adapters/vast/protocol/row-batches';
import type { ObjectRow } from '../src/adapters/sql-common/rows';
import { newObjectKey } from '../src/adapters/local-objects/object-key';
import { loadOrCreateEmbeddedKey, EMBEDDED_KEY_FILE } from '../src/auth/embedded-keys';
import { formatTimeRange, range } from '../src/domain/timerange';
import type { Flow } from '../src/domain/entities';
import { FAKE_VAST_CREDENTIALS, FakeVastServer, type FakeRequestRecord } from '../test/support/vast-fake-server';

const BUCKET = 'tams';
const SCHEMA = 'gateway';
const BENCH_FLOW_ID = '0b5e0000-be4c-4000-8000-00000000f10a';
const BENCH_SOURCE_ID = '0b5e0000-be4c-4000-8000-00000000501c';
/** The local backend the seeded segments' objects are on: written to the data dir's storage-backend-id, so the gateway's local backend is it. */
const BENCH_STORAGE_ID = '0b5e0000-be4c-4000-8000-0000000057a6';
/** Segments per seeding transaction; the client slices each insert under VAST's request limit. */
const CHUNK = 50_000;

export interface VastSegmentData {
  fake: FakeVastServer;
  dataDir: string;
  flowId: string;
  segments: number;
  /** The gateway's environment: TAMS_STORE=vast on the fake, with the replica secrets. */
  env: Record<string, string>;
  seedSeconds: number;
  /** Stops the fake and removes the data dir. */
  close: () => Promise<void>;
}

/** A fake VAST server holding one flow of `segments` back-to-back segments of `segmentNs` from 0, and a data dir for gateways on it. */
export async function prepareVastSegmentData(segments: number, segmentNs: bigint): Promise<VastSegmentData> {
  const fake = await FakeVastServer.start();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tams-bench-vast-'));
  const close = async (): Promise<void> => {
    await fake.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    fs.writeFileSync(path.join(dataDir, 'storage-backend-id'), BENCH_STORAGE_ID);
    loadOrCreateEmbeddedKey(dataDir);
    // As test/support/gateway-harness.ts runs gateways on the fake: one secret and embedded key
    // for every replica, media declared shared (replicas of the bench run on this host).
    const env = {
      TAMS_STORE: 'vast',
      VAST_ENDPOINT: fake.endpoint,
      VAST_ACCESS_KEY: FAKE_VAST_CREDENTIALS.accessKeyId,
      VAST_SECRET_KEY: FAKE_VAST_CREDENTIALS.secretAccessKey,
      VAST_BUCKET: BUCKET,
      VAST_SCHEMA: SCHEMA,
      TAMS_SECRET: randomBytes(32).toString('base64'),
      TAMS_EMBEDDED_KEY_FILE: path.join(dataDir, EMBEDDED_KEY_FILE),
      TAMS_LOCAL_MEDIA_SHARED: 'true',
    };
    const t0 = Date.now();
    await seed(fake, segments, segmentNs);
    const seedSeconds = (Date.now() - t0) / 1000;
    return { fake, dataDir, flowId: BENCH_FLOW_ID, segments, env, seedSeconds, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function seed(fake: FakeVastServer, segments: number, segmentNs: bigint): Promise<void> {
  const transport = new VastTransport({ endpoint: fake.endpoint, credentials: FAKE_VAST_CREDENTIALS });
  const client = new VastClient({ transport, bucket: BUCKET });
  const store = new VastMetadataStore({ client, schema: SCHEMA, onClose: () => transport.close() });
  const tables = vastStoreTables(SCHEMA);
  const now = new Date().toISOString();
  try {
    await store.init();
    const flow: Flow = {
      id: BENCH_FLOW_ID,
      source_id: BENCH_SOURCE_ID,
      label: `bench flow of ${segments} segments`,
      format: 'urn:x-nmos:format:video',
      codec: 'video/h264',
      container: 'video/mp2t',
      essence_parameters: { frame_width: 1920, frame_height: 1080 },
    };
    await store.putFlow(flow, now);
    for (let first = 0; first < segments; first += CHUNK) {
      const rows: VastRow[] = [];
      for (let i = first; i < Math.min(segments, first + CHUNK); i++) {
        const lo = BigInt(i) * segmentNs;
        const hi = lo + segmentNs;
        const text = formatTimeRange(range(lo, hi));
        const id = `${BENCH_FLOW_ID}/${lo}`;
        const object: ObjectRow = {
          id,
          storage_id: BENCH_STORAGE_ID,
          storage_key: newObjectKey(),
          allocated_for_flow: BENCH_FLOW_ID,
          content_type: null,
          role: 'media',
          registered: 1,
          key_frame_count: 1,
          timerange: text,
          init_object_id: null,
          first_referenced_by_flow: BENCH_FLOW_ID,
          get_urls: '[]',
          created: now,
        };
        rows.push(segmentRow(BENCH_FLOW_ID, { lo, hi, segment: { object_id: id, timerange: range(lo, hi), timerange_text: text, key_frame_count: 1 }, object, init: undefined, objectTimerange: text }));
      }
      await client.withTransaction(async (tx) => {
        await tx.table(tables.segments).insert(rows);
      });
    }
    // The guard row as registration leaves it after adding every segment (one bump of version, as one batch would).
    await client.withTransaction(async (tx) => {
      const guard = await readFlowGuard(tx, tables, BENCH_FLOW_ID);
      if (guard === undefined) throw new Error(`putFlow made no guard row for flow ${BENCH_FLOW_ID}`);
      const bounds = segments === 0 ? { min_start_ns: null, max_end_ns: null } : { min_start_ns: 0n, max_end_ns: BigInt(segments) * segmentNs };
      await tx.table(tables.flowGuards).update(
        ['version', 'segment_count', 'min_start_ns', 'max_end_ns', 'segments_updated'],
        [{ [ROW_ID_COLUMN_NAME]: guard.rowId, version: guard.version + 1n, segment_count: BigInt(segments), ...bounds, segments_updated: now }],
      );
    });
    const counted = await store.countSegments(BENCH_FLOW_ID);
    if (counted !== segments) throw new Error(`the VAST store counts ${counted} segments of the bench flow, not ${segments}`);
  } finally {
    await store.close();
  }
}

/** What the gateway asked of VAST while serving one page: requests, bytes each way, rows the selects returned. */
export interface VastPageCost {
  roundTrips: number;
  requestBytes: number;
  responseBytes: number;
  selects: number;
  rowsRead: number;
}

/**
 * The transactions of the fake's log from `from` on that read the segment listing's tables
 * (flow_guards, segments), with their requests. An idle gateway's pollers (outbox counter,
 * retention, webhook deliveries, deletion requests) query VAST all the while, in transactions of
 * their own, which are left out. A begin carries no transaction id yet, so the begins are
 * counted, one per transaction.
 */
function listingTransactions(fake: FakeVastServer, from: number): { records: FakeRequestRecord[]; transactions: number } {
  const records = fake.log.slice(from);
  const txids = new Set(records.filter((r) => r.verb === 'data' && (r.path[2] === 'flow_guards' || r.path[2] === 'segments')).map((r) => r.txid));
  for (const r of records) {
    // What makes counting begins without their bytes exact.
    if (r.verb === 'transaction' && r.method === 'POST' && (r.bodyBytes !== 0 || (r.responseBytes ?? 0) !== 0)) throw new Error(`a begin with a body: ${JSON.stringify(r)}`);
  }
  return { records: records.filter((r) => r.txid !== undefined && txids.has(r.txid)), transactions: txids.size };
}

/** What the gateway asked of VAST for the listing since log record `from`. */
export function vastCostSince(fake: FakeVastServer, from: number): VastPageCost {
  const { records, transactions } = listingTransactions(fake, from);
  const selects = records.filter((r) => r.verb === 'data');
  return {
    roundTrips: records.length + transactions,
    requestBytes: records.reduce((sum, r) => sum + r.bodyBytes, 0),
    responseBytes: records.reduce((sum, r) => sum + (r.responseBytes ?? 0), 0),
    selects: selects.length,
    rowsRead: selects.reduce((sum, r) => sum + (r.rows ?? 0), 0),
  };
}

/** The listing's requests since log record `from`: `begin, GET data flow_guards (1 rows), ...`. */
export function vastRequestsSince(fake: FakeVastServer, from: number): string {
  const { records, transactions } = listingTransactions(fake, from);
  const shown = records.map((r) => `${r.method} ${r.verb ?? ''}${r.path.length > 2 ? ` ${r.path[2]}` : ''}${r.verb === 'data' ? ` (${r.rows ?? 0} rows, ${r.bodyBytes} B out, ${r.responseBytes ?? 0} B back)` : ''}`);
  return [...Array<string>(transactions).fill('POST transaction (begin)'), ...shown].join(', ');
}

/** VAST requests the gateway made since log record `from` outside the listing's transactions (its pollers). */
export function backgroundRequestsSince(fake: FakeVastServer, from: number): number {
  const { records, transactions } = listingTransactions(fake, from);
  return fake.log.length - from - records.length - transactions;
}

/**
 * What the window listing reads and how it stays right across replicas, as the store's code
 * does it (segment-window.ts, segment-registration.ts, deletions.ts, object-instances.ts): printed
 * with the figures.
 */
export const VAST_DENORMALISED: readonly string[] = [
  'a page reads, in one read-only VAST transaction (one snapshot), the flow\'s guard row and then segment rows by ranges of end_ns; no objects rows; nothing is cached in the gateway, so every page sees what any replica has committed',
  'denormalised: each segment row carries copies of its object\'s storage ids/keys (object_storage_id/_key) and own timerange (object_own_timerange), of its init object\'s storage (init_storage_id/_key), and of its object\'s uncontrolled get_urls (in json_head); ' +
    'the flow\'s guard row (flow_guards) carries segment_count, min_start_ns/max_end_ns (at or beyond every segment: the probes are sized and bounded by them; loose after deletions) and segments_updated',
  'across replicas: registration bumps the flow\'s guard row before reading the flow\'s segments, takes the copies from the object rows it reads and sets the count and bounds in that same transaction, so two writers of one flow\'s segments conflict (VAST answers 409, withTransaction reruns the loser in a new snapshot); ' +
    'deleting segments lowers the count in the deleting transaction (the bounds stay, still bounds); a change of an object\'s instances or uncontrolled URLs updates the object\'s row first and rewrites the copies in every segment row naming it in the same transaction, so two changes of one object conflict',
  'a registration re-using an already registered object writes that object\'s row too (to the values it holds), so it conflicts with an instance change or a collection pass of the object and one of them reruns: no new segment row keeps an old copy or names a deleted object (test/integration/vast-store-objects.test.ts)',
];
