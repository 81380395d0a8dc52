import type { ApolloServerPlugin } from '@apollo/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OperationTypeNode, type DocumentNode, type GraphQLError, type GraphQLFormattedError, type OperationDefinitionNode } from 'graphql';
import type { CompiledQuery } from 'graphql-jit';
import type { AuditedOperation } from './audit-plugin';
import { asGraphqlJsError, operationKey, type CompiledQueries } from './jit-executor';
import { BoundedCache } from './bounded-cache';
import { outageStatus } from './outage-status';
import type { OperationObserver } from './operation-observer';

/** A query Apollo has already parsed, validated and resolved once, with its compiled form. */
interface PreparedQuery {
  compiled: CompiledQuery;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  name: string | null;
}

export interface PreparedQueryOptions {
  /** graphql-jit's compiled operations, shared with the executor Apollo calls. */
  compiled: CompiledQueries;
  /** Operation metrics and traces: told of every operation answered here, as Apollo's plugins are. */
  observers: readonly OperationObserver[];
  /** Apollo's formatError, so errors read the same whichever way the operation went. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Told of every operation answered here (the audit trail). */
  answered: (request: FastifyRequest, operation: AuditedOperation) => void;
  /** Prepared queries kept (first in, first out beyond either bound). Default 1000. */
  maxPrepared?: number;
  /** Estimated bytes of memory the prepared queries' documents may hold. Default 16 MiB. */
  maxPreparedBytes?: number;
}

const JSON_RESPONSE = 'application/json; charset=utf-8';
const DOCUMENT_BYTES_PER_CHAR = 100;
/** Accept values for which Apollo answers `application/json; charset=utf-8` (anything else goes to Apollo). */
const JSON_ACCEPTS = new Set(['*/*', 'application/json', JSON_RESPONSE]);

/**
 * The prepared-query path: a POSTed query whose text (and operation name) Apollo has already
 * parsed, validated and resolved is run straight from its graphql-jit compiled form, skipping
 * Apollo's per-request pipeline (hashing the text, content negotiation, plugin hooks), which
 * costs about as much CPU as the window query itself (bench/RESULTS.md).
 *
 * The operation guard (limits/operation-guard.ts) has checked the request before it gets here,
 * with its variables. It answers exactly as Apollo would: the same context, resolvers (graphql-shield rules included), error formatting, HTTP status,
 * audit lines, metrics and spans, and byte-identical bodies (test/graphql/prepared-queries.test.ts
 * compares both paths). Anything else goes to Apollo untouched: GET, batches, persisted-query
 * extensions, other Accept or content types, mutations and subscriptions, operations
 * graphql-jit cannot compile, variables over a limit, and variables the compiled query refuses
 * (Apollo words that refusal; nothing has run by then).
 */
export class PreparedQueries<C extends object> {
  private readonly entries: BoundedCache<PreparedQuery>;
  /** Operations answered here (tests and diagnosis). */
  served = 0;

  constructor(private readonly options: PreparedQueryOptions) {
    this.entries = new BoundedCache(options.maxPrepared ?? 1000, options.maxPreparedBytes ?? 16 * 1024 * 1024);
  }

  /**
   * Remembers each query operation Apollo has run compiled: after its execution, so an
   * operation a plugin refused (or that failed validation) is never compiled or kept here.
   */
  plugin(): ApolloServerPlugin<C> {
    return {
      requestDidStart: async () => ({
        executionDidStart: async ({ source, document, operation, request }) => ({
          executionDidEnd: async () => {
            if (operation === undefined || operation.operation !== OperationTypeNode.QUERY) return;
            const key = operationKey(source, request.operationName);
            if (this.entries.has(key)) return;
            const compiled = this.options.compiled.peek(source, request.operationName);
            if (compiled === null) return;
            // Apollo's document keeps its locations: about 100 bytes of heap per character of text.
            this.entries.set(key, { compiled, document, operation, name: operation.name?.value ?? null }, key.length * DOCUMENT_BYTES_PER_CHAR);
          },
        }),
      }),
    };
  }

  /**
   * Answers the request if it is a prepared query: sets status and content type and returns the
   * body. Undefined: not answered, nothing was sent, and Apollo must take the request.
   */
  async serve(request: FastifyRequest, reply: FastifyReply, contextFor: (request: FastifyRequest) => C): Promise<string | undefined> {
    const prepared = this.match(request);
    if (prepared === undefined) return undefined;
    const { entry, variables } = prepared;
    const watches = this.options.observers.map((observe) => observe());
    for (const watch of watches) watch.resolved(OperationTypeNode.QUERY, entry.name);
    const result = await entry.compiled.query(undefined, contextFor(request), variables);
    // Variables graphql-jit refused, before any resolver ran: Apollo words the refusal (and
    // measures it; the watches begun here are dropped unfinished).
    if (!('data' in result)) return undefined;
    const raw: GraphQLError[] = result.errors === undefined ? [] : result.errors.map(asGraphqlJsError);
    const { formatted, status: errorStatus } = result.errors === undefined ? { formatted: undefined, status: 200 } : this.formatErrors(raw);
    const status = outageStatus(result.data, raw) ?? errorStatus;
    this.options.answered(request, {
      operation: entry.operation,
      document: entry.document,
      variables,
      data: result.data,
      formatted: formatted ?? [],
      raw,
      status,
    });
    for (const watch of watches) watch.finished(raw);
    this.served++;
    void reply.code(status).header('content-type', JSON_RESPONSE);
    // Apollo's field order and trailing newline (runHttpQuery.ts).
    return `${JSON.stringify({ errors: formatted, data: result.data, extensions: result.extensions })}\n`;
  }

  private match(request: FastifyRequest): { entry: PreparedQuery; variables: Record<string, unknown> } | undefined {
    if (request.method !== 'POST') return undefined;
    const accept = request.headers.accept;
    if (accept !== undefined && accept !== '' && !JSON_ACCEPTS.has(accept)) return undefined;
    if (!request.headers['content-type']?.startsWith('application/json')) return undefined;
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
    const { query, variables, operationName, extensions } = body as Record<string, unknown>;
    if (typeof query !== 'string' || extensions !== undefined) return undefined;
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
    const entry = this.entries.get(operationKey(query, operationName));
    if (entry === undefined) return undefined;
    return { entry, variables: (variables ?? {}) as Record<string, unknown> };
  }

  /** Apollo's normalizeAndFormatErrors for execution errors: a code always, `extensions.http` taken out as the status. */
  private formatErrors(errors: readonly GraphQLError[]): { formatted: GraphQLFormattedError[]; status: number } {
    let status = 200;
    const formatted = errors.map((error) => {
      const extensions: Record<string, unknown> = { ...error.extensions, code: error.extensions.code ?? 'INTERNAL_SERVER_ERROR' };
      const http = extensions.http as { status?: unknown } | undefined;
      if (http !== undefined) {
        if (typeof http.status === 'number') status = http.status;
        delete extensions.http;
      }
      try {
        return this.options.formatError({ ...error.toJSON(), extensions }, error);
      } catch {
        return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
      }
    });
    return { formatted, status };
  }
}
