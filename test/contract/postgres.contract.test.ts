import { PostgresMetadataStore } from '../../src/adapters/postgres/postgres-metadata-store';
import { describePostgres, TEST_DATABASE_URL, TestSchemas } from '../support/postgres';
import { runMetadataStoreContract } from './metadata-store.contract';
import { runMetadataStoreUpdatesContract } from './metadata-store-updates.contract';
import { runMetadataStoreBatchContract } from './metadata-store-batch.contract';
import { runMetadataStoreRulesContract } from './metadata-store-rules.contract';
import { runMetadataStoreStorageContract } from './metadata-store-storage.contract';
import { runMetadataStoreWebhooksContract } from './metadata-store-webhooks.contract';

describePostgres('MetadataStore contract: postgres', () => {
  const schemas = new TestSchemas();
  const shared = schemas.next();

  afterAll(async () => {
    await schemas.dropAll();
  });

  /** A store in a schema of its own (as sqlite's file per test). */
  const fresh = async (): Promise<PostgresMetadataStore> =>
    new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 4, schema: schemas.next() });
  /** A store in the schema every test of the file shares (as sqlite's one shared file). */
  const sharedStore = async (): Promise<PostgresMetadataStore> =>
    new PostgresMetadataStore({ connectionString: TEST_DATABASE_URL, poolSize: 4, schema: shared });

  runMetadataStoreContract('postgres (schema per test)', fresh);
  runMetadataStoreContract('postgres (one schema shared by every test)', sharedStore);
  runMetadataStoreUpdatesContract('postgres (schema per test)', fresh);
  runMetadataStoreUpdatesContract('postgres (one schema shared by every test)', sharedStore);
  runMetadataStoreBatchContract('postgres (schema per test)', fresh);
  runMetadataStoreRulesContract('postgres (schema per test)', fresh);
  runMetadataStoreRulesContract('postgres (one schema shared by every test)', sharedStore);
  runMetadataStoreStorageContract('postgres (schema per test)', fresh);
  runMetadataStoreWebhooksContract('postgres (schema per test)', fresh);
});
