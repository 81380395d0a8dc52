import type { ApolloServerPlugin } from '@apollo/server';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  Kind,
  OperationTypeNode,
  getNamedType,
  isInterfaceType,
  isLeafType,
  isObjectType,
} from 'graphql';
import { TamsError } from '../../domain/errors';
import type { Principal } from '../../domain/principal';
import { hasRequiredScopes } from '../../services/access-policy';
import type { GraphqlContext } from '../context';
import { requestError } from '../limits/guard-plugin';
import { actionOfRootField } from './shield';

/**
 * What a mutation answers about the write itself, not stored data: a caller without `read`
 * may select all of these. Everything else a mutation returns is stored data (a flow, its
 * source and segments, an object and its signed URLs, a webhook...), of which such a caller
 * gets the `id` only, as REST gives it nothing it could not read with a GET.
 * DeletionRequest is here because REST's DELETE answers the request to the deleting caller.
 */
const WRITE_OUTCOME_TYPES: ReadonlySet<string> = new Set([
  'PutFlowResult',
  'DeletionResult',
  'RegisterSegmentsResult',
  'DeleteSegmentsResult',
  'MediaObjectAllocation',
  'FailedSegment',
  'ErrorInfo',
  'PutUrl',
  'HttpHeader',
  'DeletionRequest',
]);

/** Fields of stored data a caller without `read` may still select from a mutation. */
const ALWAYS: ReadonlySet<string> = new Set(['id', '__typename']);

/**
 * The first field of `operation` (a mutation) that reads stored data beyond the write's own
 * outcome, as `Type.field`; undefined when there is none. Walks each selection set and each
 * fragment once.
 */
export function firstStoredDataField(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  checked: (rootField: string) => boolean = () => true,
): string | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const seen = new Set<string>();
  const mutation = schema.getMutationType();
  const walk = (set: SelectionSetNode, type: GraphQLNamedType | null | undefined): string | undefined => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition === undefined ? type : schema.getType(selection.typeCondition.name.value);
        const found = walk(selection.selectionSet, condition);
        if (found !== undefined) return found;
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment === undefined || seen.has(fragment.name.value)) continue;
        seen.add(fragment.name.value);
        const found = walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
        if (found !== undefined) return found;
        continue;
      }
      const name = selection.name.value;
      // The Mutation type's fields are the writes themselves: what each returns is checked
      // (unless `checked` leaves it to the scope rules, which refuse the write itself).
      if (type === mutation && !checked(name)) continue;
      const outcome = type !== null && type !== undefined && (type === mutation || WRITE_OUTCOME_TYPES.has(type.name));
      if (!outcome && !ALWAYS.has(name)) return `${type?.name ?? '?'}.${name}`;
      if (selection.selectionSet === undefined || !(isObjectType(type) || isInterfaceType(type))) continue;
      const field = type.getFields()[name];
      const returned = field === undefined ? undefined : getNamedType(field.type);
      if (returned === undefined || isLeafType(returned)) continue;
      const found = walk(selection.selectionSet, returned);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return mutation === null || mutation === undefined ? undefined : walk(operation.selectionSet, mutation);
}

/** Whether `principal` may read stored data (the `read` scope, or one that implies it). */
function mayRead(principal: Principal): boolean {
  return hasRequiredScopes(principal, 'flow.read');
}

/**
 * graphql-shield checks the scope of each root field; what a mutation returns is resolved
 * without a check of its own. A caller without `read` (a write-only or delete-only token)
 * could otherwise read flows, sources, segments and fresh signed media URLs through the result
 * of any mutation, even one that changes nothing. Such a mutation is refused whole, before it
 * runs, with FORBIDDEN: select only the outcome (`created`, `done`, `registeredCount`,
 * `failed`, put URLs) and ids.
 */
export function useMutationResultAccess(schema: GraphQLSchema): ApolloServerPlugin<GraphqlContext> {
  const mutationName = schema.getMutationType()?.name ?? 'Mutation';
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, contextValue }) {
          const { principal } = contextValue.request;
          if (operation?.operation !== OperationTypeNode.MUTATION || mayRead(principal)) return;
          // A write the caller may not make at all is refused by its scope rule, as before.
          const mayWrite = (field: string): boolean => {
            const action = actionOfRootField(mutationName, field);
            return action !== undefined && hasRequiredScopes(principal, action);
          };
          const field = firstStoredDataField(schema, document, operation, mayWrite);
          if (field === undefined) return;
          throw requestError(new TamsError('forbidden', `${field} is stored data: reading it from a mutation result needs scope read`));
        },
      };
    },
  };
}
