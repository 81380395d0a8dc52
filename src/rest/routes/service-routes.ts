import type { FastifyInstance } from 'fastify';
import { TamsError } from '../../domain/errors';
import type { RestOptions, RestServices } from '../rest-context';
import { requestContext } from '../rest-context';
import { validateServicePost } from '../../validation/validators';

export function registerServiceRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/', async () => ['service', 'flows', 'sources', 'flow-delete-requests']);

  app.get('/service', async () => services.serviceInfo.describe());

  app.post('/service', async (request, reply) => {
    const problem = validateServicePost(request.body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    const body = request.body as { name?: string; description?: string };
    await services.serviceInfo.update(requestContext(request, options), {
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.description === undefined ? {} : { description: body.description }),
    });
    return reply.code(200).send();
  });

  app.get('/service/storage-backends', async (request) => services.serviceInfo.storageBackends(requestContext(request, options)));
}
