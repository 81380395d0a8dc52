/**
 * A select request body read back into plain values with the flatc-generated readers: for a
 * server that answers selects (the test fake) and for tests that check what a builder wrote.
 * Reads the Python SDK's shape (a bare Source) and the Java client's (a Project around the
 * Source, its expressions giving the projection).
 */
import * as flatbuffers from 'flatbuffers';
import * as arrowfb from './generated/arrow-schema_generated';
import * as ir from './generated/computeir_generated';
import { VastProtocolError } from './vast-protocol-error';

export type FilterNode =
  | { readonly call: string; readonly args: readonly FilterNode[] }
  | { readonly field: number }
  | { readonly literal: { readonly type: string; readonly value: bigint | number | string | boolean | null } };

export interface ReadField {
  readonly name: string | null;
  /** apache-arrow's name for the type: Int8, Int64, Uint64, Utf8, Bool... */
  readonly type: string;
  readonly nullable: boolean;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ReadSelectRequest {
  readonly sourceName: string;
  readonly schema: readonly ReadField[];
  /** Projected positions; null when the request projects nothing explicitly (all columns). */
  readonly projection: readonly number[] | null;
  /** null when the Source carries no filter. */
  readonly filter: FilterNode | null;
}

export function readSelectRequest(body: Uint8Array): ReadSelectRequest {
  const relation = ir.Relation.getRootAsRelation(new flatbuffers.ByteBuffer(body));
  let source: ir.Source;
  let projection: number[] | null = null;
  switch (relation.implType()) {
    case ir.RelationImpl.Source:
      source = relation.impl(new ir.Source()) as ir.Source;
      break;
    case ir.RelationImpl.Project: {
      const project = relation.impl(new ir.Project()) as ir.Project;
      const inner = project.rel();
      if (inner === null || inner.implType() !== ir.RelationImpl.Source) throw malformed('a Project must wrap a Source');
      source = inner.impl(new ir.Source()) as ir.Source;
      projection = [];
      for (let index = 0; index < project.expressionsLength(); index += 1) {
        const node = readExpression(project.expressions(index)!);
        if (!('field' in node)) throw malformed('a projected expression is not a field reference');
        projection.push(node.field);
      }
      break;
    }
    default:
      throw malformed(`unsupported relation ${ir.RelationImpl[relation.implType()]}`);
  }
  if (source.projectionLength() > 0) {
    projection = [];
    for (let index = 0; index < source.projectionLength(); index += 1) projection.push(source.projection(index)!.position());
  }
  const schema: ReadField[] = [];
  const fbSchema = source.schema();
  for (let index = 0; index < (fbSchema?.fieldsLength() ?? 0); index += 1) schema.push(readField(fbSchema!.fields(index)!));
  const filter = source.filter();
  return { sourceName: source.name() ?? '', schema, projection, filter: filter === null ? null : readExpression(filter) };
}

export function readField(field: arrowfb.Field): ReadField {
  const metadata: Record<string, string> = {};
  for (let index = 0; index < field.customMetadataLength(); index += 1) {
    const entry = field.customMetadata(index)!;
    metadata[entry.key() ?? ''] = entry.value() ?? '';
  }
  return { name: field.name(), type: arrowTypeName(field), nullable: field.nullable(), metadata };
}

function arrowTypeName(field: arrowfb.Field): string {
  switch (field.typeType()) {
    case arrowfb.Type.Int: {
      const int = field.type(new arrowfb.Int()) as arrowfb.Int;
      return `${int.isSigned() ? 'Int' : 'Uint'}${int.bitWidth()}`;
    }
    case arrowfb.Type.Utf8:
      return 'Utf8';
    case arrowfb.Type.Bool:
      return 'Bool';
    default:
      return arrowfb.Type[field.typeType()] ?? `type ${field.typeType()}`;
  }
}

function readExpression(expression: ir.Expression): FilterNode {
  switch (expression.implType()) {
    case ir.ExpressionImpl.Call: {
      const call = expression.impl(new ir.Call()) as ir.Call;
      const args: FilterNode[] = [];
      for (let index = 0; index < call.argumentsLength(); index += 1) args.push(readExpression(call.arguments_(index)!));
      return { call: call.name() ?? '', args };
    }
    case ir.ExpressionImpl.FieldRef: {
      const ref = expression.impl(new ir.FieldRef()) as ir.FieldRef;
      if (ref.refType() !== ir.Deref.FieldIndex) throw malformed(`unsupported field reference ${ir.Deref[ref.refType()]}`);
      return { field: (ref.ref(new ir.FieldIndex()) as ir.FieldIndex).position() };
    }
    case ir.ExpressionImpl.Literal:
      return { literal: readLiteral(expression.impl(new ir.Literal()) as ir.Literal) };
    default:
      throw malformed(`unsupported expression ${ir.ExpressionImpl[expression.implType()]}`);
  }
}

function readLiteral(literal: ir.Literal): { type: string; value: bigint | number | string | boolean | null } {
  const type = literal.type();
  const typeName = type === null ? 'unknown' : arrowTypeName(type);
  switch (literal.implType()) {
    case ir.LiteralImpl.NONE:
      return { type: typeName, value: null };
    case ir.LiteralImpl.BooleanLiteral:
      return { type: typeName, value: (literal.impl(new ir.BooleanLiteral()) as ir.BooleanLiteral).value() };
    case ir.LiteralImpl.Int8Literal:
      return { type: typeName, value: (literal.impl(new ir.Int8Literal()) as ir.Int8Literal).value() };
    case ir.LiteralImpl.Int16Literal:
      return { type: typeName, value: (literal.impl(new ir.Int16Literal()) as ir.Int16Literal).value() };
    case ir.LiteralImpl.Int32Literal:
      return { type: typeName, value: (literal.impl(new ir.Int32Literal()) as ir.Int32Literal).value() };
    case ir.LiteralImpl.Int64Literal:
      return { type: typeName, value: (literal.impl(new ir.Int64Literal()) as ir.Int64Literal).value() };
    case ir.LiteralImpl.UInt64Literal:
      return { type: typeName, value: (literal.impl(new ir.UInt64Literal()) as ir.UInt64Literal).value() };
    case ir.LiteralImpl.StringLiteral:
      return { type: typeName, value: (literal.impl(new ir.StringLiteral()) as ir.StringLiteral).value() };
    default:
      throw malformed(`unsupported literal ${ir.LiteralImpl[literal.implType()]}`);
  }
}

function malformed(message: string): VastProtocolError {
  return new VastProtocolError('malformed', `select request: ${message}`);
}
