/**
 * One table inside one transaction: insert, select, update and delete by row id.
 *
 * - insert: the rows as Arrow record batches sliced under the request budget
 *   (request-slicing.ts), one `POST ?rows` per slice; VAST answers each with the new rows'
 *   `$row_id`s, returned in the order the rows were given.
 * - select: `GET ?data` with the select body (protocol/select-request.ts), repeated with each
 *   sub-split's next row id until every sub-split is done (protocol/select-paging.ts) or the row
 *   limit is reached. The rows of one select come in no defined order (sub-splits interleave).
 * - update and delete: by `$row_id`, in row-id order, sliced like inserts.
 *
 * int64 and uint64 values are bigint both ways; `$row_id` is a uint64.
 */
import { buildSelectRequest } from '../protocol/select-request';
import type { SelectFilter } from '../protocol/select-filter';
import { SelectPaging, selectHeaders } from '../protocol/select-paging';
import { decodeSelectResponse, pageRows } from '../protocol/select-response';
import { decodeInsertedRowIds, encodeDeleteBatch, encodeRowBatch, encodeUpdateBatch, type VastRow } from '../protocol/row-batches';
import { INVALID_ROW_ID, ROW_ID_COLUMN, ROW_ID_COLUMN_NAME, type VastColumn, type VastValue } from '../protocol/vast-columns';
import { VastProtocolError } from '../protocol/vast-protocol-error';
import { SDK_SLICE_BUDGET_BYTES } from '../transport/request-limits';
import { VastRequestError } from '../transport/vast-request-error';
import { encodedSlices } from './request-slicing';
import type { TransactionContext } from './transaction-context';

/** A table as the gateway knows it: enough to use it in any transaction without asking VAST. */
export interface VastTableDefinition {
  readonly schema: string;
  readonly name: string;
  /** The table's columns (without `$row_id`, which every table has). */
  readonly columns: readonly VastColumn[];
}

/** A selected row: column name to value (null for a null cell). */
export type VastRecord = Record<string, VastValue | null>;

/** A row to update: its `$row_id` and the new values. */
export type VastUpdateRow = VastRow & { readonly [ROW_ID_COLUMN_NAME]: bigint };

export interface SelectOptions {
  /** Columns to return, in this order. Default: every column of the definition. `[]` returns empty records (see count()). */
  readonly columns?: readonly string[];
  /** AND of OR-groups (filter.ts). Default: every row. */
  readonly filter?: SelectFilter;
  /** Adds `$row_id` (bigint) to every record. */
  readonly withRowId?: boolean;
  /** At most this many rows in all. */
  readonly limit?: number;
}

export class VastTable {
  private readonly byName: ReadonlyMap<string, VastColumn>;

  constructor(
    private readonly context: TransactionContext,
    readonly definition: VastTableDefinition,
  ) {
    const byName = new Map<string, VastColumn>();
    for (const column of definition.columns) {
      if (column.name === ROW_ID_COLUMN_NAME) throw new TypeError(`${ROW_ID_COLUMN_NAME} is VAST's own column, not one to define`);
      if (byName.has(column.name)) throw new TypeError(`column ${column.name} defined twice in ${this.label}`);
      byName.set(column.name, column);
    }
    this.byName = byName;
  }

  private get label(): string {
    return `${this.definition.schema}/${this.definition.name}`;
  }

  private get path(): readonly string[] {
    return [this.context.bucket, this.definition.schema, this.definition.name];
  }

  /** Inserts the rows (every column of the definition; a missing value is null) and returns their row ids, in order. */
  async insert(rows: readonly VastRow[]): Promise<bigint[]> {
    const operation = `insert rows into ${this.label}`;
    const rowIds: bigint[] = [];
    for (const slice of encodedSlices(rows, (part) => encodeRowBatch(this.definition.columns, part), operation)) {
      const response = await this.context.transport.request({
        method: 'POST',
        operation,
        path: this.path,
        verb: 'rows',
        headers: this.context.headers(operation),
        body: Buffer.from(slice.body.buffer, slice.body.byteOffset, slice.body.byteLength),
      });
      const ids = decodeInsertedRowIds(response.body);
      if (ids.length !== slice.count) {
        throw new VastProtocolError('malformed', `${operation}: ${slice.count} rows sent, ${ids.length} row ids answered`);
      }
      rowIds.push(...ids);
    }
    return rowIds;
  }

  /** Every matching row (up to `limit`). */
  async select(options: SelectOptions = {}): Promise<VastRecord[]> {
    const rows: VastRecord[] = [];
    for await (const page of this.pages(options)) rows.push(...page);
    return rows;
  }

  /** The number of matching rows (a select with nothing projected). */
  async count(filter: SelectFilter = []): Promise<number> {
    let rows = 0;
    for await (const page of this.pages({ columns: [], filter })) rows += page.length;
    return rows;
  }

  /** The matching rows page by page, as VAST's sub-splits send them. */
  async *pages(options: SelectOptions = {}): AsyncGenerator<VastRecord[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0) || (Number.isFinite(limit) && !Number.isInteger(limit))) throw new RangeError(`limit must be a non-negative integer, not ${limit}`);
    if (limit === 0) return;
    const operation = `select from ${this.label}`;
    const projection = [...(options.columns ?? this.definition.columns.map((column) => column.name))];
    if (options.withRowId === true) projection.push(ROW_ID_COLUMN_NAME);
    const request = buildSelectRequest({
      tableColumns: [...this.definition.columns, ROW_ID_COLUMN],
      projection,
      filter: options.filter ?? [],
    });
    if (request.body.byteLength > SDK_SLICE_BUDGET_BYTES) {
      throw new VastRequestError({ kind: 'request_too_large', operation, attempts: 0, detail: `${operation}: a select body of ${request.body.byteLength} bytes`, limit: SDK_SLICE_BUDGET_BYTES });
    }
    const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    const settings = this.context.select;
    const paging = new SelectPaging(settings.numSubSplits);
    // Where each sub-split stands (moved page by page) and which have finished: a page must move
    // its sub-split forward; a finished sub-split's pages sent again are dropped (their rows were
    // returned already); an answer that moves no unfinished sub-split would have the same
    // request sent forever.
    const starts = Array.from({ length: settings.numSubSplits }, () => 0n);
    const finished = new Set<number>();
    let remaining = limit;
    // Rows asked of each sub-split per request: an answer over the transport's size limit (wide
    // rows) is asked again for a quarter as many, down to one row (a select is a read: safe).
    let rowsPerSubSplit = settings.limitRowsPerSubSplit;
    while (!paging.done) {
      let response: Awaited<ReturnType<typeof this.context.transport.request>>;
      try {
        response = await this.context.transport.request({
          method: 'GET',
          operation,
          path: this.path,
          verb: 'data',
          headers: {
            ...this.context.headers(operation),
            ...selectHeaders(paging, {
              rowGroupsPerSubSplit: settings.rowGroupsPerSubSplit,
              limitRowsPerSubSplit: Math.min(remaining, rowsPerSubSplit),
            }),
          },
          body,
        });
      } catch (error) {
        if (error instanceof VastRequestError && error.kind === 'response_too_large' && Math.min(remaining, rowsPerSubSplit) > 1) {
          rowsPerSubSplit = Math.max(1, Math.floor(Math.min(remaining, rowsPerSubSplit) / 4));
          continue;
        }
        throw error;
      }
      const { pages } = decodeSelectResponse(response.body, request.responseColumns);
      if (pages.length === 0) throw new VastProtocolError('malformed', `${operation}: VAST answered no page while sub-splits were left`);
      let moved = false;
      for (const page of pages) {
        if (finished.has(page.streamId)) continue;
        const start = starts[page.streamId];
        if (start !== undefined && page.nextRowId !== INVALID_ROW_ID && page.nextRowId <= start) {
          throw new VastProtocolError('malformed', `${operation}: sub-split ${page.streamId} asked to start at row ${start} answered next row ${page.nextRowId}`);
        }
        moved = true;
        paging.record(page);
        if (page.nextRowId === INVALID_ROW_ID) finished.add(page.streamId);
        else starts[page.streamId] = page.nextRowId;
        const rows = pageRows(page, request.responseColumns);
        if (rows.length >= remaining) {
          yield rows.slice(0, remaining);
          return;
        }
        remaining -= rows.length;
        if (rows.length > 0) yield rows;
      }
      if (!moved) throw new VastProtocolError('malformed', `${operation}: VAST answered only sub-splits that had finished, while others were left`);
    }
  }

  /**
   * Sets `columns` of each row to the row's values; every row must give every one of them (a
   * missing value would silently become null). Row ids must be distinct.
   */
  async update(columns: readonly string[], rows: readonly VastUpdateRow[]): Promise<void> {
    const operation = `update rows of ${this.label}`;
    if (columns.length === 0) throw new TypeError(`${operation}: no column to update`);
    const changed = columns.map((name) => {
      const column = this.byName.get(name);
      if (column === undefined) throw new TypeError(`${operation}: no column ${name}`);
      return column;
    });
    if (new Set(columns).size !== columns.length) throw new TypeError(`${operation}: a column is named twice`);
    for (const row of rows) {
      const missing = columns.find((name) => !Object.prototype.hasOwnProperty.call(row, name));
      if (missing !== undefined) throw new TypeError(`${operation}: row ${String(row[ROW_ID_COLUMN_NAME])} gives no value for ${missing}`);
    }
    const sorted = sortedByRowId(rows, operation);
    for (const slice of encodedSlices(sorted, (part) => encodeUpdateBatch(changed, part), operation)) {
      await this.send('PUT', operation, slice.body);
    }
  }

  /** Deletes the rows with these ids (repeats ignored). */
  async delete(rowIds: readonly bigint[]): Promise<void> {
    const operation = `delete rows of ${this.label}`;
    const ids = [...new Set(rowIds)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const slice of encodedSlices(ids, (part) => encodeDeleteBatch(part), operation)) {
      await this.send('DELETE', operation, slice.body);
    }
  }

  private async send(method: 'PUT' | 'DELETE', operation: string, body: Uint8Array): Promise<void> {
    await this.context.transport.request({
      method,
      operation,
      path: this.path,
      verb: 'rows',
      headers: this.context.headers(operation),
      body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    });
  }
}

function sortedByRowId(rows: readonly VastUpdateRow[], operation: string): VastUpdateRow[] {
  const seen = new Set<bigint>();
  for (const row of rows) {
    const rowId = row[ROW_ID_COLUMN_NAME];
    if (typeof rowId !== 'bigint') throw new TypeError(`${operation}: every row needs a bigint ${ROW_ID_COLUMN_NAME}`);
    if (seen.has(rowId)) throw new TypeError(`${operation}: row ${rowId} given twice`);
    seen.add(rowId);
  }
  return [...rows].sort((a, b) => (a[ROW_ID_COLUMN_NAME] < b[ROW_ID_COLUMN_NAME] ? -1 : a[ROW_ID_COLUMN_NAME] > b[ROW_ID_COLUMN_NAME] ? 1 : 0));
}
