/**
 * One addSegments batch of the PostgreSQL store. Each segment is checked in order with exactly
 * the SQLite store's rules by sql-common's SegmentChecks (overlap, object re-use, init_segments,
 * unknown objects), against the stored segments (which of the batch overlap one: read before, in
 * one query), the segments of the batch stored before it and the object rows as the batch has
 * changed them (both kept in memory). What is stored is then written in one statement (multi-row,
 * every table), instead of a round trip per segment.
 */
import { SegmentChecks } from '../sql-common/segment-batch';
import { optionalFieldsJson, segmentJsonTail } from '../sql-common/rows';
import { statement, type Tx } from './pool';

/**
 * Everything a batch writes, in one statement (one round trip): the objects it registers
 * (allocated ones updated, others recorded), its segment rows, and the flow's segment count and
 * segments_updated. The parts touch different rows, so one snapshot for all of them is right.
 */
const WRITE_BATCH = statement(`WITH registered AS (
    UPDATE objects o SET role = x.r, registered = true, key_frame_count = x.kfc,
      timerange = x.tr, init_object_id = x.io, first_referenced_by_flow = $1
    FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]) AS x(i, r, kfc, tr, io)
    WHERE o.id = x.i),
  recorded AS (
    INSERT INTO objects (id, role, registered, key_frame_count, timerange, init_object_id, first_referenced_by_flow, get_urls, created)
    SELECT x.i, x.r, true, x.kfc, x.tr, x.io, $1, x.u, $13
    FROM unnest($7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[]) AS x(i, r, kfc, tr, io, u)),
  stored AS (
    INSERT INTO segments (flow_id, end_ns, start_ns, object_id, init_object_id, json_head,
      object_storage_id, object_storage_key, object_own_timerange, init_storage_id, init_storage_key)
    SELECT $1, u.e, u.s, u.o, u.i, '{"object_id":' || to_json(u.o)::text || u.t, u.osi, u.osk, u.otr, u.isi, u.isk
    FROM unnest($14::bigint[], $15::bigint[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[])
      AS u(e, s, o, i, t, osi, osk, otr, isi, isk))
  UPDATE flows SET segments_updated = $13, segment_count = segment_count + $24 WHERE id = $1`);

export class SegmentBatch extends SegmentChecks {
  /** Writes what the batch stored (WRITE_BATCH); called only when it stored a segment. */
  async write(tx: Tx): Promise<void> {
    const updates = this.registrations.filter((r) => r.allocated);
    const recorded = this.registrations.filter((r) => !r.allocated);
    const rows = this.inserts;
    await tx.run(WRITE_BATCH, [
      this.flowId,
      updates.map((r) => r.id),
      updates.map((r) => r.role),
      updates.map((r) => r.keyFrameCount),
      updates.map((r) => r.timerange),
      updates.map((r) => r.initObjectId),
      recorded.map((r) => r.id),
      recorded.map((r) => r.role),
      recorded.map((r) => r.keyFrameCount),
      recorded.map((r) => r.timerange),
      recorded.map((r) => r.initObjectId),
      recorded.map((r) => r.getUrls),
      this.now,
      rows.map((r) => r.hi),
      rows.map((r) => r.lo),
      rows.map((r) => r.segment.object_id),
      rows.map((r) => r.segment.init_object_id ?? null),
      rows.map((r) => segmentJsonTail(r.segment.timerange_text, optionalFieldsJson(r.segment))),
      rows.map((r) => r.object?.storage_id ?? null),
      rows.map((r) => r.object?.storage_key ?? null),
      rows.map((r) => r.objectTimerange),
      rows.map((r) => r.init?.storage_id ?? null),
      rows.map((r) => r.init?.storage_key ?? null),
      rows.length,
    ]);
  }
}
