/**
 * Adds a hook to one route's own hooks (from an `onRoute` hook), keeping those it has: how a
 * concern that only a few routes need stays off the others' hot path.
 */
export function appendRouteHook<T>(existing: T | T[] | undefined, hook: NoInfer<T>): T[] {
  if (existing === undefined) return [hook];
  return Array.isArray(existing) ? [...existing, hook] : [existing, hook];
}
