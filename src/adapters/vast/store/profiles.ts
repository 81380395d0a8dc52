import type { Profile } from '../../../domain/entities';
import type { Page, PageRequest, ProfileFilter } from '../../../ports/metadata-store';
import type { VastClient } from '../client/vast-client';
import type { VastStoreTables } from './vast-tables';

export async function getProfile(_client: VastClient, _tables: VastStoreTables, _id: string): Promise<Profile | undefined> {
  return Promise.reject(new Error('VAST store: getProfile is not written yet'));
}
export async function listProfiles(_client: VastClient, _tables: VastStoreTables, _filter: ProfileFilter, _page: PageRequest): Promise<Page<Profile>> {
  return Promise.reject(new Error('VAST store: listProfiles is not written yet'));
}
export async function createProfile(_client: VastClient, _tables: VastStoreTables, _profile: Profile): Promise<void> {
  return Promise.reject(new Error('VAST store: createProfile is not written yet'));
}
