import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { GraphQLError, GraphQLSchema, OperationTypeNode, type DocumentNode, execute, getOperationAST, isAbstractType, printSchema, type ExecutionResult } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { BoundedCache } from './bounded-cache';
import { estimateCompiledFields } from './compile-estimate';

type GatewayInterface = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<GatewayInterface['load']>>['executor']>;

export interface JitExecutorOptions {
  /** Operations remembered (compiled, refused, or seen once), oldest dropped first. Default 1000. */
  maxOperations?: number;
  /** Characters of operation text remembered in all. Default 4,000,000. */
  maxTextCharacters?: number;
  /** Estimated compiled fields ({@link estimateCompiledFields}) kept in all. Default 20,000. */
  maxCompiledFields?: number;
  /** An operation estimated above this many compiled fields is never compiled: it runs on graphql-js. Default {@link MAX_COMPILED_FIELDS_PER_QUERY}. */
  maxFieldsPerQuery?: number;
  /** The run of an operation text at which it is compiled; earlier runs use graphql-js. Default 2. */
  compileAtRun?: number;
}

/**
 * Compiling costs about 0.08 ms of CPU and 5-10 KB of memory per estimated field, plus 3 ms
 * (measured here: 67 fields 3 ms, 217 fields 14 ms, 510 fields 47 ms, 1,092 fields 81 ms).
 * Application queries estimate at 40-250; above this an operation runs on graphql-js.
 */
export const MAX_COMPILED_FIELDS_PER_QUERY = 300;

/**
 * An operation graphql-jit is asked for: how often, and its compiled form once decided
 * (`null`: too large, or graphql-jit refused it; it runs through graphql-js).
 */
interface Tier {
  runs: number;
  compiled?: CompiledQuery | null;
}

/**
 * An operation's text and name as one map key. No name (null or absent) and an empty name
 * differ: graphql-js picks the only operation for the first and refuses the second.
 */
export function operationKey(source: string, operationName: string | null | undefined): string {
  return operationName === null || operationName === undefined ? `\n${source}` : `=${operationName}\n${source}`;
}

/**
 * graphql-jit's compiled form of each query operation, shared by the executor Apollo calls
 * and the prepared-query path (prepared-queries.ts). Compiling costs far more than running an
 * operation once (milliseconds, and memory growing with the operation's size), so:
 * - an operation text is compiled on its second run (`compileAtRun`); a text sent once, as a
 *   flood of distinct operations is, runs on graphql-js and never compiles;
 * - an operation whose compiled size is estimated over `maxFieldsPerQuery` is never compiled;
 * - what is kept is bounded by count, by characters of text and by estimated compiled fields.
 * Only operations that passed the limits and validation get here (the executor runs after them).
 */
export class CompiledQueries {
  private readonly tiers: BoundedCache<Tier>;
  private readonly compiledFields: BoundedCache<true>;
  private readonly maxFieldsPerQuery: number;
  private readonly compileAtRun: number;
  /** Operations compiled so far (tests and diagnosis). */
  compilations = 0;

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
    this.tiers = new BoundedCache(options.maxOperations ?? 1000, options.maxTextCharacters ?? 4_000_000);
    // Compiled entries weigh their estimated fields here; dropping one here drops its compiled form.
    this.compiledFields = new BoundedCache(options.maxOperations ?? 1000, options.maxCompiledFields ?? 20_000);
    this.maxFieldsPerQuery = options.maxFieldsPerQuery ?? MAX_COMPILED_FIELDS_PER_QUERY;
    this.compileAtRun = options.compileAtRun ?? 2;
  }

  /**
   * The compiled operation `operationName` of `document` (parsed from `source`) for this run,
   * or null: run it through graphql-js (not compiled yet, too large, or refused by graphql-jit).
   */
  get(source: string, document: DocumentNode, operationName: string | null | undefined): CompiledQuery | null {
    const key = operationKey(source, operationName);
    const tier = this.tiers.get(key) ?? { runs: 0 };
    if (tier.compiled !== undefined && (tier.compiled === null || this.compiledFields.has(key))) return tier.compiled;
    tier.runs++;
    if (tier.runs >= this.compileAtRun) {
      const operation = getOperationAST(document, operationName);
      const fields = operation === null || operation === undefined ? Infinity : estimateCompiledFields(this.schema, document, operation);
      tier.compiled = null;
      if (fields <= this.maxFieldsPerQuery) {
        const result = compileQuery(this.schema, document, operationName ?? undefined);
        this.compilations++;
        if (isCompiledQuery(result)) {
          tier.compiled = result;
          this.compiledFields.set(key, true, Math.max(fields, 1));
        }
      }
    }
    this.tiers.set(key, tier, key.length);
    return tier.compiled ?? null;
  }

  /** The compiled form of an operation if it has one now; compiles and counts nothing. */
  peek(source: string, operationName: string | null | undefined): CompiledQuery | null {
    const key = operationKey(source, operationName);
    const compiled = this.tiers.get(key)?.compiled;
    return compiled !== undefined && compiled !== null && this.compiledFields.has(key) ? compiled : null;
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
