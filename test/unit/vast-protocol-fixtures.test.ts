/**
 * Bytes from VAST's public Java client's tests (origins in test/fixtures/vast/README.md), read
 * with the gateway's codec, and the gateway's builders held against them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Field as ArrowField, Schema as ArrowSchema } from 'apache-arrow';
import { Field as ArrowFbField } from 'apache-arrow/fb/field';
import { Schema as ArrowFbSchema } from 'apache-arrow/fb/schema';
import * as flatbuffers from 'flatbuffers';
import * as ir from '../../src/adapters/vast/protocol/generated/computeir_generated';
import { buildFilterExpression, buildSelectRequest } from '../../src/adapters/vast/protocol/select-request';
import { readSelectRequest } from '../../src/adapters/vast/protocol/select-request-reader';
import { SelectPaging } from '../../src/adapters/vast/protocol/select-paging';
import { decodeSelectResponse, pageRows, SelectResponseDecoder, type SelectPage } from '../../src/adapters/vast/protocol/select-response';
import type { VastColumn } from '../../src/adapters/vast/protocol/vast-columns';

const fixture = (name: string): Uint8Array =>
  Uint8Array.from(Buffer.from(fs.readFileSync(path.join(__dirname, '../fixtures/vast', name), 'utf8').trim(), 'hex'));

describe('fixture: select answer from the Java client\'s TestSerDe', () => {
  // That test's table: a int8, x int32, b int64; it selects a and b.
  const columns: VastColumn[] = [
    { name: 'a', type: 'int8', nullable: true },
    { name: 'b', type: 'int64', nullable: true },
  ];

  it('decodes to the page that test expects: 6 rows, sub-split 0, next row id 3', () => {
    const { pages, completed } = decodeSelectResponse(fixture('select-response-two-columns.hex'), columns);
    expect(completed).toBe(true);
    expect(pages).toHaveLength(1);
    const [page] = pages;
    expect(page!.streamId).toBe(0);
    expect(page!.nextRowId).toBe(3n);
    expect(pageRows(page!, columns)).toEqual([
      { a: 0x44, b: 0x1111111111111111n },
      { a: 0x55, b: 0x2222222222222222n },
      { a: 0x66, b: 0x3333333333333333n },
      { a: 0x11, b: 0x4444444444444444n },
      { a: 0x22, b: 0x5555555555555555n },
      { a: 0x33, b: 0x6666666666666666n },
    ]);

    // As in that test, paging is not over: 3 is a row id, not the "no row" marker.
    const paging = new SelectPaging(1);
    paging.record(page!);
    expect(paging.done).toBe(false);
    expect(paging.startRowIdHeaders()).toEqual({ 'tabular-start-row-id-0': '0,3' });
  });

  it('decodes the same when fed a byte at a time', () => {
    const body = fixture('select-response-two-columns.hex');
    const decoder = new SelectResponseDecoder(columns);
    const pages: SelectPage[] = [];
    for (let offset = 0; offset < body.byteLength; offset += 1) pages.push(...decoder.push(body.subarray(offset, offset + 1)));
    decoder.end();
    expect(pages.map((page) => pageRows(page, columns))).toEqual(
      decodeSelectResponse(body, columns).pages.map((page) => pageRows(page, columns)),
    );
  });

  it('notices when the columns are not the types asked for', () => {
    const swapped: VastColumn[] = [columns[1]!, columns[0]!];
    expect(() => decodeSelectResponse(fixture('select-response-two-columns.hex'), swapped)).toThrow(
      expect.objectContaining({ problem: 'unexpected_column' }),
    );
  });
});

describe('fixture: select request from the Java client\'s TestVastPredicate (SELECT b FROM t WHERE a = 2)', () => {
  const body = fixture('select-request-filter.hex');

  it('reads with the flatc-generated readers as that test reads it', () => {
    const relation = ir.Relation.getRootAsRelation(new flatbuffers.ByteBuffer(body));
    expect(relation.implType()).toBe(ir.RelationImpl.Source);
    const source = relation.impl(new ir.Source()) as ir.Source;
    expect(source.name()).toBe('/bucket-for-filter/schema-for-filter/table1');
    expect(source.projectionLength()).toBe(1);
    expect(source.projection(0)!.position()).toBe(0);

    const and = source.filter()!.impl(new ir.Call()) as ir.Call;
    expect([and.name(), and.argumentsLength()]).toEqual(['and', 1]);
    const or = and.arguments_(0)!.impl(new ir.Call()) as ir.Call;
    expect([or.name(), or.argumentsLength()]).toEqual(['or', 1]);
    const equal = or.arguments_(0)!.impl(new ir.Call()) as ir.Call;
    expect([equal.name(), equal.argumentsLength()]).toEqual(['equal', 2]);
    const ref = equal.arguments_(0)!.impl(new ir.FieldRef()) as ir.FieldRef;
    expect(ref.refType()).toBe(ir.Deref.FieldIndex);
    expect((ref.ref(new ir.FieldIndex()) as ir.FieldIndex).position()).toBe(1);
    const literal = equal.arguments_(1)!.impl(new ir.Literal()) as ir.Literal;
    expect(literal.implType()).toBe(ir.LiteralImpl.Int8Literal);
    expect((literal.impl(new ir.Int8Literal()) as ir.Int8Literal).value()).toBe(2);
  });

  it('has a schema and literal type that apache-arrow\'s own flatbuffers readers decode alike', () => {
    const bb = new flatbuffers.ByteBuffer(body);
    const source = ir.Relation.getRootAsRelation(bb).impl(new ir.Source()) as ir.Source;
    const schema = ArrowSchema.decode(new ArrowFbSchema().__init(source.schema()!.bb_pos, bb));
    // The bytes say smallint for b (that test's comment says INTEGER); both readers agree.
    expect(schema.fields.map((field) => [field.name, String(field.type), field.metadata.get('VAST:column_id')])).toEqual([
      ['b', 'Int16', '1'],
      ['a', 'Int8', '0'],
    ]);
    const equal = ((source.filter()!.impl(new ir.Call()) as ir.Call).arguments_(0)!.impl(new ir.Call()) as ir.Call).arguments_(0)!.impl(
      new ir.Call(),
    ) as ir.Call;
    const literalType = (equal.arguments_(1)!.impl(new ir.Literal()) as ir.Literal).type()!;
    const field = ArrowField.decode(new ArrowFbField().__init(literalType.bb_pos, bb));
    expect([field.name, String(field.type), field.nullable]).toEqual([null, 'Int8', true]);
  });

  it('is what the gateway\'s builder writes for the same query, bar the source name and column ids', () => {
    const theirs = readSelectRequest(body);
    const ours = readSelectRequest(
      buildSelectRequest({
        tableColumns: [
          { name: 'b', type: 'int16', nullable: true },
          { name: 'a', type: 'int8', nullable: true },
        ],
        projection: ['b'],
        filter: [{ column: 'a', anyOf: [{ op: 'equal', value: 2 }] }],
      }).body,
    );
    const withoutIds = (request: typeof theirs) => ({ ...request, sourceName: undefined, schema: request.schema.map((field) => ({ ...field, metadata: {} })) });
    expect(withoutIds(ours)).toEqual(withoutIds(theirs));
    expect(theirs.filter).toEqual({
      call: 'and',
      args: [{ call: 'or', args: [{ call: 'equal', args: [{ field: 1 }, { literal: { type: 'Int8', value: 2 } }] }] }],
    });
  });
});

describe('fixture: the Java client\'s filter for "no condition" (TestVastPredicate.testAll)', () => {
  const javaBytes = fixture('empty-filter-expression.hex');
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

  it('is written byte for byte by the generated builders when given the Java client\'s field order', () => {
    const builder = new flatbuffers.Builder(1024);
    const name = builder.createString('and');
    const args = ir.Call.createArgumentsVector(builder, []);
    ir.Call.startCall(builder);
    ir.Call.addName(builder, name);
    ir.Call.addArguments(builder, args);
    const call = ir.Call.endCall(builder);
    ir.Expression.startExpression(builder);
    ir.Expression.addImpl(builder, call);
    ir.Expression.addImplType(builder, ir.ExpressionImpl.Call);
    builder.finish(ir.Expression.endExpression(builder));
    expect(hex(builder.asUint8Array())).toBe(hex(javaBytes));
  });

  it('is what the gateway builds for an empty filter, its Call byte for byte, its two Expression fields in the Python SDK\'s order', () => {
    const builder = new flatbuffers.Builder(1024);
    builder.finish(buildFilterExpression(builder, [], () => { throw new Error('no column is needed'); }));
    const ours = builder.asUint8Array();
    // The Call table, its vtable, the empty vector and "and" are the last 32 bytes of both.
    expect(hex(ours.subarray(ours.byteLength - 32))).toBe(hex(javaBytes.subarray(javaBytes.byteLength - 32)));
    expect(ours.byteLength).toBe(javaBytes.byteLength);
    const read = (bytes: Uint8Array) => {
      const expression = ir.Expression.getRootAsExpression(new flatbuffers.ByteBuffer(bytes));
      const call = expression.impl(new ir.Call()) as ir.Call;
      return [expression.implType(), call.name(), call.argumentsLength()];
    };
    expect(read(ours)).toEqual([ir.ExpressionImpl.Call, 'and', 0]);
    expect(read(javaBytes)).toEqual(read(ours));
  });
});
