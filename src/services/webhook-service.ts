import type { MetadataStore } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';

/** Webhook registrations (delivery is a later worker). */
export class WebhookService {
  constructor(
    readonly store: MetadataStore,
    readonly clock: Clock,
  ) {}
}
