/**
 * Profiles in VAST: one row each (`doc` the SQL stores' JSON text), listed by id as they list
 * them. Profiles are immutable and ids unique: a creation updates the `profiles` store guard
 * row before it looks for the id, so two creations of one id conflict and the rerun of the
 * loser finds the winner's row (`profile_exists`).
 */
import type { Profile } from '../../../domain/entities';
import { TamsError } from '../../../domain/errors';
import type { Page, PageRequest, ProfileFilter } from '../../../ports/metadata-store';
import { parseListCursor } from '../../sql-common/cursors';
import { plain, PROFILE_SORT } from '../../sql-common/store-helpers';
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import { keysetPage, matchesTags } from './list-order';
import { updateStoreGuard } from './store-guards';
import type { VastStoreTables } from './vast-tables';

export async function getProfile(client: VastClient, tables: VastStoreTables, id: string): Promise<Profile | undefined> {
  const rows = await client.withTransaction((tx) => tx.table(tables.profiles).select({ columns: ['doc'], filter: allOf(column('id').equal(id)) }));
  const doc = rows[0]?.doc;
  return typeof doc === 'string' ? (JSON.parse(doc) as Profile) : undefined;
}

export async function listProfiles(client: VastClient, tables: VastStoreTables, filter: ProfileFilter, page: PageRequest): Promise<Page<Profile>> {
  const cursor = page.after === undefined ? undefined : parseListCursor(page.after, PROFILE_SORT);
  if (cursor !== undefined && cursor.k !== null) throw new TamsError('bad_cursor', 'Invalid paging key');
  const rows = await client.withTransaction((tx) =>
    tx.table(tables.profiles).select({ columns: ['id', 'doc'], filter: allOf(...(filter.label === undefined ? [] : [column('label').equal(filter.label)])) }),
  );
  const candidates = rows.map((r) => ({ id: r.id as string, key: null, doc: r.doc as string }));
  return keysetPage(candidates, { sort: PROFILE_SORT, newestFirst: false, reverse: false }, cursor, page.limit, async (chunk) =>
    chunk.map((c) => {
      const profile = JSON.parse(c.doc) as Profile;
      return matchesTags(profile, filter.tags) ? profile : undefined;
    }),
  );
}

export async function createProfile(client: VastClient, tables: VastStoreTables, profile: Profile): Promise<void> {
  const doc = plain(profile);
  await client.withTransaction(async (tx) => {
    await updateStoreGuard(tx, tables, 'profiles');
    const existing = await tx.table(tables.profiles).select({ columns: ['id'], filter: allOf(column('id').equal(doc.id)), limit: 1 });
    if (existing.length > 0) throw new TamsError('profile_exists', `Profile ${doc.id} already exists`);
    await tx.table(tables.profiles).insert([{ id: doc.id, label: doc.label ?? null, created: doc.created ?? null, doc: JSON.stringify(doc) }]);
  });
}
