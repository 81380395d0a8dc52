import type { FastifyInstance } from 'fastify';
import { TamsError } from '../../domain/errors';
import type { RestOptions, RestServices } from '../rest-context';
import { validateServicePost } from '../schemas/validators';

export function registerServiceRoutes(app: FastifyInstance, services: RestServices, _options: RestOptions): void {
  app.get('/', async () => ['service', 'flows', 'sources', 'flow-delete-requests']);

  app.get('/service', async () => services.serviceInfo.describe());

  app.post('/service', async (request, reply) => {
    const problem = validateServicePost(request.body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    const body = request.body as { name?: string; description?: string };
    await services.serviceInfo.update({
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.description === undefined ? {} : { description: body.description }),
    });
    return reply.code(200).send();
  });

  app.get('/service/storage-backends', async () => services.serviceInfo.storageBackends());
}
