import type { FastifyInstance } from 'fastify';
import type { RequestContext } from '../../services/request-context';
import type { RestOptions } from '../rest-context';
import { requestContext } from '../rest-context';
import { checkBody, sendJsonValue } from './property-responses';
import { pathUuid } from './path-params';

/** One scalar property endpoint and the check of its PUT body (a message when the body is bad). */
export interface ScalarProperty<P extends string> {
  property: P;
  validate: (body: unknown) => string | undefined;
}

/** The scalar-property operations of one resource kind (flows or sources). */
export interface ScalarPropertyOperations<P extends string, V> {
  get(ctx: RequestContext, id: string, property: P): Promise<V>;
  put(ctx: RequestContext, id: string, property: P, value: V): Promise<void>;
  delete(ctx: RequestContext, id: string, property: P): Promise<void>;
}

/** GET, PUT and DELETE `/<resource>/{id}/<property>` for each property, the same for flows and sources. */
export function registerScalarPropertyRoutes<P extends string, V>(
  app: FastifyInstance,
  resource: 'flows' | 'sources',
  idParam: string,
  scalars: readonly ScalarProperty<P>[],
  operations: ScalarPropertyOperations<P, V>,
  options: RestOptions,
): void {
  for (const { property, validate } of scalars) {
    const path = `/${resource}/:${idParam}/${property}`;

    app.get(path, async (request, reply) => {
      const id = pathUuid(request.params, idParam);
      return sendJsonValue(reply, await operations.get(requestContext(request, options), id, property));
    });

    app.put(path, async (request, reply) => {
      const id = pathUuid(request.params, idParam);
      checkBody(validate(request.body));
      await operations.put(requestContext(request, options), id, property, request.body as V);
      return reply.code(204).send();
    });

    app.delete(path, async (request, reply) => {
      const id = pathUuid(request.params, idParam);
      await operations.delete(requestContext(request, options), id, property);
      return reply.code(204).send();
    });
  }
}
