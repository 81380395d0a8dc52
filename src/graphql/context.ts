import type { FlowService } from '../services/flow-service';
import type { SegmentService } from '../services/segment-service';
import type { ServiceInfoService } from '../services/service-info-service';
import type { RequestContext } from '../services/request-context';
import { Loaders, createLoaders } from './loaders';
import type { PageLimits } from './paging';

/** The application services the resolvers use: the same instances REST uses. */
export interface GraphqlServices {
  serviceInfo: ServiceInfoService;
  flows: FlowService;
  segments: SegmentService;
}

/** What every resolver gets for one GraphQL request. */
export interface GraphqlContext {
  services: GraphqlServices;
  loaders: Loaders;
  /** The request as the services see it (public base URL for get_urls). */
  request: RequestContext;
  limits: PageLimits;
}

export function createContext(services: GraphqlServices, request: RequestContext, limits: PageLimits): GraphqlContext {
  return { services, loaders: createLoaders(services.flows), request, limits };
}
