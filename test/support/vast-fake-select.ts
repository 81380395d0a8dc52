/**
 * Selects as the fake VAST server answers them, written apart from the client's codec:
 *
 * - the request body is read with the flatc-generated readers alone
 *   (src/adapters/vast/protocol/generated), not with the client's builder or its reader, and
 *   held to the shape VAST is known to take: `Relation { Source { schema, filter, projection } }`,
 *   the filter an AND of ORs, each OR over comparisons of ONE column with a literal of that
 *   column's type (`is_null` / `is_valid` take the column alone). Anything else is refused
 *   (SelectRefused, answered 400);
 * - the answer is written with apache-arrow's own IPC writer: for each page of each sub-split,
 *   one Arrow IPC stream per projected column (schema, one record batch, end of stream), every
 *   IPC message framed as `stream id u32, next row id u64, message` (little-endian), frames of
 *   different sub-splits interleaved message by message, keep-alive markers among them, and
 *   the completed marker at the end. With nothing projected, a page is one stream of a
 *   column-less batch that carries only its row count.
 */
import * as flatbuffers from 'flatbuffers';
import { Bool, Int16, Int32, Int64, Int8, makeBuilder, makeData, Message, RecordBatch, Schema, Struct, Table, tableToIPC, Uint64, Utf8, Field as ArrowField, type Data, type DataType } from 'apache-arrow';
import * as arrowfb from '../../src/adapters/vast/protocol/generated/arrow-schema_generated';
import * as ir from '../../src/adapters/vast/protocol/generated/computeir_generated';

export type FakeColumnType = 'int8' | 'int16' | 'int32' | 'int64' | 'uint64' | 'utf8' | 'bool';
export interface FakeColumn {
  readonly name: string;
  readonly type: FakeColumnType;
  readonly nullable: boolean;
}
export type FakeValue = bigint | number | string | boolean | null;
export type FakeRow = Readonly<Record<string, FakeValue>>;

export const ROW_ID = '$row_id';
export const NO_MORE_ROWS = (1n << 48n) - 1n;

/** A select the fake refuses, with the S3-style code it answers (400). */
export class SelectRefused extends Error {
  override name = 'SelectRefused';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ParsedSelect {
  /** The Source schema's columns, resolved against the table (`$row_id` included when asked). */
  readonly queried: readonly FakeColumn[];
  /** The answer's columns, in projection order. */
  readonly answerColumns: readonly FakeColumn[];
  readonly matches: (row: FakeRow) => boolean;
  /** The conditions, for the test log: `column op literal` strings, ORs joined by `|`. */
  readonly conditions: readonly string[];
}

const COMPARISONS = new Set(['equal', 'not_equal', 'less', 'less_equal', 'greater', 'greater_equal']);

function fieldType(field: arrowfb.Field): FakeColumnType | undefined {
  switch (field.typeType()) {
    case arrowfb.Type.Int: {
      const int = field.type(new arrowfb.Int()) as arrowfb.Int;
      if (!int.isSigned()) return int.bitWidth() === 64 ? 'uint64' : undefined;
      return ({ 8: 'int8', 16: 'int16', 32: 'int32', 64: 'int64' } as const)[int.bitWidth() as 8 | 16 | 32 | 64];
    }
    case arrowfb.Type.Utf8:
      return 'utf8';
    case arrowfb.Type.Bool:
      return 'bool';
    default:
      return undefined;
  }
}

/** Reads a select body against the table's columns (`$row_id` among them). */
export function parseSelect(body: Uint8Array, tableColumns: readonly FakeColumn[]): ParsedSelect {
  const refuse = (message: string): never => {
    throw new SelectRefused('InvalidArgument', message);
  };
  let relation: ir.Relation;
  let source: ir.Source;
  try {
    relation = ir.Relation.getRootAsRelation(new flatbuffers.ByteBuffer(body));
    if (relation.implType() !== ir.RelationImpl.Source) refuse(`relation ${ir.RelationImpl[relation.implType()]} is not a Source`);
    source = relation.impl(new ir.Source()) as ir.Source;
  } catch (error) {
    if (error instanceof SelectRefused) throw error;
    throw new SelectRefused('InvalidArgument', `unreadable select body (${String(error)})`);
  }
  const byName = new Map(tableColumns.map((column) => [column.name, column]));
  const schema = source.schema();
  if (schema === null) refuse('the Source has no schema');
  const queried: FakeColumn[] = [];
  for (let index = 0; index < schema!.fieldsLength(); index += 1) {
    const field = schema!.fields(index)!;
    const name = field.name() ?? '';
    const column = byName.get(name) ?? refuse(`no column ${JSON.stringify(name)} in the table`);
    if (fieldType(field) !== column.type) refuse(`column ${name} is ${column.type}, asked as ${arrowfb.Type[field.typeType()]}`);
    if (queried.some((other) => other.name === name)) refuse(`column ${name} queried twice`);
    queried.push(column);
  }
  const answerColumns: FakeColumn[] = [];
  for (let index = 0; index < source.projectionLength(); index += 1) {
    const position = source.projection(index)!.position();
    answerColumns.push(queried[position] ?? refuse(`projection position ${position} outside the ${queried.length} queried columns`));
  }
  const filter = source.filter();
  if (filter === null) refuse('the Source has no filter (no filter is an empty and())');
  const groups = readAnd(filter!, queried, refuse);
  return {
    queried,
    answerColumns,
    matches: (row) => groups.every((group) => group.conditions.some((condition) => condition.test(row))),
    conditions: groups.map((group) => group.conditions.map((condition) => condition.text).join(' | ')),
  };
}

interface Condition {
  readonly test: (row: FakeRow) => boolean;
  readonly text: string;
}

function readCall(expression: ir.Expression, refuse: (message: string) => never): { name: string; args: ir.Expression[] } {
  if (expression.implType() !== ir.ExpressionImpl.Call) refuse(`expected a call, found ${ir.ExpressionImpl[expression.implType()]}`);
  const call = expression.impl(new ir.Call()) as ir.Call;
  const args: ir.Expression[] = [];
  for (let index = 0; index < call.argumentsLength(); index += 1) args.push(call.arguments_(index)!);
  return { name: call.name() ?? '', args };
}

function readAnd(expression: ir.Expression, queried: readonly FakeColumn[], refuse: (message: string) => never): { conditions: Condition[] }[] {
  const and = readCall(expression, refuse);
  if (and.name !== 'and') refuse(`the filter's root is ${and.name}, not and`);
  return and.args.map((groupExpression) => {
    const or = readCall(groupExpression, refuse);
    if (or.name !== 'or') refuse(`an AND argument is ${or.name}, not or`);
    if (or.args.length === 0) refuse('an empty OR');
    const conditions = or.args.map((argument) => readCondition(argument, queried, refuse));
    const columns = new Set(conditions.map((condition) => condition.column));
    // The one shape VAST is documented not to take (the Python SDK refuses it before sending).
    if (columns.size > 1) refuse(`an OR across columns ${[...columns].join(', ')}`);
    return { conditions };
  });
}

function readCondition(expression: ir.Expression, queried: readonly FakeColumn[], refuse: (message: string) => never): Condition & { column: string } {
  const call = readCall(expression, refuse);
  const fieldExpression = call.args[0] ?? refuse(`${call.name} without arguments`);
  if (fieldExpression.implType() !== ir.ExpressionImpl.FieldRef) refuse(`${call.name}'s first argument is not a field reference`);
  const ref = fieldExpression.impl(new ir.FieldRef()) as ir.FieldRef;
  if (ref.refType() !== ir.Deref.FieldIndex) refuse(`${call.name} references a field by ${ir.Deref[ref.refType()]}`);
  const position = (ref.ref(new ir.FieldIndex()) as ir.FieldIndex).position();
  const column = queried[position] ?? refuse(`${call.name} on position ${position}, outside the ${queried.length} queried columns`);
  if (call.name === 'is_null' || call.name === 'is_valid') {
    if (call.args.length !== 1) refuse(`${call.name} takes the column alone`);
    const wantNull = call.name === 'is_null';
    return { column: column.name, text: `${column.name} ${call.name}`, test: (row) => (row[column.name] === null || row[column.name] === undefined) === wantNull };
  }
  if (!COMPARISONS.has(call.name)) refuse(`unsupported function ${call.name}`);
  if (call.args.length !== 2) refuse(`${call.name} takes a column and a literal`);
  const literal = readLiteral(call.args[1]!, column, refuse);
  const op = call.name;
  return {
    column: column.name,
    text: `${column.name} ${op} ${String(literal)}`,
    test: (row) => {
      const value = row[column.name];
      // SQL semantics: a comparison with null is not true.
      if (value === null || value === undefined) return false;
      const order = compare(value, literal);
      switch (op) {
        case 'equal':
          return order === 0;
        case 'not_equal':
          return order !== 0;
        case 'less':
          return order < 0;
        case 'less_equal':
          return order <= 0;
        case 'greater':
          return order > 0;
        default:
          return order >= 0;
      }
    },
  };
}

function readLiteral(expression: ir.Expression, column: FakeColumn, refuse: (message: string) => never): Exclude<FakeValue, null> {
  if (expression.implType() !== ir.ExpressionImpl.Literal) refuse(`the comparison on ${column.name} is not with a literal`);
  const literal = expression.impl(new ir.Literal()) as ir.Literal;
  const type = literal.type();
  if (type === null || fieldType(type) !== column.type) refuse(`a literal typed ${type === null ? 'nothing' : arrowfb.Type[type.typeType()]} compared with ${column.type} column ${column.name}`);
  const expected: Record<FakeColumnType, ir.LiteralImpl> = {
    int8: ir.LiteralImpl.Int8Literal,
    int16: ir.LiteralImpl.Int16Literal,
    int32: ir.LiteralImpl.Int32Literal,
    int64: ir.LiteralImpl.Int64Literal,
    uint64: ir.LiteralImpl.UInt64Literal,
    utf8: ir.LiteralImpl.StringLiteral,
    bool: ir.LiteralImpl.BooleanLiteral,
  };
  if (literal.implType() !== expected[column.type]) refuse(`a ${ir.LiteralImpl[literal.implType()]} for ${column.type} column ${column.name}`);
  switch (column.type) {
    case 'int8':
      return (literal.impl(new ir.Int8Literal()) as ir.Int8Literal).value();
    case 'int16':
      return (literal.impl(new ir.Int16Literal()) as ir.Int16Literal).value();
    case 'int32':
      return (literal.impl(new ir.Int32Literal()) as ir.Int32Literal).value();
    case 'int64':
      return (literal.impl(new ir.Int64Literal()) as ir.Int64Literal).value();
    case 'uint64':
      return (literal.impl(new ir.UInt64Literal()) as ir.UInt64Literal).value();
    case 'utf8':
      return (literal.impl(new ir.StringLiteral()) as ir.StringLiteral).value() ?? refuse(`a string literal without a value for ${column.name}`);
    case 'bool':
      return (literal.impl(new ir.BooleanLiteral()) as ir.BooleanLiteral).value();
  }
}

/** Orders two values of one column: numbers and bigints numerically, strings by UTF-8 bytes, false before true. */
export function compare(left: Exclude<FakeValue, null>, right: Exclude<FakeValue, null>): number {
  if (typeof left === 'string' && typeof right === 'string') return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
  if (typeof left === 'boolean' && typeof right === 'boolean') return Number(left) - Number(right);
  if (typeof left === 'bigint' && typeof right === 'bigint') return left < right ? -1 : left > right ? 1 : 0;
  if (typeof left === 'number' && typeof right === 'number') return left - right;
  throw new TypeError(`cannot compare ${typeof left} with ${typeof right}`);
}

// ---------------------------------------------------------------------------------------------
// The answer.

export function arrowType(type: FakeColumnType): DataType {
  switch (type) {
    case 'int8':
      return new Int8();
    case 'int16':
      return new Int16();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'uint64':
      return new Uint64();
    case 'utf8':
      return new Utf8();
    case 'bool':
      return new Bool();
  }
}

/** One Arrow IPC stream (schema, one batch, end) of `columns` over `rows`, by apache-arrow's writer. */
export function ipcStream(columns: readonly FakeColumn[], rows: readonly FakeRow[]): Uint8Array {
  const fields = columns.map((column) => new ArrowField(column.name, arrowType(column.type), column.nullable));
  const schema = new Schema(fields);
  const children = columns.map((column) => {
    const builder = makeBuilder<DataType>({ type: arrowType(column.type), nullValues: [null, undefined] });
    for (const row of rows) builder.append(row[column.name] ?? null);
    return builder.finish().flush() as Data<DataType>;
  });
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length: rows.length, nullCount: 0, children }));
  return tableToIPC(new Table(schema, batch), 'stream');
}

/** The encapsulated messages of an IPC stream, split where apache-arrow's Message says each ends. */
export function ipcMessages(stream: Uint8Array): Uint8Array[] {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const messages: Uint8Array[] = [];
  let offset = 0;
  while (offset < stream.byteLength) {
    if (view.getUint32(offset, true) !== 0xffffffff) throw new Error('IPC message without its continuation marker');
    const metadataLength = view.getInt32(offset + 4, true);
    if (metadataLength === 0) {
      messages.push(stream.subarray(offset, offset + 8));
      offset += 8;
      continue;
    }
    const message = Message.decode(stream.subarray(offset + 8, offset + 8 + metadataLength));
    const total = 8 + metadataLength + Number(message.bodyLength);
    messages.push(stream.subarray(offset, offset + total));
    offset += total;
  }
  return messages;
}

export interface AnswerPage {
  readonly subSplit: number;
  /** Where the sub-split resumes; NO_MORE_ROWS when it has no more. */
  readonly nextRowId: bigint;
  readonly rows: readonly FakeRow[];
}

const KEEP_ALIVE = 0xffffffff;
const COMPLETED = 0xfffffffe;

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

/**
 * The answer's bytes: each page's column streams framed on its sub-split's stream id, sub-splits
 * interleaved a message at a time, a keep-alive after every `keepAliveEvery` frames.
 */
export function frameAnswer(pages: readonly AnswerPage[], columns: readonly FakeColumn[], keepAliveEvery: number): Buffer {
  const queues = new Map<number, Buffer[]>();
  for (const page of pages) {
    const streams = columns.length === 0 ? [ipcStream([], page.rows)] : columns.map((column) => ipcStream([column], page.rows));
    const queue = queues.get(page.subSplit) ?? [];
    queues.set(page.subSplit, queue);
    for (const stream of streams) {
      for (const message of ipcMessages(stream)) {
        const header = Buffer.alloc(12);
        header.writeUInt32LE(page.subSplit, 0);
        header.writeBigUInt64LE(page.nextRowId, 4);
        queue.push(Buffer.concat([header, message]));
      }
    }
  }
  const out: Buffer[] = [];
  let frames = 0;
  for (let round = 0; [...queues.values()].some((queue) => queue.length > round); round += 1) {
    for (const queue of queues.values()) {
      const frame = queue[round];
      if (frame === undefined) continue;
      out.push(frame);
      frames += 1;
      if (keepAliveEvery > 0 && frames % keepAliveEvery === 0) out.push(u32(KEEP_ALIVE));
    }
  }
  out.push(u32(COMPLETED));
  return Buffer.concat(out);
}
