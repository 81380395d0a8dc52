
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '/work/main/src/config';
import { createGateway } from '/work/main/src/main';
(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smoke-'));
  const config = loadConfig({ TAMS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', TAMS_AUTH: 'off', CORS_ORIGINS: 'https://tools.example.com', TRUST_PROXY: 'true', AUDIT_LOG_FILE: path.join(dataDir, 'audit.log') });
  const gw = await createGateway(config);
  await gw.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (gw.app.server.address() as any).port;
  const show = async (method: string, p: string, headers: Record<string,string> = {}, body?: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, { method, headers, body });
    const t = await res.text();
    console.log(method, p, res.status, JSON.stringify([...res.headers.entries()]), t.slice(0, 200));
  };
  await show('GET', '/service');
  await show('GET', '/nope', { origin: 'https://tools.example.com', 'x-forwarded-proto': 'https' });
  await show('OPTIONS', '/flows', { origin: 'https://tools.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type, authorization' });
  await show('OPTIONS', '/flows', { origin: 'https://evil.example.com', 'access-control-request-method': 'PUT' });
  await show('GET', '/graphql', { accept: 'text/html' });
  await show('POST', '/service/webhooks', { 'content-type': 'application/json' }, JSON.stringify({ url: 'http://127.0.0.1/x', events: [], api_key_name: 'X-K', api_key_value: 'sekrit' }));
  await show('POST', '/service/webhooks', { 'content-type': 'application/json' }, '['.repeat(100) + ']'.repeat(100));
  await show('GET', '/service', { 'x-request-id': 'abc-123' });
  await show('GET', '/service', { 'x-request-id': 'bad id with spaces' });
  await gw.close();
  console.log(fs.readFileSync(path.join(dataDir, 'audit.log'), 'utf8'));
})();
