/**
 * A fake VAST Database server for tests: ours, on 127.0.0.1, node:http. It reads what the client
 * sends with readers that are not the client's: SigV4 with the independent checker
 * (vast-sigv4-check.ts), flatbuffers with the flatc-generated classes
 * (src/adapters/vast/protocol/generated), Arrow IPC with apache-arrow's own reader and writer
 * (vast-fake-select.ts). The client's encoders and decoders are never used here.
 *
 * What it models (docs/vast.md, "Fake server", says where each rule comes from):
 *
 * - every request's SigV4 signature, 403 SignatureDoesNotMatch otherwise; bodies over 5 MiB
 *   refused (400 EntityTooLarge);
 * - transactions: `POST /?transaction` answers a new id in `tabular-txid`, `PUT` commits,
 *   `DELETE` rolls back; every other request names an open one in `tabular-txid`;
 * - snapshot isolation with write-write conflicts (vast-fake-mvcc.ts), conflicts answered 409;
 * - schemas (create, list), tables (create with an Arrow schema, list), columns (list, add),
 *   listings paged by `tabular-max-keys` / `tabular-next-key` / `tabular-is-truncated`;
 * - rows: inserts assign `$row_id`s (uint64, increasing per table) and answer them; updates and
 *   deletes by `$row_id` (one record batch, sorted by row id, each row visible to the
 *   transaction);
 * - selects: the filter rules, projection, `$row_id`, splits and sub-splits over blocks of row
 *   groups, `tabular-limit-rows` per sub-split, paging by next row ids, the interleaved framing;
 * - fault injection: the next N requests matching a method and/or verb answered 503 SlowDown or
 *   409 without being acted on.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as flatbuffers from 'flatbuffers';
import { Schema, Table, tableFromIPC, tableToIPC, Field as ArrowField, DataType, type Vector } from 'apache-arrow';
import * as tabular from '../../src/adapters/vast/protocol/generated/tabular_generated';
import { TransactionManager, Versioned, WriteConflict, type ConflictDetection, type FakeTransaction } from './vast-fake-mvcc';
import { arrowType, frameAnswer, ipcStream, NO_MORE_ROWS, parseSelect, ROW_ID, SelectRefused, type AnswerPage, type FakeColumn, type FakeColumnType, type FakeRow, type FakeValue } from './vast-fake-select';
import { sigV4Problem } from './vast-sigv4-check';

export const FAKE_VAST_CREDENTIALS = { accessKeyId: 'AKIDFAKEVAST', secretAccessKey: 'fAkE/vAsT+sEcReT/0123456789abcdefXYZ' } as const;

/** VAST's request limit as both public clients state it (5 MiB). */
export const FAKE_MAX_REQUEST_BYTES = 5 * 1024 * 1024;

export interface FakeVastOptions {
  credentials?: readonly { accessKeyId: string; secretAccessKey: string }[];
  /** Buckets that exist (enabled for tables). Default `['tams']`. */
  buckets?: readonly string[];
  /** When a write that collides with another open transaction's is refused. Default `at-write`. */
  conflictDetection?: ConflictDetection;
  /** Rows per row group, for assigning rows to splits and sub-splits. Default 1024. */
  rowGroupRows?: number;
  /** Rows per page of a sub-split's answer. Default 4096. */
  maxRowsPerPage?: number;
  /** A keep-alive marker after every this many frames of a select answer. Default 5. */
  keepAliveEvery?: number;
}

export interface FakeRequestRecord {
  readonly method: string;
  /** The path's segments: [bucket, schema, table] or fewer. */
  readonly path: readonly string[];
  readonly verb: string | undefined;
  readonly txid: string | undefined;
  readonly bodyBytes: number;
  /** Bytes of the answer's body (what a client reads off the wire, headers aside). */
  responseBytes?: number;
  status: number;
  code?: string;
  /** Selects: pages answered, rows in them, the sub-splits that sent rows, `tabular-limit-rows`. */
  pages?: number;
  rows?: number;
  subSplitsWithRows?: number[];
  limitRows?: number;
}

export interface FaultSpec {
  /** Requests to answer so. */
  count: number;
  answer: 'slow_down' | 'conflict';
  /** Only requests with this query verb (`rows`, `data`, `transaction`, ...). */
  verb?: string;
  /** Only requests with this method. */
  method?: string;
}

class FakeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const notFound = (code: string, message: string) => new FakeError(404, code, message);
const invalid = (message: string) => new FakeError(400, 'InvalidArgument', message);

interface SchemaEntry {
  readonly name: string;
}

interface TableEntry {
  readonly id: number;
  readonly columns: readonly FakeColumn[];
}

type StoredRow = Readonly<Record<string, FakeValue>>;

class TableData {
  readonly rows = new Map<bigint, Versioned<StoredRow>>();
  nextRowId = 0n;
}

interface Bucket {
  readonly schemas: Map<string, Versioned<SchemaEntry>>;
  /** By `schema/table`. */
  readonly tables: Map<string, Versioned<TableEntry>>;
}

const ROW_ID_COLUMN: FakeColumn = { name: ROW_ID, type: 'uint64', nullable: true };

function xml(code: string, message: string, resource: string, requestId: string): string {
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${escape(code)}</Code><Message>${escape(message)}</Message><Resource>${escape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
}

function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function typeOfArrow(type: DataType): FakeColumnType | undefined {
  if (DataType.isUtf8(type)) return 'utf8';
  if (DataType.isBool(type)) return 'bool';
  if (!DataType.isInt(type)) return undefined;
  if (!type.isSigned) return type.bitWidth === 64 ? 'uint64' : undefined;
  return ({ 8: 'int8', 16: 'int16', 32: 'int32', 64: 'int64' } as const)[type.bitWidth];
}

/** The columns of an Arrow schema message (create table, add columns), read by apache-arrow. */
function readSchemaMessage(body: Buffer): FakeColumn[] {
  let schema: Schema;
  try {
    schema = tableFromIPC(body).schema;
  } catch (error) {
    throw invalid(`unreadable Arrow schema (${String(error)})`);
  }
  const names = new Set<string>();
  return schema.fields.map((field) => {
    const type = typeOfArrow(field.type);
    if (type === undefined) throw invalid(`column ${field.name}: type ${String(field.type)} not supported by the fake`);
    if (field.name === '' || field.name === ROW_ID) throw invalid(`column name ${JSON.stringify(field.name)} is reserved`);
    if (names.has(field.name)) throw invalid(`column ${field.name} given twice`);
    names.add(field.name);
    return { name: field.name, type, nullable: field.nullable };
  });
}

/** The one record batch of a row request, read by apache-arrow: columns and rows. */
function readRowBatch(body: Buffer): { columns: FakeColumn[]; rows: Record<string, FakeValue>[] } {
  let table: Table;
  try {
    table = tableFromIPC(body);
  } catch (error) {
    throw invalid(`unreadable Arrow IPC stream (${String(error)})`);
  }
  // The Python SDK: "the server expects a single RecordBatch per request".
  if (table.batches.length !== 1) throw invalid(`a row request holds one record batch, not ${table.batches.length}`);
  const columns = table.schema.fields.map((field) => {
    const type = typeOfArrow(field.type);
    if (type === undefined) throw invalid(`column ${field.name}: unsupported type ${String(field.type)}`);
    return { name: field.name, type, nullable: field.nullable };
  });
  const vectors = columns.map((_, index) => table.getChildAt(index) as Vector);
  const rows: Record<string, FakeValue>[] = [];
  for (let row = 0; row < table.numRows; row += 1) {
    const record: Record<string, FakeValue> = {};
    columns.forEach((column, index) => {
      record[column.name] = (vectors[index]!.get(row) ?? null) as FakeValue;
    });
    rows.push(record);
  }
  return { columns, rows };
}

export class FakeVastServer {
  readonly log: FakeRequestRecord[] = [];
  private readonly secrets: Map<string, string>;
  private readonly buckets = new Map<string, Bucket>();
  private readonly tableData = new Map<number, TableData>();
  private readonly transactions: TransactionManager;
  private readonly faults: FaultSpec[] = [];
  private readonly rowGroupRows: number;
  private readonly maxRowsPerPage: number;
  private readonly keepAliveEvery: number;
  private nextTableId = 1;
  private requestCount = 0;
  private server: Server | undefined;
  private port = 0;

  private constructor(options: FakeVastOptions) {
    this.secrets = new Map((options.credentials ?? [FAKE_VAST_CREDENTIALS]).map((pair) => [pair.accessKeyId, pair.secretAccessKey]));
    for (const bucket of options.buckets ?? ['tams']) this.buckets.set(bucket, { schemas: new Map(), tables: new Map() });
    this.transactions = new TransactionManager(options.conflictDetection ?? 'at-write');
    this.rowGroupRows = options.rowGroupRows ?? 1024;
    this.maxRowsPerPage = options.maxRowsPerPage ?? 4096;
    this.keepAliveEvery = options.keepAliveEvery ?? 5;
  }

  static async start(options: FakeVastOptions = {}): Promise<FakeVastServer> {
    const fake = new FakeVastServer(options);
    const server = createServer((request, response) => fake.receive(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.server = server;
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get conflictDetection(): ConflictDetection {
    return this.transactions.mode;
  }

  get openTransactions(): number {
    return this.transactions.openCount;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `count` requests matching `verb` / `method` are answered 503 SlowDown or 409, and not acted on. */
  failNext(fault: FaultSpec): void {
    this.faults.push({ ...fault });
  }

  /** Drops every fault still queued (ends a storm early). */
  clearFaults(): void {
    this.faults.splice(0);
  }

  /** The rows of a table as committed now, `$row_id` included, in row id order. */
  committedRows(schema: string, table: string, bucket = 'tams'): FakeRow[] {
    const view = this.transactions.latest();
    const entry = this.bucket(bucket).tables.get(`${schema}/${table}`)?.visibleTo(view);
    if (entry === undefined || entry === null) throw new Error(`no committed table ${schema}/${table}`);
    return this.visibleRows(view, entry);
  }

  // ---------------------------------------------------------------------------------------------

  private receive(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    let received = 0;
    request.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= FAKE_MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      const requestId = `fake-${(this.requestCount += 1)}`;
      const url = request.url ?? '/';
      const at = url.indexOf('?');
      const path = (at < 0 ? url : url.slice(0, at)).split('/').filter((segment) => segment !== '').map(decodeURIComponent);
      const query = at < 0 ? [] : url.slice(at + 1).split('&');
      const verb = query[0] !== undefined && !query[0].includes('=') ? query[0] : undefined;
      const record: FakeRequestRecord = { method: request.method ?? '', path, verb, txid: headerOf(request.headers, 'tabular-txid'), bodyBytes: received, status: 0 };
      this.log.push(record);
      const send = (status: number, body: Buffer | string, headers: Record<string, string> = {}): void => {
        record.status = status;
        record.responseBytes = request.method === 'HEAD' ? 0 : Buffer.byteLength(body);
        response.writeHead(status, { server: 'vast 5.3.0.1', 'x-amz-request-id': requestId, ...headers });
        response.end(request.method === 'HEAD' ? undefined : body);
      };
      const fail = (error: FakeError): void => {
        record.code = error.code;
        send(error.status, xml(error.code, error.message, url, requestId), { 'content-type': 'application/xml' });
      };
      try {
        if (received > FAKE_MAX_REQUEST_BYTES) {
          throw new FakeError(400, 'EntityTooLarge', `a request body of ${received} bytes exceeds ${FAKE_MAX_REQUEST_BYTES}`);
        }
        const body = Buffer.concat(chunks);
        const problem = sigV4Problem({ method: request.method ?? '', url, headers: request.headers, body }, this.secrets, new Date());
        if (problem !== undefined) throw new FakeError(403, 'SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided (${problem})`);
        this.injectedFault(request.method ?? '', verb);
        const answer = this.route(request.method ?? '', path, verb, request.headers, body, record);
        send(200, answer.body ?? '', answer.headers);
      } catch (error) {
        if (error instanceof FakeError) return fail(error);
        if (error instanceof WriteConflict) return fail(new FakeError(409, 'Conflict', error.message));
        if (error instanceof SelectRefused) return fail(new FakeError(400, error.code, error.message));
        fail(new FakeError(500, 'InternalError', `fake VAST server bug: ${String(error)}`));
      }
    });
  }

  private injectedFault(method: string, verb: string | undefined): void {
    const fault = this.faults.find((candidate) => candidate.count > 0 && (candidate.verb === undefined || candidate.verb === verb) && (candidate.method === undefined || candidate.method === method));
    if (fault === undefined) return;
    fault.count -= 1;
    if (fault.answer === 'slow_down') throw new FakeError(503, 'SlowDown', 'Slow Down');
    throw new FakeError(409, 'Conflict', 'injected conflict');
  }

  private bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (bucket === undefined) throw notFound('NoSuchBucket', `no bucket ${name}`);
    return bucket;
  }

  private route(method: string, path: readonly string[], verb: string | undefined, headers: IncomingHttpHeaders, body: Buffer, record: FakeRequestRecord): { body?: Buffer | string; headers?: Record<string, string> } {
    if (path.length === 0 && verb === 'transaction') return this.transaction(method, headers);
    if (path.length === 0 && method === 'GET') return {};
    const tx = this.openTransaction(headers);
    const bucket = this.bucket(path[0]!);
    const key = `${method} ${verb ?? ''} ${path.length}`;
    switch (key) {
      case 'POST schema 2':
        return this.createSchema(tx, bucket, path[1]!, body);
      case 'GET schema 1':
        return this.listSchemas(tx, bucket, path[0]!, headers);
      case 'GET table 2':
        return this.listTables(tx, bucket, path[0]!, path[1]!, headers);
      case 'POST table 3':
        return this.createTable(tx, bucket, path[1]!, path[2]!, body);
      case 'GET column 3':
        return this.listColumns(tx, bucket, path[1]!, path[2]!, headers);
      case 'POST column 3':
        return this.addColumns(tx, bucket, path[1]!, path[2]!, body);
      case 'POST rows 3':
        return this.insertRows(tx, bucket, path[1]!, path[2]!, body);
      case 'PUT rows 3':
        return this.changeRows(tx, bucket, path[1]!, path[2]!, body, 'update');
      case 'DELETE rows 3':
        return this.changeRows(tx, bucket, path[1]!, path[2]!, body, 'delete');
      case 'GET data 3':
        return this.select(tx, bucket, path[1]!, path[2]!, headers, body, record);
      default:
        throw new FakeError(400, 'InvalidRequest', `the fake does not serve ${method} /${path.join('/')}?${verb ?? ''}`);
    }
  }

  private transaction(method: string, headers: IncomingHttpHeaders): { headers?: Record<string, string> } {
    if (method === 'POST') {
      const given = headerOf(headers, 'tabular-txid');
      if (given !== undefined && given !== '0') throw invalid(`begin with tabular-txid ${given}`);
      return { headers: { 'tabular-txid': this.transactions.begin().id.toString() } };
    }
    const tx = this.transactionNamed(headers);
    if (method === 'PUT') {
      this.transactions.commit(tx);
      return {};
    }
    if (method === 'DELETE') {
      this.transactions.rollback(tx);
      return {};
    }
    if (method === 'GET') return {};
    throw new FakeError(405, 'MethodNotAllowed', `${method} /?transaction`);
  }

  private transactionNamed(headers: IncomingHttpHeaders): FakeTransaction {
    const text = headerOf(headers, 'tabular-txid');
    if (text === undefined || !/^\d+$/.test(text)) throw invalid(`tabular-txid ${JSON.stringify(text ?? null)}`);
    const tx = this.transactions.find(BigInt(text));
    if (tx === undefined || tx.state !== 'active') throw notFound('NoSuchTransaction', `no open transaction ${text}`);
    return tx;
  }

  /** The request's transaction, open and not doomed by an earlier conflict. */
  private openTransaction(headers: IncomingHttpHeaders): FakeTransaction {
    const tx = this.transactionNamed(headers);
    if (tx.doomed !== undefined) throw new FakeError(409, 'Conflict', `the transaction conflicted earlier (${tx.doomed}): roll it back`);
    return tx;
  }

  private write<T>(tx: FakeTransaction, cell: Versioned<T>, value: T | null, what: string): void {
    this.transactions.write(tx, cell, value, what);
  }

  // --- catalog ---------------------------------------------------------------------------------

  private createSchema(tx: FakeTransaction, bucket: Bucket, name: string, body: Buffer): object {
    try {
      tabular.CreateSchemaRequest.getRootAsCreateSchemaRequest(new flatbuffers.ByteBuffer(body)).properties();
    } catch (error) {
      throw invalid(`unreadable CreateSchemaRequest (${String(error)})`);
    }
    const cell = bucket.schemas.get(name) ?? new Versioned<SchemaEntry>();
    bucket.schemas.set(name, cell);
    const current = cell.visibleTo(tx);
    if (current !== undefined && current !== null) throw new FakeError(409, 'SchemaAlreadyExists', `schema ${name} exists`);
    this.write(tx, cell, { name }, `schema ${name}`);
    return {};
  }

  private schemaOf(tx: FakeTransaction, bucket: Bucket, name: string): SchemaEntry {
    const entry = bucket.schemas.get(name)?.visibleTo(tx);
    if (entry === undefined || entry === null) throw notFound('NoSuchSchema', `no schema ${name}`);
    return entry;
  }

  private tableOf(tx: FakeTransaction, bucket: Bucket, schema: string, name: string): { cell: Versioned<TableEntry>; entry: TableEntry } {
    this.schemaOf(tx, bucket, schema);
    const cell = bucket.tables.get(`${schema}/${name}`);
    const entry = cell?.visibleTo(tx);
    if (cell === undefined || entry === undefined || entry === null) throw notFound('NoSuchTable', `no table ${schema}/${name}`);
    return { cell, entry };
  }

  private createTable(tx: FakeTransaction, bucket: Bucket, schema: string, name: string, body: Buffer): object {
    this.schemaOf(tx, bucket, schema);
    const columns = readSchemaMessage(body);
    if (columns.length === 0) throw invalid('a table needs a column');
    const cell = bucket.tables.get(`${schema}/${name}`) ?? new Versioned<TableEntry>();
    bucket.tables.set(`${schema}/${name}`, cell);
    const current = cell.visibleTo(tx);
    if (current !== undefined && current !== null) throw new FakeError(409, 'TableAlreadyExists', `table ${schema}/${name} exists`);
    const id = this.nextTableId;
    this.write(tx, cell, { id, columns }, `table ${schema}/${name}`);
    this.nextTableId += 1;
    this.tableData.set(id, new TableData());
    return {};
  }

  private addColumns(tx: FakeTransaction, bucket: Bucket, schema: string, name: string, body: Buffer): object {
    const { cell, entry } = this.tableOf(tx, bucket, schema, name);
    const added = readSchemaMessage(body);
    const existing = added.find((column) => entry.columns.some((other) => other.name === column.name));
    // As the Java client's mock server answers an existing column.
    if (existing !== undefined) throw new FakeError(409, 'ColumnAlreadyExists', `column ${existing.name} exists in ${schema}/${name}`);
    this.write(tx, cell, { id: entry.id, columns: [...entry.columns, ...added] }, `columns of ${schema}/${name}`);
    return {};
  }

  /** A page of names by `tabular-max-keys` from `tabular-next-key` (an index), filtered by exact name or prefix. */
  private page<T extends { name: string }>(items: readonly T[], headers: IncomingHttpHeaders): { page: T[]; headers: Record<string, string> } {
    const exact = headerOf(headers, 'tabular-name-exact-match');
    const prefix = headerOf(headers, 'tabular-name-prefix') ?? '';
    const chosen = items.filter((item) => (exact !== undefined ? item.name === exact : item.name.startsWith(prefix)));
    const maxKeys = Number(headerOf(headers, 'tabular-max-keys') ?? '1000');
    const from = Number(headerOf(headers, 'tabular-next-key') ?? '0');
    if (!Number.isInteger(maxKeys) || maxKeys < 1 || !Number.isInteger(from) || from < 0) throw invalid('tabular-max-keys / tabular-next-key');
    const page = chosen.slice(from, from + maxKeys);
    const next = from + page.length;
    return { page, headers: { 'tabular-next-key': String(next), 'tabular-is-truncated': String(next < chosen.length) } };
  }

  private listSchemas(tx: FakeTransaction, bucket: Bucket, bucketName: string, headers: IncomingHttpHeaders): { body: Buffer; headers: Record<string, string> } {
    const names = [...bucket.schemas.entries()]
      .filter(([, cell]) => (cell.visibleTo(tx) ?? null) !== null)
      .map(([name]) => ({ name }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const { page, headers: paging } = this.page(names, headers);
    const builder = new flatbuffers.Builder(256);
    const details = page.map((schema) => {
      const nameOffset = builder.createString(schema.name);
      const properties = builder.createString('');
      tabular.ObjectDetails.startObjectDetails(builder);
      tabular.ObjectDetails.addName(builder, nameOffset);
      tabular.ObjectDetails.addProperties(builder, properties);
      return tabular.ObjectDetails.endObjectDetails(builder);
    });
    const bucketOffset = builder.createString(bucketName);
    const vector = tabular.ListSchemasResponse.createSchemasVector(builder, details);
    builder.finish(tabular.ListSchemasResponse.createListSchemasResponse(builder, bucketOffset, vector));
    return { body: Buffer.from(builder.asUint8Array()), headers: paging };
  }

  private listTables(tx: FakeTransaction, bucket: Bucket, bucketName: string, schema: string, headers: IncomingHttpHeaders): { body: Buffer; headers: Record<string, string> } {
    this.schemaOf(tx, bucket, schema);
    const tables = [...bucket.tables.entries()]
      .filter(([key]) => key.startsWith(`${schema}/`))
      .map(([key, cell]) => ({ name: key.slice(schema.length + 1), entry: cell.visibleTo(tx) ?? null }))
      .filter((table): table is { name: string; entry: TableEntry } => table.entry !== null)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const { page, headers: paging } = this.page(tables, headers);
    const builder = new flatbuffers.Builder(256);
    const details = page.map((table) => {
      const nameOffset = builder.createString(table.name);
      const properties = builder.createString('');
      const handle = builder.createString(String(table.entry.id));
      tabular.ObjectDetails.startObjectDetails(builder);
      tabular.ObjectDetails.addName(builder, nameOffset);
      tabular.ObjectDetails.addProperties(builder, properties);
      tabular.ObjectDetails.addHandle(builder, handle);
      tabular.ObjectDetails.addNumRows(builder, BigInt(this.visibleRows(tx, table.entry).length));
      return tabular.ObjectDetails.endObjectDetails(builder);
    });
    const bucketOffset = builder.createString(bucketName);
    const schemaOffset = builder.createString(schema);
    const vector = tabular.ListTablesResponse.createTablesVector(builder, details);
    builder.finish(tabular.ListTablesResponse.createListTablesResponse(builder, bucketOffset, schemaOffset, vector));
    return { body: Buffer.from(builder.asUint8Array()), headers: paging };
  }

  private listColumns(tx: FakeTransaction, bucket: Bucket, schema: string, name: string, headers: IncomingHttpHeaders): { body: Buffer; headers: Record<string, string> } {
    const { entry } = this.tableOf(tx, bucket, schema, name);
    const { page, headers: paging } = this.page(entry.columns, headers);
    const arrowSchema = new Schema(page.map((column) => new ArrowField(column.name, arrowType(column.type), column.nullable)));
    return { body: Buffer.from(tableToIPC(new Table(arrowSchema), 'stream')), headers: paging };
  }

  // --- rows ------------------------------------------------------------------------------------

  /** The rows the transaction sees, in row id order, each with every column and `$row_id`; `wanted` skips rows before reading them. */
  private visibleRows(tx: FakeTransaction, entry: TableEntry, wanted: (rowId: bigint) => boolean = () => true): FakeRow[] {
    const rows: FakeRow[] = [];
    for (const [rowId, cell] of this.tableData.get(entry.id)!.rows) {
      if (!wanted(rowId)) continue;
      const row = cell.visibleTo(tx);
      if (row === undefined || row === null) continue;
      const full: Record<string, FakeValue> = {};
      for (const column of entry.columns) full[column.name] = row[column.name] ?? null;
      full[ROW_ID] = rowId;
      rows.push(full);
    }
    return rows;
  }

  private checkColumns(entry: TableEntry, given: readonly FakeColumn[], rows: readonly Record<string, FakeValue>[], label: string): void {
    for (const column of given) {
      const own = entry.columns.find((candidate) => candidate.name === column.name);
      if (own === undefined) throw invalid(`${label}: no column ${column.name}`);
      if (own.type !== column.type) throw invalid(`${label}: column ${column.name} is ${own.type}, sent as ${column.type}`);
      if (!own.nullable && rows.some((row) => row[column.name] === null)) throw invalid(`${label}: null in non-nullable column ${column.name}`);
    }
  }

  private insertRows(tx: FakeTransaction, bucket: Bucket, schema: string, name: string, body: Buffer): { body: Buffer } {
    const { entry } = this.tableOf(tx, bucket, schema, name);
    const { columns, rows } = readRowBatch(body);
    const label = `insert into ${schema}/${name}`;
    if (columns.some((column) => column.name === ROW_ID)) throw invalid(`${label}: ${ROW_ID} is assigned by the server`);
    this.checkColumns(entry, columns, rows, label);
    const missing = entry.columns.find((column) => !column.nullable && !columns.some((sent) => sent.name === column.name));
    if (missing !== undefined) throw invalid(`${label}: no value for non-nullable column ${missing.name}`);
    const data = this.tableData.get(entry.id)!;
    const ids: FakeRow[] = [];
    for (const row of rows) {
      const rowId = data.nextRowId;
      data.nextRowId += 1n;
      const cell = new Versioned<StoredRow>();
      data.rows.set(rowId, cell);
      this.write(tx, cell, row, `row ${rowId}`);
      ids.push({ [ROW_ID]: rowId });
    }
    return { body: Buffer.from(ipcStream([ROW_ID_COLUMN], ids)) };
  }

  private changeRows(tx: FakeTransaction, bucket: Bucket, schema: string, name: string, body: Buffer, change: 'update' | 'delete'): object {
    const { entry } = this.tableOf(tx, bucket, schema, name);
    const { columns, rows } = readRowBatch(body);
    const label = `${change} in ${schema}/${name}`;
    if (columns[0]?.name !== ROW_ID || columns[0].type !== 'uint64') throw invalid(`${label}: the first column must be ${ROW_ID} (uint64)`);
    const values = columns.slice(1);
    if (change === 'delete' && values.length > 0) throw invalid(`${label}: a delete sends ${ROW_ID} alone`);
    if (change === 'update' && values.length === 0) throw invalid(`${label}: an update sends columns to change`);
    this.checkColumns(entry, values, rows, label);
    const data = this.tableData.get(entry.id)!;
    let previous = -1n;
    const targets = rows.map((row) => {
      const rowId = row[ROW_ID];
      if (typeof rowId !== 'bigint') throw invalid(`${label}: a null ${ROW_ID}`);
      // The Python SDK sorts updates and deletes by row id before sending (sort_record_batch_if_needed).
      if (rowId <= previous) throw invalid(`${label}: row ids must be sorted and distinct (${rowId} after ${previous})`);
      previous = rowId;
      const cell = data.rows.get(rowId);
      const current = cell?.visibleTo(tx);
      if (cell === undefined || current === undefined || current === null) throw invalid(`${label}: no row ${rowId} visible to this transaction`);
      return { cell, current, row };
    });
    for (const { cell, current, row } of targets) {
      const next = change === 'delete' ? null : { ...current, ...Object.fromEntries(values.map((column) => [column.name, row[column.name] ?? null])) };
      this.write(tx, cell, next, `row ${String(row[ROW_ID])} of ${schema}/${name}`);
    }
    return {};
  }

  // --- select ----------------------------------------------------------------------------------

  private select(tx: FakeTransaction, bucket: Bucket, schema: string, name: string, headers: IncomingHttpHeaders, body: Buffer, record: FakeRequestRecord): { body: Buffer } {
    const { entry } = this.tableOf(tx, bucket, schema, name);
    const parsed = parseSelect(body, [...entry.columns, ROW_ID_COLUMN]);
    const number = (header: string, fallback?: number): number => {
      const text = headerOf(headers, header);
      if (text === undefined && fallback !== undefined) return fallback;
      const value = Number(text);
      if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw invalid(`${header}: ${JSON.stringify(text ?? null)}`);
      return value;
    };
    const split = /^(\d+),(\d+),(\d+)$/.exec(headerOf(headers, 'tabular-split') ?? '');
    if (split === null) throw invalid('tabular-split must be split,splits,row groups');
    const [splitId, splits, rowGroups] = [Number(split[1]), Number(split[2]), Number(split[3])];
    if (splits < 1 || splitId >= splits || rowGroups < 1) throw invalid(`tabular-split ${split[0]}`);
    const subSplits = number('tabular-num-of-subsplits');
    if (subSplits < 1) throw invalid('tabular-num-of-subsplits must be positive');
    const limit = number('tabular-limit-rows', Number.MAX_SAFE_INTEGER);
    const starts: bigint[] = [];
    for (let subSplit = 0; subSplit < subSplits; subSplit += 1) {
      const start = /^(\d+),(\d+)$/.exec(headerOf(headers, `tabular-start-row-id-${subSplit}`) ?? '');
      if (start === null || Number(start[1]) !== subSplit) throw invalid(`tabular-start-row-id-${subSplit} missing or malformed`);
      starts.push(BigInt(start[2]!));
    }

    // Rows are laid out in blocks of `rowGroups` row groups by row id; blocks go round-robin to
    // the splits, and a split's blocks round-robin to its sub-splits.
    // The fake's row ids count up from 0, far below 2^53: plain numbers are exact and fast.
    const blockRows = this.rowGroupRows * rowGroups;
    const subSplitOf = (rowId: bigint): number | undefined => {
      const block = Math.floor(Number(rowId) / blockRows);
      if (block % splits !== splitId) return undefined;
      const subSplit = Math.floor(block / splits) % subSplits;
      return starts[subSplit] === NO_MORE_ROWS || rowId < starts[subSplit]! ? undefined : subSplit;
    };
    const bySubSplit: FakeRow[][] = starts.map(() => []);
    for (const row of this.visibleRows(tx, entry, (rowId) => subSplitOf(rowId) !== undefined)) {
      if (parsed.matches(row)) bySubSplit[subSplitOf(row[ROW_ID] as bigint)!]!.push(row);
    }
    const pages: AnswerPage[] = [];
    bySubSplit.forEach((candidates, subSplit) => {
      if (starts[subSplit] === NO_MORE_ROWS) return;
      const taken = candidates.slice(0, limit);
      const lastPage = Math.max(1, Math.ceil(taken.length / this.maxRowsPerPage));
      for (let index = 0; index < lastPage; index += 1) {
        const rows = taken.slice(index * this.maxRowsPerPage, (index + 1) * this.maxRowsPerPage);
        const last = rows[rows.length - 1];
        const finished = index === lastPage - 1 && taken.length === candidates.length;
        pages.push({ subSplit, nextRowId: finished || last === undefined ? NO_MORE_ROWS : (last[ROW_ID] as bigint) + 1n, rows });
      }
    });
    record.pages = pages.length;
    record.limitRows = limit;
    record.subSplitsWithRows = [...new Set(pages.filter((page) => page.rows.length > 0).map((page) => page.subSplit))].sort((a, b) => a - b);
    record.rows = pages.reduce((sum, page) => sum + page.rows.length, 0);
    return { body: frameAnswer(pages, parsed.answerColumns, this.keepAliveEvery) };
  }
}
