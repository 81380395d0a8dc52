import type { FastifyInstance } from 'fastify';
import type { RestOptions, RestServices } from './rest-context';
import { registerServiceRoutes } from './routes/service-routes';
import { registerSourceRoutes } from './routes/source-routes';
import { registerFlowRoutes } from './routes/flow-routes';
import { registerSegmentRoutes } from './routes/segment-routes';
import { registerObjectRoutes } from './routes/object-routes';
import { registerFlowPropertyRoutes } from './routes/flow-property-routes';
import { registerSourcePropertyRoutes } from './routes/source-property-routes';
import { registerProfileRoutes } from './routes/profile-routes';
import { registerWebhookRoutes } from './routes/webhook-routes';
import { registerDeleteRequestRoutes } from './routes/delete-request-routes';
import { installRouteAccess } from './route-access';

/**
 * The TAMS 8.2 REST API. HEAD twins of every GET come from fastify's exposeHeadRoutes. Every
 * route needs an entry in the access table (route-access.ts), installed first.
 */
export function registerRestRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  installRouteAccess(app);
  registerServiceRoutes(app, services, options);
  registerSourceRoutes(app, services, options);
  registerFlowRoutes(app, services, options);
  registerSegmentRoutes(app, services, options);
  registerObjectRoutes(app, services, options);
  registerFlowPropertyRoutes(app, services, options);
  registerSourcePropertyRoutes(app, services, options);
  registerProfileRoutes(app, services, options);
  registerWebhookRoutes(app, services, options);
  registerDeleteRequestRoutes(app, services, options);
}
