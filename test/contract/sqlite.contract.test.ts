import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/adapters/sqlite/sqlite-metadata-store';
import { runMetadataStoreContract } from './metadata-store.contract';
import { runMetadataStoreUpdatesContract } from './metadata-store-updates.contract';
import { runMetadataStoreBatchContract } from './metadata-store-batch.contract';
import { runMetadataStoreRulesContract } from './metadata-store-rules.contract';
import { runMetadataStoreStorageContract } from './metadata-store-storage.contract';
import { runMetadataStoreWebhooksContract } from './metadata-store-webhooks.contract';

const dir = mkdtempSync(join(tmpdir(), 'tams-sqlite-contract-'));
let n = 0;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

runMetadataStoreContract('sqlite (file)', async () => {
  n += 1;
  return new SqliteMetadataStore({ filename: join(dir, `store-${n}.db`) });
});

runMetadataStoreContract('sqlite (one file shared by every test)', async () => new SqliteMetadataStore({ filename: join(dir, 'shared.db') }));

runMetadataStoreContract('sqlite (:memory:)', async () => new SqliteMetadataStore({ filename: ':memory:' }));

runMetadataStoreUpdatesContract('sqlite (file)', async () => {
  n += 1;
  return new SqliteMetadataStore({ filename: join(dir, `store-${n}.db`) });
});

runMetadataStoreUpdatesContract('sqlite (one file shared by every test)', async () => new SqliteMetadataStore({ filename: join(dir, 'shared.db') }));

runMetadataStoreUpdatesContract('sqlite (:memory:)', async () => new SqliteMetadataStore({ filename: ':memory:' }));

runMetadataStoreBatchContract('sqlite (file)', async () => {
  n += 1;
  return new SqliteMetadataStore({ filename: join(dir, `store-${n}.db`) });
});

runMetadataStoreBatchContract('sqlite (:memory:)', async () => new SqliteMetadataStore({ filename: ':memory:' }));

runMetadataStoreRulesContract('sqlite (file)', async () => {
  n += 1;
  return new SqliteMetadataStore({ filename: join(dir, `store-${n}.db`) });
});

runMetadataStoreRulesContract('sqlite (one file shared by every test)', async () => new SqliteMetadataStore({ filename: join(dir, 'shared.db') }));

runMetadataStoreStorageContract('sqlite (file)', async () => {
  n += 1;
  return new SqliteMetadataStore({ filename: join(dir, `store-${n}.db`) });
});

runMetadataStoreStorageContract('sqlite (:memory:)', async () => new SqliteMetadataStore({ filename: ':memory:' }));

runMetadataStoreWebhooksContract('sqlite (file)', async () => {
  n += 1;
  return new SqliteMetadataStore({ filename: join(dir, `store-${n}.db`) });
});

runMetadataStoreWebhooksContract('sqlite (:memory:)', async () => new SqliteMetadataStore({ filename: ':memory:' }));
