/**
 * Hostile review of the select answer decoder (protocol/select-response.ts): answers a broken or
 * hostile server could send. Each frame is built with apache-arrow's own message encoder, never
 * with the decoder's code.
 */
import { Field, Int64, MessageHeader, MetadataVersion, RecordBatchStreamWriter, Schema, Table, vectorFromArray } from 'apache-arrow';
import { Message, RecordBatch as RecordBatchHeader, FieldNode, BufferRegion } from 'apache-arrow/ipc/metadata/message';
import { ByteQueue } from '../../src/adapters/vast/protocol/byte-queue';
import { decodeSelectResponse, pageRows, COMPLETED_STREAM_ID } from '../../src/adapters/vast/protocol/select-response';
import { INVALID_ROW_ID, type VastColumn } from '../../src/adapters/vast/protocol/vast-columns';
import { VastProtocolError } from '../../src/adapters/vast/protocol/vast-protocol-error';

const START: VastColumn[] = [{ name: 'start', type: 'int64', nullable: true }];

function frame(streamId: number, nextRowId: bigint, message: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + message.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, streamId, true);
  view.setBigUint64(4, nextRowId, true);
  out.set(message, 12);
  return out;
}

/** An encapsulated IPC message: continuation, metadata length, metadata padded to 8, body. */
function encapsulate(message: Message, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const metadata = Message.encode(message);
  const padded = Math.ceil(metadata.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded + body.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xffffffff, true);
  view.setInt32(4, padded, true);
  out.set(metadata, 8);
  out.set(body, 8 + padded);
  return out;
}

function schemaMessage(bodyLength: number): Message {
  const schema = new Schema([new Field('start', new Int64(), true)]);
  return new Message(bodyLength, MetadataVersion.V5, MessageHeader.Schema, schema);
}

const EOS = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function marker(id: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, id, true);
  return out;
}

/**
 * Runs the decoder with ByteQueue.take counted: a decoder that takes more than `budget` times
 * from a few hundred bytes is looping (a real loop would never return and block the event loop,
 * which jest's timeout cannot interrupt).
 */
function decodeGuarded(body: Uint8Array, budget = 10_000): unknown {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with .call(this)
  const original = ByteQueue.prototype.take;
  let calls = 0;
  const spy = jest.spyOn(ByteQueue.prototype, 'take').mockImplementation(function (this: ByteQueue, n: number) {
    calls += 1;
    if (calls > budget) throw new Error(`LOOPING: ByteQueue.take called ${calls} times on a ${body.byteLength}-byte answer (last n=${n})`);
    return original.call(this, n);
  });
  try {
    return decodeSelectResponse(body, START);
  } catch (error) {
    return error;
  } finally {
    spy.mockRestore();
  }
}

describe('select answers a hostile server could send', () => {
  it('a message whose bodyLength cancels its own header (frame of 0 bytes) is refused (was a DEFECT: the decoder looped forever)', () => {
    // Non-zero, so that the flatbuffer holds the field (a zero bodyLength is left out).
    const probe = encapsulate(schemaMessage(-1));
    // totalBytes = 12 + 8 + metadata + bodyLength = 0: take(0) and the same frame again, forever.
    const message = encapsulate(schemaMessage(-(12 + probe.byteLength)));
    const outcome = decodeGuarded(frame(0, 0n, message));
    expect(String(outcome)).not.toMatch(/LOOPING/);
    expect(outcome).toBeInstanceOf(VastProtocolError);
  });

  it('a negative Arrow bodyLength is refused (was a DEFECT: the decoder looped, the queue growing)', () => {
    const message = encapsulate(schemaMessage(-4096));
    const outcome = decodeGuarded(concat([frame(0, 0n, message), marker(COMPLETED_STREAM_ID)]));
    expect(String(outcome)).not.toMatch(/LOOPING/);
    expect(outcome).toBeInstanceOf(VastProtocolError);
  });

  it('a bodyLength far beyond the answer ends as truncated, without waiting for or allocating it', () => {
    const message = encapsulate(schemaMessage(2 ** 52));
    const outcome = decodeGuarded(frame(0, 0n, message));
    expect(outcome).toBeInstanceOf(VastProtocolError);
    expect((outcome as VastProtocolError).message).toMatch(/ended inside a frame/);
  });

  it('a huge Arrow metadata length ends as truncated', () => {
    const out = new Uint8Array(12 + 8);
    const view = new DataView(out.buffer);
    view.setUint32(12, 0xffffffff, true);
    view.setInt32(16, 0x7fffffff, true);
    const outcome = decodeGuarded(out);
    expect(outcome).toBeInstanceOf(VastProtocolError);
  });

  it('a record batch claiming 2^31 rows with an 8-byte body is refused (was a DEFECT: accepted as a page of 2^31 rows)', () => {
    const schema = encapsulate(schemaMessage(0));
    const length = 2 ** 31;
    const body = new Uint8Array(8);
    const header = new RecordBatchHeader(length, [new FieldNode(length, 0)], [new BufferRegion(0, 0), new BufferRegion(0, 8)], null);
    const batch = encapsulate(new Message(body.byteLength, MetadataVersion.V5, MessageHeader.RecordBatch, header), body);
    const answer = concat([frame(0, 0n, schema), frame(0, 0n, batch), frame(0, INVALID_ROW_ID, EOS), marker(COMPLETED_STREAM_ID)]);
    const outcome = decodeGuarded(answer);
    // The decoder should refuse buffers shorter than the rows they claim to hold.
    expect(outcome).toBeInstanceOf(VastProtocolError);
  });

  it('a well-formed answer still decodes (the guard above does not disturb it)', () => {
    const table = new Table({ start: vectorFromArray([-(2n ** 63n), 2n ** 63n - 1n, null], new Int64()) });
    const stream = RecordBatchStreamWriter.writeAll(table).toUint8Array(true);
    const schemaOnly = RecordBatchStreamWriter.writeAll(new Table(table.schema)).toUint8Array(true);
    const schemaBytes = schemaOnly.slice(0, schemaOnly.byteLength - 8);
    const batchBytes = stream.slice(schemaBytes.byteLength, stream.byteLength - 8);
    const answer = concat([frame(0, 0n, schemaBytes), frame(0, 0n, batchBytes), frame(0, INVALID_ROW_ID, EOS), marker(COMPLETED_STREAM_ID)]);
    const outcome = decodeGuarded(answer) as { pages: Parameters<typeof pageRows>[0][] };
    expect(pageRows(outcome.pages[0]!, START)).toEqual([{ start: -(2n ** 63n) }, { start: 2n ** 63n - 1n }, { start: null }]);
  });
});
