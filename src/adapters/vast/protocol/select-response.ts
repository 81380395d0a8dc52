/**
 * The answer to a VAST select (`GET /bucket/schema/table?data`): Arrow IPC streams from several
 * sub-splits (server-side workers), interleaved message by message on one HTTP body.
 *
 * Layout, as both public clients read it (vastdb/_internal.py `_iter_query_data_response_columns`;
 * vast-db-connectors BaseQueryDataResponseParser), all integers little-endian:
 *
 *   frame     = stream_id:u32, then by value:
 *     0xFFFFFFFF  keep-alive, nothing follows
 *     0xFFFFFFFE  completed: the select is over; whatever follows (server statistics JSON, when
 *                 asked for) is not part of the data
 *     0xFFFFFFFD  failed: error_code:u64, then length:u32 (0) [Java client; the Python SDK only
 *                 stops]
 *     otherwise   next_row_id:u64, then ONE encapsulated Arrow IPC message (0xFFFFFFFF,
 *                 metadata length:i32, Message flatbuffer, padding, body; or the pre-0.15 form
 *                 without the 0xFFFFFFFF)
 *
 * A stream id is a sub-split number. Its messages form Arrow IPC streams one after another: a
 * schema message, record batches, an end-of-stream message. Each IPC stream carries one column
 * (VAST sends a column at a time); the columns of one page arrive in the order of the request's
 * Source schema, as consecutive IPC streams on the same stream id. When a stream id has sent as
 * many columns as were asked for, they form one page, and the next_row_id of the frame holding
 * the last end-of-stream is where that sub-split resumes (INVALID_ROW_ID: it has no more rows).
 * With no column asked for, each IPC stream is a page of its own whose record batches carry only
 * a row count.
 */
import { Message, MessageHeader, tableFromIPC, type DataType, type Vector } from 'apache-arrow';
import { ByteQueue } from './byte-queue';
import { vastTypeOf, type VastColumn, type VastColumnType, type VastValue } from './vast-columns';
import { VastProtocolError } from './vast-protocol-error';

export const KEEP_ALIVE_STREAM_ID = 0xffffffff;
export const COMPLETED_STREAM_ID = 0xfffffffe;
export const FAILED_STREAM_ID = 0xfffffffd;

const CONTINUATION = 0xffffffff;
const FRAME_HEADER_BYTES = 12;

export interface SelectPage {
  /** The sub-split that sent it (0 .. tabular-num-of-subsplits - 1). */
  readonly streamId: number;
  /** Where the sub-split resumes (`tabular-start-row-id-N`); INVALID_ROW_ID when it is done. */
  readonly nextRowId: bigint;
  readonly numRows: number;
  /** One vector per requested column, in the order the decoder was given. */
  readonly columns: readonly Vector[];
}

interface SubSplitState {
  /** Messages of the IPC stream being received, or null between streams. */
  ipcMessages: Uint8Array[] | null;
  /** Columns received for the page being assembled. */
  columns: Vector[];
}

interface FrameInProgress {
  streamId: number;
  nextRowId: bigint;
  totalBytes: number;
  /** null for an end-of-stream message. */
  headerType: MessageHeader | null;
}

/**
 * Feeds on the body's chunks as they arrive and hands back each page once complete, so a caller
 * can stream large selects and keep the paging state of every page it has fully received.
 */
export class SelectResponseDecoder {
  private readonly queue = new ByteQueue();
  private readonly subSplits = new Map<number, SubSplitState>();
  private frame: FrameInProgress | null = null;
  private completedMarker = false;
  private trailer = 0;

  constructor(private readonly responseColumns: readonly VastColumn[]) {}

  /** True once the server's "completed" marker has arrived. */
  get completed(): boolean {
    return this.completedMarker;
  }

  /** Bytes after the completed marker (server statistics, when asked for); never parsed. */
  get trailerBytes(): number {
    return this.trailer;
  }

  push(chunk: Uint8Array): SelectPage[] {
    this.queue.push(chunk);
    const pages: SelectPage[] = [];
    for (;;) {
      if (this.completedMarker) {
        this.trailer += this.queue.length;
        this.queue.clear();
        return pages;
      }
      const frame = this.frame ?? this.readFrameStart();
      if (frame === null) {
        if (this.completedMarker) continue;
        return pages;
      }
      if (this.queue.length < frame.totalBytes) return pages;
      this.frame = null;
      const message = this.queue.take(frame.totalBytes).subarray(FRAME_HEADER_BYTES);
      const page = this.onMessage(frame, message);
      if (page !== null) pages.push(page);
    }
  }

  /**
   * The body has ended. Throws when it stopped inside a frame or with a page unfinished (as the
   * Python SDK does, even after the completed marker). An answer that ends cleanly without the
   * completed marker is not an error here (the Python SDK accepts it, the Java client treats it
   * as a disconnection): `completed` tells which it was.
   */
  end(): void {
    if (!this.completedMarker) {
      if (this.queue.length >= 4 && this.queue.uint32At(0) === FAILED_STREAM_ID) {
        throw new VastProtocolError('server_failed', 'VAST ended the select with its failure marker');
      }
      if (this.queue.length > 0) {
        throw new VastProtocolError('truncated', `select answer ended inside a frame (${this.queue.length} bytes left)`);
      }
    }
    for (const [streamId, state] of this.subSplits) {
      if (state.ipcMessages !== null || state.columns.length > 0) {
        // After the completed marker this is the server contradicting itself, not a cut.
        const problem = this.completedMarker ? 'malformed' : 'truncated';
        throw new VastProtocolError(problem, `select answer ended with sub-split ${streamId}'s page unfinished`);
      }
    }
  }

  /** Parses the next frame's header once enough bytes are queued; null until then. */
  private readFrameStart(): FrameInProgress | null {
    for (;;) {
      if (this.queue.length < 4) return null;
      const streamId = this.queue.uint32At(0);
      if (streamId === KEEP_ALIVE_STREAM_ID) {
        this.queue.skip(4);
        continue;
      }
      if (streamId === COMPLETED_STREAM_ID) {
        this.queue.skip(4);
        this.completedMarker = true;
        return null;
      }
      if (streamId === FAILED_STREAM_ID) {
        if (this.queue.length < FRAME_HEADER_BYTES) return null;
        const code = this.queue.uint64At(4);
        throw new VastProtocolError('server_failed', `VAST failed the select (error code ${code})`, code);
      }
      return this.readDataFrameStart(streamId);
    }
  }

  private readDataFrameStart(streamId: number): FrameInProgress | null {
    if (this.queue.length < FRAME_HEADER_BYTES + 4) return null;
    const nextRowId = this.queue.uint64At(4);
    const first = this.queue.uint32At(FRAME_HEADER_BYTES);
    let prefix = 4;
    let metadataBytes = this.queue.int32At(FRAME_HEADER_BYTES);
    if (first === CONTINUATION) {
      if (this.queue.length < FRAME_HEADER_BYTES + 8) return null;
      prefix = 8;
      metadataBytes = this.queue.int32At(FRAME_HEADER_BYTES + 4);
    }
    if (metadataBytes < 0) {
      throw new VastProtocolError('malformed', `stream ${streamId}: negative Arrow metadata length ${metadataBytes}`);
    }
    if (metadataBytes === 0) {
      this.frame = { streamId, nextRowId, totalBytes: FRAME_HEADER_BYTES + prefix, headerType: null };
      return this.frame;
    }
    const metadataEnd = FRAME_HEADER_BYTES + prefix + metadataBytes;
    if (this.queue.length < metadataEnd) return null;
    let message: Message;
    try {
      message = Message.decode(this.queue.peek(metadataEnd).subarray(FRAME_HEADER_BYTES + prefix));
    } catch (error) {
      throw new VastProtocolError('malformed', `stream ${streamId}: unreadable Arrow message (${String(error)})`);
    }
    // A hostile or broken length must not make a frame of no bytes (read again forever) or a
    // queue that looks longer than it is: the body is a whole, non-negative number of bytes.
    const bodyLength = Number(message.bodyLength);
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) {
      throw new VastProtocolError('malformed', `stream ${streamId}: Arrow body length ${String(message.bodyLength)} is not a byte count`);
    }
    this.frame = { streamId, nextRowId, totalBytes: metadataEnd + bodyLength, headerType: message.headerType as MessageHeader };
    return this.frame;
  }

  private onMessage(frame: FrameInProgress, message: Uint8Array): SelectPage | null {
    let state = this.subSplits.get(frame.streamId);
    if (state === undefined) {
      state = { ipcMessages: null, columns: [] };
      this.subSplits.set(frame.streamId, state);
    }
    if (state.ipcMessages === null) {
      if (frame.headerType !== MessageHeader.Schema) {
        throw new VastProtocolError('malformed', `stream ${frame.streamId}: an Arrow stream must start with its schema`);
      }
      state.ipcMessages = [message];
      return null;
    }
    state.ipcMessages.push(message);
    if (frame.headerType !== null) return null;

    const table = tableFromIPC<Record<string, DataType>>(concat(state.ipcMessages));
    state.ipcMessages = null;
    if (this.responseColumns.length === 0) {
      return { streamId: frame.streamId, nextRowId: frame.nextRowId, numRows: table.numRows, columns: [] };
    }
    for (let index = 0; index < table.numCols; index += 1) {
      const vector = table.getChildAt(index)!;
      const expected = this.responseColumns[state.columns.length];
      if (expected === undefined) {
        throw new VastProtocolError('unexpected_column', `stream ${frame.streamId}: more columns than the ${this.responseColumns.length} asked for`);
      }
      const received = vastTypeOf(table.schema.fields[index]!.type);
      if (received !== expected.type) {
        throw new VastProtocolError(
          'unexpected_column',
          `stream ${frame.streamId}: column ${expected.name} came as ${received ?? 'another Arrow type'}, not ${expected.type}`,
        );
      }
      checkBuffers(vector, expected.type, frame.streamId, expected.name);
      state.columns.push(vector);
    }
    if (state.columns.length < this.responseColumns.length) return null;

    const columns = state.columns;
    state.columns = [];
    const numRows = columns[0]!.length;
    if (columns.some((column) => column.length !== numRows)) {
      throw new VastProtocolError('malformed', `stream ${frame.streamId}: the columns of one page differ in length`);
    }
    return { streamId: frame.streamId, nextRowId: frame.nextRowId, numRows, columns };
  }
}

const BYTES_PER_VALUE: Partial<Record<VastColumnType, number>> = { int8: 1, int16: 2, int32: 4, int64: 8, uint64: 8 };

/**
 * Refuses a column whose buffers are shorter than its row count needs. apache-arrow takes the
 * counts of a record batch as sent: a batch claiming 2^31 rows over an 8-byte body would read
 * outside its buffers (and a page of it would be built row by row).
 */
function checkBuffers(vector: Vector, type: VastColumnType, streamId: number, name: string): void {
  for (const data of vector.data) {
    const rows = data.offset + data.length;
    const short = (what: string): VastProtocolError =>
      new VastProtocolError('malformed', `stream ${streamId}: column ${name} claims ${data.length} rows but its ${what} buffer is too short`);
    const bitmapBytes = Math.ceil(rows / 8);
    if (data.nullCount > 0 && (data.nullBitmap?.byteLength ?? 0) < bitmapBytes) throw short('validity');
    const width = BYTES_PER_VALUE[type];
    if (width !== undefined && (data.values as Uint8Array | undefined)?.byteLength !== undefined && (data.values as Uint8Array).byteLength < rows * width) throw short('values');
    if (width !== undefined && data.values === undefined && data.length > 0) throw short('values');
    if (type === 'bool' && ((data.values as Uint8Array | undefined)?.byteLength ?? 0) < bitmapBytes) throw short('values');
    if (type === 'utf8' && rows > 0) {
      const offsets = data.valueOffsets as Int32Array | undefined;
      if ((offsets?.length ?? 0) < rows + 1) throw short('offsets');
      const last = offsets === undefined ? 0 : (offsets[rows] as number);
      if (last < 0 || last > ((data.values as Uint8Array | undefined)?.byteLength ?? 0)) throw short('values');
    }
  }
}

/** Decodes a whole select answer at once (tests, small selects). */
export function decodeSelectResponse(
  body: Uint8Array,
  responseColumns: readonly VastColumn[],
): { pages: SelectPage[]; completed: boolean } {
  const decoder = new SelectResponseDecoder(responseColumns);
  const pages = decoder.push(body);
  decoder.end();
  return { pages, completed: decoder.completed };
}

/** A page's rows as plain objects keyed by column name (int64 and uint64 as bigint). */
export function pageRows(page: SelectPage, responseColumns: readonly VastColumn[]): Record<string, VastValue | null>[] {
  const rows: Record<string, VastValue | null>[] = [];
  for (let row = 0; row < page.numRows; row += 1) {
    const record: Record<string, VastValue | null> = {};
    responseColumns.forEach((column, index) => {
      const value: unknown = page.columns[index]!.get(row);
      record[column.name] = (value ?? null) as VastValue | null;
    });
    rows.push(record);
  }
  return rows;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
