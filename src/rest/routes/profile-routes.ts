import type { FastifyInstance } from 'fastify';
import type { Profile } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import type { RestOptions, RestServices } from '../rest-context';
import { publicBase } from '../rest-context';
import { setPagingHeaders } from '../paging-headers';
import { Query, format, pageLimit, single } from '../query-params';
import { validateProfilePost } from '../../validation/property-validators';
import { pathUuid } from './path-params';
import { pageParam } from './source-routes';

const MIME_TYPE_RE = /^[^\s/]+\/[^\s/]+$/;

export function registerProfileRoutes(app: FastifyInstance, services: RestServices, options: RestOptions): void {
  app.get('/service/profiles', async (request, reply) => {
    const q = request.query as Query;
    const fmt = format(q);
    const codec = single(q, 'codec');
    if (codec !== undefined && !MIME_TYPE_RE.test(codec)) {
      throw new TamsError('bad_request', 'Invalid query parameter codec: must be a MIME type such as video/h264');
    }
    const label = single(q, 'label');
    const page = await services.profiles.listProfiles(
      {
        ...(fmt === undefined ? {} : { format: fmt }),
        ...(codec === undefined ? {} : { codec }),
        ...(label === undefined ? {} : { label }),
      },
      { limit: pageLimit(q, options.pageLimitDefault, options.pageLimitMax), ...pageParam(q) },
    );
    setPagingHeaders(request, reply, publicBase(request, options), page);
    return page.items;
  });

  app.get('/service/profiles/:profileId', async (request) => {
    const id = pathUuid(request.params, 'profileId');
    return services.profiles.getProfile(id);
  });

  app.post('/service/profiles/:profileId', async (request, reply) => {
    const id = pathUuid(request.params, 'profileId');
    const problem = validateProfilePost(request.body);
    if (problem !== undefined) throw new TamsError('validation_failed', problem);
    const profile = await services.profiles.createProfile(id, request.body as Profile);
    return reply.code(201).send(profile);
  });
}
