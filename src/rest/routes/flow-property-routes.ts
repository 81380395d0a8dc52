import type { FastifyInstance } from 'fastify';
import type { CollectionItem } from '../../domain/entities';
import type { FlowScalarProperty } from '../../services/flow-property-service';
import type { RestOptions, RestServices } from '../rest-context';
import { requestContext } from '../rest-context';
import { validateFlowCollectionPut } from '../../validation/validators';
import { validateBitRate, validateDescription, validateLabel, validateReadOnly } from '../../validation/property-validators';
import { pathUuid } from './path-params';
import { checkBody, sendJsonValue } from './property-responses';
import { registerScalarPropertyRoutes, type ScalarProperty } from './scalar-property-routes';
import { registerTagRoutes } from './tag-routes';

const SCALARS: readonly ScalarProperty<FlowScalarProperty>[] = [
  { property: 'label', validate: validateLabel },
  { property: 'description', validate: validateDescription },
  { property: 'max_bit_rate', validate: validateBitRate },
  { property: 'avg_bit_rate', validate: validateBitRate },
];

/** `/flows/{flowId}/...` property endpoints; HEAD twins come from exposeHeadRoutes. */
export function registerFlowPropertyRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  const properties = services.flows.properties;

  registerTagRoutes(
    app,
    'flows',
    'flowId',
    {
      getAll: (ctx, id) => properties.getFlowTags(ctx, id),
      get: (ctx, id, name) => properties.getFlowTag(ctx, id, name),
      put: (ctx, id, name, value) => properties.putFlowTag(ctx, id, name, value),
      delete: (ctx, id, name) => properties.deleteFlowTag(ctx, id, name),
    },
    options,
  );

  registerScalarPropertyRoutes<FlowScalarProperty, string | number>(
    app,
    'flows',
    'flowId',
    SCALARS,
    {
      get: (ctx, id, property) => properties.getFlowProperty(ctx, id, property),
      put: (ctx, id, property, value) => properties.putFlowProperty(ctx, id, property, value),
      delete: (ctx, id, property) => properties.deleteFlowProperty(ctx, id, property),
    },
    options,
  );

  // read_only has no DELETE in the YAML: unset and false mean the same.
  app.get('/flows/:flowId/read_only', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    return sendJsonValue(reply, await properties.getReadOnly(requestContext(request, options), id));
  });

  app.put('/flows/:flowId/read_only', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    checkBody(validateReadOnly(request.body));
    await properties.putReadOnly(requestContext(request, options), id, request.body as boolean);
    return reply.code(204).send();
  });

  app.get('/flows/:flowId/flow_collection', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    return sendJsonValue(reply, await properties.getFlowCollection(requestContext(request, options), id));
  });

  app.put('/flows/:flowId/flow_collection', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    checkBody(request.body === undefined ? 'body must be a flow collection (an array)' : validateFlowCollectionPut(request.body));
    await properties.putFlowCollection(requestContext(request, options), id, request.body as CollectionItem[]);
    return reply.code(204).send();
  });

  app.delete('/flows/:flowId/flow_collection', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    await properties.deleteFlowCollection(requestContext(request, options), id);
    return reply.code(204).send();
  });
}
