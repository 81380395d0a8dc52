/**
 * The one way tests send HTTP requests: `checkedFetch` is `fetch` plus the TAMS conformance
 * check of every answer that comes from a TAMS operation of a gateway.
 *
 * - The request's method and path are matched to an operation of TimeAddressableMediaStore.yaml
 *   (below the gateway's TAMS_BASE_PATH). Paths that are not TAMS operations (/graphql,
 *   /metrics, /livez, /readyz, /media/..., signed object URLs, webhook receivers, other
 *   servers) are passed through unchecked and unrecorded.
 * - Every answer of an operation is recorded for the spec-parity check (parity-recorder.ts).
 * - A 2xx answer must conform to the operation's declared schema for that status (an
 *   undeclared 2xx fails too), whoever sent the request and however it was built.
 * - Other answers must be declared for the operation (or be one of the statuses any operation
 *   may answer, GENERIC_STATUS_ALLOW_LIST) and carry a TAMS error body. A request that is
 *   malformed on purpose says so (`malformed: reason`): its error answer is only recorded
 *   (not counted as exercising the operation), though a 2xx answer is still checked.
 *
 * A non-conforming answer throws a TamsConformanceError, which fails the test that sent it.
 * test/unit/test-support/no-raw-fetch.test.ts keeps raw `fetch(` out of test/.
 */
import { recordResponse, type ParitySource } from './parity-recorder';
import { GENERIC_STATUS_ALLOW_LIST } from './parity-report';
import { listOperations, specAvailable, validateResponse } from './tams-spec';

export interface CheckOptions {
  /**
   * The prefix the gateway serves REST under (TAMS_BASE_PATH). Default: what the gateway
   * harness registered for the URL's origin (registerGatewayOrigin), else '' (the default
   * of the product, and of every child-process gateway the suites start). `null`: the
   * server serves no TAMS REST API (nothing is checked).
   */
  basePath?: string | null;
  /** Who sent the request, for the parity report (default 'fetch'). */
  source?: ParitySource;
  /**
   * Why the request is malformed on purpose (an undecodable cursor, a query parameter the
   * operation does not declare, ...). Its non-2xx answer is recorded but not checked: the
   * spec need not declare the status a broken request gets.
   */
  malformed?: string;
}

/** A response that does not conform to the TAMS spec (or a status the operation does not declare). */
export class TamsConformanceError extends Error {
  override name = 'TamsConformanceError';
}

/** `null`: the origin serves no TAMS REST API (e.g. the METRICS_PORT listener). */
const origins = new Map<string, string | null>();

/** Tells checkedFetch which prefix the gateway at `base` serves REST under (null: none). */
export function registerGatewayOrigin(base: string, basePath: string | null): void {
  origins.set(new URL(base).origin, basePath);
}

export function unregisterGatewayOrigin(base: string): void {
  origins.delete(new URL(base).origin);
}

let templates: { method: string; re: RegExp; operationId: string }[] | undefined;

/** The operationId a request hits (`undefined`: not a TAMS operation, or no spec to tell). */
export function operationOf(method: string, pathname: string, basePath: string): string | undefined {
  if (!specAvailable()) return undefined;
  templates ??= listOperations().map((o) => ({
    method: o.method,
    operationId: o.operationId,
    re: new RegExp(`^${o.path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  // Outside the configured prefix nothing is a TAMS operation.
  if (basePath !== '' && pathname !== basePath && !pathname.startsWith(`${basePath}/`)) return undefined;
  const rel = pathname.slice(basePath.length) || '/';
  const upper = method.toUpperCase();
  return templates.find((t) => t.method === upper && t.re.test(rel))?.operationId;
}

function hasTamsErrorBody(body: unknown): boolean {
  const b = body as Record<string, unknown> | undefined;
  return typeof b?.type === 'string' && typeof b.summary === 'string' && typeof b.time === 'string';
}

/** The body as tests read it: parsed JSON when the content type says JSON, else the text (`undefined` when empty). */
export function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return undefined;
  if ((contentType ?? '').includes('json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text; // checked below as a (non-conforming) string
    }
  }
  return text;
}

export interface Answer {
  method: string;
  /** The absolute request URL. */
  url: URL;
  status: number;
  contentType: string | null;
  text: string;
}

/**
 * Records and checks one answer (see the file comment); throws a TamsConformanceError when it
 * does not conform. Returns the operationId it came from (undefined: not a TAMS operation).
 */
export function checkTamsAnswer(answer: Answer, options: CheckOptions = {}): string | undefined {
  const basePath = options.basePath !== undefined ? options.basePath : origins.get(answer.url.origin);
  if (basePath === null) return undefined;
  const method = answer.method.toUpperCase();
  const operationId = operationOf(method, answer.url.pathname, basePath ?? '');
  if (operationId === undefined) return undefined;
  const requestPath = `${answer.url.pathname}${answer.url.search}`;
  const source: ParitySource = options.malformed !== undefined ? 'malformed' : (options.source ?? 'fetch');
  // Recorded before the checks so a non-conforming answer still shows in the parity report.
  recordResponse(operationId, method, answer.status, requestPath, source);
  const success = answer.status >= 200 && answer.status < 300;
  if (!success && (options.malformed !== undefined || source === 'fuzz')) return operationId;
  const body = parseBody(answer.text, answer.contentType);
  const fail = (why: string): never => {
    throw new TamsConformanceError(
      `${method} ${requestPath} -> ${answer.status} does not conform to ${operationId}: ${why}\nbody: ${answer.text.slice(0, 2000)}`,
    );
  };
  const verdict = validateResponse(operationId, answer.status, body);
  if (verdict.ok) return operationId;
  // A status any operation may answer although the YAML does not list it: a TAMS error body.
  if (!success && GENERIC_STATUS_ALLOW_LIST.has(answer.status) && /declares no \d+ response/.test(verdict.errors)) {
    if (method === 'HEAD' ? body === undefined : hasTamsErrorBody(body)) return operationId;
    fail(`a ${answer.status} must carry a TAMS error body`);
  }
  return fail(verdict.errors);
}

function methodOf(input: string | URL | Request, init: RequestInit | undefined): string {
  return (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
}

/**
 * `fetch`, then the check of checkTamsAnswer. The Response returned is unread (the check reads
 * a clone), so callers use it as they would fetch's.
 */
export async function checkedFetch(input: string | URL, init?: RequestInit, options: CheckOptions = {}): Promise<Response> {
  // The one raw fetch of the tests (no-raw-fetch.test.ts allows it here only).
  const res = await fetch(input, init);
  const url = new URL(res.redirected && res.url !== '' ? res.url : input.toString());
  const basePath = options.basePath !== undefined ? options.basePath : origins.get(url.origin);
  if (basePath === null || operationOf(methodOf(input, init), url.pathname, basePath ?? '') === undefined) return res;
  const text = await res.clone().text();
  checkTamsAnswer({ method: methodOf(input, init), url, status: res.status, contentType: res.headers.get('content-type'), text }, options);
  return res;
}
