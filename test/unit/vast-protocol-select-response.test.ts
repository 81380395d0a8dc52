/**
 * The select answer's framing, round-tripped against Arrow IPC written by apache-arrow's own
 * writer: the test frames apache-arrow's messages the way VAST's clients read them (stream id,
 * next row id, one message), interleaves sub-splits and keep-alives, and the decoder must give
 * back exactly the rows apache-arrow was given, however the bytes are chunked.
 */
import {
  Bool,
  Field,
  Int64,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Table,
  Utf8,
  vectorFromArray,
  type DataType,
} from 'apache-arrow';
import { SelectPaging, selectHeaders } from '../../src/adapters/vast/protocol/select-paging';
import {
  COMPLETED_STREAM_ID,
  decodeSelectResponse,
  FAILED_STREAM_ID,
  KEEP_ALIVE_STREAM_ID,
  pageRows,
  SelectResponseDecoder,
  type SelectPage,
} from '../../src/adapters/vast/protocol/select-response';
import { INVALID_ROW_ID, type VastColumn } from '../../src/adapters/vast/protocol/vast-columns';
import { VastProtocolError } from '../../src/adapters/vast/protocol/vast-protocol-error';

const COLUMNS: VastColumn[] = [
  { name: 'start', type: 'int64', nullable: false },
  { name: 'flow_id', type: 'utf8', nullable: true },
  { name: 'deleted', type: 'bool', nullable: true },
];

/** One column's record batch, built by apache-arrow. */
function columnBatch(name: string, type: DataType, values: readonly unknown[]): RecordBatch {
  const vector = vectorFromArray(values as unknown[], type);
  const schema = new Schema([new Field(name, type, true)]);
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: values.length, nullCount: 0, children: [vector.data[0]!] }));
}

function writeStream(table: Table, legacy: boolean): Uint8Array {
  return RecordBatchStreamWriter.writeAll(table, { writeLegacyIpcFormat: legacy }).toUint8Array(true);
}

/**
 * The messages of one IPC stream as apache-arrow writes them, cut at message boundaries found by
 * writing the stream a batch at a time (no parsing of ours involved).
 */
function arrowMessages(batches: readonly RecordBatch[], legacy = false): Uint8Array[] {
  const schema = batches[0]!.schema;
  const eosBytes = legacy ? 4 : 8;
  const schemaOnly = writeStream(new Table(schema), legacy);
  const schemaMessage = schemaOnly.slice(0, schemaOnly.byteLength - eosBytes);
  const eos = schemaOnly.slice(schemaOnly.byteLength - eosBytes);
  const batchMessages = batches.map((batch) => {
    const stream = writeStream(new Table(schema, batch), legacy);
    return stream.slice(schemaMessage.byteLength, stream.byteLength - eosBytes);
  });
  return [schemaMessage, ...batchMessages, eos];
}

function frame(streamId: number, nextRowId: bigint, message: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + message.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, streamId, true);
  view.setBigUint64(4, nextRowId, true);
  out.set(message, 12);
  return out;
}

function marker(streamId: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, streamId, true);
  return out;
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

interface PageSpec {
  streamId: number;
  nextRowId: bigint;
  /** Per column, the record batches' values. */
  batches: [bigint[], (string | null)[], (boolean | null)[]][];
}

/** The frames of one page: each column an IPC stream, the page's row id on every frame. */
function pageFrames(spec: PageSpec, legacy = false): Uint8Array[][] {
  const types: DataType[] = [new Int64(), new Utf8(), new Bool()];
  return COLUMNS.map((column, index) =>
    arrowMessages(
      spec.batches.map((batch) => columnBatch(column.name, types[index]!, batch[index]!)),
      legacy,
    ).map((message) => frame(spec.streamId, spec.nextRowId, message)),
  );
}

/** Takes frames from several queues in turn, with keep-alives between some of them. */
function interleave(queues: Uint8Array[][]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let turn = 0;
  while (queues.some((queue) => queue.length > 0)) {
    const queue = queues[turn % queues.length]!;
    const next = queue.shift();
    if (next !== undefined) out.push(next);
    if (turn % 3 === 0) out.push(marker(KEEP_ALIVE_STREAM_ID));
    turn += 1;
  }
  return out;
}

const PAGE_A: PageSpec = {
  streamId: 0,
  nextRowId: 5000n,
  batches: [
    [[1n, 2n], ['a', null], [true, false]],
    [[3n], ['ccc'], [null]],
  ],
};
const PAGE_B1: PageSpec = { streamId: 1, nextRowId: 7000n, batches: [[[10n, -(2n ** 63n)], ['x', 'y'], [false, false]]] };
const PAGE_B2: PageSpec = { streamId: 1, nextRowId: INVALID_ROW_ID, batches: [[[2n ** 63n - 1n], ['z'], [true]]] };

function sampleBody(): Uint8Array {
  const subSplit0 = pageFrames(PAGE_A).flat();
  const subSplit1 = [...pageFrames(PAGE_B1).flat(), ...pageFrames(PAGE_B2).flat()];
  return join([...interleave([subSplit0, subSplit1]), marker(COMPLETED_STREAM_ID), new TextEncoder().encode('{"stats":1}')]);
}

const rowsOf = (pages: SelectPage[]) =>
  pages.map((page) => ({ streamId: page.streamId, nextRowId: page.nextRowId, rows: pageRows(page, COLUMNS) }));

const EXPECTED = [
  {
    streamId: 1,
    nextRowId: 7000n,
    rows: [
      { start: 10n, flow_id: 'x', deleted: false },
      { start: -(2n ** 63n), flow_id: 'y', deleted: false },
    ],
  },
  {
    streamId: 0,
    nextRowId: 5000n,
    rows: [
      { start: 1n, flow_id: 'a', deleted: true },
      { start: 2n, flow_id: null, deleted: false },
      { start: 3n, flow_id: 'ccc', deleted: null },
    ],
  },
  { streamId: 1, nextRowId: INVALID_ROW_ID, rows: [{ start: 2n ** 63n - 1n, flow_id: 'z', deleted: true }] },
];

describe('VAST select answer framing', () => {
  it('demultiplexes interleaved sub-splits into pages of the rows apache-arrow wrote', () => {
    const { pages, completed } = decodeSelectResponse(sampleBody(), COLUMNS);
    expect(completed).toBe(true);
    expect(rowsOf(pages)).toEqual(EXPECTED);
    expect(pages.map((page) => page.numRows)).toEqual([2, 3, 1]);
  });

  it('gives the same pages whatever the chunking (one byte at a time, odd sizes)', () => {
    const body = sampleBody();
    for (const size of [1, 3, 7, 64, 1000]) {
      const decoder = new SelectResponseDecoder(COLUMNS);
      const pages: SelectPage[] = [];
      for (let offset = 0; offset < body.byteLength; offset += size) pages.push(...decoder.push(body.subarray(offset, offset + size)));
      decoder.end();
      expect(rowsOf(pages)).toEqual(EXPECTED);
      expect(decoder.completed).toBe(true);
      expect(decoder.trailerBytes).toBe('{"stats":1}'.length);
    }
  });

  it('reads the pre-0.15 Arrow framing (no continuation marker, 4-byte end of stream)', () => {
    const body = join([...pageFrames(PAGE_B2, true).flat(), marker(COMPLETED_STREAM_ID)]);
    expect(rowsOf(decodeSelectResponse(body, COLUMNS).pages)).toEqual([EXPECTED[2]]);
  });

  it('reads an empty page (schema and end of stream only) as zero rows', () => {
    const empty: PageSpec = { streamId: 0, nextRowId: INVALID_ROW_ID, batches: [] };
    const types: DataType[] = [new Int64(), new Utf8(), new Bool()];
    const frames = COLUMNS.flatMap((column, index) => {
      const schemaOnly = writeStream(new Table(new Schema([new Field(column.name, types[index]!, true)])), false);
      return [
        frame(empty.streamId, empty.nextRowId, schemaOnly.slice(0, schemaOnly.byteLength - 8)),
        frame(empty.streamId, empty.nextRowId, schemaOnly.slice(schemaOnly.byteLength - 8)),
      ];
    });
    const { pages } = decodeSelectResponse(join([...frames, marker(COMPLETED_STREAM_ID)]), COLUMNS);
    expect(pages).toHaveLength(1);
    expect(pages[0]!.numRows).toBe(0);
    expect(pages[0]!.nextRowId).toBe(INVALID_ROW_ID);
  });

  it('reads a row count when no column was asked for (a record batch without columns)', () => {
    const schema = new Schema([]);
    const batch = new RecordBatch(schema, makeData({ type: new Struct([]), length: 42, nullCount: 0, children: [] }));
    const messages = arrowMessages([batch]);
    const body = join([...messages.map((message) => frame(2, INVALID_ROW_ID, message)), marker(COMPLETED_STREAM_ID)]);
    const { pages } = decodeSelectResponse(body, []);
    expect(pages.map((page) => [page.streamId, page.numRows, page.columns.length])).toEqual([[2, 42, 0]]);
  });

  it('reports the failure marker with its error code, even when it arrives in pieces', () => {
    const failure = new Uint8Array(16);
    const view = new DataView(failure.buffer);
    view.setUint32(0, FAILED_STREAM_ID, true);
    view.setBigUint64(4, 1234n, true);
    const decoder = new SelectResponseDecoder(COLUMNS);
    expect(decoder.push(failure.subarray(0, 6))).toEqual([]);
    let caught: unknown;
    try {
      decoder.push(failure.subarray(6));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(VastProtocolError);
    expect((caught as VastProtocolError).problem).toBe('server_failed');
    expect((caught as VastProtocolError).serverErrorCode).toBe(1234n);

    const cut = new SelectResponseDecoder(COLUMNS);
    cut.push(marker(FAILED_STREAM_ID));
    expect(() => cut.end()).toThrow(expect.objectContaining({ problem: 'server_failed' }));
  });

  it('refuses an answer cut inside a frame, or with a page half sent', () => {
    const body = sampleBody();
    const insideFrame = new SelectResponseDecoder(COLUMNS);
    insideFrame.push(body.subarray(0, 30));
    expect(() => insideFrame.end()).toThrow(expect.objectContaining({ problem: 'truncated' }));

    const frames = pageFrames(PAGE_A).flat();
    const halfPage = new SelectResponseDecoder(COLUMNS);
    expect(halfPage.push(join(frames.slice(0, frames.length - 1)))).toEqual([]);
    expect(() => halfPage.end()).toThrow(expect.objectContaining({ problem: 'truncated' }));

    const completedTooSoon = new SelectResponseDecoder(COLUMNS);
    completedTooSoon.push(join([...frames.slice(0, 4), marker(COMPLETED_STREAM_ID)]));
    expect(() => completedTooSoon.end()).toThrow(expect.objectContaining({ problem: 'malformed' }));
  });

  it('accepts an answer that ends cleanly without the completed marker, and says so', () => {
    const decoder = new SelectResponseDecoder(COLUMNS);
    const pages = decoder.push(join(pageFrames(PAGE_B1).flat()));
    decoder.end();
    expect(pages).toHaveLength(1);
    expect(decoder.completed).toBe(false);
  });

  it('refuses columns of another type, or more columns than asked for', () => {
    const wrongType: VastColumn[] = [{ name: 'start', type: 'utf8', nullable: true }, COLUMNS[1]!, COLUMNS[2]!];
    expect(() => decodeSelectResponse(sampleBody(), wrongType)).toThrow(expect.objectContaining({ problem: 'unexpected_column' }));
    expect(() => decodeSelectResponse(sampleBody(), COLUMNS.slice(0, 2))).toThrow(
      expect.objectContaining({ problem: 'unexpected_column' }),
    );
  });

  it('refuses an Arrow stream that does not start with its schema', () => {
    const [, batchMessage] = arrowMessages([columnBatch('start', new Int64(), [1n])]);
    expect(() => decodeSelectResponse(frame(0, 0n, batchMessage!), COLUMNS)).toThrow(expect.objectContaining({ problem: 'malformed' }));
  });
});

describe('VAST select paging', () => {
  it('moves each sub-split to its pages\' next row id and is done when all are at the marker', () => {
    const paging = new SelectPaging(2);
    expect(paging.startRowIdHeaders()).toEqual({ 'tabular-start-row-id-0': '0,0', 'tabular-start-row-id-1': '1,0' });
    for (const page of decodeSelectResponse(sampleBody(), COLUMNS).pages) paging.record(page);
    expect(paging.startRowIdHeaders()).toEqual({
      'tabular-start-row-id-0': '0,5000',
      'tabular-start-row-id-1': `1,${INVALID_ROW_ID}`,
    });
    expect(paging.done).toBe(false);
    paging.record({ streamId: 0, nextRowId: INVALID_ROW_ID, numRows: 0, columns: [] });
    expect(paging.done).toBe(true);
    expect(() => paging.record({ streamId: 2, nextRowId: 0n, numRows: 0, columns: [] })).toThrow(RangeError);
  });

  it('writes the select headers as the Python SDK formats them', () => {
    const paging = new SelectPaging(1);
    expect(selectHeaders(paging, { limitRowsPerSubSplit: 1000 })).toEqual({
      'tabular-split': '0,1,8',
      'tabular-num-of-subsplits': '1',
      'tabular-request-format': 'string',
      'tabular-response-format': 'string',
      'tabular-limit-rows': '1000',
      'tabular-start-row-id-0': '0,0',
    });
  });
});
