/**
 * What a deployment's storage backends file asks of its environment: the variables its
 * credentials name, found by loading it for real with an environment that records lookups.
 */
import { loadStorageBackendsFile, type StorageBackendConfig } from '../../../src/storage-backends-file';

/** Loads `file` with every variable set (to `placeholder-<NAME>`) and returns the configs and the names it read. */
export function loadWithAnyEnvironment(file: string): { configs: StorageBackendConfig[]; variables: string[] } {
  const read = new Set<string>();
  const env: NodeJS.ProcessEnv = new Proxy({}, {
    get(_target, key) {
      if (typeof key !== 'string') return undefined;
      read.add(key);
      return `placeholder-${key}`;
    },
  });
  const configs = loadStorageBackendsFile(file, env);
  return { configs, variables: [...read].sort() };
}
