import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { GraphQLError, GraphQLSchema, OperationTypeNode, type DocumentNode, execute, isAbstractType, printSchema, type ExecutionResult } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

type GatewayInterface = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<GatewayInterface['load']>>['executor']>;

export interface JitExecutorOptions {
  /** Compiled operations kept (first in, first out beyond it). Default 1000. */
  maxCompiled?: number;
}

/**
 * An operation's text and name as one map key. No name (null or absent) and an empty name
 * differ: graphql-js picks the only operation for the first and refuses the second.
 */
export function operationKey(source: string, operationName: string | null | undefined): string {
  return operationName === null || operationName === undefined ? `\n${source}` : `=${operationName}\n${source}`;
}

/**
 * graphql-jit's compiled form of each query operation, one per document text and operation
 * name, compiled on first use and kept (first in, first out beyond `maxCompiled`). Shared by
 * the executor Apollo calls and the prepared-query path (prepared-queries.ts).
 */
export class CompiledQueries {
  private readonly maxCompiled: number;
  // `null`: graphql-jit refused the operation, so it runs through graphql-js.
  private readonly compiled = new Map<string, CompiledQuery | null>();

  constructor(
    private readonly schema: GraphQLSchema,
    options: JitExecutorOptions = {},
  ) {
    const asyncResolveType = Object.values(schema.getTypeMap()).filter(
      (type) => isAbstractType(type) && type.resolveType?.constructor.name === 'AsyncFunction',
    );
    // Compiled code takes resolveType's result as the type itself: a promise would fail every such field.
    if (asyncResolveType.length > 0) {
      throw new Error(`graphql-jit needs a synchronous resolveType on ${asyncResolveType.map((t) => t.name).join(', ')}`);
    }
    this.maxCompiled = options.maxCompiled ?? 1000;
  }

  /** The compiled operation `operationName` of `document` (parsed from `source`), or null when graphql-jit refuses it. */
  get(source: string, document: DocumentNode, operationName: string | null | undefined): CompiledQuery | null {
    const key = operationKey(source, operationName);
    let query = this.compiled.get(key);
    if (query === undefined) {
      const result = compileQuery(this.schema, document, operationName ?? undefined);
      query = isCompiledQuery(result) ? result : null;
      if (this.compiled.size >= this.maxCompiled) this.compiled.delete(this.compiled.keys().next().value as string);
      this.compiled.set(key, query);
    }
    return query;
  }
}

/**
 * Runs query operations as graphql-jit compiled functions. Resolvers, errors and their
 * extensions are the same as with graphql-js execute; a query graphql-jit cannot compile,
 * mutations and subscriptions go through graphql-js execute itself. Compiled queries call the
 * schema's resolvers directly, so an Apollo plugin's `willResolveField` would not see their
 * fields (no plugin here has one).
 */
function jitExecutor(schema: GraphQLSchema, queries: CompiledQueries): GatewayExecutor {
  return async (request): Promise<ExecutionResult> => {
    const { document, operation, context } = request;
    const variables = request.request.variables;
    const viaGraphqlJs = (): Promise<ExecutionResult> | ExecutionResult =>
      execute({ schema, document, contextValue: context, variableValues: variables, operationName: request.request.operationName });
    // Apollo calls the executor without an operation when none matches: graphql-js words that error.
    const query = operation?.operation === OperationTypeNode.QUERY ? queries.get(request.source, document, request.request.operationName) : null;
    if (query === null) return viaGraphqlJs();
    const result = await query.query(undefined, context, variables ?? {});
    // Only variables graphql-jit cannot coerce leave `data` out. It accepts what graphql-js
    // accepts but words refusals its own way: graphql-js words them (with the AST nodes Apollo's
    // BAD_USER_INPUT needs), failing the same way before any resolver runs.
    if (!('data' in result)) return viaGraphqlJs();
    return result.errors === undefined ? result : { ...result, errors: result.errors.map(asGraphqlJsError) };
  };
}

/**
 * graphql-jit's errors lack parts of graphql-js's that Apollo relies on (an `extensions` object
 * always, or Apollo masks the error before formatError sees it): each becomes the GraphQLError
 * graphql-js would have made, same message, path, locations, original error and extensions.
 */
export function asGraphqlJsError(error: GraphQLError): GraphQLError {
  const rebuilt = new GraphQLError(error.message, {
    ...(error.path === undefined ? {} : { path: error.path }),
    ...(error.originalError === undefined ? {} : { originalError: error.originalError }),
    ...(error.extensions === undefined ? {} : { extensions: error.extensions }),
  });
  // graphql-jit keeps the locations of the field's nodes, not the nodes themselves.
  return Object.assign(rebuilt, { locations: error.locations });
}

/**
 * Apollo's gateway interface over one fixed schema, executing through {@link jitExecutor}:
 * Apollo still parses, validates, runs its plugins and formats errors; only execution changes.
 */
export function jitGateway(schema: GraphQLSchema, queries: CompiledQueries = new CompiledQueries(schema)): GatewayInterface {
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => undefined;
    },
    async load() {
      return { executor: jitExecutor(schema, queries) };
    },
    async stop() {},
  };
}
