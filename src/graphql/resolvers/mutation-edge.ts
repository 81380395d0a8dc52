import { TamsError } from '../../domain/errors';
import type { GraphqlContext } from '../context';

/** The longest tag name REST accepts in a path (path-params.ts). */
const MAX_NAME_LENGTH = 1024;

/**
 * A REST body validator's verdict (src/validation), applied to the TAMS body a mutation
 * built from its input: the same rules, the same `validation_failed` (BAD_USER_INPUT).
 */
export function checkBody(problem: string | undefined): void {
  if (problem !== undefined) throw new TamsError('validation_failed', problem);
}

export function tagNameArg(value: string): string {
  if (value === '' || value.length > MAX_NAME_LENGTH) {
    throw new TamsError('bad_request', `Invalid argument name: a tag name must be 1 to ${MAX_NAME_LENGTH} characters`);
  }
  return value;
}

export function given<T>(value: T | null | undefined): value is T {
  return value !== undefined && value !== null;
}

/** The TAMS JSON object without the fields the client left out (null or absent in GraphQL). */
export function compact(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => given(v)));
}

/**
 * Mutation fields run one after another, and the per-request loaders cache what earlier
 * fields read: after a write, later fields of the same request must read the store afresh.
 */
export function forgetLoaded(ctx: GraphqlContext): void {
  for (const loader of Object.values(ctx.loaders) as { clearAll(): unknown }[]) loader.clearAll();
}
