import fs from 'node:fs';
import path from 'node:path';
import { Kind, type OperationDefinitionNode, buildSchema, getIntrospectionQuery, parse } from 'graphql';
import { estimateCompiledFields } from '../../../src/graphql/execution/compile-estimate';
import { MAX_COMPILED_FIELDS_PER_QUERY } from '../../../src/graphql/execution/jit-executor';

const schema = buildSchema(fs.readFileSync(path.join(__dirname, '../../../schema/schema.graphql'), 'utf8'));

function estimate(text: string): number {
  const document = parse(text);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operation === undefined) throw new Error('no operation');
  return estimateCompiledFields(schema, document, operation);
}

describe('estimateCompiledFields', () => {
  it('counts each field once per concrete type its parent can be (Flow has five)', () => {
    expect(estimate('{ service { name } }')).toBe(2);
    expect(estimate('{ flows(first: 1) { nodes { id } } }')).toBe(1 + 1 + 5 * 1);
    expect(estimate('{ flows(first: 1) { nodes { source { flows(first: 1) { nodes { id } } } } } }')).toBe(1 + 1 + 5 * (1 + 1 + 1 + 5));
  });

  it('counts introspection like any other selection (it compiles like one)', () => {
    expect(estimate('{ __schema { types { name fields { name type { name } } } } }')).toBe(1 + 1 + 1 + 1 + 1 + 1 + 1);
    const fragment = 'fragment T on __Type { name kind fields { name args { name type { name kind ofType { name } } } type { name kind ofType { name } } } }';
    const thirty = `{ ${Array.from({ length: 30 }, (_, i) => `t${i}: __type(name: "Flow") { ...T }`).join(' ')} } ${fragment}`;
    expect(estimate(thirty)).toBeGreaterThan(MAX_COMPILED_FIELDS_PER_QUERY);
    expect(estimate(getIntrospectionQuery())).toBeLessThan(MAX_COMPILED_FIELDS_PER_QUERY);
  });

  it('counts each variable and the fields of its input type', () => {
    const vars = Array.from({ length: 300 }, (_, i) => `$a${i}: TagFilterInput!`).join(' ');
    const uses = Array.from({ length: 300 }, (_, i) => `$a${i}`).join(' ');
    expect(estimate(`query(${vars}) { flows(first: 1, filter: { tags: [${uses}] }) { nodes { id } } }`)).toBeGreaterThan(MAX_COMPILED_FIELDS_PER_QUERY);
    expect(estimate('query($id: ID!) { flow(id: $id) { id } }')).toBe(10 + 1 + 5);
  });
});
