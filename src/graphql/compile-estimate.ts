import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  Kind,
  getNamedType,
  isAbstractType,
  isObjectType,
} from 'graphql';

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
        const definition = type.getFields()[selection.name.value];
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

  const root = schema.getRootType(operation.operation);
  return root === undefined || root === null ? 0 : estimate(operation.selectionSet, root);
}
