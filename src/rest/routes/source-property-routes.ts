import type { FastifyInstance } from 'fastify';
import type { SourceScalarProperty } from '../../services/flow-property-service';
import type { RestOptions, RestServices } from '../rest-context';
import { requestContext } from '../rest-context';
import { validateDescription, validateLabel } from '../schemas/property-validators';
import { pathUuid } from './path-params';
import { checkBody, sendJsonValue } from './property-responses';
import { registerTagRoutes } from './tag-routes';

const SCALARS: readonly { property: SourceScalarProperty; validate: (body: unknown) => string | undefined }[] = [
  { property: 'label', validate: validateLabel },
  { property: 'description', validate: validateDescription },
];

/** `/sources/{sourceId}/...` property endpoints; HEAD twins come from exposeHeadRoutes. */
export function registerSourcePropertyRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  const properties = services.flows.properties;

  registerTagRoutes(
    app,
    'sources',
    'sourceId',
    {
      getAll: (ctx, id) => properties.getSourceTags(ctx, id),
      get: (ctx, id, name) => properties.getSourceTag(ctx, id, name),
      put: (ctx, id, name, value) => properties.putSourceTag(ctx, id, name, value),
      delete: (ctx, id, name) => properties.deleteSourceTag(ctx, id, name),
    },
    options,
  );

  for (const { property, validate } of SCALARS) {
    app.get(`/sources/:sourceId/${property}`, async (request, reply) => {
      const id = pathUuid(request.params, 'sourceId');
      return sendJsonValue(reply, await properties.getSourceProperty(requestContext(request, options), id, property));
    });

    app.put(`/sources/:sourceId/${property}`, async (request, reply) => {
      const id = pathUuid(request.params, 'sourceId');
      checkBody(validate(request.body));
      await properties.putSourceProperty(requestContext(request, options), id, property, request.body as string);
      return reply.code(204).send();
    });

    app.delete(`/sources/:sourceId/${property}`, async (request, reply) => {
      const id = pathUuid(request.params, 'sourceId');
      await properties.deleteSourceProperty(requestContext(request, options), id, property);
      return reply.code(204).send();
    });
  }
}
