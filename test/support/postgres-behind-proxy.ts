/**
 * A gateway over PostgreSQL reached through a TCP proxy on loopback, so a test can take the
 * database away (stop the proxy) and bring it back while the gateway runs (outage tests).
 */
import { startHarness, type Harness } from './gateway-harness';
import { TEST_DATABASE_URL } from './postgres';
import { TcpProxy } from './tcp-proxy';

export interface GatewayBehindProxy {
  h: Harness;
  proxy: TcpProxy;
  close(): Promise<void>;
}

/** Starts the proxy, then the gateway (`TAMS_PG_CONNECT_TIMEOUT_MS` as given; GC and webhook delivery off). */
export async function startGatewayBehindProxy(connectTimeoutMs: number): Promise<GatewayBehindProxy> {
  const target = new URL(TEST_DATABASE_URL);
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  await proxy.start();
  const viaProxy = new URL(TEST_DATABASE_URL);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const h = await startHarness(
    { TAMS_PG_CONNECT_TIMEOUT_MS: String(connectTimeoutMs), TAMS_GC: 'off', TAMS_WEBHOOK_DELIVERY: 'off' },
    { store: 'postgres', databaseUrl: viaProxy.href },
  );
  return {
    h,
    proxy,
    close: async () => {
      await h.close();
      await proxy.stop();
    },
  };
}
