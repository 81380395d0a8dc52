/**
 * Row writes sliced under VAST's request limit, as the Python SDK slices them
 * (vastdb/util.py `iter_serialized_slices`): a slice is encoded, sent when it fits the budget
 * (90% of the 5 MiB limit) and halved, or rather cut in proportion, when it does not. The SDK
 * also caps a slice's rows (512 Ki): an insert's answer holds 8 bytes of row id per row.
 */
import { SDK_SLICE_BUDGET_BYTES } from '../transport/request-limits';
import { VastRequestError } from '../transport/vast-request-error';

/** vastdb/table.py MAX_INSERT_ROWS_PER_PATCH and MAX_ROWS_PER_BATCH. */
export const MAX_ROWS_PER_REQUEST = 512 * 1024;

export interface EncodedSlice {
  readonly body: Uint8Array;
  /** Items [start, start + count) of the input. */
  readonly start: number;
  readonly count: number;
}

export function* encodedSlices<T>(
  items: readonly T[],
  encode: (slice: readonly T[]) => Uint8Array,
  operation: string,
  budgetBytes = SDK_SLICE_BUDGET_BYTES,
  maxRows = MAX_ROWS_PER_REQUEST,
): Generator<EncodedSlice> {
  let size = Math.min(maxRows, items.length);
  let start = 0;
  while (start < items.length) {
    const count = Math.min(size, items.length - start);
    const body = encode(items.slice(start, start + count));
    if (body.byteLength <= budgetBytes) {
      yield { body, start, count };
      start += count;
      continue;
    }
    if (count === 1) {
      throw new VastRequestError({
        kind: 'request_too_large',
        operation,
        attempts: 0,
        detail: `${operation}: one row encodes to ${body.byteLength} bytes, over the ${budgetBytes}-byte slice budget`,
        limit: budgetBytes,
      });
    }
    // Smaller in proportion with a margin, as the SDK does (0.9), and always smaller than before.
    size = Math.max(1, Math.min(count - 1, Math.floor(((count * budgetBytes) / body.byteLength) * 0.9)));
  }
}
