import type { FastifyInstance } from 'fastify';
import type { SourceScalarProperty } from '../../services/flow-property-service';
import type { RestOptions, RestServices } from '../rest-context';
import { validateDescription, validateLabel } from '../../validation/property-validators';
import { registerScalarPropertyRoutes, type ScalarProperty } from './scalar-property-routes';
import { registerTagRoutes } from './tag-routes';

const SCALARS: readonly ScalarProperty<SourceScalarProperty>[] = [
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

  registerScalarPropertyRoutes<SourceScalarProperty, string>(
    app,
    'sources',
    'sourceId',
    SCALARS,
    {
      get: (ctx, id, property) => properties.getSourceProperty(ctx, id, property),
      put: (ctx, id, property, value) => properties.putSourceProperty(ctx, id, property, value),
      delete: (ctx, id, property) => properties.deleteSourceProperty(ctx, id, property),
    },
    options,
  );
}
