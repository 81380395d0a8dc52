import Fastify from 'fastify';
import helmet from 'helmet';
import { useSecurityHeaders } from '../src/http/security-headers';
import { useRequestId, requestIdOptions } from '../src/http/request-id';
import { useAuditLog } from '../src/http/audit-log';
const variant = process.argv[2] ?? 'none';
const app = Fastify({ logger: false, ...(variant === 'all' || variant === 'rid' ? requestIdOptions() : {}) });
const body = { name: 'TAMS gateway', type: 'urn:x-tams:service:tams-gateway', api_version: '8.2', service_version: '0.1.0', event_stream_mechanisms: [], min_object_timeout: '600:0' };
if (variant === 'hook' || variant === 'all') useSecurityHeaders(app, { graphqlPath: '/graphql', landingPage: true, mediaRoute: '/media/*' });
if (variant === 'rid') useRequestId(app);
if (variant === 'audit') useAuditLog(app, { file: '/tmp/scratch/bench-audit.log', basePath: '', graphqlPath: '/graphql', mediaRoute: '/media/*' });
if (variant === 'all') { useRequestId(app); useAuditLog(app, { file: '/tmp/scratch/bench-audit.log', basePath: '', graphqlPath: '/graphql', mediaRoute: '/media/*' }); }
if (variant === 'helmet') {
  const mw = helmet({ xFrameOptions: { action: 'deny' } });
  app.addHook('onRequest', (req, reply, done) => mw(req.raw, reply.raw, done as any));
}
app.get('/service', async () => body);
app.listen({ port: Number(process.argv[3] ?? 9911), host: '127.0.0.1' }).then(() => console.log('ready'));
let start = process.cpuUsage();
app.get('/reset', async () => { start = process.cpuUsage(); return {}; });
app.get('/cpu', async () => { const d = process.cpuUsage(start); return { us: d.user + d.system }; });
app.get('/mem', async () => { (global as any).gc?.(); return { mb: Math.round(process.memoryUsage().heapUsed / 1e6) }; });
