/**
 * The body of a VAST select (`GET /bucket/schema/table?data`), built as the Python SDK builds it
 * (vastdb/_internal.py `build_query_data_request`):
 *
 *   Relation { impl: Source {
 *     name: "",
 *     schema: the queried columns (projected ones in the asked order, then those only the
 *             filter needs), each Field { name, nullable, type },
 *     filter: Call("and", [Call("or", [Call(<op>, [FieldRef(FieldIndex(i)), Literal])...])...]),
 *     projection: [FieldIndex(0) .. FieldIndex(projected - 1)],
 *   } }
 *
 * Positions are leaf positions in the Source schema, depth first; the gateway's columns are flat,
 * so a position is the column's index there. A literal carries its column's type as a nameless
 * Field. No filter is `Call("and", [])`. The answer's columns come in the Source schema's order,
 * which is the projection's.
 */
import * as flatbuffers from 'flatbuffers';
import * as arrowfb from './generated/arrow-schema_generated';
import * as ir from './generated/computeir_generated';
import type { ColumnCondition, SelectFilter } from './select-filter';
import { checkValue, type VastColumn, type VastValue } from './vast-columns';

export interface SelectRequestSpec {
  /** The table's columns (ROW_ID_COLUMN among them to select row ids). */
  readonly tableColumns: readonly VastColumn[];
  /** Names of the columns to return, in the order wanted; may be empty (a row count). */
  readonly projection: readonly string[];
  readonly filter: SelectFilter;
}

export interface SelectRequest {
  readonly body: Uint8Array;
  /** The answer's columns, in order: give them to SelectResponseDecoder. */
  readonly responseColumns: readonly VastColumn[];
}

export function buildSelectRequest(spec: SelectRequestSpec): SelectRequest {
  const byName = new Map(spec.tableColumns.map((column) => [column.name, column]));
  const columnNamed = (name: string): VastColumn => {
    const column = byName.get(name);
    if (column === undefined) throw new TypeError(`no column ${name} in the table`);
    return column;
  };

  const responseColumns = spec.projection.map(columnNamed);
  if (new Set(spec.projection).size !== spec.projection.length) throw new TypeError('a column is projected twice');
  const queried = [...responseColumns];
  for (const group of spec.filter) {
    if (!queried.some((column) => column.name === group.column)) queried.push(columnNamed(group.column));
  }
  const positionOf = new Map(queried.map((column, index) => [column.name, index]));

  const builder = new flatbuffers.Builder(1024);
  const sourceName = builder.createString('');
  const schema = buildSchema(builder, queried);
  const filter = buildFilterExpression(builder, spec.filter, (name) => ({ column: columnNamed(name), position: positionOf.get(name)! }));
  const projection = ir.Source.createProjectionVector(
    builder,
    responseColumns.map((_, position) => ir.FieldIndex.createFieldIndex(builder, position)),
  );

  ir.Source.startSource(builder);
  ir.Source.addName(builder, sourceName);
  ir.Source.addSchema(builder, schema);
  ir.Source.addFilter(builder, filter);
  ir.Source.addProjection(builder, projection);
  const source = ir.Source.endSource(builder);
  builder.finish(ir.Relation.createRelation(builder, ir.RelationImpl.Source, source));
  return { body: builder.asUint8Array(), responseColumns };
}

interface ResolvedColumn {
  readonly column: VastColumn;
  /** The column's position in the Source schema. */
  readonly position: number;
}

/** The filter as one Expression; exported for the byte-level comparison with the Java client's. */
export function buildFilterExpression(
  builder: flatbuffers.Builder,
  filter: SelectFilter,
  resolve: (columnName: string) => ResolvedColumn,
): flatbuffers.Offset {
  const groups = filter.map((group) => {
    if (group.anyOf.length === 0) throw new TypeError(`the OR-group on ${group.column} is empty`);
    const { column, position } = resolve(group.column);
    return buildCall(builder, 'or', group.anyOf.map((condition) => buildCondition(builder, column, position, condition)));
  });
  return buildCall(builder, 'and', groups);
}

/** A fresh field reference per condition, as the Python SDK writes it (no shared sub-tables). */
function buildCondition(builder: flatbuffers.Builder, column: VastColumn, position: number, condition: ColumnCondition): flatbuffers.Offset {
  const field = buildFieldRef(builder, position);
  if (condition.op === 'is_null' || condition.op === 'is_valid') return buildCall(builder, condition.op, [field]);
  const literal = buildLiteral(builder, column, condition.value);
  return buildCall(builder, condition.op, [field, literal]);
}

function buildCall(builder: flatbuffers.Builder, name: string, args: readonly flatbuffers.Offset[]): flatbuffers.Offset {
  const nameOffset = builder.createString(name);
  const argsOffset = ir.Call.createArgumentsVector(builder, [...args]);
  ir.Call.startCall(builder);
  ir.Call.addName(builder, nameOffset);
  ir.Call.addArguments(builder, argsOffset);
  return ir.Expression.createExpression(builder, ir.ExpressionImpl.Call, ir.Call.endCall(builder));
}

function buildFieldRef(builder: flatbuffers.Builder, position: number): flatbuffers.Offset {
  const index = ir.FieldIndex.createFieldIndex(builder, position);
  ir.FieldRef.startFieldRef(builder);
  ir.FieldRef.addRefType(builder, ir.Deref.FieldIndex);
  ir.FieldRef.addRef(builder, index);
  return ir.Expression.createExpression(builder, ir.ExpressionImpl.FieldRef, ir.FieldRef.endFieldRef(builder));
}

function buildLiteral(builder: flatbuffers.Builder, column: VastColumn, value: VastValue): flatbuffers.Offset {
  checkValue({ ...column, nullable: false }, value);
  const [implType, impl] = buildLiteralImpl(builder, column, value);
  const type = buildField(builder, column, false);
  ir.Literal.startLiteral(builder);
  ir.Literal.addImplType(builder, implType);
  ir.Literal.addImpl(builder, impl);
  ir.Literal.addType(builder, type);
  return ir.Expression.createExpression(builder, ir.ExpressionImpl.Literal, ir.Literal.endLiteral(builder));
}

function buildLiteralImpl(builder: flatbuffers.Builder, column: VastColumn, value: VastValue): [ir.LiteralImpl, flatbuffers.Offset] {
  switch (column.type) {
    case 'int8':
      return [ir.LiteralImpl.Int8Literal, ir.Int8Literal.createInt8Literal(builder, value as number)];
    case 'int16':
      return [ir.LiteralImpl.Int16Literal, ir.Int16Literal.createInt16Literal(builder, value as number)];
    case 'int32':
      return [ir.LiteralImpl.Int32Literal, ir.Int32Literal.createInt32Literal(builder, value as number)];
    case 'int64':
      return [ir.LiteralImpl.Int64Literal, ir.Int64Literal.createInt64Literal(builder, value as bigint)];
    case 'uint64':
      return [ir.LiteralImpl.UInt64Literal, ir.UInt64Literal.createUInt64Literal(builder, value as bigint)];
    case 'utf8':
      return [ir.LiteralImpl.StringLiteral, ir.StringLiteral.createStringLiteral(builder, builder.createString(value as string))];
    case 'bool':
      return [ir.LiteralImpl.BooleanLiteral, ir.BooleanLiteral.createBooleanLiteral(builder, value as boolean)];
  }
}

function buildSchema(builder: flatbuffers.Builder, columns: readonly VastColumn[]): flatbuffers.Offset {
  const fields = arrowfb.Schema.createFieldsVector(builder, columns.map((column) => buildField(builder, column, true)));
  arrowfb.Schema.startSchema(builder);
  arrowfb.Schema.addFields(builder, fields);
  return arrowfb.Schema.endSchema(builder);
}

function buildField(builder: flatbuffers.Builder, column: VastColumn, withName: boolean): flatbuffers.Offset {
  const name = withName ? builder.createString(column.name) : 0;
  const [typeType, type] = buildArrowType(builder, column);
  arrowfb.Field.startField(builder);
  if (withName) arrowfb.Field.addName(builder, name);
  arrowfb.Field.addNullable(builder, column.nullable);
  arrowfb.Field.addTypeType(builder, typeType);
  arrowfb.Field.addType(builder, type);
  return arrowfb.Field.endField(builder);
}

function buildArrowType(builder: flatbuffers.Builder, column: VastColumn): [arrowfb.Type, flatbuffers.Offset] {
  switch (column.type) {
    case 'int8':
      return [arrowfb.Type.Int, arrowfb.Int.createInt(builder, 8, true)];
    case 'int16':
      return [arrowfb.Type.Int, arrowfb.Int.createInt(builder, 16, true)];
    case 'int32':
      return [arrowfb.Type.Int, arrowfb.Int.createInt(builder, 32, true)];
    case 'int64':
      return [arrowfb.Type.Int, arrowfb.Int.createInt(builder, 64, true)];
    case 'uint64':
      return [arrowfb.Type.Int, arrowfb.Int.createInt(builder, 64, false)];
    case 'utf8':
      arrowfb.Utf8.startUtf8(builder);
      return [arrowfb.Type.Utf8, arrowfb.Utf8.endUtf8(builder)];
    case 'bool':
      arrowfb.Bool.startBool(builder);
      return [arrowfb.Type.Bool, arrowfb.Bool.endBool(builder)];
  }
}
