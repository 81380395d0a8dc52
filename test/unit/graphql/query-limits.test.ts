import { Kind, OperationDefinitionNode, parse } from 'graphql';
import { TamsError } from '../../../src/domain/errors';
import { QueryLimits, checkQueryLimits } from '../../../src/graphql/query-limits';

const LIMITS: QueryLimits = { maxDepth: 5, maxCost: 1000, maxAliases: 3, maxPageSize: 200, defaultPageSize: 100 };

function check(text: string, variables?: Record<string, unknown>, limits: QueryLimits = LIMITS): { depth: number; cost: number } {
  const document = parse(text);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation) throw new Error('no operation');
  return checkQueryLimits(document, operation, variables, limits);
}

function refusal(text: string, variables?: Record<string, unknown>, limits?: QueryLimits): TamsError {
  try {
    check(text, variables, limits);
  } catch (err) {
    if (err instanceof TamsError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('checkQueryLimits', () => {
  it('measures depth and multiplies the cost of nested lists by their page sizes', () => {
    expect(check('{ service { name } }')).toEqual({ depth: 2, cost: 2 });
    // flows 10, then per flow: nodes, id, segments 5; then per segment: nodes, objectId.
    expect(check('{ flows(first: 10) { nodes { id segments(first: 5) { nodes { objectId } } } } }')).toEqual({
      depth: 5,
      cost: 10 + (10 + 10 + 10 * 5) + (50 + 50),
    });
  });

  it('reads `first` from variables and takes the default page size when it is absent', () => {
    const a = check('query($n: Int) { flows(first: $n) { nodes { id } } }', { n: 3 });
    const b = check('{ flows { nodes { id } } }');
    expect(a.cost).toBe(3 + 3 + 3);
    expect(b.cost).toBe(100 + 100 + 100);
  });

  it('refuses too deep, too costly, too many aliases and too large pages with QUERY_TOO_COMPLEX', () => {
    const deep = refusal('{ flows(first: 1) { nodes { source { flows(first: 1) { nodes { id } } } } } }');
    expect(deep.code).toBe('query_too_complex');
    expect(deep.graphqlCode).toBe('QUERY_TOO_COMPLEX');
    expect(deep.message).toMatch(/depth/);
    expect(refusal('{ flows(first: 200) { nodes { segments(first: 200) { nodes { objectId } } } } }').message).toMatch(/cost/);
    expect(refusal('{ a: service { name } b: service { name } c: service { name } d: service { name } }').message).toMatch(/aliases/);
    expect(refusal('query($n: Int) { flows(first: $n) { nodes { id } } }', { n: 201 }).message).toMatch(/maximum page size 200/);
  });

  it('follows fragments and inline fragments, and skips introspection fields', () => {
    const text = `
      query { flows(first: 2) { ...F } }
      fragment F on FlowConnection { nodes { ... on VideoFlow { frameWidth } id } }`;
    expect(check(text)).toEqual({ depth: 3, cost: 2 + 2 + 2 + 2 });
    expect(() => check('{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }')).not.toThrow();
    expect(refusal('query { flows(first: 1) { ...F } } fragment F on FlowConnection { nodes { source { flows(first: 1) { nodes { id } } } } }').message).toMatch(/depth/);
  });

  it('does not loop on a fragment that spreads itself (validation refuses it later)', () => {
    expect(check('query { service { ...S } } fragment S on Service { name ...S }').depth).toBe(2);
  });
});
