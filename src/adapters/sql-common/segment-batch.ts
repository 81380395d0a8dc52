import type { NewSegment } from '../../domain/entities';
import { INT64_MAX, INT64_MIN } from './cursors';
import type { ObjectRow } from './rows';

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
