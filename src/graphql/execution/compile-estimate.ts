import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  getNamedType,
  isAbstractType,
  isInputObjectType,
  isObjectType,
  typeFromAST,
} from 'graphql';

/**
 * What compiling a variable costs, in fields: graphql-jit writes coercion code for each
 * variable and each field of its input type (300 variables of a small input type took 40 ms).
 */
const VARIABLE_FIELDS = 10;

/** The input fields reachable from `type`, each input type counted once. */
function inputFields(type: GraphQLNamedType, seen: Set<string>): number {
  if (!isInputObjectType(type) || seen.has(type.name)) return 0;
  seen.add(type.name);
  let fields = 0;
  for (const field of Object.values(type.getFields())) fields += 1 + inputFields(getNamedType(field.type), seen);
  return fields;
}

/**
 * How many field resolutions graphql-jit would write out for `operation`: it generates code
 * for each field once per concrete type its parent can be, so a field of an abstract type
 * (the `Flow` interface, five implementations) repeats everything below it for each of them,
 * and nesting multiplies. This is what a compile costs in time and memory (four nested levels
 * of `Flow`: 625 copies, 190 ms and 166 MB measured before this estimate existed).
 *
 * Linear in the document: each selection set is estimated once per concrete type (memoised),
 * so the estimate may be astronomically large while computing it stays cheap.
 */
export function estimateCompiledFields(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const memo = new WeakMap<SelectionSetNode, Map<string, number>>();

  const applies = (condition: string | undefined, type: GraphQLObjectType): boolean => {
    if (condition === undefined || condition === type.name) return true;
    const named = schema.getType(condition);
    return named !== undefined && isAbstractType(named) && schema.isSubType(named, type);
  };

  const estimate = (set: SelectionSetNode, type: GraphQLObjectType): number => {
    let byType = memo.get(set);
    if (byType === undefined) memo.set(set, (byType = new Map<string, number>()));
    const known = byType.get(type.name);
    if (known !== undefined) return known;
    // A fragment inside itself (refused by validation before any compile) adds nothing.
    byType.set(type.name, 0);
    let fields = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        fields += 1;
        const definition = fieldOf(type, selection.name.value);
        if (selection.selectionSet === undefined || definition === undefined) continue;
        const returned = getNamedType(definition.type);
        if (isObjectType(returned)) fields += estimate(selection.selectionSet, returned);
        else if (isAbstractType(returned)) {
          for (const possible of schema.getPossibleTypes(returned)) fields += estimate(selection.selectionSet, possible);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (applies(selection.typeCondition?.name.value, type)) fields += estimate(selection.selectionSet, type);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment !== undefined && applies(fragment.typeCondition.name.value, type)) fields += estimate(fragment.selectionSet, type);
      }
    }
    byType.set(type.name, fields);
    return fields;
  };

  // Introspection's fields are resolved at the query root like any other (and compiled alike).
  const queryType = schema.getQueryType();
  const fieldOf = (type: GraphQLObjectType, name: string): GraphQLField<unknown, unknown> | undefined => {
    if (type === queryType && name === '__schema') return SchemaMetaFieldDef;
    if (type === queryType && name === '__type') return TypeMetaFieldDef;
    return type.getFields()[name];
  };
  let variables = 0;
  for (const definition of operation.variableDefinitions ?? []) {
    const type = typeFromAST(schema, definition.type);
    variables += VARIABLE_FIELDS + (type === undefined ? 0 : inputFields(getNamedType(type), new Set()));
  }
  const root = schema.getRootType(operation.operation);
  return variables + (root === undefined || root === null ? 0 : estimate(operation.selectionSet, root));
}
