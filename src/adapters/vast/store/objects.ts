/**
 * Objects in VAST: allocation (allocateObjects), the rows segment registration reads and
 * registers, and getObjects. The rows hold the SQL stores' `objects` columns with the same text
 * (sql-common's ObjectRow), so sql-common's SegmentChecks applies the same rules to them.
 *
 * VAST has no unique keys: two transactions could each find an id free and both insert it. So
 * every transaction that creates or registers object rows first updates the `objects` row of
 * `store_guards` (store-guards.ts): two of them conflict, and the loser's rerun sees the
 * winner's row (`object_exists`, or the object registered).
 */
import type { ObjectRecord } from '../../../domain/entities';
import { TamsError } from '../../../domain/errors';
import type { NewObjectAllocation } from '../../../ports/metadata-store';
import { fitsSegmentRow, objectRecord, type ObjectRow } from '../../sql-common/rows';
import type { VastClient } from '../client/vast-client';
import type { VastRecord } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';
import type { VastRow } from '../protocol/row-batches';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { refuseWhileBeingDeleted } from './deletion-requests';
import { compareText } from './list-order';
import { selectByIds } from './select-by-ids';
import { updateStoreGuard } from './store-guards';
import { OBJECTS_GUARD_NAME, type VastStoreTables } from './vast-tables';

/** An object row as read, with its `$row_id` for an update. */
export interface StoredObject {
  readonly rowId: bigint;
  readonly row: ObjectRow;
}

function toObjectRow(record: VastRecord): ObjectRow {
  const text = (name: string): string | null => (typeof record[name] === 'string' ? (record[name]) : null);
  const kfc = record.key_frame_count;
  return {
    id: record.id as string,
    storage_id: text('storage_id'),
    storage_key: text('storage_key'),
    allocated_for_flow: text('allocated_for_flow'),
    content_type: text('content_type'),
    role: text('role') as ObjectRow['role'],
    registered: record.registered === true ? 1 : 0,
    key_frame_count: typeof kfc === 'bigint' ? Number(kfc) : null,
    timerange: text('timerange'),
    init_object_id: text('init_object_id'),
    first_referenced_by_flow: text('first_referenced_by_flow'),
    get_urls: record.get_urls as string,
    created: record.created as string,
  };
}

/** The object row as VAST keeps it. */
export function objectRecordRow(row: ObjectRow): VastRow {
  return { ...row, registered: row.registered === 1, key_frame_count: row.key_frame_count === null ? null : BigInt(row.key_frame_count) };
}

/** The stored rows of the objects `ids` names (absent ids: no entry). */
export async function readObjectRows(tx: VastTransaction, tables: VastStoreTables, ids: Iterable<string>): Promise<Map<string, StoredObject>> {
  const rows = new Map<string, StoredObject>();
  for (const record of await selectByIds(tx, tables.objects, 'id', ids, { withRowId: true })) {
    const row = toObjectRow(record);
    if (rows.has(row.id)) throw new Error(`object ${row.id} has more than one row`);
    rows.set(row.id, { rowId: record[ROW_ID_COLUMN_NAME] as bigint, row });
  }
  return rows;
}

/** See MetadataStore.allocateObjects (the deletion-request check is not there yet: no deletion requests in VAST). */
export async function allocateObjects(client: VastClient, tables: VastStoreTables, flowId: string, objects: readonly NewObjectAllocation[], now: string): Promise<void> {
  if (objects.length === 0) return;
  for (const o of objects) {
    if (!fitsSegmentRow(o.storage_id) || !fitsSegmentRow(o.key)) throw new Error(`Storage id or key of object ${o.id} is empty or holds U+001E or U+001F`);
  }
  await client.withTransaction(async (tx) => {
    await updateStoreGuard(tx, tables, OBJECTS_GUARD_NAME);
    await refuseWhileBeingDeleted(tx, tables, flowId, 'segments');
    const existing = await readObjectRows(tx, tables, objects.map((o) => o.id));
    const seen = new Set<string>();
    for (const o of objects) {
      if (seen.has(o.id) || existing.has(o.id)) throw new TamsError('object_exists', `Object ${o.id} already exists`);
      seen.add(o.id);
    }
    await tx.table(tables.objects).insert(
      objects.map((o) =>
        objectRecordRow({
          id: o.id,
          storage_id: o.storage_id,
          storage_key: o.key,
          allocated_for_flow: flowId,
          content_type: o.content_type ?? null,
          role: null,
          registered: 0,
          key_frame_count: null,
          timerange: null,
          init_object_id: null,
          first_referenced_by_flow: null,
          get_urls: '[]',
          created: now,
        }),
      ),
    );
  });
}

/**
 * See MetadataStore.getObjects. The flows referencing an object are read from the segment rows
 * naming it (as media or init object): every such row, since VAST cannot skip to the next
 * distinct flow as the SQL stores' indexes do (an init object of a million segments reads a
 * million flow ids).
 */
export async function getObjects(client: VastClient, tables: VastStoreTables, ids: readonly string[]): Promise<(ObjectRecord | undefined)[]> {
  if (ids.length === 0) return [];
  return client.withTransaction(async (tx) => {
    const rows = await readObjectRows(tx, tables, ids);
    const flows = new Map<string, Set<string>>();
    const known = [...rows.keys()];
    for (const name of ['object_id', 'init_object_id']) {
      for (const record of await selectByIds(tx, tables.segments, name, known, { columns: [name, 'flow_id'] })) {
        const id = record[name] as string;
        let set = flows.get(id);
        if (set === undefined) flows.set(id, (set = new Set()));
        set.add(record.flow_id as string);
      }
    }
    return ids.map((id) => {
      const stored = rows.get(id);
      return stored === undefined ? undefined : toObjectRecord(stored.row, [...(flows.get(id) ?? [])]);
    });
  });
}

/** As the SQL stores build it (referenced_by_flows sorted as SQLite sorts text). */
function toObjectRecord(row: ObjectRow, flows: string[]): ObjectRecord {
  return objectRecord(row, flows.sort(compareText));
}
