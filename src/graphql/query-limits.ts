import {
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  Kind,
  OperationDefinitionNode,
  SelectionSetNode,
  ValueNode,
  valueFromASTUntyped,
} from 'graphql';
import { TamsError } from '../domain/errors';

/** Bounds on one operation, checked before any resolver runs (GRAPHQL_MAX_* settings). */
export interface QueryLimits {
  /** Deepest field nesting (introspection fields not counted). */
  maxDepth: number;
  /** Estimated nodes: each list costs its `first` times the lists around it; other fields 1. */
  maxCost: number;
  /** Aliased fields in the operation. */
  maxAliases: number;
  /** Largest `first` any list may ask for. */
  maxPageSize: number;
  /** The page size a list without `first` gets. */
  defaultPageSize: number;
}

interface Walk {
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  limits: QueryLimits;
  aliases: number;
  cost: number;
  depth: number;
}

function tooComplex(message: string): TamsError {
  return new TamsError('query_too_complex', message);
}

function argument(field: FieldNode, name: string, walk: Walk): unknown {
  const node: ValueNode | undefined = field.arguments?.find((a) => a.name.value === name)?.value;
  return node === undefined ? undefined : valueFromASTUntyped(node, walk.variables);
}

/** Connections take `first`; their size multiplies the cost of everything under them. */
function listSize(field: FieldNode, walk: Walk): number | undefined {
  const takesFirst = field.arguments?.some((a) => a.name.value === 'first') ?? false;
  const first = argument(field, 'first', walk);
  if (typeof first === 'number') {
    if (first > walk.limits.maxPageSize) {
      throw tooComplex(`first: ${first} on ${field.name.value} is more than the maximum page size ${walk.limits.maxPageSize}`);
    }
    return Math.max(first, 1);
  }
  if (takesFirst || isConnectionSelection(field)) return walk.limits.defaultPageSize;
  return undefined;
}

/** A connection field asked without `first` still returns a page: it selects edges or nodes. */
function isConnectionSelection(field: FieldNode): boolean {
  return field.selectionSet?.selections.some((s) => s.kind === Kind.FIELD && (s.name.value === 'edges' || s.name.value === 'nodes')) ?? false;
}

function visit(set: SelectionSetNode, depth: number, multiplier: number, walk: Walk, seen: Set<string>): void {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      if (selection.alias !== undefined) {
        walk.aliases++;
        if (walk.aliases > walk.limits.maxAliases) throw tooComplex(`More than ${walk.limits.maxAliases} aliases`);
      }
      if (depth > walk.depth) walk.depth = depth;
      if (depth > walk.limits.maxDepth) throw tooComplex(`Query depth exceeds ${walk.limits.maxDepth}`);
      const size = listSize(selection, walk);
      walk.cost += size === undefined ? multiplier : multiplier * size;
      if (walk.cost > walk.limits.maxCost) throw tooComplex(`Query cost exceeds ${walk.limits.maxCost} (each list costs its page size)`);
      if (selection.selectionSet) visit(selection.selectionSet, depth + 1, size === undefined ? multiplier : multiplier * size, walk, seen);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      visit(selection.selectionSet, depth, multiplier, walk, seen);
    } else {
      const name = selection.name.value;
      const fragment = walk.fragments.get(name);
      // A fragment spread inside itself is refused by validation; `seen` guards the path anyway.
      if (fragment === undefined || seen.has(name)) continue;
      seen.add(name);
      visit(fragment.selectionSet, depth, multiplier, walk, seen);
      seen.delete(name);
    }
  }
}

/** Throws QUERY_TOO_COMPLEX when the operation breaks a limit. Returns its depth and cost. */
export function checkQueryLimits(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  limits: QueryLimits,
): { depth: number; cost: number } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const walk: Walk = { fragments, variables: variables ?? {}, limits, aliases: 0, cost: 0, depth: 0 };
  visit(operation.selectionSet, 1, 1, walk, new Set());
  return { depth: walk.depth, cost: walk.cost };
}
