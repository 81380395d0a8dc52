import type { FastifyRequest } from 'fastify';
import type { FlowService } from '../services/flow-service';
import type { SegmentService } from '../services/segment-service';
import type { ServiceInfoService } from '../services/service-info-service';
import type { StorageService } from '../services/storage-service';
import type { ProfileService } from '../services/profile-service';
import type { WebhookService } from '../services/webhook-service';
import type { DeletionService } from '../services/deletion-service';
import type { RequestContext } from '../services/request-context';

export interface RestServices {
  serviceInfo: ServiceInfoService;
  flows: FlowService;
  segments: SegmentService;
  storage: StorageService;
  profiles: ProfileService;
  webhooks: WebhookService;
  deletions: DeletionService;
}

export interface RestOptions {
  /** Configured absolute public URL (no trailing slash), or undefined to derive it. */
  publicUrl: string | undefined;
  pageLimitDefault: number;
  pageLimitMax: number;
}

/**
 * The gateway's public base URL for this request: TAMS_PUBLIC_URL when set, else the
 * request's own scheme and host (forwarded ones only when TRUST_PROXY allows).
 */
export function publicBase(request: FastifyRequest, options: RestOptions): string {
  if (options.publicUrl !== undefined) return options.publicUrl;
  return `${request.protocol}://${request.host}`;
}

export function requestContext(request: FastifyRequest, options: RestOptions): RequestContext {
  return { baseUrl: publicBase(request, options) };
}
