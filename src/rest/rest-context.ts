import type { FastifyRequest } from 'fastify';
import type { ApplicationServices } from '../services/application-services';
import type { RequestContext } from '../services/request-context';
import { markConcealed } from '../http/audit-log';

/** REST reaches the application services directly. */
export type RestServices = ApplicationServices;

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
  return { baseUrl: publicBase(request, options), principal: request.principal, concealed: (reference) => markConcealed(request, reference) };
}
