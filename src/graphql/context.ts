import type { ApplicationServices } from '../services/application-services';
import type { RequestContext } from '../services/request-context';
import { BatchObserver, Loaders, createLoaders } from './resolvers/loaders';
import type { PageLimits } from './resolvers/paging';

/** The application services the resolvers use: the same instances REST uses. */
export type GraphqlServices = ApplicationServices;

/** What every resolver gets for one GraphQL request. */
export interface GraphqlContext {
  services: GraphqlServices;
  loaders: Loaders;
  /** The request as the services see it (public base URL for get_urls). */
  request: RequestContext;
  limits: PageLimits;
}

export function createContext(services: GraphqlServices, request: RequestContext, limits: PageLimits, observeBatch?: BatchObserver): GraphqlContext {
  return { services, loaders: createLoaders(services, request, observeBatch), request, limits };
}
