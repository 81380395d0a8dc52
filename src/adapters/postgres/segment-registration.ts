/**
 * One addSegments batch of the PostgreSQL store. Each segment is checked in order with exactly
 * the SQLite store's rules (overlap, object re-use, init_segments, unknown objects), against the
 * stored segments (which of the batch overlap one: read before, in one query), the segments of
 * the batch stored before it and the object rows as the batch has changed them (both kept in
 * memory). What is stored is then written in one statement (multi-row, every table), instead of a
 * round trip per segment.
 */
import type { NewSegment } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { initSegmentsViolation } from '../../domain/init-segments';
import { INT64_MAX, INT64_MIN } from '../sql-common/cursors';
import { optionalFieldsJson, segmentJsonTail, type ObjectRow } from '../sql-common/rows';
import { statement, type Tx } from './pool';
import { reuseConflict, sameTimerangeText } from '../sql-common/store-helpers';

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

/** Half-open [lo, hi) intervals that never overlap, sorted by hi (the batch's stored segments). */
class Intervals {
  private readonly los: bigint[] = [];
  private readonly his: bigint[] = [];

  /** Index of the first interval ending after `lo`. */
  private firstEndingAfter(lo: bigint): number {
    let a = 0;
    let b = this.his.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if ((this.his[m] as bigint) > lo) b = m;
      else a = m + 1;
    }
    return a;
  }

  overlaps(lo: bigint, hi: bigint): boolean {
    const i = this.firstEndingAfter(lo);
    return i < this.los.length && (this.los[i] as bigint) < hi;
  }

  add(lo: bigint, hi: bigint): void {
    const i = this.firstEndingAfter(lo);
    this.los.splice(i, 0, lo);
    this.his.splice(i, 0, hi);
  }
}

interface SegmentInsert {
  lo: bigint;
  hi: bigint;
  segment: NewSegment;
  object: ObjectRow | undefined;
  init: ObjectRow | undefined;
  objectTimerange: string | null;
}

interface Registration {
  id: string;
  role: 'media' | 'init';
  keyFrameCount: number | null;
  timerange: string | null;
  initObjectId: string | null;
  getUrls: string;
  /** The object had an allocation row (updated), or is recorded now (inserted). */
  allocated: boolean;
}

export class SegmentBatch {
  /** Object rows by id as the batch has changed them; undefined: unknown to the store. */
  readonly objects = new Map<string, ObjectRow | undefined>();
  /** Indexes of the batch's segments that overlap a stored segment. */
  overlapsStored = new Set<number>();
  private readonly stored = new Intervals();
  private readonly inserts: SegmentInsert[] = [];
  private readonly registrations: Registration[] = [];

  constructor(
    private readonly flowId: string,
    private readonly flowUsesInit: boolean,
    private readonly now: string,
  ) {}

  /** Checks the batch's `index`th segment and takes it for writing; returns why it was refused, if it was. */
  register(seg: NewSegment, index: number): TamsError | undefined {
    if (seg.timerange.empty) return new TamsError('bad_timerange', `Segment timerange ${seg.timerange_text} is empty`);
    const lo = seg.timerange.start ?? INT64_MIN;
    const hi = seg.timerange.end ?? INT64_MAX;
    if (this.overlapsStored.has(index) || this.stored.overlaps(lo, hi)) {
      return new TamsError('segment_overlap', `Segment ${seg.timerange_text} overlaps an existing segment`);
    }
    const object = this.objects.get(seg.object_id);
    const objectError = this.checkMediaObject(seg, object);
    if (objectError) return objectError;
    // A re-used object registered with an init object brings it (the client need not repeat it).
    if (seg.init_object_id === undefined && object?.registered && object.init_object_id !== null) seg.init_object_id = object.init_object_id;
    const initRule = initSegmentsViolation(this.flowId, this.flowUsesInit, seg.object_id, seg.init_object_id);
    if (initRule !== undefined) return new TamsError('validation_failed', initRule);
    const init = seg.init_object_id === undefined ? undefined : this.objects.get(seg.init_object_id);
    if (seg.init_object_id !== undefined) {
      const initError = this.checkInitObject(seg.object_id, seg.init_object_id, init);
      if (initError) return initError;
    }
    // First registration wins the object's timerange; see SqliteMetadataStore.registerSegment.
    const objectTimerange = object?.registered ? object.timerange : (seg.object_timerange ?? seg.timerange_text);
    this.inserts.push({ lo, hi, segment: seg, object, init, objectTimerange });
    this.stored.add(lo, hi);
    if (!object || !object.registered) {
      this.registerObject(object, seg.object_id, 'media', seg.key_frame_count ?? null, objectTimerange, seg.init_object_id ?? null, JSON.stringify(seg.get_urls ?? []));
    }
    if (seg.init_object_id !== undefined && (!init || !init.registered)) {
      this.registerObject(init, seg.init_object_id, 'init', null, null, null, '[]');
    }
    return undefined;
  }

  /** A first registration: the row as it now stands, and the write to make. */
  private registerObject(
    existing: ObjectRow | undefined,
    id: string,
    role: 'media' | 'init',
    keyFrameCount: number | null,
    timerange: string | null,
    initObjectId: string | null,
    getUrls: string,
  ): void {
    this.registrations.push({ id, role, keyFrameCount, timerange, initObjectId, getUrls, allocated: existing !== undefined });
    const base: ObjectRow = existing ?? {
      id,
      storage_id: null,
      storage_key: null,
      allocated_for_flow: null,
      content_type: null,
      role: null,
      registered: 0,
      key_frame_count: null,
      timerange: null,
      init_object_id: null,
      first_referenced_by_flow: null,
      get_urls: getUrls,
      created: this.now,
    };
    this.objects.set(id, {
      ...base,
      role,
      registered: 1,
      key_frame_count: keyFrameCount,
      timerange,
      init_object_id: initObjectId,
      first_referenced_by_flow: this.flowId,
    });
  }

  private checkMediaObject(seg: NewSegment, object: ObjectRow | undefined): TamsError | undefined {
    if (!object) {
      if (seg.get_urls !== undefined && seg.get_urls.length > 0) return undefined;
      return new TamsError(
        'validation_failed',
        `Object ${seg.object_id} is unknown to this store and the segment gives no get_urls: allocate it with POST /flows/${this.flowId}/storage and upload it first, or give get_urls`,
      );
    }
    const id = seg.object_id;
    if (object.role === 'init') return reuseConflict(`Object ${id} is an initialisation object, not a media object`);
    if (!object.registered) {
      if (object.allocated_for_flow !== null && object.allocated_for_flow !== this.flowId) return reuseConflict(`Object ${id} was not intended for this flow`);
      return undefined;
    }
    if (seg.key_frame_count !== undefined && seg.key_frame_count !== object.key_frame_count) return reuseConflict(`Object ${id} has a different key_frame_count`);
    if (seg.object_timerange !== undefined && !sameTimerangeText(seg.object_timerange, object.timerange)) {
      return reuseConflict(`Object ${id} has a different object_timerange`);
    }
    if (seg.init_object_id !== undefined && seg.init_object_id !== object.init_object_id) return reuseConflict(`Object ${id} has a different init_object_id`);
    return undefined;
  }

  private checkInitObject(mediaId: string, initId: string, init: ObjectRow | undefined): TamsError | undefined {
    if (initId === mediaId) return reuseConflict(`Object ${initId} cannot be its own initialisation object`);
    if (!init) {
      return new TamsError(
        'validation_failed',
        `Initialisation object ${initId} is unknown to this store: allocate it with POST /flows/${this.flowId}/storage and upload it first`,
      );
    }
    if (init.role === 'media') return reuseConflict(`Object ${initId} is a media object, not an initialisation object`);
    if (!init.registered && init.allocated_for_flow !== null && init.allocated_for_flow !== this.flowId) return reuseConflict(`Object ${initId} was not intended for this flow`);
    return undefined;
  }

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
