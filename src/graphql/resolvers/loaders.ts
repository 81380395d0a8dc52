import DataLoader from 'dataloader';
import type { Flow, Source } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { formatTimeRange } from '../../domain/timerange';
import type { FlowFilter, SegmentQuery } from '../../ports/metadata-store';
import type { ApplicationServices } from '../../services/application-services';
import type { CursorPage } from '../../services/flow-service';
import type { RequestContext } from '../../services/request-context';
import type { SegmentPage } from '../../services/segment-service';

/** The first page of a source's flows, in one listing order. */
export interface FlowsOfSourceKey {
  sourceId: string;
  limit: number;
  sortBy: FlowFilter['sort_by'];
  reverse: boolean;
}

/** The first page of a flow's segments in one window. */
export interface SegmentsOfFlowKey {
  flowId: string;
  limit: number;
  query: SegmentQuery;
}

/**
 * Per-request loaders: within one GraphQL request each key is fetched once, and the keys
 * asked for in one tick go to the store in one batch call. A fresh set per request keeps
 * one caller's reads out of another's: every loader reads as the request's principal, so
 * what it may not read is null (no permission at all), a FORBIDDEN error for that key (some
 * permission, not read), or left out of a listing.
 */
export interface Loaders {
  sources: DataLoader<string, Source | null>;
  flows: DataLoader<string, Flow | null>;
  /** Registered objects as GET /objects/{id} presents them (verbose get_urls), every referencing flow. */
  objects: DataLoader<string, Record<string, unknown> | null>;
  flowsOfSource: DataLoader<FlowsOfSourceKey, CursorPage<Flow>, string>;
  segmentsOfFlow: DataLoader<SegmentsOfFlowKey, SegmentPage, string>;
}

/** Splits keys into groups that one batch call can answer, keeping each key's position. */
function groupBy<K>(keys: readonly K[], groupOf: (key: K) => string): Map<string, { keys: K[]; positions: number[] }> {
  const groups = new Map<string, { keys: K[]; positions: number[] }>();
  keys.forEach((key, position) => {
    const name = groupOf(key);
    let group = groups.get(name);
    if (group === undefined) {
      group = { keys: [], positions: [] };
      groups.set(name, group);
    }
    group.keys.push(key);
    group.positions.push(position);
  });
  return groups;
}

async function batchedByGroup<K, V>(
  keys: readonly K[],
  groupOf: (key: K) => string,
  load: (group: K[]) => Promise<V[]>,
): Promise<V[]> {
  const results = new Array<V>(keys.length);
  await Promise.all(
    [...groupBy(keys, groupOf).values()].map(async (group) => {
      const values = await load(group.keys);
      values.forEach((value, i) => {
        results[group.positions[i]!] = value;
      });
    }),
  );
  return results;
}

/**
 * The values of these keys the request may read, in order: lists (collections, referencing
 * flows) leave out what is unknown, hidden or forbidden; any other failure goes on.
 */
export async function loadVisible<V>(loader: DataLoader<string, V | null>, keys: readonly string[]): Promise<V[]> {
  const values = await loader.loadMany(keys);
  return values.flatMap((v) => {
    if (v instanceof TamsError && v.code === 'forbidden') return [];
    if (v instanceof Error) throw v;
    return v === null ? [] : [v];
  });
}

function segmentQueryKey(query: SegmentQuery): string {
  return `${formatTimeRange(query.timerange)}|${query.reverse === true ? 1 : 0}|${query.object_id ?? ''}`;
}

/** Told the number of keys of each batch a loader sends (for the batch-size metric). */
export type BatchObserver = (loader: keyof Loaders, size: number) => void;

export function createLoaders(services: ApplicationServices, request: RequestContext, observeBatch?: BatchObserver): Loaders {
  const nulls = <T>(values: (T | undefined)[]): (T | null)[] => values.map((v) => v ?? null);
  const observed = <K, R>(loader: keyof Loaders, batch: (keys: readonly K[]) => R): ((keys: readonly K[]) => R) =>
    observeBatch === undefined
      ? batch
      : (keys) => {
          observeBatch(loader, keys.length);
          return batch(keys);
        };
  return {
    sources: new DataLoader<string, Source | null>(observed('sources', async (ids) => nulls(await services.flows.getSources(request, ids)))),
    flows: new DataLoader<string, Flow | null>(observed('flows', async (ids) => nulls(await services.flows.getFlows(request, ids)))),
    objects: new DataLoader(observed('objects', async (ids: readonly string[]) => nulls(await services.storage.getObjects(request, ids, { verbose: true })))),
    flowsOfSource: new DataLoader(
      observed('flowsOfSource', async (keys: readonly FlowsOfSourceKey[]) =>
        batchedByGroup(
          keys,
          (k) => `${k.limit}|${k.sortBy ?? ''}|${k.reverse ? 1 : 0}`,
          (group) =>
            services.flows.listFirstFlowPages(
              request,
              group.map((k) => ({ source_id: k.sourceId, reverse: k.reverse, ...(k.sortBy === undefined ? {} : { sort_by: k.sortBy }) })),
              group[0]!.limit,
            ),
        ),
      ),
      { cacheKeyFn: (k) => `${k.sourceId}|${k.limit}|${k.sortBy ?? ''}|${k.reverse ? 1 : 0}` },
    ),
    segmentsOfFlow: new DataLoader(
      observed('segmentsOfFlow', async (keys: readonly SegmentsOfFlowKey[]) =>
        batchedByGroup(
          keys,
          (k) => `${k.limit}|${segmentQueryKey(k.query)}`,
          (group) =>
            services.segments.listFirstSegmentPages(
              request,
              group.map((k) => k.flowId),
              group[0]!.query,
              { limit: group[0]!.limit, getUrls: { verbose: true }, includeObjectTimerange: false },
            ),
        ),
      ),
      { cacheKeyFn: (k) => `${k.flowId}|${k.limit}|${segmentQueryKey(k.query)}` },
    ),
  };
}
