import path from 'node:path';
import { LocalObjectStore } from '../../../src/adapters/local-objects/local-object-store';
import type { ObjectStorageRef, StorageBackend, UncontrolledUrl } from '../../../src/domain/entities';
import { GetUrlBuilder, type GetUrlOptions } from '../../../src/services/get-urls';
import { ObjectStores } from '../../../src/services/object-stores';
import { S3ObjectStore } from '../../../src/adapters/s3/s3-object-store';

const backend: StorageBackend = {
  id: '2a4f5b6c-0000-4000-8000-000000000001',
  label: 'local "quoted" \\ é',
  store_type: 'http_object_store',
  provider: 'tams-gateway',
  store_product: 'local-directory',
  default_storage: true,
  tags: { tier: 'hot' },
};
const objects = new LocalObjectStore({ rootDir: path.resolve('/srv/tams-media'), secret: Buffer.alloc(32, 7), backend, maxObjectBytes: 1024 });
const s3Backend: StorageBackend = {
  id: '2a4f5b6c-0000-4000-8000-000000000002',
  label: 'bucket "b" é',
  store_type: 'http_object_store',
  provider: 'MinIO',
  store_product: 'minio',
  default_storage: false,
  tags: { tier: 'cold' },
};
// Signing needs no I/O: the client is never used here.
const s3 = new S3ObjectStore({
  backend: s3Backend,
  endpoint: 'http://127.0.0.1:9',
  bucket: 'media',
  region: 'eu-west-1',
  pathStyle: true,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  keyPrefix: 'tams',
  plainUrls: true,
  // An hour before the expiry the tests ask for.
  now: () => 1_899_996_400_000,
});
afterAll(() => s3.close());
const stores = new ObjectStores([objects, s3]);
const controlled: ObjectStorageRef[] = [{ storage_id: backend.id, key: objects.keyFor('obj-1') }];
const onS3: ObjectStorageRef[] = [{ storage_id: s3Backend.id, key: s3.keyFor('obj-1') }];
const foreign: ObjectStorageRef[] = [{ storage_id: 'another-backend', key: 'aa/bb/whatever' }];
const both: ObjectStorageRef[] = [...foreign, ...controlled, ...onS3];
const uncontrolled: UncontrolledUrl[] = [
  { url: 'https://elsewhere.example/a?b="c"&d=\\', label: 'elsewhere' },
  { url: 'https://cdn.example/x', label: 'cdn' },
];

const optionSets: GetUrlOptions[] = [
  { verbose: false },
  { verbose: true },
  { verbose: false, acceptGetUrls: [] },
  { verbose: false, acceptGetUrls: ['cdn'] },
  { verbose: false, acceptGetUrls: [backend.label] },
  { verbose: false, acceptStorageIds: [backend.id] },
  { verbose: false, acceptStorageIds: [s3Backend.id] },
  { verbose: false, presigned: false },
  { verbose: true, acceptGetUrls: [s3Backend.label] },
  { verbose: false, acceptStorageIds: ['another-backend'] },
  { verbose: false, presigned: true },
  { verbose: true, presigned: false },
  { verbose: false, backendTags: { values: { tier: ['hot'] }, exists: {} } },
  { verbose: false, backendTags: { values: { tier: ['cold'] }, exists: {} } },
];

describe('GetUrlBuilder.json', () => {
  for (const options of optionSets) {
    for (const readable of [true, false]) {
      for (const baseUrl of ['http://127.0.0.1:8000', 'https://tams.example/a "b"/']) {
        it(`is JSON.stringify(build()) for ${JSON.stringify(options)}, backend readable ${readable}, base ${baseUrl}`, () => {
          const builder = new GetUrlBuilder(stores, options, baseUrl, 1_900_000_000, () => readable);
          builder.prepare([controlled, onS3, foreign, both, undefined]);
          for (const storage of [controlled, onS3, foreign, both, [], undefined]) {
            for (const urls of [undefined, uncontrolled, []]) {
              const json = builder.json(storage, urls);
              expect(json).toBe(JSON.stringify(builder.build(storage, urls)));
              expect(JSON.parse(json)).toEqual(builder.build(storage, urls));
            }
          }
        });
      }
    }
  }

  it('signs a key that prepare was not given, as build does', () => {
    const builder = new GetUrlBuilder(stores, { verbose: false }, 'http://h', 1_900_000_000);
    const other: ObjectStorageRef[] = [{ storage_id: backend.id, key: objects.keyFor('obj-2') }];
    const [url] = JSON.parse(builder.json(other, undefined)) as { url: string }[];
    expect(url?.url).toContain(other[0]!.key);
    expect(builder.json(other, undefined)).toBe(JSON.stringify(builder.build(other, undefined)));
  });
});
