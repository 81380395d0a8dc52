/**
 * Deleting flows and segments in VAST, and deletion requests (not written yet: see issue 20).
 */
import type { DeletionRequest } from '../../../domain/entities';
import type { TimeRange } from '../../../domain/timerange';
import type { DeletionProgress, Page, PageRequest } from '../../../ports/metadata-store';
import type { VastClient } from '../client/vast-client';
import type { VastTransaction } from '../client/vast-transaction';
import type { VastStoreTables } from './vast-tables';

function notYet(name: string): Error {
  return new Error(`VAST store: ${name} is not written yet`);
}

/**
 * Fails with `flow_being_deleted` while the flow has an unfinished deletion request: `scope`
 * 'segments' for any request (segments, storage), 'metadata' when the request deletes the flow itself.
 */
export async function refuseWhileBeingDeleted(_tx: VastTransaction, _tables: VastStoreTables, _flowId: string, _scope: 'segments' | 'metadata'): Promise<void> {
  // Not written yet: no deletion requests can be stored, so none is unfinished.
  await Promise.resolve();
}

export async function deleteFlow(_client: VastClient, _tables: VastStoreTables, _id: string, _now: string, _progress?: DeletionProgress): Promise<boolean> {
  return Promise.reject(notYet('deleteFlow'));
}

export async function deleteSegments(
  _client: VastClient,
  _tables: VastStoreTables,
  _flowId: string,
  _timerange: TimeRange,
  _objectId: string | undefined,
  _now: string,
  _progress?: DeletionProgress,
): Promise<number> {
  return Promise.reject(notYet('deleteSegments'));
}

export async function getDeletionRequest(_client: VastClient, _tables: VastStoreTables, _id: string): Promise<DeletionRequest | undefined> {
  return Promise.reject(notYet('getDeletionRequest'));
}

export async function listDeletionRequests(_client: VastClient, _tables: VastStoreTables, _page: PageRequest): Promise<Page<DeletionRequest>> {
  return Promise.reject(notYet('listDeletionRequests'));
}

export async function putDeletionRequest(_client: VastClient, _tables: VastStoreTables, _request: DeletionRequest): Promise<void> {
  return Promise.reject(notYet('putDeletionRequest'));
}

export async function listUnfinishedDeletionRequests(_client: VastClient, _tables: VastStoreTables, _limit: number): Promise<DeletionRequest[]> {
  return Promise.reject(notYet('listUnfinishedDeletionRequests'));
}

export async function deleteExpiredDeletionRequests(_client: VastClient, _tables: VastStoreTables, _now: string): Promise<number> {
  return Promise.reject(notYet('deleteExpiredDeletionRequests'));
}
