/**
 * Instances of registered objects in VAST (not written yet: see issue 20).
 */
import type { ObjectStorageRef, UncontrolledUrl } from '../../../domain/entities';
import type { InstanceSelector } from '../../../ports/metadata-store';
import type { VastClient } from '../client/vast-client';
import type { VastStoreTables } from './vast-tables';

function notYet(name: string): Error {
  return new Error(`VAST store: ${name} is not written yet`);
}

export async function addObjectInstance(_client: VastClient, _tables: VastStoreTables, _objectId: string, _instance: UncontrolledUrl | ObjectStorageRef): Promise<void> {
  return Promise.reject(notYet('addObjectInstance'));
}

export async function removeObjectInstance(
  _client: VastClient,
  _tables: VastStoreTables,
  _objectId: string,
  _selector: InstanceSelector,
  _bytesNotBefore?: string,
): Promise<ObjectStorageRef | undefined> {
  return Promise.reject(notYet('removeObjectInstance'));
}

export async function storageIdsInUse(_client: VastClient, _tables: VastStoreTables): Promise<string[]> {
  return Promise.reject(notYet('storageIdsInUse'));
}
