import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  type VariableDefinitionNode,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  getNamedType,
  getNullableType,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isObjectType,
  valueFromASTUntyped,
} from 'graphql';
import { TamsError } from '../../domain/errors';

/** Bounds on one operation, checked before validation, compiling or any resolver (GRAPHQL_MAX_* settings). */
export interface QueryLimits {
  /** Deepest field nesting, introspection fields included. */
  maxDepth: number;
  /** Estimated cost: each field 1, times the page sizes of the lists around it; list inputs count their items. */
  maxCost: number;
  /** Aliases written in the document. */
  maxAliases: number;
  /** Directives written in the document. */
  maxDirectives: number;
  /** Largest `first` any list may ask for. */
  maxPageSize: number;
  /** The page size a list without `first` gets. */
  defaultPageSize: number;
  /** How many rows an `after` cursor makes a list read before its page (decoded from the cursor). */
  rowsSkipped: (after: unknown) => number;
}

/**
 * A list that takes no `first` (a flow's collection, `getUrls`, introspection's `types` and
 * `fields`) is counted as this many items: its real length is not known before it runs.
 */
export const UNPAGED_LIST_SIZE = 10;

interface Summary {
  depth: number;
  cost: number;
  /** Introspection's type lists (`fields`, `interfaces`, `possibleTypes`, `inputFields`) nested on the deepest path. */
  typeLists: number;
  /** How often each response name is selected at this level, through inline fragments and spreads. */
  names: ReadonlyMap<string, number>;
}

const NOTHING: Summary = { depth: 0, cost: 0, typeLists: 0, names: new Map() };

/**
 * Introspection lists that lead from a type to more types. Nested three deep they fan out the
 * whole schema at every level; graphql-js's validation refuses that (MaxIntrospectionDepthRule,
 * the same three), and the guard refuses it first.
 */
const TYPE_LISTS: ReadonlySet<string> = new Set(['fields', 'interfaces', 'possibleTypes', 'inputFields']);
export const MAX_TYPE_LISTS = 3;

/**
 * The most times one response name may be selected in one selection set. graphql-js's
 * validation compares every pair of same-named fields (OverlappingFieldsCanBeMerged): 3,000
 * copies of one field take it 35 ms before it gives up, so such a document is refused here.
 */
export const MAX_SAME_FIELD = 50;
/** Fragment spreads into one selection set (graphql-js compares them pairwise: 550 took it 130 ms). */
export const MAX_SPREADS = 50;
/** Merges of a fragment's names into where it is spread, per document (about a millisecond). */
const MAX_NAME_MERGES = 100_000;

export function tooComplex(message: string): TamsError {
  return new TamsError('query_too_complex', message);
}

/** The items of every list in an input value (a JSON value from the variables), iteratively: nesting cannot overflow the stack. */
function listItems(value: unknown): number {
  let items = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (Array.isArray(next)) {
      items += next.length;
      for (const item of next) if (typeof item === 'object' && item !== null) pending.push(item);
    } else if (typeof next === 'object' && next !== null) {
      for (const item of Object.values(next)) if (typeof item === 'object' && item !== null) pending.push(item);
    }
  }
  return items;
}

/**
 * One walk over a whole document: every operation and every fragment definition (used or not:
 * validation reads them all), each selection set once. A fragment's summary is computed the
 * first time it is spread and reused after, so the walk is linear in the document's size
 * however the fragments spread each other; the numbers it adds up may be exponential and are
 * refused as such.
 */
/** One response object's selections: the names selected into it and the fragments spread into it. */
interface Level {
  names: Map<string, number>;
  spreads: number;
}

class DocumentWalk {
  aliases = 0;
  /** Steps left for merging fragments' names into the levels they are spread at. */
  private mergeBudget = MAX_NAME_MERGES;
  directives = 0;
  variableDependent = false;
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly fragmentSummaries = new Map<string, Summary | 'walking'>();
  private readonly declared = new Map<string, VariableDefinitionNode>();

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
    private readonly variables: Readonly<Record<string, unknown>>,
    selected: OperationDefinitionNode | undefined,
    private readonly limits: QueryLimits,
  ) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(definition.name.value, definition);
      // The selected operation's declarations win; fragments used by other operations still resolve.
      if (definition.kind === Kind.OPERATION_DEFINITION && definition !== selected) this.declare(definition);
    }
    if (selected !== undefined) this.declare(selected);
  }

  operation(operation: OperationDefinitionNode): Summary {
    this.directives += operation.directives?.length ?? 0;
    for (const variable of operation.variableDefinitions ?? []) this.directives += variable.directives?.length ?? 0;
    const root = this.schema.getRootType(operation.operation) ?? undefined;
    return this.selectionSet(operation.selectionSet, root);
  }

  fragment(name: string): Summary {
    const known = this.fragmentSummaries.get(name);
    // A fragment inside itself is refused by validation; here it adds nothing.
    if (known === 'walking') return NOTHING;
    if (known !== undefined) return known;
    const definition = this.fragments.get(name);
    if (definition === undefined) return NOTHING;
    this.fragmentSummaries.set(name, 'walking');
    this.directives += definition.directives?.length ?? 0;
    const summary = this.selectionSet(definition.selectionSet, this.schema.getType(definition.typeCondition.name.value));
    this.fragmentSummaries.set(name, summary);
    return summary;
  }

  private declare(operation: OperationDefinitionNode): void {
    for (const variable of operation.variableDefinitions ?? []) this.declared.set(variable.variable.name.value, variable);
  }

  /**
   * One selection set. `level` is shared by the inline fragments inside it (they select into
   * the same response object): their names are counted into the same map, never copied up.
   * A fragment spread merges its remembered names in, one step each, within a document-wide
   * budget, so no document makes this walk more than linear.
   */
  private selectionSet(set: SelectionSetNode, type: GraphQLNamedType | null | undefined, level: Level = { names: new Map(), spreads: 0 }): Summary {
    let depth = 0;
    let cost = 0;
    let typeLists = 0;
    for (const selection of set.selections) {
      this.directives += selection.directives?.length ?? 0;
      let summary: Summary;
      if (selection.kind === Kind.FIELD) {
        summary = this.field(selection, type);
        this.count(level, selection.alias?.value ?? selection.name.value, 1);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition === undefined ? type : this.schema.getType(selection.typeCondition.name.value);
        summary = this.selectionSet(selection.selectionSet, condition, level);
      } else {
        // graphql-js's validation compares the fragments spread at one level pair by pair.
        if (++level.spreads > MAX_SPREADS) throw tooComplex(`More than ${MAX_SPREADS} fragment spreads in one selection set`);
        summary = this.fragment(selection.name.value);
        for (const [name, times] of summary.names) {
          if (--this.mergeBudget < 0) throw tooComplex('Fragments spread too widely to check');
          this.count(level, name, times);
        }
      }
      if (summary.depth > depth) depth = summary.depth;
      if (summary.typeLists > typeLists) typeLists = summary.typeLists;
      cost += summary.cost;
    }
    return { depth, cost, typeLists, names: level.names };
  }

  private count(level: Level, name: string, times: number): void {
    const total = (level.names.get(name) ?? 0) + times;
    if (total > MAX_SAME_FIELD) throw tooComplex(`${name} is selected more than ${MAX_SAME_FIELD} times in one selection set`);
    level.names.set(name, total);
  }

  private field(node: FieldNode, parent: GraphQLNamedType | null | undefined): Summary {
    if (node.alias !== undefined) this.aliases++;
    const definition = fieldDefinition(parent, node.name.value);
    const size = this.listSize(node, definition, parent);
    let inputs = 0;
    for (const argument of node.arguments ?? []) {
      // A scalar or enum argument carries no list (a list sent for one is refused by graphql-js).
      const type = definition?.args.find((a) => a.name === argument.name.value)?.type;
      if (type !== undefined && !isListType(getNullableType(type)) && isLeafType(getNamedType(type))) continue;
      inputs += this.inputItems(argument.value);
    }
    const below = node.selectionSet === undefined ? NOTHING : this.selectionSet(node.selectionSet, definition === undefined ? undefined : getNamedType(definition.type));
    const typeList = parent?.name === '__Type' && TYPE_LISTS.has(node.name.value) ? 1 : 0;
    return { depth: 1 + below.depth, cost: inputs + size * (1 + below.cost), typeLists: typeList + below.typeLists, names: NOTHING.names };
  }

  /** How many times the field's selection runs: its page for a paged list, an estimate for another list of objects, else 1. */
  private listSize(node: FieldNode, definition: GraphQLField<unknown, unknown> | undefined, parent: GraphQLNamedType | null | undefined): number {
    const paged = definition === undefined ? node.arguments?.some((a) => a.name.value === 'first') === true : definition.args.some((a) => a.name === 'first');
    if (paged) {
      const first = this.intArgument(node, 'first');
      if (first !== undefined && first > this.limits.maxPageSize) {
        throw tooComplex(`first: ${first} on ${node.name.value} is more than the maximum page size ${this.limits.maxPageSize}`);
      }
      const page = first === undefined ? this.limits.defaultPageSize : Math.max(first, 1);
      return page + this.limits.rowsSkipped(this.argumentValue(node, 'after'));
    }
    if (definition === undefined) return 1;
    const type = getNullableType(definition.type);
    if (!isListType(type) || isLeafType(getNamedType(type))) return 1;
    const introspected = parent === null || parent === undefined ? undefined : introspectionListSizes(this.schema).get(`${parent.name}.${node.name.value}`);
    if (introspected !== undefined) return introspected;
    // A connection's `edges` and `nodes` are the page its field was already counted for.
    if ((isObjectType(parent) || isInterfaceType(parent)) && 'pageInfo' in parent.getFields()) return 1;
    return UNPAGED_LIST_SIZE;
  }

  /** The value an argument has once variables (and their defaults) are applied; undefined when omitted or null. */
  private argumentValue(node: FieldNode, name: string): unknown {
    const value = node.arguments?.find((a) => a.name.value === name)?.value;
    return value === undefined ? undefined : this.valueOf(value, name, node);
  }

  private valueOf(value: ValueNode, argument: string, node: FieldNode): unknown {
    if (value.kind !== Kind.VARIABLE) return valueFromASTUntyped(value) ?? undefined;
    const name = value.name.value;
    this.variableDependent = true;
    if (Object.prototype.hasOwnProperty.call(this.variables, name)) return this.variables[name] ?? undefined;
    const declaration = this.declared.get(name);
    if (declaration === undefined) {
      throw new TamsError('bad_request', `${argument} on ${node.name.value} uses $${name}, which no operation declares: its value cannot be known`);
    }
    return declaration.defaultValue === undefined ? undefined : (valueFromASTUntyped(declaration.defaultValue) ?? undefined);
  }

  private intArgument(node: FieldNode, name: string): number | undefined {
    const value = this.argumentValue(node, name);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new TamsError('bad_request', `${name} on ${node.name.value} must be an Int, not ${JSON.stringify(value)?.slice(0, 40)}`);
    }
    return value;
  }

  /** List items an argument sends (after variables): each is work for the field. */
  private inputItems(value: ValueNode): number {
    if (value.kind === Kind.VARIABLE) {
      const name = value.name.value;
      this.variableDependent = true;
      if (Object.prototype.hasOwnProperty.call(this.variables, name)) return listItems(this.variables[name]);
      const fallback = this.declared.get(name)?.defaultValue;
      return fallback === undefined ? 0 : this.inputItems(fallback);
    }
    if (value.kind === Kind.LIST) return value.values.reduce((sum, item) => sum + this.inputItems(item), value.values.length);
    if (value.kind === Kind.OBJECT) return value.fields.reduce((sum, field) => sum + this.inputItems(field.value), 0);
    return 0;
  }
}

const introspectionSizes = new WeakMap<GraphQLSchema, ReadonlyMap<string, number>>();

/**
 * How long introspection's lists are in this schema: `types` as many as it has, the others
 * their mean length (rounded up, at least 1). The answer is fixed by the schema, so its real
 * sizes are known before it runs (10 items, as for other unpaged lists, undercounts `types`).
 */
function introspectionListSizes(schema: GraphQLSchema): ReadonlyMap<string, number> {
  const known = introspectionSizes.get(schema);
  if (known !== undefined) return known;
  const types = Object.values(schema.getTypeMap());
  const mean = (counts: number[]): number => Math.max(1, Math.ceil(counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length)));
  const composite = types.filter((t) => isObjectType(t) || isInterfaceType(t));
  const fields = composite.flatMap((t) => Object.values(t.getFields()));
  const sizes = new Map<string, number>([
    ['__Schema.types', types.length],
    ['__Schema.directives', schema.getDirectives().length],
    ['__Type.fields', mean(composite.map((t) => Object.keys(t.getFields()).length))],
    ['__Type.interfaces', mean(composite.map((t) => t.getInterfaces().length))],
    ['__Type.possibleTypes', mean(types.filter(isAbstractType).map((t) => schema.getPossibleTypes(t).length))],
    ['__Type.inputFields', mean(types.filter(isInputObjectType).map((t) => Object.keys(t.getFields()).length))],
    ['__Type.enumValues', mean(types.filter(isEnumType).map((t) => t.getValues().length))],
    ['__Field.args', mean(fields.map((f) => f.args.length))],
    ['__Directive.args', mean(schema.getDirectives().map((d) => d.args.length))],
  ]);
  introspectionSizes.set(schema, sizes);
  return sizes;
}

/** The field `name` of `parent` as graphql-js resolves it, introspection's meta fields included. */
function fieldDefinition(parent: GraphQLNamedType | null | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
  if (name === '__typename') return TypeNameMetaFieldDef;
  if (name === '__schema') return SchemaMetaFieldDef;
  if (name === '__type') return TypeMetaFieldDef;
  if (isObjectType(parent) || isInterfaceType(parent)) return parent.getFields()[name];
  return undefined;
}

/**
 * Checks every operation and fragment of `document` against `limits` (`variables` and the
 * declared defaults give the page sizes) and answers each operation's cost, or the refusal:
 * QUERY_TOO_COMPLEX when a limit is broken, BAD_USER_INPUT when a page size cannot be known.
 * Runs on the parsed document before graphql-js validation: undefined fields and types cost 1
 * and validation refuses them after. `variableDependent` false: the same answer holds for any
 * variables (none was read before the answer was known).
 */
export function checkDocument(
  schema: GraphQLSchema,
  document: DocumentNode,
  selected: OperationDefinitionNode | undefined,
  variables: Readonly<Record<string, unknown>> | undefined,
  limits: QueryLimits,
): DocumentCheck {
  const walk = new DocumentWalk(schema, document, variables ?? {}, selected, limits);
  const costs = new Map<string, number>();
  const check = (summary: Summary): void => {
    if (summary.depth > limits.maxDepth) throw tooComplex(`Query depth exceeds ${limits.maxDepth}`);
    if (summary.cost > limits.maxCost) throw tooComplex(`Query cost exceeds ${limits.maxCost} (each list costs its page size)`);
    if (summary.typeLists >= MAX_TYPE_LISTS) {
      throw tooComplex(`Introspection nests fields, interfaces, possibleTypes or inputFields ${MAX_TYPE_LISTS} deep`);
    }
  };
  try {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION) {
        const summary = walk.operation(definition);
        check(summary);
        costs.set(definition.name?.value ?? '', summary.cost);
      } else if (definition.kind === Kind.FRAGMENT_DEFINITION) {
        check(walk.fragment(definition.name.value));
      }
    }
    if (walk.aliases > limits.maxAliases) throw tooComplex(`More than ${limits.maxAliases} aliases`);
    if (walk.directives > limits.maxDirectives) throw tooComplex(`More than ${limits.maxDirectives} directives`);
  } catch (err) {
    if (err instanceof TamsError) return { refusal: err, variableDependent: walk.variableDependent };
    // The walk recurses as the document nests: past the stack it is too deep, whatever the limits.
    if (err instanceof RangeError) return { refusal: tooComplex('The operation is nested too deeply'), variableDependent: walk.variableDependent };
    throw err;
  }
  return { costs, variableDependent: walk.variableDependent };
}

/** What {@link checkDocument} found: each operation's cost (by name; '' for an anonymous one), or why the document is refused. */
export type DocumentCheck = { costs: ReadonlyMap<string, number>; refusal?: undefined; variableDependent: boolean } | { costs?: undefined; refusal: TamsError; variableDependent: boolean };
