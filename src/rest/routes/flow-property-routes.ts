import type { FastifyInstance, FastifyReply } from 'fastify';
import type { CollectionItem, TagValue } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import type { FlowScalarProperty } from '../../services/flow-property-service';
import type { RestOptions, RestServices } from '../rest-context';
import { requestContext } from '../rest-context';
import { validateFlowCollectionPut } from '../schemas/validators';
import { validateBitRate, validateDescription, validateLabel, validateReadOnly, validateTagValue } from '../schemas/property-validators';
import { pathString, pathUuid } from './path-params';

const SCALARS: readonly { property: FlowScalarProperty; validate: (body: unknown) => string | undefined }[] = [
  { property: 'label', validate: validateLabel },
  { property: 'description', validate: validateDescription },
  { property: 'max_bit_rate', validate: validateBitRate },
  { property: 'avg_bit_rate', validate: validateBitRate },
];

/**
 * Sends a bare JSON value. fastify would send a returned string as text/plain without
 * quotes; property endpoints answer JSON strings ("a label") like every other value.
 */
export function sendJsonValue(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(value));
}

export function checkBody(problem: string | undefined): void {
  if (problem !== undefined) throw new TamsError('validation_failed', problem);
}

/** `/flows/{flowId}/...` property endpoints; HEAD twins come from exposeHeadRoutes. */
export function registerFlowPropertyRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  const properties = services.flows.properties;

  app.get('/flows/:flowId/tags', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    return sendJsonValue(reply, await properties.getFlowTags(requestContext(request, options), id));
  });

  app.get('/flows/:flowId/tags/:name', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    return sendJsonValue(reply, await properties.getFlowTag(requestContext(request, options), id, pathString(request.params, 'name')));
  });

  app.put('/flows/:flowId/tags/:name', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    const name = pathString(request.params, 'name');
    checkBody(validateTagValue(request.body));
    await properties.putFlowTag(requestContext(request, options), id, name, request.body as TagValue);
    return reply.code(204).send();
  });

  app.delete('/flows/:flowId/tags/:name', async (request, reply) => {
    const id = pathUuid(request.params, 'flowId');
    await properties.deleteFlowTag(requestContext(request, options), id, pathString(request.params, 'name'));
    return reply.code(204).send();
  });

  for (const { property, validate } of SCALARS) {
    app.get(`/flows/:flowId/${property}`, async (request, reply) => {
      const id = pathUuid(request.params, 'flowId');
      return sendJsonValue(reply, await properties.getFlowProperty(requestContext(request, options), id, property));
    });

    app.put(`/flows/:flowId/${property}`, async (request, reply) => {
      const id = pathUuid(request.params, 'flowId');
      checkBody(validate(request.body));
      await properties.putFlowProperty(requestContext(request, options), id, property, request.body as string | number);
      return reply.code(204).send();
    });

    app.delete(`/flows/:flowId/${property}`, async (request, reply) => {
      const id = pathUuid(request.params, 'flowId');
      await properties.deleteFlowProperty(requestContext(request, options), id, property);
      return reply.code(204).send();
    });
  }

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
