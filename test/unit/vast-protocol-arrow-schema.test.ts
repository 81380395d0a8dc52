/**
 * The gateway's Arrow schema layout (fbs/arrow-schema.fbs, written by hand from Arrow's format)
 * checked against apache-arrow: a schema apache-arrow encodes, with every kind of type, must read
 * back through the flatc-generated readers with the same type ids and parameters. A field out of
 * order, or a union member missing, would show here.
 */
import {
  Binary,
  Bool,
  DateDay,
  Decimal,
  DurationNanosecond,
  Field,
  FixedSizeBinary,
  FixedSizeList,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  IntervalDayTime,
  LargeBinary,
  LargeUtf8,
  List,
  Map_,
  Message,
  Null,
  Schema,
  SparseUnion,
  Struct,
  TimeMillisecond,
  TimestampNanosecond,
  Uint64,
  Uint8,
  Utf8,
} from 'apache-arrow';
import { Message as ArrowFbMessage } from 'apache-arrow/fb/message';
import * as flatbuffers from 'flatbuffers';
import * as arrowfb from '../../src/adapters/vast/protocol/generated/arrow-schema_generated';

function readWithGeneratedReaders(schema: Schema): arrowfb.Schema {
  const bytes = Message.encode(Message.from(schema));
  const bb = new flatbuffers.ByteBuffer(bytes);
  const message = ArrowFbMessage.getRootAsMessage(bb);
  return message.header(new arrowfb.Schema()) as arrowfb.Schema;
}

describe('Arrow schema layout of the select request', () => {
  const mapEntries = [new Field('key', new Utf8(), false), new Field('value', new Int32(), true)];
  const unionMembers: Field[] = [new Field('a', new Int32(), true), new Field('b', new Utf8(), true)];
  const fields = [
    new Field('i8', new Int8(), false),
    new Field('i16', new Int16(), true),
    new Field('i32', new Int32(), true),
    new Field('i64', new Int64(), true),
    new Field('u8', new Uint8(), true),
    new Field('u64', new Uint64(), true),
    new Field('f64', new Float64(), true),
    new Field('bin', new Binary(), true),
    new Field('text', new Utf8(), true),
    new Field('flag', new Bool(), true),
    new Field('dec', new Decimal(2, 10, 128), true),
    new Field('day', new DateDay(), true),
    new Field('time', new TimeMillisecond(), true),
    new Field('ts', new TimestampNanosecond('UTC'), true),
    new Field('interval', new IntervalDayTime(), true),
    new Field('list', new List(new Field('item', new Int32(), true)), true),
    new Field('struct', new Struct([new Field('x', new Int32(), true)]), true),
    new Field('union', new SparseUnion([0, 1], unionMembers), true),
    new Field('fsb', new FixedSizeBinary(16), true),
    new Field('fsl', new FixedSizeList(3, new Field('item', new Float32(), true)), true),
    new Field('map', new Map_(new Field('entries', new Struct<{ key: Utf8; value: Int32 }>(mapEntries), false)), true),
    new Field('duration', new DurationNanosecond(), true),
    new Field('lbin', new LargeBinary(), true),
    new Field('ltext', new LargeUtf8(), true),
    new Field('null', new Null(), true),
  ];
  const read = readWithGeneratedReaders(new Schema(fields, new Map([['origin', 'test']])));
  const field = (index: number): arrowfb.Field => read.fields(index)!;
  const typeOf = <T>(index: number, reader: T): T => field(index).type(reader) as T;

  it('numbers every Type union member as Arrow does', () => {
    const names = Array.from({ length: read.fieldsLength() }, (_, index) => [field(index).name(), arrowfb.Type[field(index).typeType()]]);
    expect(names).toEqual([
      ['i8', 'Int'],
      ['i16', 'Int'],
      ['i32', 'Int'],
      ['i64', 'Int'],
      ['u8', 'Int'],
      ['u64', 'Int'],
      ['f64', 'FloatingPoint'],
      ['bin', 'Binary'],
      ['text', 'Utf8'],
      ['flag', 'Bool'],
      ['dec', 'Decimal'],
      ['day', 'Date'],
      ['time', 'Time'],
      ['ts', 'Timestamp'],
      ['interval', 'Interval'],
      ['list', 'List'],
      ['struct', 'Struct_'],
      ['union', 'Union'],
      ['fsb', 'FixedSizeBinary'],
      ['fsl', 'FixedSizeList'],
      ['map', 'Map'],
      ['duration', 'Duration'],
      ['lbin', 'LargeBinary'],
      ['ltext', 'LargeUtf8'],
      ['null', 'Null'],
    ]);
  });

  it('reads the fields\' own slots: integer width and sign, nullability, children, metadata', () => {
    const ints = [0, 1, 2, 3, 4, 5].map((index) => {
      const int = typeOf(index, new arrowfb.Int());
      return [int.bitWidth(), int.isSigned()];
    });
    expect(ints).toEqual([
      [8, true],
      [16, true],
      [32, true],
      [64, true],
      [8, false],
      [64, false],
    ]);
    expect([field(0).nullable(), field(1).nullable()]).toEqual([false, true]);
    expect(field(15).childrenLength()).toBe(1);
    expect(field(15).children(0)!.name()).toBe('item');
    expect(read.customMetadataLength()).toBe(1);
    expect([read.customMetadata(0)!.key(), read.customMetadata(0)!.value()]).toEqual(['origin', 'test']);
    expect(read.endianness()).toBe(arrowfb.Endianness.Little);
  });

  it('reads the parameterised types\' slots', () => {
    expect(typeOf(6, new arrowfb.FloatingPoint()).precision()).toBe(arrowfb.Precision.DOUBLE);
    const decimal = typeOf(10, new arrowfb.Decimal());
    expect([decimal.precision(), decimal.scale(), decimal.bitWidth()]).toEqual([10, 2, 128]);
    expect(typeOf(11, new arrowfb.Date()).unit()).toBe(arrowfb.DateUnit.DAY);
    const time = typeOf(12, new arrowfb.Time());
    expect([time.unit(), time.bitWidth()]).toEqual([arrowfb.TimeUnit.MILLISECOND, 32]);
    const timestamp = typeOf(13, new arrowfb.Timestamp());
    expect([timestamp.unit(), timestamp.timezone()]).toEqual([arrowfb.TimeUnit.NANOSECOND, 'UTC']);
    expect(typeOf(14, new arrowfb.Interval()).unit()).toBe(arrowfb.IntervalUnit.DAY_TIME);
    const union = typeOf(17, new arrowfb.Union());
    expect([union.mode(), Array.from(union.typeIdsArray() ?? [])]).toEqual([arrowfb.UnionMode.Sparse, [0, 1]]);
    expect(typeOf(18, new arrowfb.FixedSizeBinary()).byteWidth()).toBe(16);
    expect(typeOf(19, new arrowfb.FixedSizeList()).listSize()).toBe(3);
    expect(typeOf(20, new arrowfb.Map()).keysSorted()).toBe(false);
    expect(typeOf(21, new arrowfb.Duration()).unit()).toBe(arrowfb.TimeUnit.NANOSECOND);
  });
});
