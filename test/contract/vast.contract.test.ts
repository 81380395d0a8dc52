/**
 * The whole store contract on the VAST adapter, against the fake VAST server on loopback
 * (test/support/vast-fake-server.ts: SigV4 checked, filter rules and size limit enforced,
 * writes hidden until commit, conflicts refused). A schema per store, as PostgreSQL's suite
 * has; and one schema every test of a suite shares.
 */
import { VastMetadataStore } from '../../src/adapters/vast/vast-metadata-store';
import { startFakeVastClient, type FakeVastClient } from '../support/vast-fake-client';
import { runMetadataStoreContract } from './metadata-store.contract';
import { runMetadataStoreUpdatesContract } from './metadata-store-updates.contract';
import { runMetadataStoreBatchContract } from './metadata-store-batch.contract';
import { runMetadataStoreRulesContract } from './metadata-store-rules.contract';
import { runMetadataStoreStorageContract } from './metadata-store-storage.contract';
import { runMetadataStoreWebhooksContract } from './metadata-store-webhooks.contract';

describe('MetadataStore contract: vast (fake server)', () => {
  let fake: FakeVastClient;
  let n = 0;

  beforeAll(async () => {
    fake = await startFakeVastClient();
  });

  afterAll(async () => {
    await fake.close();
  });

  /** A store in a schema of its own. */
  const fresh = async (): Promise<VastMetadataStore> => {
    n += 1;
    return new VastMetadataStore({ client: fake.client, schema: `contract_${n}` });
  };
  /** A store in the schema every test of the file shares. */
  const shared = async (): Promise<VastMetadataStore> => new VastMetadataStore({ client: fake.client, schema: 'contract_shared' });

  runMetadataStoreContract('vast (schema per test)', fresh);
  runMetadataStoreContract('vast (one schema shared by every test)', shared);
  runMetadataStoreUpdatesContract('vast (schema per test)', fresh);
  runMetadataStoreUpdatesContract('vast (one schema shared by every test)', shared);
  runMetadataStoreBatchContract('vast (schema per test)', fresh);
  // MAX_COLLECTORS (1,000) flow creations take about 32 requests each through the fake (150 s
  // on an idle machine, twice that on a busy one). On the shared schema every select of the fake
  // also scans every earlier test's rows, so that test runs on a schema of its own only.
  runMetadataStoreRulesContract('vast (schema per test)', fresh, { slowTestMs: 600_000 });
  runMetadataStoreRulesContract('vast (one schema shared by every test)', shared, { withoutMaxCollectors: true });
  runMetadataStoreStorageContract('vast (schema per test)', fresh);
  runMetadataStoreWebhooksContract('vast (schema per test)', fresh);
});
