/**
 * Counts MetadataStore calls made from outside the store, for the bench's counted gateway.
 * The wrappers live only in that bench process, so src/ carries no counting hook and the
 * other scenarios measure an unwrapped store.
 */
export type StoreCallCounts = Record<string, number>;

/** Replaces every method of `store`'s class with a counting wrapper on the instance; returns the live counts. */
export function countStoreCalls(store: object): StoreCallCounts {
  const counts: StoreCallCounts = {};
  let depth = 0;
  const proto = Object.getPrototypeOf(store) as object;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const original: unknown = Object.getOwnPropertyDescriptor(proto, name)?.value;
    if (name === 'constructor' || typeof original !== 'function') continue;
    Object.defineProperty(store, name, {
      configurable: true,
      writable: true,
      value: function counted(this: unknown, ...args: unknown[]): unknown {
        // The adapter's methods call each other synchronously: only the outermost call counts.
        if (depth === 0) counts[name] = (counts[name] ?? 0) + 1;
        depth++;
        try {
          return (original as (...a: unknown[]) => unknown).apply(this, args);
        } finally {
          depth--;
        }
      },
    });
  }
  return counts;
}
