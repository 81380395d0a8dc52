import type { MetadataStore } from '../ports/metadata-store';
import type { Clock } from '../ports/clock';
import type { FlowService } from './flow-service';

/** Flow and segment deletion, synchronous below a threshold and as deletion requests above it. */
export class DeletionService {
  constructor(
    readonly store: MetadataStore,
    readonly flows: FlowService,
    readonly clock: Clock,
    readonly asyncThreshold: number,
  ) {}
}
