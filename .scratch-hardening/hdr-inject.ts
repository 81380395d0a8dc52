import Fastify, { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import { useSecurityHeaders } from '../src/http/security-headers';
import { useRequestId, requestIdOptions } from '../src/http/request-id';
import { useAuditLog } from '../src/http/audit-log';
const body = { name: 'TAMS gateway', type: 'urn:x-tams:service:tams-gateway', api_version: '8.2', service_version: '0.1.0', event_stream_mechanisms: [], min_object_timeout: '600:0' };
async function build(variant: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...(variant === 'all' || variant === 'rid' ? requestIdOptions() : {}) });
  if (variant === 'hook' || variant === 'all') useSecurityHeaders(app, { graphqlPath: '/graphql', landingPage: true, mediaRoute: '/media/*' });
  if (variant === 'rid' || variant === 'all') useRequestId(app);
  if (variant === 'audit' || variant === 'all') useAuditLog(app, { file: '/tmp/scratch/bench-audit.log', basePath: '', graphqlPath: '/graphql', mediaRoute: '/media/*' });
  if (variant === 'helmet') { const mw = helmet({ xFrameOptions: { action: 'deny' } }); app.addHook('onRequest', (req, reply, done) => mw(req.raw, reply.raw, done as any)); }
  app.get('/service', async () => body);
  await app.ready();
  return app;
}
(async () => {
  const variants = ['none', 'hook', 'rid', 'audit', 'all', 'helmet'];
  const apps = new Map<string, FastifyInstance>();
  for (const v of variants) apps.set(v, await build(v));
  const best = new Map<string, number>();
  const N = 4000;
  for (let round = 0; round < 9; round++) {
    for (const v of variants) {
      const app = apps.get(v)!;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) await app.inject({ method: 'GET', url: '/service' });
      const us = Number(process.hrtime.bigint() - t0) / 1000 / N;
      if (round > 0) best.set(v, Math.min(best.get(v) ?? Infinity, us));
    }
  }
  for (const v of variants) console.log(v, best.get(v)!.toFixed(2), 'µs/request (min of 8 rounds, inject)');
})();
