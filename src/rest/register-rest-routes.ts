import type { FastifyInstance } from 'fastify';
import type { RestOptions, RestServices } from './rest-context';
import { registerServiceRoutes } from './routes/service-routes';
import { registerSourceRoutes } from './routes/source-routes';
import { registerFlowRoutes } from './routes/flow-routes';
import { registerSegmentRoutes } from './routes/segment-routes';
import { registerObjectRoutes } from './routes/object-routes';

/** The TAMS 8.2 REST API. HEAD twins of every GET come from fastify's exposeHeadRoutes. */
export function registerRestRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  registerServiceRoutes(app, services, options);
  registerSourceRoutes(app, services, options);
  registerFlowRoutes(app, services, options);
  registerSegmentRoutes(app, services, options);
  registerObjectRoutes(app, services, options);
}
