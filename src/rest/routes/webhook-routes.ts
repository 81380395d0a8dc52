import type { FastifyInstance } from 'fastify';
import { TamsError } from '../../domain/errors';
import type { RestOptions, RestServices } from '../rest-context';
import { publicBase, requestContext } from '../rest-context';
import { setPagingHeaders } from '../paging-headers';
import { Query, bool, pageLimit, tagFilter } from '../query-params';
import { validateWebhookPost, validateWebhookPut } from '../../validation/registration-validators';
import type { WebhookBody } from '../../services/webhook-service';
import { pathUuid } from './path-params';
import { pageParam } from './source-routes';

export function registerWebhookRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/service/webhooks', async (request, reply) => {
    const q = request.query as Query;
    const reverse = bool(q, 'reverse_order') ?? false;
    const tags = tagFilter(q, 'tag');
    const page = await services.webhooks.list(
      requestContext(request, options),
      { reverse, ...(tags === undefined ? {} : { tags }) },
      { limit: pageLimit(q, options.pageLimitDefault, options.pageLimitMax), ...pageParam(q) },
    );
    setPagingHeaders(request, reply, publicBase(request, options), page, { reverse });
    return page.items;
  });

  app.post('/service/webhooks', async (request, reply) => {
    const problem = validateWebhookPost(request.body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    return reply.code(201).send(await services.webhooks.create(requestContext(request, options), request.body as WebhookBody));
  });

  app.get('/service/webhooks/:webhookId', async (request) => {
    return services.webhooks.get(requestContext(request, options), pathUuid(request.params, 'webhookId'));
  });

  app.put('/service/webhooks/:webhookId', async (request, reply) => {
    const id = pathUuid(request.params, 'webhookId');
    const problem = validateWebhookPut(request.body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    return reply.code(201).send(await services.webhooks.update(requestContext(request, options), id, request.body as WebhookBody));
  });

  app.delete('/service/webhooks/:webhookId', async (request, reply) => {
    await services.webhooks.delete(requestContext(request, options), pathUuid(request.params, 'webhookId'));
    return reply.code(204).send();
  });
}
