/**
 * Where each sub-split of a select resumes, and the headers that say so.
 *
 * A select is repeated (same body) until every sub-split is done: each request carries
 * `tabular-start-row-id-N: N,<row id>` for sub-split N, each answered page moves that sub-split
 * to the page's next_row_id, and a sub-split whose next row id is INVALID_ROW_ID has no more
 * rows. The Python SDK sends the header for every sub-split, finished ones included (with the
 * marker); the Java client leaves finished ones out. This follows the Python SDK.
 */
import type { SelectPage } from './select-response';
import { INVALID_ROW_ID } from './vast-columns';

export class SelectPaging {
  private readonly nextRowIds: bigint[];

  constructor(readonly numSubSplits: number) {
    if (!Number.isInteger(numSubSplits) || numSubSplits < 1) throw new RangeError(`numSubSplits must be a positive integer, not ${numSubSplits}`);
    this.nextRowIds = Array.from({ length: numSubSplits }, () => 0n);
  }

  /** Moves the page's sub-split on; call once the page is fully received. */
  record(page: SelectPage): void {
    if (page.streamId >= this.numSubSplits) {
      throw new RangeError(`page from sub-split ${page.streamId}, but only ${this.numSubSplits} were asked for`);
    }
    this.nextRowIds[page.streamId] = page.nextRowId;
  }

  get done(): boolean {
    return this.nextRowIds.every((rowId) => rowId === INVALID_ROW_ID);
  }

  startRowIdHeaders(): Record<string, string> {
    const headers: Record<string, string> = {};
    this.nextRowIds.forEach((rowId, subSplit) => {
      headers[`tabular-start-row-id-${subSplit}`] = `${subSplit},${rowId}`;
    });
    return headers;
  }
}

export interface SelectHeaderOptions {
  /** This request's split and the number of splits; the SDK's default is one split, [0, 1]. */
  readonly split?: readonly [number, number];
  /** Row groups each sub-split reads before skipping (the SDK sends 8). */
  readonly rowGroupsPerSubSplit?: number;
  /** Rows after which a sub-split stops and reports its next row id (tabular-limit-rows). */
  readonly limitRowsPerSubSplit?: number;
}

/**
 * The select-specific headers (the transaction id and the other common headers are the
 * client's). Values as the Python SDK formats them.
 */
export function selectHeaders(paging: SelectPaging, options: SelectHeaderOptions = {}): Record<string, string> {
  const [splitId, splits] = options.split ?? [0, 1];
  const headers: Record<string, string> = {
    'tabular-split': `${splitId},${splits},${options.rowGroupsPerSubSplit ?? 8}`,
    'tabular-num-of-subsplits': String(paging.numSubSplits),
    'tabular-request-format': 'string',
    'tabular-response-format': 'string',
  };
  if (options.limitRowsPerSubSplit !== undefined && options.limitRowsPerSubSplit > 0) {
    headers['tabular-limit-rows'] = String(options.limitRowsPerSubSplit);
  }
  return { ...headers, ...paging.startRowIdHeaders() };
}
