/**
 * The set-up every VAST suite shares: the fake VAST server on loopback, a transport signing with
 * its credentials (short retry waits), and a client over it (short conflict backoff).
 */
import { VastClient, type VastClientOptions } from '../../src/adapters/vast/client/vast-client';
import { VastTransport, type VastTransportOptions } from '../../src/adapters/vast/transport/vast-transport';
import { FAKE_VAST_CREDENTIALS, FakeVastServer, type FakeVastOptions } from './vast-fake-server';

export interface FakeVastClient {
  server: FakeVastServer;
  transport: VastTransport;
  client: VastClient;
  /** Closes the transport, then the server. */
  close: () => Promise<void>;
}

export async function startFakeVastClient(
  options: { fake?: FakeVastOptions; transport?: Partial<VastTransportOptions>; client?: Partial<VastClientOptions> } = {},
): Promise<FakeVastClient> {
  const server = await FakeVastServer.start(options.fake ?? {});
  const transport = new VastTransport({ endpoint: server.endpoint, credentials: FAKE_VAST_CREDENTIALS, retryBaseDelayMs: 2, retryMaxDelayMs: 10, ...options.transport });
  const client = new VastClient({ transport, bucket: 'tams', conflictRetry: { baseDelayMs: 2, maxDelayMs: 20 }, ...options.client });
  return {
    server,
    transport,
    client,
    close: async () => {
      transport.close();
      await server.close();
    },
  };
}
