/**
 * One VAST transaction: begun by `POST /?transaction` (VAST answers its id in `tabular-txid`),
 * ended by `PUT /?transaction` (commit) or `DELETE /?transaction` (rollback), the id sent with
 * every request between (vastdb/transaction.py, vastdb/_internal.py begin/commit/rollback).
 * Every operation on VAST's catalog (schemas, tables, columns) and rows runs inside one.
 *
 * Listings page through `tabular-max-keys` / `tabular-next-key` and stop when
 * `tabular-is-truncated` is not `true`, as the Python SDK pages them.
 */
import { encodeCreateSchemaRequest, decodeListSchemasResponse, decodeListTablesResponse, type VastTableInfo } from '../protocol/tabular-messages';
import { decodeColumnList, encodeTableSchema } from '../protocol/table-schema';
import type { VastColumn } from '../protocol/vast-columns';
import { VastProtocolError } from '../protocol/vast-protocol-error';
import type { VastResponse } from '../transport/vast-transport';
import { commonHeaders, type SelectSettings, type TransactionContext, type VastRequester } from './transaction-context';
import { VastTable, type VastTableDefinition } from './vast-table';

export type VastTransactionState = 'open' | 'committed' | 'rolled_back' | 'failed';

export interface CreateOptions {
  /** Do nothing when it already exists (checked by an exact-name listing first, as the Python SDK checks). */
  readonly ifNotExists?: boolean;
}

export interface TransactionSettings {
  readonly transport: VastRequester;
  readonly bucket: string;
  readonly clientName: string;
  readonly select: SelectSettings;
  /** Entries asked for per listing page (`tabular-max-keys`). */
  readonly listPageSize: number;
}

type Listed = { response: VastResponse; nextKey: string; truncated: boolean };

export class VastTransaction {
  private status: VastTransactionState = 'open';
  private readonly context: TransactionContext;

  constructor(
    /** VAST's transaction id (`tabular-txid`), an unsigned 64-bit number. */
    readonly id: bigint,
    private readonly settings: TransactionSettings,
  ) {
    this.context = {
      transport: settings.transport,
      bucket: settings.bucket,
      select: settings.select,
      headers: (operation) => {
        if (this.status !== 'open') throw new Error(`${operation}: the VAST transaction ${this.id} is ${this.status}`);
        return commonHeaders(this.id, settings.clientName);
      },
    };
  }

  get state(): VastTransactionState {
    return this.status;
  }

  /** Makes the transaction's writes visible to others. A conflict answers 409 (VastRequestError kind `conflict`). */
  async commit(): Promise<void> {
    await this.end('PUT', 'commit transaction', 'committed');
  }

  /** Discards the transaction's writes; also after a failed commit or rollback (VAST may have ended it already). */
  async rollback(): Promise<void> {
    await this.end('DELETE', 'rollback transaction', 'rolled_back');
  }

  private async end(method: 'PUT' | 'DELETE', operation: string, next: VastTransactionState): Promise<void> {
    const failedBefore = method === 'DELETE' && this.status === 'failed';
    const headers = failedBefore ? commonHeaders(this.id, this.settings.clientName) : this.context.headers(operation);
    try {
      await this.settings.transport.request({ method, operation, path: [], verb: 'transaction', headers });
      this.status = next;
    } catch (error) {
      this.status = 'failed';
      throw error;
    }
  }

  async createSchema(name: string, options: CreateOptions = {}): Promise<void> {
    if (options.ifNotExists === true && (await this.schemaExists(name))) return;
    const operation = `create schema ${name}`;
    const body = encodeCreateSchemaRequest();
    await this.settings.transport.request({
      method: 'POST',
      operation,
      path: [this.settings.bucket, name],
      verb: 'schema',
      headers: this.context.headers(operation),
      body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    });
  }

  /** The bucket's top-level schemas, by name. */
  async listSchemas(): Promise<string[]> {
    const names: string[] = [];
    await this.list('list schemas', [this.settings.bucket], 'schema', {}, (body) => {
      names.push(...decodeListSchemasResponse(body).schemas.map((schema) => schema.name));
    });
    return names;
  }

  async schemaExists(name: string): Promise<boolean> {
    let found = false;
    await this.list(`find schema ${name}`, [this.settings.bucket], 'schema', { 'tabular-name-exact-match': name }, (body) => {
      found ||= decodeListSchemasResponse(body).schemas.some((schema) => schema.name === name);
    });
    return found;
  }

  /** Creates the table with its columns (VAST adds `$row_id`). */
  async createTable(definition: VastTableDefinition, options: CreateOptions = {}): Promise<VastTable> {
    const table = this.table(definition);
    if (options.ifNotExists === true && (await this.tableExists(definition.schema, definition.name))) return table;
    if (definition.columns.length === 0) throw new TypeError(`table ${definition.schema}/${definition.name} needs at least one column`);
    const operation = `create table ${definition.schema}/${definition.name}`;
    await this.sendSchemaMessage('POST', operation, 'table', [definition.schema, definition.name], definition.columns);
    return table;
  }

  async listTables(schema: string): Promise<VastTableInfo[]> {
    const tables: VastTableInfo[] = [];
    await this.list(`list tables of ${schema}`, [this.settings.bucket, schema], 'table', {}, (body) => {
      tables.push(...decodeListTablesResponse(body).tables);
    });
    return tables;
  }

  async tableExists(schema: string, name: string): Promise<boolean> {
    let found = false;
    await this.list(`find table ${schema}/${name}`, [this.settings.bucket, schema], 'table', { 'tabular-name-exact-match': name }, (body) => {
      found ||= decodeListTablesResponse(body).tables.some((table) => table.name === name);
    });
    return found;
  }

  /** The table's columns as VAST lists them (`$row_id` not among them). */
  async listColumns(schema: string, table: string): Promise<VastColumn[]> {
    const columns: VastColumn[] = [];
    await this.list(`list columns of ${schema}/${table}`, [this.settings.bucket, schema, table], 'column', {}, (body) => {
      columns.push(...decodeColumnList(body));
    });
    return columns;
  }

  /**
   * Adds columns to an existing table (a migration). They must be nullable: the rows already
   * there have no value for them.
   */
  async addColumns(schema: string, table: string, columns: readonly VastColumn[]): Promise<void> {
    const operation = `add columns to ${schema}/${table}`;
    if (columns.length === 0) throw new TypeError(`${operation}: no column`);
    const required = columns.find((column) => !column.nullable);
    if (required !== undefined) throw new TypeError(`${operation}: ${required.name} must be nullable, existing rows have no value for it`);
    await this.sendSchemaMessage('POST', operation, 'column', [schema, table], columns);
  }

  /** The table, for row operations in this transaction; nothing is asked of VAST. */
  table(definition: VastTableDefinition): VastTable {
    return new VastTable(this.context, definition);
  }

  /** The table with the columns VAST lists for it now. */
  async openTable(schema: string, name: string): Promise<VastTable> {
    return this.table({ schema, name, columns: await this.listColumns(schema, name) });
  }

  private async sendSchemaMessage(method: 'POST', operation: string, verb: string, names: readonly string[], columns: readonly VastColumn[]): Promise<void> {
    const body = encodeTableSchema(columns);
    await this.settings.transport.request({
      method,
      operation,
      path: [this.settings.bucket, ...names],
      verb,
      headers: this.context.headers(operation),
      body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    });
  }

  /** Every page of a listing, each body handed to `read`. */
  private async list(operation: string, path: readonly string[], verb: string, filter: Record<string, string>, read: (body: Uint8Array) => void): Promise<void> {
    let nextKey = '0';
    for (;;) {
      const page = await this.listPage(operation, path, verb, filter, nextKey);
      read(page.response.body);
      if (!page.truncated) return;
      if (page.nextKey === nextKey) throw new VastProtocolError('malformed', `${operation}: a truncated listing did not move its next key (${nextKey})`);
      nextKey = page.nextKey;
    }
  }

  private async listPage(operation: string, path: readonly string[], verb: string, filter: Record<string, string>, nextKey: string): Promise<Listed> {
    const response = await this.settings.transport.request({
      method: 'GET',
      operation,
      path,
      verb,
      headers: {
        ...this.context.headers(operation),
        'tabular-max-keys': String(this.settings.listPageSize),
        'tabular-next-key': nextKey,
        ...('tabular-name-exact-match' in filter ? filter : { 'tabular-name-prefix': '' }),
      },
    });
    const header = (name: string): string | undefined => {
      const value = response.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const truncated = header('tabular-is-truncated') === 'true';
    const next = header('tabular-next-key');
    if (truncated && (next === undefined || !/^\d+$/.test(next))) {
      throw new VastProtocolError('malformed', `${operation}: a truncated listing without a numeric tabular-next-key`);
    }
    return { response, nextKey: next ?? nextKey, truncated };
  }
}
