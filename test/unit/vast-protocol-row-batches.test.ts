/**
 * Arrow IPC bodies of inserts, updates, deletes and table schemas, read back with apache-arrow's
 * reader (not the gateway's), and the answers VAST sends for them, written by apache-arrow.
 */
import { Field, MessageHeader, MessageReader, Schema, Table, tableFromIPC, tableToIPC, Uint64, Utf8, vectorFromArray } from 'apache-arrow';
import { decodeInsertedRowIds, encodeDeleteBatch, encodeRowBatch, encodeUpdateBatch } from '../../src/adapters/vast/protocol/row-batches';
import { decodeColumnList, encodeTableSchema } from '../../src/adapters/vast/protocol/table-schema';
import { ROW_ID_COLUMN, type VastColumn } from '../../src/adapters/vast/protocol/vast-columns';

const SEGMENTS: VastColumn[] = [
  { name: 'flow_id', type: 'utf8', nullable: false },
  { name: 'start', type: 'int64', nullable: false },
  { name: 'end', type: 'int64', nullable: false },
  { name: 'key_frames', type: 'int32', nullable: true },
  { name: 'last', type: 'bool', nullable: true },
];

const asRows = (table: Table) => table.toArray().map((row: { toJSON(): Record<string, unknown> }) => row.toJSON());

describe('VAST row batches', () => {
  it('encodes rows as one IPC stream of one record batch that apache-arrow reads back exactly', () => {
    const body = encodeRowBatch(SEGMENTS, [
      { flow_id: 'f', start: 0n, end: 10n, key_frames: 3, last: false },
      { flow_id: 'f', start: -(2n ** 63n), end: 2n ** 63n - 1n, key_frames: null, last: undefined },
    ]);
    expect(Array.from(body.subarray(0, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
    const table = tableFromIPC(body);
    expect(table.batches).toHaveLength(1);
    expect(table.schema.fields.map((field) => [field.name, String(field.type), field.nullable])).toEqual([
      ['flow_id', 'Utf8', false],
      ['start', 'Int64', false],
      ['end', 'Int64', false],
      ['key_frames', 'Int32', true],
      ['last', 'Bool', true],
    ]);
    expect(asRows(table)).toEqual([
      { flow_id: 'f', start: 0n, end: 10n, key_frames: 3, last: false },
      { flow_id: 'f', start: -(2n ** 63n), end: 2n ** 63n - 1n, key_frames: null, last: null },
    ]);
  });

  it('refuses values VAST would store wrongly or refuse', () => {
    expect(() => encodeRowBatch(SEGMENTS, [{ flow_id: 'f', start: 1, end: 2n }])).toThrow(/start \(int64\) cannot hold number/);
    expect(() => encodeRowBatch(SEGMENTS, [{ flow_id: null, start: 1n, end: 2n }])).toThrow(/flow_id is not nullable/);
    expect(() => encodeRowBatch(SEGMENTS, [{ flow_id: 'f', start: 2n ** 63n, end: 2n }])).toThrow(TypeError);
    expect(() => encodeRowBatch([SEGMENTS[0]!, SEGMENTS[0]!], [])).toThrow(/twice/);
  });

  it('puts $row_id first in an update and sorts the rows by it', () => {
    const table = tableFromIPC(
      encodeUpdateBatch([SEGMENTS[4]!], [
        { $row_id: 30n, last: true },
        { $row_id: 2n ** 64n - 2n, last: null },
        { $row_id: 4n, last: false },
      ]),
    );
    expect(table.schema.fields.map((field) => [field.name, String(field.type)])).toEqual([
      ['$row_id', 'Uint64'],
      ['last', 'Bool'],
    ]);
    expect(asRows(table)).toEqual([
      { $row_id: 4n, last: false },
      { $row_id: 30n, last: true },
      { $row_id: 2n ** 64n - 2n, last: null },
    ]);
  });

  it('sends a delete as the sorted row ids alone', () => {
    const table = tableFromIPC(encodeDeleteBatch([9n, 1n, 5n]));
    expect(table.schema.names).toEqual(['$row_id']);
    expect(asRows(table)).toEqual([{ $row_id: 1n }, { $row_id: 5n }, { $row_id: 9n }]);
  });

  it('reads the row ids of an insert answer', () => {
    const answer = tableToIPC(new Table({ $row_id: vectorFromArray([7n, 8n, 2n ** 48n], new Uint64()) }));
    expect(decodeInsertedRowIds(answer)).toEqual([7n, 8n, 2n ** 48n]);
    const wrong = tableToIPC(new Table({ id: vectorFromArray(['x'], new Utf8()) }));
    expect(() => decodeInsertedRowIds(wrong)).toThrow(expect.objectContaining({ problem: 'unexpected_column' }));
  });
});

describe('VAST table schema bodies', () => {
  it('sends a table\'s columns as one Arrow schema message without an end-of-stream marker', () => {
    const body = encodeTableSchema([...SEGMENTS, ROW_ID_COLUMN]);
    const reader = new MessageReader(body);
    const message = reader.readMessage(MessageHeader.Schema)!;
    const schema = message.header();
    expect(schema.fields.map((field) => [field.name, String(field.type), field.nullable])).toEqual([
      ['flow_id', 'Utf8', false],
      ['start', 'Int64', false],
      ['end', 'Int64', false],
      ['key_frames', 'Int32', true],
      ['last', 'Bool', true],
      ['$row_id', 'Uint64', true],
    ]);
    // Nothing after the one message: its prefix, metadata and (empty) body are the whole body.
    const metadataLength = new DataView(body.buffer, body.byteOffset + 4, 4).getInt32(0, true);
    expect(body.byteLength).toBe(8 + metadataLength);
    expect(message.bodyLength).toBe(0);
  });

  it('reads a list-columns answer (an Arrow stream\'s schema)', () => {
    const schema = new Schema([new Field('flow_id', new Utf8(), false), new Field('$row_id', new Uint64(), true)]);
    const stream = tableToIPC(new Table(schema));
    expect(decodeColumnList(stream)).toEqual([
      { name: 'flow_id', type: 'utf8', nullable: false },
      { name: '$row_id', type: 'uint64', nullable: true },
    ]);
  });
});
