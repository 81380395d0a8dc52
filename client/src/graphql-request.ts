import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';

/** A generated operation (`FlowsDocument`, ...): its text, typed with its result and variables. */
export type Operation<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & { toString(): string };

/** A bearer token, or a function that gives the current one (called for every request and connection). */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

/** One error as the gateway reports it: `extensions.code` from its error registry. */
export interface GraphqlErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

/**
 * An operation the gateway refused or that failed: its errors, the first one's code
 * (BAD_USER_INPUT, FORBIDDEN, EVENT_CURSOR_EXPIRED, ...), the HTTP status when it came over
 * HTTP, and whatever data came with the errors.
 */
export class TamsGraphqlError extends Error {
  readonly code: string | undefined;

  constructor(
    readonly errors: readonly GraphqlErrorEntry[],
    readonly status?: number,
    readonly data?: unknown,
  ) {
    super(errors.map((e) => e.message).join('; ') || 'GraphQL request failed');
    this.name = 'TamsGraphqlError';
    this.code = errors[0]?.extensions?.code;
  }
}

export async function currentToken(token: TokenSource | undefined): Promise<string | undefined> {
  return typeof token === 'function' ? await token() : token;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** Runs queries and mutations over HTTP POST (GraphQL over HTTP, JSON). */
export type RequestFunction = <TResult, TVariables>(
  operation: Operation<TResult, TVariables>,
  variables?: TVariables,
  options?: RequestOptions,
) => Promise<TResult>;

interface GraphqlResponse {
  data?: unknown;
  errors?: GraphqlErrorEntry[];
}

/** A TAMS REST-style error body (a 4xx from a guard that runs before GraphQL: rate limits, size). */
function refusal(status: number, body: unknown): TamsGraphqlError {
  const summary = typeof body === 'object' && body !== null ? (body as { summary?: unknown }).summary : undefined;
  return new TamsGraphqlError([{ message: typeof summary === 'string' ? summary : `HTTP ${status}` }], status);
}

export function graphqlRequester(url: string, token: TokenSource | undefined, fetchImpl: typeof fetch): RequestFunction {
  return async <TResult, TVariables>(operation: Operation<TResult, TVariables>, variables?: TVariables, options: RequestOptions = {}): Promise<TResult> => {
    const bearer = await currentToken(token);
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
      },
      body: JSON.stringify({ query: operation.toString(), ...(variables === undefined ? {} : { variables }) }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new TamsGraphqlError([{ message: `HTTP ${response.status}: the answer is not JSON` }], response.status);
    }
    const result = body as GraphqlResponse;
    if (result.errors !== undefined && result.errors.length > 0) throw new TamsGraphqlError(result.errors, response.status, result.data);
    if (result.data === undefined || result.data === null) throw refusal(response.status, body);
    return result.data as TResult;
  };
}
