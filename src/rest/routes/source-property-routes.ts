import type { FastifyInstance } from 'fastify';
import type { TagValue } from '../../domain/entities';
import type { SourceScalarProperty } from '../../services/flow-property-service';
import type { RestOptions, RestServices } from '../rest-context';
import { requestContext } from '../rest-context';
import { validateDescription, validateLabel, validateTagValue } from '../schemas/property-validators';
import { pathString, pathUuid } from './path-params';
import { checkBody, sendJsonValue } from './flow-property-routes';

const SCALARS: readonly { property: SourceScalarProperty; validate: (body: unknown) => string | undefined }[] = [
  { property: 'label', validate: validateLabel },
  { property: 'description', validate: validateDescription },
];

/** `/sources/{sourceId}/...` property endpoints; HEAD twins come from exposeHeadRoutes. */
export function registerSourcePropertyRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  const properties = services.flows.properties;

  app.get('/sources/:sourceId/tags', async (request, reply) => {
    const id = pathUuid(request.params, 'sourceId');
    return sendJsonValue(reply, await properties.getSourceTags(requestContext(request, options), id));
  });

  app.get('/sources/:sourceId/tags/:name', async (request, reply) => {
    const id = pathUuid(request.params, 'sourceId');
    return sendJsonValue(reply, await properties.getSourceTag(requestContext(request, options), id, pathString(request.params, 'name')));
  });

  app.put('/sources/:sourceId/tags/:name', async (request, reply) => {
    const id = pathUuid(request.params, 'sourceId');
    const name = pathString(request.params, 'name');
    checkBody(validateTagValue(request.body));
    await properties.putSourceTag(requestContext(request, options), id, name, request.body as TagValue);
    return reply.code(204).send();
  });

  app.delete('/sources/:sourceId/tags/:name', async (request, reply) => {
    const id = pathUuid(request.params, 'sourceId');
    await properties.deleteSourceTag(requestContext(request, options), id, pathString(request.params, 'name'));
    return reply.code(204).send();
  });

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
