import Fastify from 'fastify';
import { useSecurityHeaders } from '../src/http/security-headers';
import { useRequestId, requestIdOptions } from '../src/http/request-id';
import { useAuditLog } from '../src/http/audit-log';
(async () => {
  const v = process.argv[2];
  const app = Fastify({ logger: false, ...(v === 'rid' ? requestIdOptions() : {}) });
  if (v === 'hook') useSecurityHeaders(app, { graphqlPath: '/graphql', landingPage: true, mediaRoute: '/media/*' });
  if (v === 'rid') useRequestId(app);
  if (v === 'audit') useAuditLog(app, { file: '/tmp/scratch/bench-audit.log', basePath: '', graphqlPath: '/graphql', mediaRoute: '/media/*' });
  app.get('/service', async () => ({ a: 1 }));
  await app.ready();
  for (let r = 0; r < 4; r++) {
    for (let i = 0; i < 30000; i++) await app.inject({ method: 'GET', url: '/service' });
    global.gc?.();
    console.log(v, r, Math.round(process.memoryUsage().heapUsed / 1e6), 'MB');
  }
})();
