/**
 * VAST's flatbuffers messages outside selects: the create-schema body, schema and table listings,
 * table statistics. Paging of listings travels in headers (request: `tabular-max-keys`,
 * `tabular-next-key`, `tabular-name-prefix` or `tabular-name-exact-match`; answer:
 * `tabular-next-key`, `tabular-is-truncated`), which the client reads; these functions see
 * bodies only.
 */
import * as flatbuffers from 'flatbuffers';
import * as tabular from './generated/tabular_generated';

/** Body of `POST /bucket/schema?schema`; the SDK sends an empty properties string by default. */
export function encodeCreateSchemaRequest(properties = ''): Uint8Array {
  const builder = new flatbuffers.Builder(128);
  const propertiesOffset = builder.createString(properties);
  builder.finish(tabular.CreateSchemaRequest.createCreateSchemaRequest(builder, propertiesOffset));
  return builder.asUint8Array();
}

export interface VastSchemaListing {
  readonly bucketName: string;
  readonly schemas: readonly { readonly name: string; readonly properties: string }[];
}

export function decodeListSchemasResponse(body: Uint8Array): VastSchemaListing {
  const listing = tabular.ListSchemasResponse.getRootAsListSchemasResponse(new flatbuffers.ByteBuffer(body));
  const schemas = [];
  for (let index = 0; index < listing.schemasLength(); index += 1) {
    const schema = listing.schemas(index)!;
    schemas.push({ name: schema.name() ?? '', properties: schema.properties() ?? '' });
  }
  return { bucketName: listing.bucketName() ?? '', schemas };
}

export interface VastTableInfo {
  readonly name: string;
  readonly properties: string;
  readonly handle: string;
  readonly numRows: bigint;
  readonly sizeInBytes: bigint;
}

export interface VastTableListing {
  readonly bucketName: string;
  readonly schemaName: string;
  readonly tables: readonly VastTableInfo[];
}

export function decodeListTablesResponse(body: Uint8Array): VastTableListing {
  const listing = tabular.ListTablesResponse.getRootAsListTablesResponse(new flatbuffers.ByteBuffer(body));
  const tables: VastTableInfo[] = [];
  for (let index = 0; index < listing.tablesLength(); index += 1) {
    const table = listing.tables(index)!;
    tables.push({
      name: table.name() ?? '',
      properties: table.properties() ?? '',
      handle: table.handle() ?? '',
      numRows: table.numRows(),
      sizeInBytes: table.sizeInBytes(),
    });
  }
  return { bucketName: listing.bucketName() ?? '', schemaName: listing.schemaName() ?? '', tables };
}

export interface VastTableStats {
  readonly numRows: bigint;
  readonly sizeInBytes: bigint;
  readonly isExternalRowIdAlloc: boolean;
}

/** Answer to `GET /bucket/schema/table?stats`: row count for splitting selects, size for logs. */
export function decodeTableStats(body: Uint8Array): VastTableStats {
  const stats = tabular.GetTableStatsResponse.getRootAsGetTableStatsResponse(new flatbuffers.ByteBuffer(body));
  return { numRows: stats.numRows(), sizeInBytes: stats.sizeInBytes(), isExternalRowIdAlloc: stats.isExternalRowidAlloc() };
}
