import type { MetadataStore } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';

/** Flow profiles: list, get, create (immutable). */
export class ProfileService {
  constructor(
    readonly store: MetadataStore,
    readonly clock: Clock,
  ) {}
}
