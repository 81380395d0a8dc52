import DataLoader from 'dataloader';
import type { Flow, Source } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { FlowService } from '../services/flow-service';

/**
 * Per-request loaders: within one GraphQL request each id is fetched once, however many
 * fields ask for it. A fresh set per request keeps one caller's reads out of another's.
 */
export interface Loaders {
  sources: DataLoader<string, Source | null>;
  flows: DataLoader<string, Flow | null>;
}

async function orNull<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof TamsError && err.code === 'not_found') return null;
    throw err;
  }
}

export function createLoaders(flows: FlowService): Loaders {
  return {
    sources: new DataLoader<string, Source | null>(async (ids) => Promise.all(ids.map((id) => orNull(flows.getSource(id))))),
    flows: new DataLoader<string, Flow | null>(async (ids) => Promise.all(ids.map((id) => orNull(flows.getFlow(id))))),
  };
}
