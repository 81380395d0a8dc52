/**
 * Deletion requests in VAST (`deletion_requests`: id, flow_id, status, created, expiry and the SQL
 * stores' JSON `doc`) and the refusal of writes to a flow that has an unfinished one, with the
 * SQLite store's rules (sqlite-metadata-store.ts: refuseWhileDeleting, putDeletionRequest,
 * advanceDeletionRequest, the deletion request listings).
 *
 * Kept apart from deletions.ts so that the writers that must refuse (documents.ts, objects.ts,
 * segment-registration.ts) can import the refusal without an import cycle: this module reads
 * the guard and counter rows itself rather than through those modules.
 *
 * Race safety. VAST has no locks: a check (a read) and a write that must not pass it conflict
 * only if both transactions write one row. A new request therefore writes every row the
 * refusing writers write anyway, so whichever commits second is refused (409) and runs again in a
 * snapshot that shows the first:
 * - the flow's guard row: segment registration and segment deletion update it;
 * - the `objects` store guard row: allocateObjects updates it first;
 * - the outbox counter row: putFlow and updateFlow claim it first (outbox.ts claimOutboxCounter);
 * - the `deletion_requests` store guard row: two puts (one id twice, or two requests for one
 *   flow) meet there.
 * Requests are few, so the conflicts they cause with other writers cost little.
 */
import type { DeletionRequest } from '../../../domain/entities';
import type { DeletionProgress, Page, PageRequest } from '../../../ports/metadata-store';
import { parseListCursor } from '../../sql-common/cursors';
import { DELETION_SORT, deletionRefusal, plain } from '../../sql-common/store-helpers';
import { allOf, anyOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { compareText, keysetPage, type KeyedRow } from './list-order';
import { updateStoreGuard } from './store-guards';
import { claimOutboxCounter } from './outbox';
import { OBJECTS_GUARD_NAME, type VastStoreTables } from './vast-tables';

const UNFINISHED = ['created', 'started'] as const;
const FINISHED = ['done', 'error'] as const;

function statusIn(statuses: readonly string[]) {
  return anyOf(...statuses.map((s) => column('status').equal(s)));
}

interface StoredRequest {
  readonly rowId: bigint;
  readonly request: DeletionRequest;
}

async function readRequest(tx: VastTransaction, tables: VastStoreTables, id: string): Promise<StoredRequest | undefined> {
  const rows = await tx.table(tables.deletionRequests).select({ columns: ['doc'], filter: allOf(column('id').equal(id)), withRowId: true });
  if (rows.length > 1) throw new Error(`deletion request ${id} has ${rows.length} rows`);
  const row = rows[0];
  return row === undefined ? undefined : { rowId: row[ROW_ID_COLUMN_NAME] as bigint, request: JSON.parse(row.doc as string) as DeletionRequest };
}

/** Inserts the request, or replaces the row `rowId` (the columns follow the document, as the SQL stores' upsert). */
async function storeRequest(tx: VastTransaction, tables: VastStoreTables, request: DeletionRequest, rowId: bigint | undefined): Promise<void> {
  const doc = plain(request);
  const row = { id: doc.id, flow_id: doc.flow_id, status: doc.status, created: doc.created ?? null, expiry: doc.expiry ?? null, doc: JSON.stringify(doc) };
  const table = tx.table(tables.deletionRequests);
  if (rowId === undefined) await table.insert([row]);
  else await table.update(['flow_id', 'status', 'created', 'expiry', 'doc'], [{ ...row, [ROW_ID_COLUMN_NAME]: rowId }]);
}

/**
 * SQLite's `max(json_extract(doc, '$.delete_flow'))` over the flow's unfinished requests: 1 when
 * one deletes the flow, 0 when they delete segments only, null when there is none (or none says).
 */
function pendingDeletion(requests: readonly DeletionRequest[]): number | null {
  let max: number | null = null;
  for (const r of requests) {
    const value = r.delete_flow as unknown;
    const n = value === true ? 1 : value === false ? 0 : typeof value === 'number' ? value : null;
    if (n !== null && (max === null || n > max)) max = n;
  }
  return max;
}

/**
 * Fails with `flow_being_deleted` while the flow has an unfinished deletion request: `scope`
 * 'segments' for any request (segments, storage; the SQL stores' 'media'), 'metadata' when the
 * request deletes the flow itself. See the module comment for why a concurrent new request
 * cannot slip past it.
 */
export async function refuseWhileBeingDeleted(tx: VastTransaction, tables: VastStoreTables, flowId: string, scope: 'segments' | 'metadata'): Promise<void> {
  const rows = await tx.table(tables.deletionRequests).select({ columns: ['doc'], filter: allOf(column('flow_id').equal(flowId), statusIn(UNFINISHED)) });
  const deleteFlow = pendingDeletion(rows.map((r) => JSON.parse(r.doc as string) as DeletionRequest));
  const refusal = deletionRefusal(flowId, deleteFlow, scope === 'segments' ? 'media' : 'metadata');
  if (refusal) throw refusal;
}

/**
 * Writes the rows every writer that refuses (refuseWhileBeingDeleted) writes too (see the module
 * comment), in the order the writers take them (the outbox counter first, as outbox.ts
 * claimOutboxCounter does, then the flow's guard row, then store guard rows), so that two
 * transactions never each hold a row the other needs next.
 */
async function meetFlowWriters(tx: VastTransaction, tables: VastStoreTables, flowId: string): Promise<void> {
  // No seq is taken, but every event writer now conflicts with this transaction.
  await claimOutboxCounter(tx, tables);
  const guards = tx.table(tables.flowGuards);
  const rows = await guards.select({ columns: ['version'], filter: allOf(column('flow_id').equal(flowId)), withRowId: true });
  for (const row of rows) await guards.update(['version'], [{ [ROW_ID_COLUMN_NAME]: row[ROW_ID_COLUMN_NAME] as bigint, version: (row.version as bigint) + 1n }]);
  await updateStoreGuard(tx, tables, OBJECTS_GUARD_NAME);
  await updateStoreGuard(tx, tables, 'deletion_requests');
}

export async function getDeletionRequest(client: VastClient, tables: VastStoreTables, id: string): Promise<DeletionRequest | undefined> {
  return (await client.withTransaction((tx) => readRequest(tx, tables, id)))?.request;
}

/** Creates or replaces a request; a new one for a flow with an unfinished request fails with `flow_being_deleted`. */
export async function putDeletionRequest(client: VastClient, tables: VastStoreTables, request: DeletionRequest): Promise<void> {
  await client.withTransaction(async (tx) => {
    await meetFlowWriters(tx, tables, request.flow_id);
    const existing = await readRequest(tx, tables, request.id);
    if (existing === undefined) await refuseWhileBeingDeleted(tx, tables, request.flow_id, 'segments');
    await storeRequest(tx, tables, request, existing?.rowId);
  });
}

/**
 * Stores a worker's progress if the stored request is the version it follows (DeletionProgress);
 * false (nothing written) otherwise. Two workers advancing one request update one row: the
 * second is run again and finds the first's version.
 */
export async function advanceDeletionRequest(tx: VastTransaction, tables: VastStoreTables, progress: DeletionProgress): Promise<boolean> {
  const stored = await readRequest(tx, tables, progress.request.id);
  if (stored === undefined || stored.request.updated !== progress.replaces) return false;
  await storeRequest(tx, tables, progress.request, stored.rowId);
  return true;
}

/** Newest created first, unset last, ties by id (the SQL stores' keyset order and cursor). Requests are few: one select reads them all. */
export async function listDeletionRequests(client: VastClient, tables: VastStoreTables, page: PageRequest): Promise<Page<DeletionRequest>> {
  const cursor = page.after === undefined ? undefined : parseListCursor(page.after, DELETION_SORT);
  return client.withTransaction(async (tx) => {
    const rows = await tx.table(tables.deletionRequests).select({ columns: ['id', 'created', 'doc'] });
    const candidates = rows.map((r) => ({ id: r.id as string, key: typeof r.created === 'string' ? r.created : null, doc: r.doc as string }));
    const order = { sort: DELETION_SORT, newestFirst: true, reverse: false };
    return keysetPage(candidates, order, cursor, page.limit, (chunk: readonly (KeyedRow & { doc: string })[]) => Promise.resolve(chunk.map((c) => JSON.parse(c.doc) as DeletionRequest)));
  });
}

/** Requests still `created` or `started`, oldest created first (unset first, as SQLite orders NULL), then by id. */
export async function listUnfinishedDeletionRequests(client: VastClient, tables: VastStoreTables, limit: number): Promise<DeletionRequest[]> {
  const rows = await client.withTransaction((tx) => tx.table(tables.deletionRequests).select({ columns: ['id', 'created', 'doc'], filter: allOf(statusIn(UNFINISHED)) }));
  const created = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  rows.sort((a, b) => {
    const x = created(a.created);
    const y = created(b.created);
    const c = x === y ? 0 : x === null ? -1 : y === null ? 1 : compareText(x, y);
    return c || compareText(a.id as string, b.id as string);
  });
  // SQLite reads a negative LIMIT as none.
  return (limit < 0 ? rows : rows.slice(0, limit)).map((r) => JSON.parse(r.doc as string) as DeletionRequest);
}

/** Deletes finished (`done`, `error`) requests whose expiry is before `now` (compared as SQLite compares text); returns how many. */
export async function deleteExpiredDeletionRequests(client: VastClient, tables: VastStoreTables, now: string): Promise<number> {
  return client.withTransaction(async (tx) => {
    const table = tx.table(tables.deletionRequests);
    const rows = await table.select({ columns: ['expiry'], filter: allOf(statusIn(FINISHED), column('expiry').isValid()), withRowId: true });
    const expired = rows.filter((r) => compareText(r.expiry as string, now) < 0).map((r) => r[ROW_ID_COLUMN_NAME] as bigint);
    if (expired.length > 0) await table.delete(expired);
    return expired.length;
  });
}
