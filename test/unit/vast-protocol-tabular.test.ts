/**
 * VAST's listing and statistics messages: answers built with the flatc-generated builders (as a
 * server would write them) read by the gateway's decoders, and the create-schema body the gateway
 * writes read by the generated reader.
 */
import * as flatbuffers from 'flatbuffers';
import * as tabular from '../../src/adapters/vast/protocol/generated/tabular_generated';
import {
  decodeListSchemasResponse,
  decodeListTablesResponse,
  decodeTableStats,
  encodeCreateSchemaRequest,
} from '../../src/adapters/vast/protocol/tabular-messages';

function objectDetails(builder: flatbuffers.Builder, name: string, numRows = 0n): flatbuffers.Offset {
  const nameOffset = builder.createString(name);
  const properties = builder.createString('{}');
  const handle = builder.createString(`h-${name}`);
  tabular.ObjectDetails.startObjectDetails(builder);
  tabular.ObjectDetails.addName(builder, nameOffset);
  tabular.ObjectDetails.addProperties(builder, properties);
  tabular.ObjectDetails.addHandle(builder, handle);
  tabular.ObjectDetails.addNumRows(builder, numRows);
  tabular.ObjectDetails.addSizeInBytes(builder, numRows * 100n);
  tabular.ObjectDetails.addSortingScore(builder, -(2n ** 63n));
  return tabular.ObjectDetails.endObjectDetails(builder);
}

describe('VAST tabular messages', () => {
  it('reads a schema listing', () => {
    const builder = new flatbuffers.Builder();
    const bucket = builder.createString('tams-bucket');
    const schemas = tabular.ListSchemasResponse.createSchemasVector(builder, [objectDetails(builder, 'tams'), objectDetails(builder, 'other')]);
    builder.finish(tabular.ListSchemasResponse.createListSchemasResponse(builder, bucket, schemas));
    expect(decodeListSchemasResponse(builder.asUint8Array())).toEqual({
      bucketName: 'tams-bucket',
      schemas: [
        { name: 'tams', properties: '{}' },
        { name: 'other', properties: '{}' },
      ],
    });
  });

  it('reads a table listing, 64-bit counts included', () => {
    const builder = new flatbuffers.Builder();
    const bucket = builder.createString('tams-bucket');
    const schema = builder.createString('tams');
    const tables = tabular.ListTablesResponse.createTablesVector(builder, [objectDetails(builder, 'segments', 2n ** 40n)]);
    builder.finish(tabular.ListTablesResponse.createListTablesResponse(builder, bucket, schema, tables));
    expect(decodeListTablesResponse(builder.asUint8Array())).toEqual({
      bucketName: 'tams-bucket',
      schemaName: 'tams',
      tables: [{ name: 'segments', properties: '{}', handle: 'h-segments', numRows: 2n ** 40n, sizeInBytes: 2n ** 40n * 100n }],
    });
  });

  it('reads an empty listing (no vector at all)', () => {
    const builder = new flatbuffers.Builder();
    const bucket = builder.createString('b');
    tabular.ListTablesResponse.startListTablesResponse(builder);
    tabular.ListTablesResponse.addBucketName(builder, bucket);
    builder.finish(tabular.ListTablesResponse.endListTablesResponse(builder));
    expect(decodeListTablesResponse(builder.asUint8Array())).toEqual({ bucketName: 'b', schemaName: '', tables: [] });
  });

  it('reads table statistics', () => {
    const builder = new flatbuffers.Builder();
    tabular.GetTableStatsResponse.startGetTableStatsResponse(builder);
    tabular.GetTableStatsResponse.addNumRows(builder, 1_000_000n);
    tabular.GetTableStatsResponse.addSizeInBytes(builder, 123_456_789n);
    tabular.GetTableStatsResponse.addIsExternalRowidAlloc(builder, false);
    builder.finish(tabular.GetTableStatsResponse.endGetTableStatsResponse(builder));
    expect(decodeTableStats(builder.asUint8Array())).toEqual({ numRows: 1_000_000n, sizeInBytes: 123_456_789n, isExternalRowIdAlloc: false });
  });

  it('writes a create-schema body the generated reader reads', () => {
    const read = (body: Uint8Array) => tabular.CreateSchemaRequest.getRootAsCreateSchemaRequest(new flatbuffers.ByteBuffer(body)).properties();
    expect(read(encodeCreateSchemaRequest())).toBe('');
    expect(read(encodeCreateSchemaRequest('{"owner":"tams"}'))).toBe('{"owner":"tams"}');
  });
});
