/**
 * Fast seeding of the PostgreSQL store for benchmarks and load tests: appends `count`
 * back-to-back segments to an existing flow, each with its own media object, built by the
 * server (`INSERT ... SELECT ... FROM generate_series`, one statement per chunk writing the
 * objects, their instances and the segment rows), not sent row by row.
 *
 * The rows are those the store itself writes when a client allocates an object on a storage
 * backend (POST /flows/{id}/storage: an objects row with its first instance) and then registers
 * a segment on it with `key_frame_count: 1` (segment-registration.ts: the object row registered,
 * the segment row with its json_head and the copies of the object's storage and timerange), and
 * the flow's segment_count and segments_updated as registration moves them. Without a storage
 * backend the objects are external (no storage, no instance, allocated for no flow), as the
 * SQLite seeder records them. Object ids are `<flow id>/<start ns>`; keys are minted as the
 * object stores mint them, `<prefix><hex2>/<hex2>/<uuid>` (../local-objects/object-key.ts,
 * ../s3/s3-object-store.ts), by the server.
 *
 * Like ../sqlite/seed.ts it bypasses the object re-use checks and writes NO outbox events; it
 * keeps the overlap rule as the store does (each chunk, under the flow's lock, checked against
 * the stored segments: an overlapping chunk fails with segment_overlap, leaving earlier chunks),
 * and without startNs appends after the flow's last segment as it is under the first chunk's
 * lock. Webhooks and subscribers never hear of seeded segments. Each chunk is one transaction,
 * so an interrupted seed leaves whole segments behind and a later one (startNs unset) appends
 * after them.
 */
import { TamsError } from '../../domain/errors';
import { INT64_MAX } from '../sql-common/cursors';
import { flowLockKey } from './flow-lock';
import { createClient, type PostgresConnectionOptions } from './pool';

export interface PostgresSeedOptions {
  /**
   * Backend of the seeded objects: its id, and what keys start with (`''` for the local
   * backend, the S3 store's key prefix). Without it the objects are external.
   */
  storage?: { id: string; keyPrefix: string };
  /** Start of the first segment; defaults to the end of the flow's last segment, or 0. */
  startNs?: bigint;
  /** ISO time recorded as created / segments_updated; defaults to now. */
  now?: string;
  /** Segments written per statement and transaction (default 100,000). */
  chunk?: number;
  /** Called after each chunk commits with the segments seeded so far. */
  onProgress?: (seeded: number) => void;
}

export interface PostgresSeedResult {
  startNs: bigint;
  endNs: bigint;
}

/** A timestamp in TAMS text (formatTimestamp) of the int8 expression `x`. */
function timestampSql(x: string): string {
  return `(CASE WHEN ${x} < 0 THEN '-' ELSE '' END || (abs(${x}) / 1000000000)::text || ':' || (abs(${x}) % 1000000000)::text)`;
}

/**
 * One chunk: $1 flow, $2 start of its first segment, $3 segment duration, $4 segments, $5
 * storage id (null: external objects), $6 key prefix, $7 now. The timerange text is
 * formatTimeRange's (`[s_e)`, or `[s]` for a segment of one nanosecond), the json_head the one
 * registration writes: `{"object_id":<to_json(id)>,"timerange":"<text>","key_frame_count":1` (a head: the
 * listing appends get_urls and the closing brace).
 */
const SEED_CHUNK = `WITH g AS MATERIALIZED (
    SELECT s, s + $3::bigint AS e, $1::text || '/' || s::text AS o,
      CASE WHEN $5::text IS NULL THEN NULL ELSE gen_random_uuid()::text END AS u
    FROM (SELECT $2::bigint + i * $3::bigint AS s FROM generate_series(0::bigint, $4::bigint - 1) AS i) x
  ), r AS MATERIALIZED (
    SELECT s, e, o,
      CASE WHEN $3::bigint = 1 THEN '[' || ${timestampSql('s')} || ']' ELSE '[' || ${timestampSql('s')} || '_' || ${timestampSql('e')} || ')' END AS t,
      CASE WHEN u IS NULL THEN NULL ELSE $6::text || substr(u, 1, 2) || '/' || substr(u, 3, 2) || '/' || u END AS k
    FROM g
  ), objects_made AS (
    INSERT INTO objects (id, storage_id, storage_key, allocated_for_flow, role, registered, key_frame_count, timerange,
        first_referenced_by_flow, created)
    SELECT o, $5::text, k, CASE WHEN $5::text IS NULL THEN NULL ELSE $1::text END, 'media', true, 1, t, $1::text, $7::text FROM r
  ), instances_made AS (
    INSERT INTO object_instances (object_id, storage_id, storage_key, created)
    SELECT o, $5::text, k, $7::text FROM r WHERE $5::text IS NOT NULL
  )
  INSERT INTO segments (flow_id, end_ns, start_ns, object_id, json_head, object_storage_id, object_storage_key, object_own_timerange)
  SELECT $1::text, e, s, o, '{"object_id":' || to_json(o)::text || ',"timerange":"' || t || '","key_frame_count":1', $5::text, k, t FROM r`;

/** See the module comment. The flow must exist in the store at `connection` (migrated). */
export async function seedPostgresSegments(
  connection: PostgresConnectionOptions,
  flowId: string,
  count: number,
  segmentDurationNs: bigint,
  options: PostgresSeedOptions = {},
): Promise<PostgresSeedResult> {
  if (segmentDurationNs <= 0n) throw new TamsError('bad_request', 'Segment duration must be positive');
  if (!Number.isSafeInteger(count) || count < 0) throw new TamsError('bad_request', `Segment count must be a whole number >= 0, not ${count}`);
  const chunk = options.chunk ?? 100_000;
  const now = options.now ?? new Date().toISOString();
  // Statements of a large chunk may run past the store's statement timeout: none here.
  const client = createClient({ ...connection, statementTimeoutMs: 0 });
  await client.connect();
  try {
    // Each chunk's commit need not wait for its WAL flush: a seed lost in a crash is seeded again.
    await client.query('SET synchronous_commit = off');
    const flow = await client.query('SELECT 1 FROM flows WHERE id = $1', [flowId]);
    if (flow.rowCount === 0) throw new TamsError('not_found', `Flow ${flowId} does not exist`);
    let startNs = options.startNs;
    let endNs = 0n;
    let done = 0;
    do {
      const n = Math.min(chunk, count - done);
      await client.query('BEGIN');
      try {
        // Under the flow's lock, as every writer of its segments: the flow's end and the check
        // below see every segment committed before, and none can commit meanwhile.
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [flowLockKey(flowId)]);
        if (startNs === undefined) {
          const last = await client.query<{ last_end: string }>('SELECT s.end_ns::text AS last_end FROM segments s WHERE s.flow_id = $1 ORDER BY s.end_ns DESC LIMIT 1', [flowId]);
          const lastEnd = last.rows[0] === undefined ? undefined : BigInt(last.rows[0].last_end);
          if (lastEnd === INT64_MAX) throw new TamsError('segment_overlap', `Flow ${flowId} ends with an unbounded segment`);
          startNs = lastEnd ?? 0n;
        }
        endNs = startNs + BigInt(count) * segmentDurationNs;
        if (endNs >= INT64_MAX) throw new TamsError('bad_request', `${count} segments of ${segmentDurationNs} ns from ${startNs} end past the largest timestamp`);
        if (n > 0) {
          const from = startNs + BigInt(done) * segmentDurationNs;
          const to = from + BigInt(n) * segmentDurationNs;
          // The store's overlap rule: the first stored segment ending after the chunk's start must start at or after its end.
          const next = await client.query<{ start_ns: string }>('SELECT s.start_ns::text AS start_ns FROM segments s WHERE s.flow_id = $1 AND s.end_ns > $2 ORDER BY s.end_ns LIMIT 1', [flowId, from.toString()]);
          if (next.rows[0] !== undefined && BigInt(next.rows[0].start_ns) < to) {
            throw new TamsError('segment_overlap', `Seeded segments from ${from} to ${to} ns would overlap a stored segment of flow ${flowId}`);
          }
          await client.query(SEED_CHUNK, [flowId, from.toString(), segmentDurationNs.toString(), n, options.storage?.id ?? null, options.storage?.keyPrefix ?? '', now]);
          await client.query('UPDATE flows SET segments_updated = $1, segment_count = segment_count + $2 WHERE id = $3', [now, n, flowId]);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      done += n;
      if (n > 0) options.onProgress?.(done);
    } while (done < count);
    return { startNs, endNs };
  } finally {
    await client.end();
  }
}
