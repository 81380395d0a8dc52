import { ObjectRowCache, objectIdsOf, orderedBatchSpan } from '../../../src/adapters/sql-common/segment-batch';
import type { ObjectRow } from '../../../src/adapters/sql-common/rows';
import { INT64_MAX, INT64_MIN } from '../../../src/adapters/sql-common/cursors';
import { parseTimeRange } from '../../../src/domain/timerange';
import type { NewSegment } from '../../../src/domain/entities';

const seg = (timerange: string, objectId = 'o', initObjectId?: string): NewSegment => ({
  object_id: objectId,
  timerange: parseTimeRange(timerange),
  timerange_text: timerange,
  ...(initObjectId === undefined ? {} : { init_object_id: initObjectId }),
});
const S = 1_000_000_000n;

describe('orderedBatchSpan', () => {
  it('spans a batch in time order whose segments do not overlap (touching is fine)', () => {
    expect(orderedBatchSpan([seg('[0:0_1:0)'), seg('[1:0_2:0]'), seg('(2:0_3:0)')])).toEqual({ lo: 0n, hi: 3n * S });
    expect(orderedBatchSpan([seg('[5:0_6:0)')])).toEqual({ lo: 5n * S, hi: 6n * S });
    expect(orderedBatchSpan([seg('_1:0)'), seg('[1:0_')])).toEqual({ lo: INT64_MIN, hi: INT64_MAX });
  });

  it('gives nothing for an empty batch, one out of order, overlapping or holding an empty range', () => {
    expect(orderedBatchSpan([])).toBeUndefined();
    expect(orderedBatchSpan([seg('[1:0_2:0)'), seg('[0:0_1:0)')])).toBeUndefined();
    expect(orderedBatchSpan([seg('[0:0_2:0)'), seg('[1:0_3:0)')])).toBeUndefined();
    expect(orderedBatchSpan([seg('[0:0_1:0]'), seg('[1:0_2:0)')])).toBeUndefined();
    expect(orderedBatchSpan([seg('[0:0_1:0)'), seg('()')])).toBeUndefined();
    expect(orderedBatchSpan([seg('[0:0_1:0)'), seg('[0:0_1:0)')])).toBeUndefined();
  });
});

describe('ObjectRowCache', () => {
  const row = (id: string): ObjectRow => ({ id, registered: 0 }) as unknown as ObjectRow;

  it('answers fetched ids from the batch read, absent ones as unknown, others (and forgotten ones) from the store', () => {
    const reads: string[] = [];
    const cache = new ObjectRowCache([row('a')], ['a', 'b'], (id) => {
      reads.push(id);
      return row(`${id}-fresh`);
    });
    expect(cache.get('a')?.id).toBe('a');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')?.id).toBe('c-fresh');
    cache.forget('a');
    cache.forget('b');
    expect(cache.get('a')?.id).toBe('a-fresh');
    expect(cache.get('b')?.id).toBe('b-fresh');
    expect(reads).toEqual(['c', 'a', 'b']);
  });

  it('collects the media and init object ids of a batch once each', () => {
    expect([...objectIdsOf([seg('[0:0_1:0)', 'm', 'i'), seg('[1:0_2:0)', 'm', 'i'), seg('[2:0_3:0)', 'n')])]).toEqual(['m', 'i', 'n']);
  });
});
