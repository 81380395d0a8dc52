import type { Profile } from '../domain/entities';
import { TamsError } from '../domain/errors';
import type { MetadataStore, Page } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { CursorPage, ListOptions } from './flow-service';
import type { PageCursorCodec } from './page-cursor';

export interface ProfileListFilter {
  label?: string;
  /** Matches flow_metadata.format. */
  format?: string;
  /** Matches flow_metadata.codec. */
  codec?: string;
}

/** Profiles a store listing page may read past to fill one page of a format/codec query. */
const SCAN_PAGES_PER_LIST = 10;

/** Flow profiles: list, get, create (immutable). */
export class ProfileService {
  constructor(
    readonly store: MetadataStore,
    readonly clock: Clock,
    private readonly cursors: PageCursorCodec,
  ) {}

  async getProfile(id: string): Promise<Profile> {
    const profile = await this.store.getProfile(id);
    if (!profile) throw new TamsError('not_found', `Profile ${id} does not exist`);
    return profile;
  }

  /**
   * Profiles sorted by id. The store filters on label; format and codec are matched here,
   * reading whole store pages so the store's own key of the last one read stays a valid
   * cursor. A page may come back short (with a cursor) when few profiles match.
   */
  async listProfiles(filter: ProfileListFilter, options: ListOptions): Promise<CursorPage<Profile>> {
    const listing = `profiles:${filter.format ?? ''}:${filter.codec ?? ''}:${filter.label ?? ''}`;
    let after = options.page === undefined ? undefined : this.cursors.decode(listing, options.page);
    const storeFilter = filter.label === undefined ? {} : { label: filter.label };
    const items: Profile[] = [];
    let page: Page<Profile> = { items: [] };
    for (let read = 0; read < SCAN_PAGES_PER_LIST && items.length < options.limit; read++) {
      page = await this.store.listProfiles(storeFilter, { limit: options.limit - items.length, after });
      items.push(...page.items.filter((p) => matches(p, filter)));
      if (page.next === undefined) break;
      after = page.next;
    }
    return {
      items,
      limit: options.limit,
      ...(page.next === undefined ? {} : { next: this.cursors.encode(listing, page.next) }),
    };
  }

  /** Creates the profile; `created` is the store's. Profiles are immutable: an existing id is a 400. */
  async createProfile(id: string, body: Profile): Promise<Profile> {
    if (body.id !== id) throw new TamsError('validation_failed', `Profile id in the body (${body.id}) does not match the path (${id})`);
    const profile: Profile = { ...body, created: new Date(this.clock.nowMs()).toISOString() };
    await this.store.createProfile(profile);
    return profile;
  }
}

function matches(profile: Profile, filter: ProfileListFilter): boolean {
  if (filter.format !== undefined && profile.flow_metadata.format !== filter.format) return false;
  if (filter.codec !== undefined && profile.flow_metadata.codec !== filter.codec) return false;
  return true;
}
