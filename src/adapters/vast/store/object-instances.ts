/**
 * Instances of registered objects in VAST: the SQL stores' addObjectInstance /
 * removeObjectInstance / storageIdsInUse and object-storage.ts add / remove, the same rules,
 * errors and messages.
 *
 * The list of an object's controlled instances is the copy in its `objects` row (storage_id /
 * storage_key, U+001F-joined, oldest first: sql-common's joinInstances), which allocation writes
 * and every change here rewrites with the copies in the segment rows naming the object (as media
 * or init object). `object_instances` rows keep when each instance was added (the SQL stores
 * order instances by that time, then storage id); an instance without one, the one allocation
 * made, dates from the object's creation, as in the SQL stores.
 *
 * Race safety: every change updates the object's row first, so two changes of one object
 * conflict (VAST refuses the second writer of a row) and the loser runs again on the winner's
 * list; collection deletes that row, so it conflicts with them too (object-gc.ts).
 */
import type { ObjectStorageRef, UncontrolledUrl } from '../../../domain/entities';
import { TamsError } from '../../../domain/errors';
import { jsonString } from '../../../domain/json-text';
import type { InstanceSelector } from '../../../ports/metadata-store';
import { editedUrlsTail, fitsSegmentRow, joinInstances, splitInstances } from '../../sql-common/rows';
import { allOf, column } from '../client/filter';
import type { VastClient } from '../client/vast-client';
import type { VastTransaction } from '../client/vast-transaction';
import { ROW_ID_COLUMN_NAME } from '../protocol/vast-columns';
import { compareText } from './list-order';
import { queueByteDeletions } from './object-gc';
import { readObjectRows, type StoredObject } from './objects';
import type { VastStoreTables } from './vast-tables';

/** See MetadataStore.addObjectInstance and SqliteMetadataStore.addObjectInstance. */
export async function addObjectInstance(client: VastClient, tables: VastStoreTables, objectId: string, instance: UncontrolledUrl | ObjectStorageRef): Promise<void> {
  await client.withTransaction(async (tx) => {
    const stored = await registeredObject(tx, tables, objectId);
    if ('storage_id' in instance) {
      await addControlled(tx, tables, stored, { storage_id: instance.storage_id, key: instance.key }, new Date().toISOString());
      return;
    }
    const urls = JSON.parse(stored.row.get_urls) as UncontrolledUrl[];
    if (urls.some((u) => u.label === instance.label)) {
      throw new TamsError('instance_conflict', `Object ${objectId} already has an instance labelled ${instance.label}`);
    }
    const added: UncontrolledUrl = { url: instance.url, label: instance.label };
    await setObjectUrls(tx, tables, stored, [...urls, added]);
    await editSegmentUrls(tx, tables, objectId, (list) => [...list.filter((u) => u.label !== added.label), added]);
  });
}

/** See MetadataStore.removeObjectInstance and SqliteMetadataStore.removeObjectInstance. */
export async function removeObjectInstance(
  client: VastClient,
  tables: VastStoreTables,
  objectId: string,
  selector: InstanceSelector,
  bytesNotBefore?: string,
): Promise<ObjectStorageRef | undefined> {
  return client.withTransaction(async (tx) => {
    const stored = await registeredObject(tx, tables, objectId);
    const urls = JSON.parse(stored.row.get_urls) as UncontrolledUrl[];
    const controlled = splitInstances(stored.row.storage_id, stored.row.storage_key) ?? [];
    if ('storage_id' in selector) {
      const removed = controlled.find((i) => i.storage_id === selector.storage_id);
      if (removed === undefined) throw new TamsError('not_found', `Object ${objectId} has no instance on storage backend ${selector.storage_id}`);
      if (urls.length + controlled.length - 1 === 0) throw new TamsError('last_instance', `Object ${objectId} has no other instance`);
      const now = new Date().toISOString();
      await copyToRows(
        tx,
        tables,
        stored,
        controlled.filter((i) => i !== removed),
      );
      const rows = await instanceRows(tx, tables, objectId);
      const gone = rows.filter((r) => r.storage_id === removed.storage_id).map((r) => r.rowId);
      if (gone.length > 0) await tx.table(tables.objectInstances).delete(gone);
      await queueByteDeletions(tx, tables, [removed], now, bytesNotBefore ?? now);
      return removed;
    }
    const label = selector.label;
    if (!urls.some((u) => u.label === label)) throw new TamsError('not_found', `Object ${objectId} has no instance labelled ${label}`);
    const remaining = urls.filter((u) => u.label !== label);
    if (remaining.length + controlled.length === 0) throw new TamsError('last_instance', `Object ${objectId} has no other instance`);
    await setObjectUrls(tx, tables, stored, remaining);
    await editSegmentUrls(tx, tables, objectId, (list) => list.filter((u) => u.label !== label));
    return undefined;
  });
}

/**
 * See MetadataStore.storageIdsInUse: read from the objects' copies (every object's row, as VAST
 * has no index to skip between distinct ids), sorted as the SQL stores' skip scan returns them.
 */
export async function storageIdsInUse(client: VastClient, tables: VastStoreTables): Promise<string[]> {
  const rows = await client.withTransaction((tx) => tx.table(tables.objects).select({ columns: ['storage_id', 'storage_key'], filter: allOf(column('storage_id').isValid()) }));
  const ids = new Set<string>();
  for (const r of rows) {
    for (const i of splitInstances(r.storage_id as string, (r.storage_key ?? null) as string | null) ?? []) ids.add(i.storage_id);
  }
  return [...ids].sort(compareText);
}

/** The object's row; `not_found` unless it is registered. */
async function registeredObject(tx: VastTransaction, tables: VastStoreTables, objectId: string): Promise<StoredObject> {
  const stored = (await readObjectRows(tx, tables, [objectId])).get(objectId);
  if (stored === undefined || stored.row.registered !== 1) throw new TamsError('not_found', `Object ${objectId} does not exist`);
  return stored;
}

interface InstanceRow {
  readonly rowId: bigint;
  readonly storage_id: string;
  readonly created: string;
}

async function instanceRows(tx: VastTransaction, tables: VastStoreTables, objectId: string): Promise<InstanceRow[]> {
  const rows = await tx.table(tables.objectInstances).select({ columns: ['storage_id', 'created'], filter: allOf(column('object_id').equal(objectId)), withRowId: true });
  return rows.map((r) => ({ rowId: r[ROW_ID_COLUMN_NAME] as bigint, storage_id: r.storage_id as string, created: r.created as string }));
}

/** See SqliteObjectStorage.add: `instance_conflict` when that backend already holds one; the new one takes its place by (added, storage id). */
async function addControlled(tx: VastTransaction, tables: VastStoreTables, stored: StoredObject, instance: ObjectStorageRef, now: string): Promise<void> {
  const objectId = stored.row.id;
  const current = splitInstances(stored.row.storage_id, stored.row.storage_key) ?? [];
  if (current.some((i) => i.storage_id === instance.storage_id)) {
    throw new TamsError('instance_conflict', `Object ${objectId} already has an instance on storage backend ${instance.storage_id}`);
  }
  // Minted by the object store, never client text: a window row could not carry them (SegmentRow).
  if (!fitsSegmentRow(instance.storage_id) || !fitsSegmentRow(instance.key)) {
    throw new Error(`Storage id or key of object ${objectId} is empty or holds U+001E or U+001F`);
  }
  const added = new Map((await instanceRows(tx, tables, objectId)).map((r) => [r.storage_id, r.created]));
  const dated = [...current.map((i) => ({ i, created: added.get(i.storage_id) ?? stored.row.created })), { i: instance, created: now }];
  dated.sort((a, b) => compareText(a.created, b.created) || compareText(a.i.storage_id, b.i.storage_id));
  await copyToRows(
    tx,
    tables,
    stored,
    dated.map((d) => d.i),
  );
  await tx.table(tables.objectInstances).insert([{ object_id: objectId, storage_id: instance.storage_id, storage_key: instance.key, created: now }]);
}

/** Writes the copies of an object's instances into its row (first: see the module comment) and into every segment row naming it. */
async function copyToRows(tx: VastTransaction, tables: VastStoreTables, stored: StoredObject, instances: readonly ObjectStorageRef[]): Promise<void> {
  const { ids, keys } = joinInstances(instances);
  await tx.table(tables.objects).update(['storage_id', 'storage_key'], [{ [ROW_ID_COLUMN_NAME]: stored.rowId, storage_id: ids, storage_key: keys }]);
  const segments = tx.table(tables.segments);
  for (const [name, idColumn, keyColumn] of [
    ['object_id', 'object_storage_id', 'object_storage_key'],
    ['init_object_id', 'init_storage_id', 'init_storage_key'],
  ] as const) {
    const rows = await segments.select({ columns: ['end_ns'], filter: allOf(column(name).equal(stored.row.id)), withRowId: true });
    if (rows.length === 0) continue;
    await segments.update(
      [idColumn, keyColumn],
      rows.map((r) => ({ [ROW_ID_COLUMN_NAME]: r[ROW_ID_COLUMN_NAME] as bigint, [idColumn]: ids, [keyColumn]: keys })),
    );
  }
}

async function setObjectUrls(tx: VastTransaction, tables: VastStoreTables, stored: StoredObject, urls: readonly UncontrolledUrl[]): Promise<void> {
  await tx.table(tables.objects).update(['get_urls'], [{ [ROW_ID_COLUMN_NAME]: stored.rowId, get_urls: JSON.stringify(urls) }]);
}

/** Rewrites the get_urls copy in `json_head` of every segment row of a media object (see SqliteMetadataStore.editSegmentUrls). */
async function editSegmentUrls(tx: VastTransaction, tables: VastStoreTables, objectId: string, edit: (urls: UncontrolledUrl[]) => UncontrolledUrl[]): Promise<void> {
  const segments = tx.table(tables.segments);
  const rows = await segments.select({ columns: ['json_head'], filter: allOf(column('object_id').equal(objectId)), withRowId: true });
  const changed: { [ROW_ID_COLUMN_NAME]: bigint; json_head: string }[] = [];
  for (const row of rows) {
    const tail = editedUrlsTail(row.json_head as string, edit);
    if (tail !== undefined) changed.push({ [ROW_ID_COLUMN_NAME]: row[ROW_ID_COLUMN_NAME] as bigint, json_head: `{"object_id":${jsonString(objectId)}${tail}` });
  }
  if (changed.length > 0) await segments.update(['json_head'], changed);
}
