import type { FastifyInstance } from 'fastify';
import type { RestOptions, RestServices } from '../rest-context';

export function registerSourcePropertyRoutes(_app: FastifyInstance, _services: RestServices, _options: RestOptions): void {}
