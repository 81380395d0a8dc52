import type { FastifyInstance } from 'fastify';

export interface HealthChecks {
  /** True when the metadata store and object store answer. */
  ready(): Promise<boolean>;
  /** Set once shutdown has begun, so readiness fails before connections close. */
  shuttingDown(): boolean;
}

export function registerHealthRoutes(app: FastifyInstance, health: HealthChecks): void {
  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = !health.shuttingDown() && (await health.ready().catch(() => false));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
}
