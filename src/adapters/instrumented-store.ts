import type { MetadataStore } from '../ports/metadata-store';

/**
 * Told about each store call once it has settled, with its start and end (`performance.now()`
 * milliseconds): enough for a latency histogram and for a span, without a callback at the start.
 */
export interface StoreCallObserver {
  succeeded(method: string, startMs: number, endMs: number): void;
  failed(method: string, startMs: number, endMs: number, error: unknown): void;
}

/** Lifecycle and subscription calls, not worth timing. */
type UntimedMethod = 'init' | 'close' | 'onCommit';
type TimedMethod = Exclude<keyof MetadataStore, UntimedMethod>;

/** Every timed method, once: a method added to the port and not listed here fails to compile. */
const TIMED_METHODS: Record<TimedMethod, true> = {
  ping: true,
  getServiceInfo: true,
  setServiceInfo: true,
  getSource: true,
  listSources: true,
  getFlow: true,
  listFlows: true,
  getSources: true,
  getFlows: true,
  getObjects: true,
  listFlowsBatch: true,
  listSegmentsBatch: true,
  putFlow: true,
  deleteFlow: true,
  getFlowTimerange: true,
  countSegments: true,
  listSegments: true,
  listSegmentTexts: true,
  addSegments: true,
  deleteSegments: true,
  allocateObjects: true,
  getObject: true,
  updateFlow: true,
  updateSource: true,
  getProfile: true,
  listProfiles: true,
  createProfile: true,
  getWebhook: true,
  listWebhooks: true,
  putWebhook: true,
  deleteWebhook: true,
  countWebhooksOwnedBy: true,
  addObjectInstance: true,
  removeObjectInstance: true,
  storageIdsInUse: true,
  acquireLease: true,
  releaseLease: true,
  collectObjects: true,
  pendingObjectDeletions: true,
  completeObjectDeletions: true,
  getDeletionRequest: true,
  listDeletionRequests: true,
  putDeletionRequest: true,
  listUnfinishedDeletionRequests: true,
  deleteExpiredDeletionRequests: true,
  readEvents: true,
  lastEventSeq: true,
  // webhook delivery
  listWebhookDeliveries: true,
  getWebhookDelivery: true,
  readEventsWithContext: true,
  advanceWebhookCursor: true,
  advanceWebhookCursors: true,
  advanceIdleWebhookCursors: true,
  recordWebhookFailure: true,
  failWebhook: true,
  outboxPruned: true,
  pruneEvents: true,
  webhookBacklogs: true,
};

type AsyncMethod = (...args: unknown[]) => Promise<unknown>;

/**
 * The same store with every call reported to `observer`: one `performance.now()` pair and one
 * extra promise reaction per call, and nothing else on the hot path.
 */
export function instrumentStore(store: MetadataStore, observer: StoreCallObserver): MetadataStore {
  const instrumented: Partial<Record<keyof MetadataStore, unknown>> = {
    init: () => store.init(),
    close: () => store.close(),
    onCommit: (listener: () => void) => store.onCommit(listener),
  };
  for (const method of Object.keys(TIMED_METHODS) as TimedMethod[]) {
    const call = (store[method] as AsyncMethod).bind(store);
    instrumented[method] = (...args: unknown[]): Promise<unknown> => {
      const startMs = performance.now();
      return call(...args).then(
        (value) => {
          observer.succeeded(method, startMs, performance.now());
          return value;
        },
        (error: unknown) => {
          observer.failed(method, startMs, performance.now(), error);
          throw error;
        },
      );
    };
  }
  return instrumented as MetadataStore;
}
