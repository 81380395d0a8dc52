/**
 * Select requests the gateway builds, read back with readers it did not write: the
 * flatc-generated accessors for the compute IR, and apache-arrow's own flatbuffers readers for
 * the Arrow schema and literal types inside.
 */
import { Field as ArrowField, Schema as ArrowSchema } from 'apache-arrow';
import { Field as ArrowFbField } from 'apache-arrow/fb/field';
import { Schema as ArrowFbSchema } from 'apache-arrow/fb/schema';
import * as flatbuffers from 'flatbuffers';
import * as ir from '../../src/adapters/vast/protocol/generated/computeir_generated';
import { buildSelectRequest } from '../../src/adapters/vast/protocol/select-request';
import { readSelectRequest } from '../../src/adapters/vast/protocol/select-request-reader';
import { ROW_ID_COLUMN, type VastColumn } from '../../src/adapters/vast/protocol/vast-columns';

const TABLE: VastColumn[] = [
  { name: 'flow_id', type: 'utf8', nullable: false },
  { name: 'start', type: 'int64', nullable: false },
  { name: 'end', type: 'int64', nullable: false },
  { name: 'deleted', type: 'bool', nullable: true },
  ROW_ID_COLUMN,
];

const request = buildSelectRequest({
  tableColumns: TABLE,
  projection: [ROW_ID_COLUMN.name, 'flow_id', 'start'],
  filter: [
    { column: 'flow_id', anyOf: [{ op: 'equal', value: 'f-1' }] },
    { column: 'end', anyOf: [{ op: 'greater', value: 10n }] },
    { column: 'start', anyOf: [{ op: 'less', value: -(2n ** 63n) }, { op: 'greater_equal', value: 2n ** 63n - 1n }] },
    { column: 'deleted', anyOf: [{ op: 'is_null' }, { op: 'equal', value: false }] },
    { column: ROW_ID_COLUMN.name, anyOf: [{ op: 'not_equal', value: 2n ** 64n - 1n }, { op: 'is_valid' }] },
  ],
});

function sourceOf(body: Uint8Array): { source: ir.Source; bb: flatbuffers.ByteBuffer } {
  const bb = new flatbuffers.ByteBuffer(body);
  const relation = ir.Relation.getRootAsRelation(bb);
  expect(relation.implType()).toBe(ir.RelationImpl.Source);
  return { source: relation.impl(new ir.Source()) as ir.Source, bb };
}

describe('VAST select request', () => {
  it('is a Relation holding a Source named "", projecting the first columns of its schema', () => {
    const { source } = sourceOf(request.body);
    expect(source.name()).toBe('');
    const positions = Array.from({ length: source.projectionLength() }, (_, index) => source.projection(index)!.position());
    expect(positions).toEqual([0, 1, 2]);
    expect(request.responseColumns.map((column) => column.name)).toEqual(['$row_id', 'flow_id', 'start']);
  });

  it('carries the queried columns as an Arrow schema apache-arrow decodes: projected ones first, then filter-only ones', () => {
    const { source, bb } = sourceOf(request.body);
    const schema = ArrowSchema.decode(new ArrowFbSchema().__init(source.schema()!.bb_pos, bb));
    expect(schema.fields.map((field) => [field.name, String(field.type), field.nullable])).toEqual([
      ['$row_id', 'Uint64', true],
      ['flow_id', 'Utf8', false],
      ['start', 'Int64', false],
      ['end', 'Int64', false],
      ['deleted', 'Bool', true],
    ]);
  });

  it('writes the filter as and(or(...)) of calls on field positions and typed literals', () => {
    expect(readSelectRequest(request.body).filter).toEqual({
      call: 'and',
      args: [
        { call: 'or', args: [{ call: 'equal', args: [{ field: 1 }, { literal: { type: 'Utf8', value: 'f-1' } }] }] },
        { call: 'or', args: [{ call: 'greater', args: [{ field: 3 }, { literal: { type: 'Int64', value: 10n } }] }] },
        {
          call: 'or',
          args: [
            { call: 'less', args: [{ field: 2 }, { literal: { type: 'Int64', value: -(2n ** 63n) } }] },
            { call: 'greater_equal', args: [{ field: 2 }, { literal: { type: 'Int64', value: 2n ** 63n - 1n } }] },
          ],
        },
        {
          call: 'or',
          args: [
            { call: 'is_null', args: [{ field: 4 }] },
            { call: 'equal', args: [{ field: 4 }, { literal: { type: 'Bool', value: false } }] },
          ],
        },
        {
          call: 'or',
          args: [
            { call: 'not_equal', args: [{ field: 0 }, { literal: { type: 'Uint64', value: 2n ** 64n - 1n } }] },
            { call: 'is_valid', args: [{ field: 0 }] },
          ],
        },
      ],
    });
  });

  it('gives each literal its column\'s type as a nameless Field, as apache-arrow reads it', () => {
    const { source, bb } = sourceOf(request.body);
    const and = source.filter()!.impl(new ir.Call()) as ir.Call;
    const literalTypes = [0, 1].map((group) => {
      const or = and.arguments_(group)!.impl(new ir.Call()) as ir.Call;
      const comparison = or.arguments_(0)!.impl(new ir.Call()) as ir.Call;
      const literal = comparison.arguments_(1)!.impl(new ir.Literal()) as ir.Literal;
      const field = ArrowField.decode(new ArrowFbField().__init(literal.type()!.bb_pos, bb));
      return [field.name, String(field.type), field.nullable];
    });
    expect(literalTypes).toEqual([
      [null, 'Utf8', false],
      [null, 'Int64', false],
    ]);
  });

  it('sends and() for no filter, and an empty projection for a row count', () => {
    const countOnly = buildSelectRequest({ tableColumns: TABLE, projection: [], filter: [] });
    expect(countOnly.responseColumns).toEqual([]);
    const { source } = sourceOf(countOnly.body);
    expect(source.projectionLength()).toBe(0);
    expect(source.schema()!.fieldsLength()).toBe(0);
    expect(readSelectRequest(countOnly.body).filter).toEqual({ call: 'and', args: [] });
  });

  it('refuses what VAST cannot be asked: unknown columns, empty OR-groups, values of the wrong type', () => {
    const build = (spec: Partial<Parameters<typeof buildSelectRequest>[0]>) => () =>
      buildSelectRequest({ tableColumns: TABLE, projection: ['flow_id'], filter: [], ...spec });
    expect(build({ projection: ['nope'] })).toThrow(/no column nope/);
    expect(build({ projection: ['flow_id', 'flow_id'] })).toThrow(/projected twice/);
    expect(build({ filter: [{ column: 'start', anyOf: [] }] })).toThrow(/empty/);
    expect(build({ filter: [{ column: 'start', anyOf: [{ op: 'equal', value: 3 }] }] })).toThrow(TypeError);
    expect(build({ filter: [{ column: 'start', anyOf: [{ op: 'equal', value: 2n ** 63n }] }] })).toThrow(TypeError);
    expect(build({ filter: [{ column: 'flow_id', anyOf: [{ op: 'equal', value: true }] }] })).toThrow(TypeError);
  });
});
