import type { NewSegment } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { initSegmentsViolation } from '../../domain/init-segments';
import { INT64_MAX, INT64_MIN } from './cursors';
import type { ObjectRow } from './rows';
import { reuseConflict, sameTimerangeText } from './store-helpers';

/**
 * The span `[lo, hi)` of a batch of segments in nanoseconds when the batch is in time order and
 * no two of its segments overlap (how ingest sends them), else undefined. For such a batch one
 * check that no stored segment lies in the span replaces a seek per segment: no segment of it
 * can then overlap a stored one or an earlier one of the batch.
 */
export function orderedBatchSpan(segments: readonly NewSegment[]): { lo: bigint; hi: bigint } | undefined {
  let lo: bigint | undefined;
  let previousHi: bigint | undefined;
  for (const { timerange } of segments) {
    if (timerange.empty) return undefined;
    const start = timerange.start ?? INT64_MIN;
    const end = timerange.end ?? INT64_MAX;
    if (end <= start || (previousHi !== undefined && start < previousHi)) return undefined;
    lo ??= start;
    previousHi = end;
  }
  return lo === undefined || previousHi === undefined ? undefined : { lo, hi: previousHi };
}

/**
 * Object rows read for a batch of segments in one query, so registering a thousand segments
 * does not cost a thousand lookups. A row the batch changes is forgotten (`forget`), and read
 * again if a later segment names it; an id never fetched is read on demand.
 */
export class ObjectRowCache {
  private readonly rows = new Map<string, ObjectRow | undefined>();

  constructor(
    fetched: readonly ObjectRow[],
    ids: Iterable<string>,
    private readonly readOne: (id: string) => ObjectRow | undefined,
  ) {
    for (const id of ids) this.rows.set(id, undefined);
    for (const row of fetched) this.rows.set(row.id, row);
  }

  get(id: string): ObjectRow | undefined {
    return this.rows.has(id) ? this.rows.get(id) : this.readOne(id);
  }

  forget(id: string): void {
    this.rows.delete(id);
  }
}

/** The object ids a batch of segments names (media and init), each once. */
export function objectIdsOf(segments: readonly NewSegment[]): Set<string> {
  const ids = new Set<string>();
  for (const s of segments) {
    ids.add(s.object_id);
    if (s.init_object_id !== undefined) ids.add(s.init_object_id);
  }
  return ids;
}

/** Half-open [lo, hi) intervals that never overlap, sorted by hi (a batch's stored segments). */
export class Intervals {
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

/** A segment a batch stores, with the object rows it was checked against (their storage goes into its row). */
export interface SegmentInsert {
  lo: bigint;
  hi: bigint;
  segment: NewSegment;
  object: ObjectRow | undefined;
  init: ObjectRow | undefined;
  objectTimerange: string | null;
}

/** A first registration of an object by a batch: its allocation row updated (`allocated`) or a row recorded. */
export interface Registration {
  id: string;
  role: 'media' | 'init';
  keyFrameCount: number | null;
  timerange: string | null;
  initObjectId: string | null;
  getUrls: string;
  /** The object had an allocation row (updated), or is recorded now (inserted). */
  allocated: boolean;
}

/**
 * The SQLite store's per-segment rules for one addSegments batch, store-neutral: each segment is
 * checked in order (empty, overlap with stored segments (`overlapsStored`, by index, which the
 * store reads) and with the batch's earlier stored ones, object re-use, init_segments, unknown
 * objects) against the object rows the store read into `objects`, as the batch has changed them.
 * What is stored is collected in `inserts` and `registrations` for the store to write (the
 * PostgreSQL store in one statement, the VAST store in one insert per table).
 */
export class SegmentChecks {
  /** Object rows by id as the batch has changed them; undefined: unknown to the store. */
  readonly objects = new Map<string, ObjectRow | undefined>();
  /** Indexes of the batch's segments that overlap a stored segment. */
  overlapsStored = new Set<number>();
  private readonly stored = new Intervals();
  /** The segments stored, in batch order. */
  readonly inserts: SegmentInsert[] = [];
  /** The objects registered, in the order of their first use. */
  readonly registrations: Registration[] = [];

  constructor(
    protected readonly flowId: string,
    private readonly flowUsesInit: boolean,
    protected readonly now: string,
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
}
