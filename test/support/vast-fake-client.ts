/**
 * The set-up every VAST suite shares: the fake VAST server on loopback, a transport signing with
 * its credentials (short retry waits), and a client over it (short conflict backoff).
 */
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { VastClient, type VastClientOptions } from '../../src/adapters/vast/client/vast-client';
import { ensureVastTables, vastStoreTables, type VastStoreTables } from '../../src/adapters/vast/store/vast-tables';
import { VastTransport, type VastTransportOptions } from '../../src/adapters/vast/transport/vast-transport';
import type { Page } from '../../src/ports/metadata-store';
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

/**
 * Every page of a listing, first to last, each page's cursor passed through JSON as a client
 * would carry it; refuses to go past `maxPages`.
 */
export async function allPages<T>(readPage: (after: unknown) => Promise<Page<T>>, maxPages = 10_000): Promise<Page<T>[]> {
  const pages: Page<T>[] = [];
  let after: unknown = undefined;
  for (let n = 0; n < maxPages; n += 1) {
    const page = await readPage(after);
    pages.push(page);
    if (page.next === undefined) return pages;
    after = JSON.parse(JSON.stringify(page.next)) as unknown;
  }
  throw new Error(`more than ${maxPages} pages`);
}

/** The VAST store's tables on a fresh fake server, and an in-memory SQLite store beside them as the reference. */
export interface VastBesideSqlite {
  client: VastClient;
  tables: VastStoreTables;
  server: FakeVastServer;
  sqlite: SqliteMetadataStore;
}

/**
 * Starts the fake (conflict reruns generous: suites race writers on purpose), makes the store's
 * tables in `schema`, and opens the SQLite reference; `closers` gets what closes them.
 */
export async function startVastBesideSqlite(schema: string, closers: (() => unknown)[], fake: FakeVastOptions = {}): Promise<VastBesideSqlite> {
  const { server, client, close } = await startFakeVastClient({ fake, client: { conflictRetry: { maxRuns: 60, baseDelayMs: 2, maxDelayMs: 30 } } });
  closers.push(close);
  await ensureVastTables(client, schema);
  const sqlite = new SqliteMetadataStore({ filename: ':memory:' });
  closers.push(() => sqlite.close());
  await sqlite.init();
  return { client, tables: vastStoreTables(schema), server, sqlite };
}
