import { type DocumentNode, type GraphQLSchema, GraphQLError, Kind, type OperationDefinitionNode, getOperationAST, parse } from 'graphql';
import { BoundedCache } from '../execution/bounded-cache';
import { type DocumentCheck, type QueryLimits, checkDocument, tooComplex } from './query-limits';

export interface OperationGuardOptions {
  schema: GraphQLSchema;
  limits: QueryLimits;
  /** GRAPHQL_MAX_TOKENS: the parser stops past this many tokens. */
  maxTokens: number;
  /** GRAPHQL_MAX_CHARACTERS: longer text is refused before it is parsed. */
  maxCharacters: number;
  /** Operation texts whose check is remembered. Default 5000. */
  cacheEntries?: number;
  /** Estimated bytes of memory the remembered checks may hold. Default 16 MiB. */
  cacheBytes?: number;
}

/** An operation that passed the limits: the operation `operationName` picks (if any), and its cost. */
export interface GuardedOperation {
  /** The parsed document, when asked for (`withDocument`), with locations for error messages. */
  document?: DocumentNode;
  /** Undefined when no operation matches `operationName`: validation or Apollo words that error. */
  operation?: OperationDefinitionNode;
  /** The operation's type, when one matches. */
  operationType?: OperationDefinitionNode['operation'];
  /** Estimated cost of the selected operation (what GraphQL rate limits charge). */
  cost: number;
}

/**
 * What is remembered of a text: the check's answer when it holds for any variables (a few
 * numbers), else the parsed document to check each request's variables against. Documents
 * are parsed without locations here (Apollo parses again for its error messages): a third of
 * the memory. Weighed by estimated heap bytes, documents far more than answers.
 */
type CheckedText =
  | { check: DocumentCheck; document?: undefined; operations: readonly OperationName[] }
  | { check?: undefined; document: DocumentNode; operations: readonly OperationName[] };

interface OperationName {
  name: string | undefined;
  type: OperationDefinitionNode['operation'];
}

/** Heap bytes per character of text: a JavaScript string; a parsed document without locations (measured 13-60). */
const STRING_BYTES_PER_CHAR = 2;
const DOCUMENT_BYTES_PER_CHAR = 64;
const ENTRY_BYTES = 200;
const OPERATION_BYTES = 120;

/** graphql-js's words for the token limit (it has written "that" for "than" in some versions). */
export const TOO_MANY_TOKENS = /^Syntax Error: Document contains more th(?:at|an) \d+ tokens/;

/**
 * The first step of every GraphQL operation, on every path (HTTP POST and GET, persisted
 * queries, the prepared-query path, WebSocket subscriptions): the text's length, the parser's
 * token limit, then one walk over the whole document for depth, cost, aliases, directives,
 * page sizes and repeated fields ({@link checkDocument}). Nothing else has run when it
 * refuses: no validation, no compile, no resolver, no cache entry for the text elsewhere.
 *
 * What a check found is remembered per text (bounded by count and estimated memory), so an
 * operation sent again costs a map lookup, plus the walk when its cost depends on variables.
 */
export class OperationGuard {
  private readonly texts: BoundedCache<CheckedText>;
  /** Documents parsed (tests and diagnosis: a remembered text is not parsed again). */
  parses = 0;

  constructor(private readonly options: OperationGuardOptions) {
    this.texts = new BoundedCache(options.cacheEntries ?? 5000, options.cacheBytes ?? 16 * 1024 * 1024);
  }

  get limits(): QueryLimits {
    return this.options.limits;
  }

  /**
   * Checks `text` with `variables`. Throws a TamsError (QUERY_TOO_COMPLEX, BAD_USER_INPUT) when
   * it breaks a limit, and graphql-js's GraphQLError when it does not parse. `withDocument`:
   * the answer carries the parsed document, with locations (the WebSocket path validates it).
   */
  check(
    text: string,
    operationName: string | null | undefined,
    variables: Readonly<Record<string, unknown>> | undefined,
    withDocument = false,
  ): GuardedOperation {
    const { maxCharacters, schema, limits } = this.options;
    if (text.length > maxCharacters) throw tooComplex(`The operation is longer than ${maxCharacters} characters`);
    const document = withDocument ? this.parse(text, true) : undefined;
    let known = this.texts.get(text);
    let check: DocumentCheck;
    if (known === undefined) {
      const parsed = document ?? this.parse(text, false);
      check = checkDocument(schema, parsed, getOperationAST(parsed, operationName) ?? undefined, variables, limits);
      const operations = operationsOf(parsed);
      known = check.variableDependent ? { operations, document: parsed } : { operations, check };
      const perChar = STRING_BYTES_PER_CHAR + (known.document === undefined ? 0 : DOCUMENT_BYTES_PER_CHAR * (document === undefined ? 1 : 2));
      // Each operation is an entry of its own in the answer (its name and type, its cost).
      this.texts.set(text, known, ENTRY_BYTES + text.length * perChar + operations.length * OPERATION_BYTES);
    } else {
      this.texts.touch(text);
      const stored = known.document;
      check = stored === undefined ? known.check : checkDocument(schema, stored, getOperationAST(stored, operationName) ?? undefined, variables, limits);
    }
    if (check.refusal !== undefined) throw check.refusal;
    const selected = select(known.operations, operationName);
    const operation = document === undefined || selected === undefined ? undefined : (getOperationAST(document, operationName) ?? undefined);
    return {
      ...(withDocument && document !== undefined ? { document } : {}),
      ...(operation === undefined ? {} : { operation }),
      ...(selected === undefined ? {} : { operationType: selected.type }),
      cost: selected === undefined ? 0 : (check.costs.get(selected.name ?? '') ?? 0),
    };
  }

  private parse(text: string, withLocations: boolean): DocumentNode {
    this.parses++;
    try {
      return parse(text, { maxTokens: this.options.maxTokens, noLocation: !withLocations });
    } catch (err) {
      if (err instanceof GraphQLError && TOO_MANY_TOKENS.test(err.message)) throw tooComplex(err.message);
      // graphql-js parses recursively: nesting beyond the stack (possible with a raised
      // GRAPHQL_MAX_TOKENS) is too complex, never an internal error.
      if (err instanceof RangeError) throw tooComplex('The operation is nested too deeply');
      throw err;
    }
  }
}

function operationsOf(document: DocumentNode): OperationName[] {
  return document.definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION ? [{ name: d.name?.value, type: d.operation }] : []));
}

/** The operation graphql-js's getOperationAST would pick, by name (or the only one). */
function select(operations: readonly OperationName[], operationName: string | null | undefined): OperationName | undefined {
  if (operationName === null || operationName === undefined) return operations.length === 1 ? operations[0] : undefined;
  return operations.find((o) => o.name === operationName);
}
