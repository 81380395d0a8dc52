import type { AccessPolicy } from './access-policy';
import type { DeletionService } from './deletion-service';
import type { FlowService } from './flow-service';
import type { HlsService } from './hls/hls-service';
import type { ProfileService } from './profile-service';
import type { SegmentService } from './segment-service';
import type { ServiceInfoService } from './service-info-service';
import type { StorageService } from './storage-service';
import type { WebhookService } from './webhook-service';

/** Every application service: REST and GraphQL are two edges over this one set. */
export interface ApplicationServices {
  /** The authorization policy (AUTH_DEFAULT_CLASSES applied), for edges that decide before calling a service. */
  policy: AccessPolicy;
  serviceInfo: ServiceInfoService;
  flows: FlowService;
  segments: SegmentService;
  storage: StorageService;
  profiles: ProfileService;
  webhooks: WebhookService;
  deletions: DeletionService;
  hls: HlsService;
}
