/**
 * A benchmark server in its own process, so load generator and server do not share a core:
 * `gateway <dataDir>` runs the real gateway on an existing data dir (printing a bearer token for it); `bare <bodyFile>` runs a
 * bare node:http server answering every request with the file's bytes. `gateway-counted
 * <dataDir>` is the gateway with its store calls counted, answering any IPC message with the
 * counts so far.
 */
import fs from 'node:fs';
import http from 'node:http';
import { loadConfig } from '../src/config';
import { createGateway } from '../src/main';
import { countStoreCalls } from './store-call-counter';
import { issueToken, tokenSigner } from '../src/auth/token-issuer';
import { SCOPES } from '../src/domain/principal';

// Exit normally on a signal, so --cpu-prof and similar flags can write their output.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));

async function main(): Promise<void> {
  const [mode, arg] = process.argv.slice(2);
  if (mode === 'bare' && arg) {
    const body = fs.readFileSync(arg);
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      res.end(body);
    });
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      process.stdout.write(`PORT ${typeof address === 'object' && address ? address.port : 0}\n`);
    });
    return;
  }
  if ((mode === 'gateway' || mode === 'gateway-counted') && arg) {
    // As deployed: authentication on (the embedded key), rate limits on; every request carries
    // the bearer token printed here, so each one is verified (through the verified-token cache).
    const config = loadConfig({ ...process.env, TAMS_DATA_DIR: arg, LOG_LEVEL: 'silent', PORT: '0' });
    const gateway = await createGateway(config);
    const token = await issueToken(tokenSigner(config), { subject: 'bench', scopes: [...SCOPES], ttlSec: 3 * 3600 }, config);
    if (mode === 'gateway-counted') {
      const counts = countStoreCalls(gateway.store);
      process.on('message', () => process.send?.({ ...counts }));
    }
    await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    const address = gateway.app.server.address();
    process.stdout.write(`TOKEN ${token}\nPORT ${typeof address === 'object' && address ? address.port : 0}\n`);
    return;
  }
  throw new Error('usage: server-process gateway <dataDir> | gateway-counted <dataDir> | bare <bodyFile>');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
