/**
 * Bodies of VAST's row operations, each one Arrow IPC stream holding one record batch (the
 * Python SDK says "the server expects a single RecordBatch per request"):
 *
 * - insert, `POST ?rows`: the new rows; VAST answers with a stream whose `$row_id` column holds
 *   the rows' ids, in the order sent.
 * - update, `PUT ?rows`: `$row_id` first, then the columns to change.
 * - delete, `DELETE ?rows`: `$row_id` alone.
 *
 * Updates and deletes are sent sorted by row id, as the Python SDK does before sending
 * (`sort_record_batch_if_needed`). Slicing a large batch under the request size limit is the
 * client's job: encode a slice at a time.
 */
import { makeBuilder, makeData, RecordBatch, Schema, Struct, Table, tableFromIPC, tableToIPC, type Data, type DataType } from 'apache-arrow';
import { arrowFieldOf, arrowTypeOf, checkValue, ROW_ID_COLUMN, ROW_ID_COLUMN_NAME, type VastColumn, type VastValue } from './vast-columns';
import { VastProtocolError } from './vast-protocol-error';

export type VastRow = Readonly<Record<string, VastValue | null | undefined>>;

/** One Arrow IPC stream (schema, one record batch, end of stream) holding `rows`. */
export function encodeRowBatch(columns: readonly VastColumn[], rows: readonly VastRow[]): Uint8Array {
  const names = new Set<string>();
  for (const column of columns) {
    if (names.has(column.name)) throw new TypeError(`column ${column.name} given twice`);
    names.add(column.name);
  }
  const children = columns.map((column): Data<DataType> => {
    const builder = makeBuilder<DataType>({ type: arrowTypeOf(column.type), nullValues: [null, undefined] });
    for (const row of rows) {
      const value = row[column.name];
      checkValue(column, value);
      builder.append(value);
    }
    return builder.finish().flush() as Data<DataType>;
  });
  const schema = new Schema(columns.map(arrowFieldOf));
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
  return tableToIPC(new Table(schema, batch), 'stream');
}

/** The body of an update: `$row_id` and the changed columns, rows sorted by row id. */
export function encodeUpdateBatch(columns: readonly VastColumn[], rows: readonly (VastRow & { readonly [ROW_ID_COLUMN_NAME]: bigint })[]): Uint8Array {
  if (columns.some((column) => column.name === ROW_ID_COLUMN_NAME)) throw new TypeError(`${ROW_ID_COLUMN_NAME} is added by the encoder`);
  return encodeRowBatch([ROW_ID_COLUMN, ...columns], sortedByRowId(rows));
}

/** The body of a delete: the row ids, sorted. */
export function encodeDeleteBatch(rowIds: readonly bigint[]): Uint8Array {
  return encodeRowBatch([ROW_ID_COLUMN], sortedByRowId(rowIds.map((rowId) => ({ [ROW_ID_COLUMN_NAME]: rowId }))));
}

/** The row ids in VAST's answer to an insert, in the order the rows were sent. */
export function decodeInsertedRowIds(body: Uint8Array): bigint[] {
  const table = tableFromIPC(body);
  const column = table.getChild(ROW_ID_COLUMN_NAME);
  if (column === null) {
    throw new VastProtocolError('unexpected_column', `insert answer has no ${ROW_ID_COLUMN_NAME} column (${table.schema.names.join(', ')})`);
  }
  const ids: bigint[] = [];
  for (const value of column) {
    if (typeof value !== 'bigint') throw new VastProtocolError('unexpected_column', `insert answer's ${ROW_ID_COLUMN_NAME} is ${String(column.type)}, not Uint64`);
    ids.push(value);
  }
  return ids;
}

function sortedByRowId<Row extends VastRow>(rows: readonly Row[]): Row[] {
  const rowIdOf = (row: Row): bigint => {
    const value = row[ROW_ID_COLUMN_NAME];
    if (typeof value !== 'bigint') throw new TypeError(`every row needs a bigint ${ROW_ID_COLUMN_NAME}`);
    return value;
  };
  return [...rows].sort((a, b) => {
    const left = rowIdOf(a);
    const right = rowIdOf(b);
    return left < right ? -1 : left > right ? 1 : 0;
  });
}
