import { TamsError } from '../../domain/errors';
import { formatTimeRange, range } from '../../domain/timerange';
import { INT64_MAX } from '../sql-common/cursors';
import type { MetadataStore } from '../../ports/metadata-store';
import { SqliteMetadataStore } from './sqlite-metadata-store';
import { segmentJsonTail } from '../sql-common/rows';
import { segmentJsonHeadSql } from './rows';

/** Every seeded segment's optional fields (see optionalFieldsJson). */
const OPTIONAL = '{"key_frame_count":1}';

export interface SeedOptions {
  /**
   * Storage backend of the seeded media objects (key = object id). Without it the objects
   * are recorded as external (storage null).
   */
  storageId?: string;
  /** Storage key of each seeded object (default: the object id). */
  keyFor?: (objectId: string) => string;
  /** Start of the first segment; defaults to the end of the flow's last segment, or 0. */
  startNs?: bigint;
  /** ISO time recorded as created / segments_updated; defaults to now. */
  now?: string;
}

export interface SeedResult {
  startNs: bigint;
  endNs: bigint;
}

/**
 * Appends `count` back-to-back segments of `segmentDurationNs` to an existing flow, each with
 * its own registered media object, in one transaction of direct prepared inserts. For
 * benchmarks and load tests only: it bypasses the overlap and object re-use checks and
 * writes NO outbox events (webhooks and subscribers never hear of seeded segments). The store
 * must be the SQLite one (a gateway's `store` with TAMS_STORE=sqlite).
 */
export async function seedSegments(
  store: MetadataStore,
  flowId: string,
  count: number,
  segmentDurationNs: bigint,
  options: SeedOptions = {},
): Promise<SeedResult> {
  if (segmentDurationNs <= 0n) throw new TamsError('bad_request', 'Segment duration must be positive');
  if (!(store instanceof SqliteMetadataStore)) throw new Error('seedSegments writes SQLite rows directly: it needs the SQLite store (TAMS_STORE=sqlite)');
  const db = store.database;
  const now = options.now ?? new Date().toISOString();
  const flowExists = db.prepare('SELECT 1 FROM flows WHERE id = ?').get(flowId) !== undefined;
  if (!flowExists) throw new TamsError('not_found', `Flow ${flowId} does not exist`);
  const lastEnd = db
    .prepare('SELECT end_ns FROM segments WHERE flow_id = ? ORDER BY end_ns DESC LIMIT 1')
    .safeIntegers(true)
    .get(flowId) as { end_ns: bigint } | undefined;
  if (lastEnd?.end_ns === INT64_MAX) throw new TamsError('segment_overlap', `Flow ${flowId} ends with an unbounded segment`);
  const startNs = options.startNs ?? lastEnd?.end_ns ?? 0n;

  const insertSegment = db.prepare(
    `INSERT INTO segments (flow_id, end_ns, start_ns, object_id, json_head,
        object_storage_id, object_storage_key, object_own_timerange)
      VALUES (?, ?, ?, ?, ${segmentJsonHeadSql('?', '?')}, ?, ?, ?)`,
  );
  const insertObject = db.prepare(`INSERT INTO objects (id, storage_id, storage_key, allocated_for_flow, role, registered,
      key_frame_count, timerange, first_referenced_by_flow, created)
    VALUES (?, ?, ?, ?, 'media', 1, 1, ?, ?, ?)`);
  const touchFlow = db.prepare('UPDATE flows SET segments_updated = ?, segment_count = segment_count + ? WHERE id = ?');
  const storageId = options.storageId ?? null;
  const keyFor = options.keyFor ?? ((objectId: string) => objectId);

  db.transaction(() => {
    let start = startNs;
    for (let i = 0; i < count; i++) {
      const end = start + segmentDurationNs;
      const text = formatTimeRange(range(start, end));
      const objectId = `${flowId}/${start}`;
      const key = storageId === null ? null : keyFor(objectId);
      // The segment row carries copies of its object's storage and timerange (migration 2).
      insertSegment.run(flowId, end, start, objectId, objectId, segmentJsonTail(text, OPTIONAL), storageId, key, text);
      insertObject.run(objectId, storageId, key, storageId === null ? null : flowId, text, flowId, now);
      start = end;
    }
    touchFlow.run(now, count, flowId);
  }).immediate();

  return { startNs, endNs: startNs + BigInt(count) * segmentDurationNs };
}
