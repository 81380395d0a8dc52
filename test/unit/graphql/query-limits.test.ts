import fs from 'node:fs';
import path from 'node:path';
import { GraphQLSchema, Kind, type OperationDefinitionNode, buildSchema, getIntrospectionQuery, parse } from 'graphql';
import type { TamsError } from '../../../src/domain/errors';
import { type DocumentCheck, MAX_SAME_FIELD, MAX_SPREADS, type QueryLimits, UNPAGED_LIST_SIZE, checkDocument } from '../../../src/graphql/limits/query-limits';

const schema: GraphQLSchema = buildSchema(fs.readFileSync(path.join(__dirname, '../../../schema/schema.graphql'), 'utf8'));

const LIMITS: QueryLimits = {
  maxDepth: 5,
  maxCost: 1000,
  maxAliases: 3,
  maxDirectives: 4,
  maxPageSize: 200,
  defaultPageSize: 100,
  rowsSkipped: (after) => (after === 'skip7' ? 7 : 0),
};

function run(text: string, variables?: Record<string, unknown>, limits: QueryLimits = LIMITS): DocumentCheck {
  const document = parse(text);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return checkDocument(schema, document, operation, variables, limits);
}

function cost(text: string, variables?: Record<string, unknown>, limits?: QueryLimits): number {
  const result = run(text, variables, limits);
  if (result.refusal !== undefined) throw new Error(`refused: ${result.refusal.message}`);
  return [...result.costs.values()][0] ?? NaN;
}

function refusal(text: string, variables?: Record<string, unknown>, limits?: QueryLimits): TamsError {
  const result = run(text, variables, limits);
  if (result.refusal === undefined) throw new Error(`accepted at cost ${[...result.costs.values()].join()}`);
  return result.refusal;
}

describe('checkDocument', () => {
  it('costs each field 1, times the page sizes of the lists around it', () => {
    expect(cost('{ service { name } }')).toBe(2);
    // flows 10 x (1 + nodes (1 + id 1 + segments 5 x (1 + nodes (1 + objectId 1))))
    expect(cost('{ flows(first: 10) { nodes { id segments(first: 5) { nodes { objectId } } } } }')).toBe(10 * (1 + (1 + 1 + 5 * (1 + (1 + 1)))));
  });

  it('reads `first` from variables, then from the declared default, then the default page size', () => {
    expect(cost('query($n: Int) { flows(first: $n) { nodes { id } } }', { n: 3 })).toBe(3 * 3);
    expect(cost('query($n: Int = 7) { flows(first: $n) { nodes { id } } }')).toBe(7 * 3);
    expect(cost('query($n: Int = 7) { flows(first: $n) { nodes { id } } }', { n: null })).toBe(100 * 3);
    expect(cost('{ flows { nodes { id } } }')).toBe(100 * 3);
    expect(run('query($n: Int = 7) { flows(first: $n) { nodes { id } } }').variableDependent).toBe(true);
    expect(run('{ flows(first: 7) { nodes { id } } }').variableDependent).toBe(false);
    // Variables in scalar arguments change no cost: the check holds for any of them (and is remembered).
    expect(run('query($f: ID!, $t: TimeRange) { flow(id: $f) { segments(timerange: $t, first: 30) { nodes { objectId } } } }').variableDependent).toBe(false);
  });

  it('refuses a page size over the maximum as a literal, a variable and a default', () => {
    for (const [text, variables] of [
      ['{ flows(first: 201) { nodes { id } } }', undefined],
      ['query($n: Int) { flows(first: $n) { nodes { id } } }', { n: 201 }],
      ['query($n: Int = 201) { flows(first: $n) { nodes { id } } }', undefined],
    ] as const) {
      const refused = refusal(text, variables);
      expect(refused.graphqlCode).toBe('QUERY_TOO_COMPLEX');
      expect(refused.message).toMatch(/maximum page size 200/);
    }
  });

  it('refuses the cost a variable default hides (it was costed as the default page size before)', () => {
    const limits = { ...LIMITS, maxPageSize: 1000, maxDepth: 10 };
    const text = 'query($f: Int = 1000) { flows(first: $f) { nodes { segments(first: $f) { nodes { objectId } } } } }';
    expect(refusal(text, undefined, limits).message).toMatch(/cost exceeds 1000/);
    expect(refusal(text, { f: 1000 }, limits).message).toMatch(/cost exceeds/);
    expect(cost(text, { f: 2 }, limits)).toBe(2 * (1 + (1 + 2 * (1 + (1 + 1)))));
  });

  it('refuses a page size whose value cannot be known with BAD_USER_INPUT', () => {
    expect(refusal('{ flows(first: $undeclared) { nodes { id } } }').graphqlCode).toBe('BAD_USER_INPUT');
    expect(refusal('query($n: Int) { flows(first: $n) { nodes { id } } }', { n: '5' }).graphqlCode).toBe('BAD_USER_INPUT');
    expect(refusal('query($n: Int) { flows(first: $n) { nodes { id } } }', { n: 2.5 }).graphqlCode).toBe('BAD_USER_INPUT');
    expect(refusal('{ flows(first: "5") { nodes { id } } }').graphqlCode).toBe('BAD_USER_INPUT');
  });

  it('counts the rows an `after` cursor skips', () => {
    expect(cost('{ flows(first: 2, after: "skip7") { nodes { id } } }')).toBe((2 + 7) * 3);
    expect(cost('query($a: String) { flows(first: 2, after: $a) { nodes { id } } }', { a: 'skip7' })).toBe((2 + 7) * 3);
  });

  it('counts the items of list inputs, literal or from variables, however deeply nested', () => {
    const literal = 'mutation { setFlowCollection(flowId: "x", collection: [{flowId: "a", role: "r"}, {flowId: "b", role: "r"}]) { id } }';
    expect(cost(literal)).toBe(2 + 1 + 1);
    const variable = 'mutation($c: [FlowCollectionItemInput!]!) { setFlowCollection(flowId: "x", collection: $c) { id } }';
    expect(cost(variable, { c: Array.from({ length: 500 }, () => ({ flowId: 'a', role: 'r' })) })).toBe(500 + 2);
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(cost(variable, { c: deep }, { ...LIMITS, maxCost: 1_000_000 })).toBe(100_000 + 2);
  });

  it('counts lists without paging as UNPAGED_LIST_SIZE items, and connection edges and nodes once', () => {
    expect(cost('{ flow(id: "x") { collectedBy { id } } }')).toBe(1 + UNPAGED_LIST_SIZE * 2);
    expect(cost('{ flows(first: 1) { edges { cursor node { id } } } }')).toBe(1 * (1 + (1 + 1 + (1 + 1))));
  });

  it('counts introspection fields like any other: deep introspection is refused', () => {
    const limits = { ...LIMITS, maxDepth: 20, maxCost: 50_000 };
    expect(refusal('{ __type(name: "Query") { fields { type { fields { type { fields { type { fields { type { fields { name } } } } } } } } } } }', undefined, limits).message).toMatch(/cost/);
    expect(refusal('{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }').message).toMatch(/depth/);
    expect(cost('{ __typename }')).toBe(1);
    // Type lists three deep, as graphql-js's MaxIntrospectionDepthRule counts them, within depth and cost.
    const threeLists = '{ __type(name: "Query") { fields { type { fields { type { fields { name } } } } } } }';
    expect(refusal(threeLists, undefined, limits).message).toMatch(/Introspection nests/);
    expect(cost('{ __type(name: "Query") { fields { type { fields { name } } } } }', undefined, limits)).toBeGreaterThan(0);
    expect(refusal('{ __schema { types { interfaces { possibleTypes { fields { name } } } } } }', undefined, limits).message).toMatch(/Introspection nests/);
  });

  it('accepts the standard introspection query, every option on, at the default limits (depth 15, cost 200,000)', () => {
    const limits = { ...LIMITS, maxDepth: 15, maxCost: 200_000, maxAliases: 30, maxDirectives: 50 };
    const options = { descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true };
    // Headroom under the limit: the cost grows with the schema (about 102,000 since Flow.hlsUrl).
    expect(cost(getIntrospectionQuery(options), undefined, limits)).toBeLessThan(120_000);
    expect(refusal(getIntrospectionQuery(), undefined, { ...limits, maxDepth: 14 }).message).toMatch(/depth/);
  });

  it('counts introspection lists at their real sizes in this schema (every type, the mean of the others)', () => {
    const limits = { ...LIMITS, maxDepth: 15, maxCost: 100_000, maxAliases: 30 };
    const types = Object.keys(schema.getTypeMap()).length;
    expect(cost('{ __schema { types { name } } }', undefined, limits)).toBe(1 + types * 2);
    const wide = (n: number): string => `{ ${Array.from({ length: n }, (_, i) => `s${i}: __schema { types { name fields { name } inputFields { name } enumValues { name } } }`).join(' ')} }`;
    expect(refusal(wide(30), undefined, limits).message).toMatch(/cost/);
  });

  it('walks each fragment once: twelve fragments each spreading the one before three times are refused at once', () => {
    const fragments = ['fragment F0 on Flow { id label }'];
    for (let k = 1; k <= 11; k++) fragments.push(`fragment F${k} on Flow { ...F${k - 1} source { flows(first: 1) { nodes { ...F${k - 1} ...F${k - 1} } } } }`);
    const text = `{ flows(first: 1) { nodes { ...F11 } } } ${fragments.join(' ')}`;
    const started = process.hrtime.bigint();
    const refused = refusal(text, undefined, { ...LIMITS, maxDepth: 1000 });
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
    expect(refused.graphqlCode).toBe('QUERY_TOO_COMPLEX');
  });

  it('checks operations that are not selected and fragments no operation uses (validation reads them all)', () => {
    const deepFragment = `fragment D on Flow { ${'source { flows(first: 1) { nodes { '.repeat(3)}id${' } } }'.repeat(3)} }`;
    expect(refusal(`{ service { name } } ${deepFragment}`).message).toMatch(/depth/);
    expect(refusal('query A { service { name } } query B { flows(first: 200) { nodes { segments(first: 200) { nodes { id } } } } }').message).toMatch(/cost/);
  });

  it('refuses too many aliases, directives, and copies of one field in a selection set', () => {
    expect(refusal('{ a: service { name } b: service { name } c: service { name } d: service { name } }').message).toMatch(/aliases/);
    expect(refusal('{ service { name @include(if: true) @include(if: true) @skip(if: false) @skip(if: false) @skip(if: false) } }').message).toMatch(/directives/);
    expect(refusal(`{ service { ${'name '.repeat(MAX_SAME_FIELD + 1)} } }`).message).toMatch(/selected more than/);
    expect(cost(`{ service { ${'name '.repeat(MAX_SAME_FIELD)} } }`)).toBe(1 + MAX_SAME_FIELD);
    // Through inline fragments and spreads too.
    const viaFragments = `{ service { ...S ...S } } fragment S on Service { ${'name '.repeat(MAX_SAME_FIELD / 2 + 1)} }`;
    expect(refusal(viaFragments).message).toMatch(/selected more than/);
  });

  it('stays linear with a wide fragment under deeply nested inline fragments (names are not copied level to level)', () => {
    const fields = Array.from({ length: 3000 }, (_, i) => `f${i}`).join(' ');
    const text = `fragment F on Query { ${fields} } query Q { ${'... { '.repeat(1600)}...F${' }'.repeat(1600)} }`;
    const started = process.hrtime.bigint();
    const result = run(text, undefined, { ...LIMITS, maxCost: 1_000_000, maxDepth: 10 });
    // Copying 3,000 names at each of 1,600 levels took a second; the walk is a few milliseconds.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
    expect(result.refusal).toBeUndefined();
  });

  it('refuses more than MAX_SPREADS fragment spreads into one selection set, inline fragments included', () => {
    const fragments = Array.from({ length: MAX_SPREADS + 1 }, (_, i) => `fragment F${i} on Service { f${i}: name }`).join(' ');
    const spreads = (n: number): string => Array.from({ length: n }, (_, i) => `...F${i}`).join(' ');
    expect(refusal(`{ service { ${spreads(MAX_SPREADS + 1)} } } ${fragments}`, undefined, { ...LIMITS, maxAliases: 1000 }).message).toMatch(/fragment spreads/);
    const split = `{ service { ${spreads(30)} ... on Service { ${Array.from({ length: 21 }, (_, i) => `...F${30 + i}`).join(' ')} } } } ${fragments}`;
    expect(refusal(split, undefined, { ...LIMITS, maxAliases: 1000 }).message).toMatch(/fragment spreads/);
    const fifty = `{ service { ${spreads(MAX_SPREADS)} } } ${Array.from({ length: MAX_SPREADS }, (_, i) => `fragment F${i} on Service { f${i}: name }`).join(' ')}`;
    expect(run(fifty, undefined, { ...LIMITS, maxAliases: 1000 }).refusal).toBeUndefined();
  });

  it('does not loop on a fragment that spreads itself (validation refuses it later)', () => {
    expect(cost('query { service { ...S } } fragment S on Service { name ...S }')).toBe(2);
  });
});
