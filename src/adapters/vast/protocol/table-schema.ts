/**
 * Table schemas on the wire, in Arrow IPC:
 *
 * - create table (`POST /bucket/schema/table?table`), add columns (`POST ?column`) and drop
 *   columns (`DELETE ?column`) send the columns as ONE encapsulated Arrow schema message, what
 *   pyarrow's `Schema.serialize()` writes (0xFFFFFFFF, length, Message flatbuffer, padding; no
 *   end-of-stream marker).
 * - list columns (`GET ?column`) answers with an Arrow IPC stream whose schema is the page of
 *   columns (paging in `tabular-next-key` / `tabular-is-truncated` headers).
 */
import { Schema, Table, tableFromIPC, tableToIPC, type DataType } from 'apache-arrow';
import { arrowFieldOf, vastTypeOf, type VastColumn } from './vast-columns';
import { VastProtocolError } from './vast-protocol-error';

const END_OF_STREAM = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);

export function encodeTableSchema(columns: readonly VastColumn[]): Uint8Array {
  const stream = tableToIPC(new Table(new Schema(columns.map(arrowFieldOf))), 'stream');
  // A stream with no batch is the schema message and the end-of-stream marker: drop the marker.
  const tail = stream.subarray(stream.byteLength - END_OF_STREAM.byteLength);
  if (!tail.every((byte, index) => byte === END_OF_STREAM[index])) {
    throw new VastProtocolError('malformed', 'apache-arrow did not end the schema stream as expected');
  }
  return stream.slice(0, stream.byteLength - END_OF_STREAM.byteLength);
}

/**
 * The columns of a list-columns answer. A column of a type the gateway never creates is an
 * error: the client layer compares what it finds with what it expects (migrations).
 */
export function decodeColumnList(body: Uint8Array): VastColumn[] {
  const schema = tableFromIPC<Record<string, DataType>>(body).schema;
  return schema.fields.map((field) => {
    const type = vastTypeOf(field.type);
    if (type === undefined) throw new VastProtocolError('unexpected_column', `column ${field.name} has a type the gateway does not use`);
    return { name: field.name, type, nullable: field.nullable };
  });
}
