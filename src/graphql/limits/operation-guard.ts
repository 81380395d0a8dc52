import { type DocumentNode, type GraphQLSchema, GraphQLError, type OperationDefinitionNode, getOperationAST, parse } from 'graphql';
import { BoundedCache } from '../bounded-cache';
import { type DocumentCheck, type QueryLimits, checkDocument, tooComplex } from './query-limits';

export interface OperationGuardOptions {
  schema: GraphQLSchema;
  limits: QueryLimits;
  /** GRAPHQL_MAX_TOKENS: the parser stops past this many tokens. */
  maxTokens: number;
  /** GRAPHQL_MAX_CHARACTERS: longer text is refused before it is parsed. */
  maxCharacters: number;
  /** Operation texts whose parse and check are remembered. Default 2000. */
  cacheEntries?: number;
  /** Characters of operation text remembered in all. Default 4,000,000. */
  cacheCharacters?: number;
}

/** An operation that passed the limits, as parsed: the document, the operation `operationName` picks, its cost. */
export interface GuardedOperation {
  document: DocumentNode;
  /** Undefined when no operation matches `operationName`: validation or Apollo words that error. */
  operation: OperationDefinitionNode | undefined;
  /** Estimated cost of the selected operation (what GraphQL rate limits charge). */
  cost: number;
}

interface CheckedText {
  document: DocumentNode;
  /** The check's answer when it holds for any variables. */
  check?: DocumentCheck;
}

/** graphql-js's words for the token limit (it has written "that" for "than" in some versions). */
const TOO_MANY_TOKENS = /contains more th(?:at|an) \d+ tokens/;

/**
 * The first step of every GraphQL operation, on every path (HTTP POST and GET, persisted
 * queries, the prepared-query path, WebSocket subscriptions): the text's length, the parser's
 * token limit, then one walk over the whole document for depth, cost, aliases, directives,
 * page sizes and repeated fields ({@link checkDocument}). Nothing else has run when it
 * refuses: no validation, no compile, no resolver, no cache entry for the text elsewhere.
 *
 * Parsing and checking a text is remembered (bounded by count and characters), so an
 * operation sent again costs a map lookup, plus the walk when its cost depends on variables.
 */
export class OperationGuard {
  private readonly texts: BoundedCache<CheckedText>;
  /** Documents parsed (tests and diagnosis: a remembered text is not parsed again). */
  parses = 0;

  constructor(private readonly options: OperationGuardOptions) {
    this.texts = new BoundedCache(options.cacheEntries ?? 2000, options.cacheCharacters ?? 4_000_000);
  }

  get limits(): QueryLimits {
    return this.options.limits;
  }

  /**
   * Checks `text` with `variables`. Throws a TamsError (QUERY_TOO_COMPLEX, BAD_USER_INPUT) when
   * it breaks a limit, and graphql-js's GraphQLError when it does not parse.
   */
  check(text: string, operationName: string | null | undefined, variables: Readonly<Record<string, unknown>> | undefined): GuardedOperation {
    const { maxCharacters, maxTokens, schema, limits } = this.options;
    if (text.length > maxCharacters) throw tooComplex(`The operation is longer than ${maxCharacters} characters`);
    let known = this.texts.get(text);
    if (known === undefined) {
      let document: DocumentNode;
      this.parses++;
      try {
        document = parse(text, { maxTokens, noLocation: false });
      } catch (err) {
        if (err instanceof GraphQLError && TOO_MANY_TOKENS.test(err.message)) throw tooComplex(err.message);
        throw err;
      }
      known = { document };
      this.texts.set(text, known, text.length);
    } else {
      this.texts.touch(text);
    }
    const operation = getOperationAST(known.document, operationName) ?? undefined;
    const check = known.check ?? checkDocument(schema, known.document, operation, variables, limits);
    if (!check.variableDependent) known.check = check;
    if (check.refusal !== undefined) throw check.refusal;
    return { document: known.document, operation, cost: operation === undefined ? 0 : (check.costs.get(operation.name?.value ?? '') ?? 0) };
  }
}
