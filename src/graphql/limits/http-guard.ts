import type { FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { TamsError } from '../../domain/errors';
import { RateLimitedError, type RateLimiter, rateLimitIdentity } from '../../services/rate-limiter';
import { operationHash } from '../execution/persisted-queries';
import type { GuardedOperation, OperationGuard } from './operation-guard';

/** What the guard needs of an HTTP GraphQL request: the operation text (persisted ones looked up), its name and variables. */
interface HttpOperation {
  text: string;
  operationName: string | undefined;
  variables: Readonly<Record<string, unknown>> | undefined;
}

export interface HttpGuardOptions {
  guard: OperationGuard;
  /** The text of a persisted operation by its SHA-256 hex (the file's, or registered by APQ); undefined when unknown. */
  persisted: (hash: string) => Promise<string | undefined>;
  /** Charges each operation's cost (RATE_LIMIT_GRAPHQL_COST_PER_MINUTE); undefined when rate limits are off. */
  rateLimiter: RateLimiter | undefined;
  /** Apollo's formatError, so a refusal reads as Apollo's answers do. */
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Told of every refusal (audit, metrics). */
  refused: (request: FastifyRequest, error: TamsError) => void;
}

/** A refusal ready to send: nothing else has run for the request. */
export interface HttpRefusal {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function objectOr(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * A GET's fields exactly as Apollo reads them (@as-integrations/fastify hands it
 * `new URL(request.url).search`; Apollo takes each parameter from URLSearchParams and refuses
 * one given twice), not as fastify's query parser does: the two differ (undecodable
 * percent-escapes, a `#` in the request target), and the guard must check the text Apollo runs.
 */
function searchFields(url: string): Record<string, unknown> {
  const params = new URLSearchParams(new URL(url, 'http://localhost/').search);
  const fields: Record<string, unknown> = {};
  for (const name of ['query', 'operationName', 'variables', 'extensions']) {
    const values = params.getAll(name);
    // Given twice, Apollo refuses the request before it parses anything.
    if (values.length === 1) fields[name] = values[0];
  }
  return fields;
}

/** GET carries variables and extensions as JSON text in the query string. */
function jsonParam(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return objectOr(value);
  try {
    return objectOr(JSON.parse(value));
  } catch {
    return undefined;
  }
}

/**
 * The operation a request carries, as Apollo will read it; undefined when it carries none
 * Apollo could run (no text and no known hash, a batch array, a body that is not JSON):
 * Apollo refuses those before it parses anything.
 */
async function operationOf(request: FastifyRequest, persisted: HttpGuardOptions['persisted']): Promise<HttpOperation | TamsError | undefined> {
  const fields = request.method === 'GET' ? searchFields(request.url) : objectOr(request.body);
  if (fields === undefined) return undefined;
  const get = request.method === 'GET';
  const variables = get ? jsonParam(fields.variables) : objectOr(fields.variables);
  const operationName = typeof fields.operationName === 'string' ? fields.operationName : undefined;
  let text = typeof fields.query === 'string' ? fields.query : undefined;
  const extensions = get ? jsonParam(fields.extensions) : objectOr(fields.extensions);
  const hash = objectOr(extensions?.persistedQuery)?.sha256Hash;
  if (typeof hash === 'string') {
    // Apollo refuses a text that is not its hash's with an error that has no code (and so
    // would read as an internal error): a client's mistake, answered as one.
    if (text !== undefined && operationHash(text) !== hash) {
      return new TamsError('persisted_query_mismatch', 'extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent with it');
    }
    text ??= await persisted(hash);
  }
  return text === undefined ? undefined : { text, operationName, variables };
}

/**
 * Runs the operation guard and the cost rate limit on an HTTP GraphQL request, before the
 * prepared-query path and Apollo see it. Answers the refusal to send (a text that does not parse
 * included, worded as Apollo words it), or undefined to go on.
 */
export async function guardHttpOperation(request: FastifyRequest, options: HttpGuardOptions): Promise<HttpRefusal | undefined> {
  const operation = await operationOf(request, options.persisted);
  if (operation === undefined) return undefined;
  if (operation instanceof TamsError) return refusal(request, options, operation);
  let guarded: GuardedOperation;
  try {
    guarded = options.guard.check(operation.text, operation.operationName, operation.variables);
  } catch (err) {
    // A text the guard cannot parse is answered here, as Apollo would answer it: Apollo never
    // runs a text the guard has not checked, whatever differences between their parsers.
    if (err instanceof GraphQLError) return syntaxRefusal(options, err);
    if (err instanceof TamsError) return refusal(request, options, err);
    throw err;
  }
  if (options.rateLimiter !== undefined && guarded.cost > 0) {
    const identity = rateLimitIdentity(request.principal, request.ip);
    const limited = await options.rateLimiter.take('graphql', 'graphql_cost', identity, Math.ceil(guarded.cost));
    if (limited !== undefined) return refusal(request, options, limited);
  }
  return undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function syntaxRefusal(options: HttpGuardOptions, error: GraphQLError): HttpRefusal {
  const formatted = options.formatError({ message: error.message, ...(error.locations === undefined ? {} : { locations: error.locations }), extensions: { code: 'GRAPHQL_PARSE_FAILED' } }, error);
  return { status: 400, headers: { 'content-type': JSON_TYPE }, body: `${JSON.stringify({ errors: [formatted] })}\n` };
}

function refusal(request: FastifyRequest, options: HttpGuardOptions, error: TamsError): HttpRefusal {
  const formatted = options.formatError({ message: error.message, extensions: { code: error.graphqlCode } }, error);
  options.refused(request, error);
  return {
    status: error.status,
    headers: {
      'content-type': JSON_TYPE,
      ...(error instanceof RateLimitedError ? { 'retry-after': String(error.retryAfterSec) } : {}),
    },
    // Apollo's shape and trailing newline.
    body: `${JSON.stringify({ errors: [formatted] })}\n`,
  };
}
