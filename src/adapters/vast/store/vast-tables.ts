/**
 * The VAST tables of the metadata store (those of the SQL stores' schema, the per-flow and store
 * guard rows, the outbox counter row, the schema version), and `ensureVastTables`, which creates
 * them.
 *
 * VAST has no primary keys, unique constraints or indexes the gateway can declare: each table is
 * a bag of rows with an internal `$row_id`. What a key would enforce in SQL is enforced by the
 * store's transactions (guard rows and the counter row, see segment-registration.ts and
 * outbox.ts). Times are int64 nanoseconds, half-open `[start_ns, end_ns)`, with INT64_MIN and
 * INT64_MAX for unbounded ends, exactly the integers the SQL stores keep.
 */
import type { VastClient } from '../client/vast-client';
import type { VastTableDefinition } from '../client/vast-table';
import type { VastTransaction } from '../client/vast-transaction';

/** The layout version these definitions are; recorded in `schema_version` when the tables are made. */
export const VAST_SCHEMA_VERSION = 1n;

/** The one row of `outbox_counter` (there are no keys: the name says which row it is). */
export const OUTBOX_COUNTER_NAME = 'outbox';

/** The `store_guards` row every transaction creating or registering object rows updates (objects.ts). */
export const OBJECTS_GUARD_NAME = 'objects';

/**
 * Every `store_guards` row. A transaction that must not run beside another of its kind (two
 * inserts of one key would both succeed: VAST has no unique keys) updates the kind's row first,
 * so the two conflict and one is run again (store-guards.ts).
 */
export const STORE_GUARD_NAMES = [OBJECTS_GUARD_NAME, 'object_instances', 'object_deletions', 'leases', 'profiles', 'webhooks', 'deletion_requests', 'settings'] as const;
export type StoreGuardName = (typeof STORE_GUARD_NAMES)[number];

export interface VastStoreTables {
  /** One row per source: the SQL stores' `sources` columns, `doc` the same JSON text. */
  readonly sources: VastTableDefinition;
  /**
   * One row per flow: the SQL stores' `flows` columns that VAST can narrow on (equality), the
   * sort keys and `doc` (the same JSON text). segments_updated and the segment count are on the
   * flow's guard row, which segment writers update anyway.
   */
  readonly flows: VastTableDefinition;
  /** One row per object: the SQL stores' `objects` columns (storage_id / storage_key the U+001F-joined copy of its instances). */
  readonly objects: VastTableDefinition;
  /** Named rows (`objects`) that writers of a kind of row update, so that two of them conflict (no unique keys). */
  readonly storeGuards: VastTableDefinition;
  /** One row per segment: the columns of the SQL stores' `segments` table, same meaning and text. */
  readonly segments: VastTableDefinition;
  /**
   * One row per flow, updated by every transaction that writes the flow's segments (so two such
   * transactions conflict), and holding the flow's segment count and the bounds of its segments
   * (`min_start_ns` at or before every start, `max_end_ns` at or after every end; loose after
   * deletions) that the window query probes from.
   */
  readonly flowGuards: VastTableDefinition;
  /** Committed events, by `seq`. */
  readonly outbox: VastTableDefinition;
  /** One row: the last seq handed out. Read, incremented and written by every event-writing transaction. */
  readonly outboxCounter: VastTableDefinition;
  /** One row: the layout version. */
  readonly schemaVersion: VastTableDefinition;
  /** `key`/`value` pairs (the service info document). */
  readonly settings: VastTableDefinition;
  /** One row per controlled instance of an object (the SQL stores' `object_instances`). */
  readonly objectInstances: VastTableDefinition;
  /** Objects whose last segment may have gone (deleted segments and flows name them here). */
  readonly objectGcCandidates: VastTableDefinition;
  /** Bytes to delete: `id` a UUID, oldest first by `queued` then `id`. */
  readonly objectDeletions: VastTableDefinition;
  readonly leases: VastTableDefinition;
  readonly profiles: VastTableDefinition;
  readonly webhooks: VastTableDefinition;
  readonly deletionRequests: VastTableDefinition;
  /** One row: how far retention has pruned the outbox. */
  readonly outboxPruned: VastTableDefinition;
  /** One row per webhook: its delivery position. */
  readonly webhookDeliveries: VastTableDefinition;
}

export function vastStoreTables(schema: string): VastStoreTables {
  return {
    sources: {
      schema,
      name: 'sources',
      columns: [
        { name: 'id', type: 'utf8', nullable: false },
        { name: 'format', type: 'utf8', nullable: false },
        { name: 'label', type: 'utf8', nullable: true },
        { name: 'created', type: 'utf8', nullable: true },
        { name: 'updated', type: 'utf8', nullable: true },
        { name: 'doc', type: 'utf8', nullable: false },
      ],
    },
    flows: {
      schema,
      name: 'flows',
      columns: [
        { name: 'id', type: 'utf8', nullable: false },
        { name: 'source_id', type: 'utf8', nullable: false },
        { name: 'format', type: 'utf8', nullable: false },
        { name: 'codec', type: 'utf8', nullable: true },
        { name: 'label', type: 'utf8', nullable: true },
        { name: 'profile_id', type: 'utf8', nullable: true },
        { name: 'status', type: 'utf8', nullable: true },
        { name: 'created', type: 'utf8', nullable: true },
        { name: 'metadata_updated', type: 'utf8', nullable: true },
        { name: 'doc', type: 'utf8', nullable: false },
      ],
    },
    objects: {
      schema,
      name: 'objects',
      columns: [
        { name: 'id', type: 'utf8', nullable: false },
        { name: 'storage_id', type: 'utf8', nullable: true },
        { name: 'storage_key', type: 'utf8', nullable: true },
        { name: 'allocated_for_flow', type: 'utf8', nullable: true },
        { name: 'content_type', type: 'utf8', nullable: true },
        { name: 'role', type: 'utf8', nullable: true },
        { name: 'registered', type: 'bool', nullable: false },
        { name: 'key_frame_count', type: 'int64', nullable: true },
        { name: 'timerange', type: 'utf8', nullable: true },
        { name: 'init_object_id', type: 'utf8', nullable: true },
        { name: 'first_referenced_by_flow', type: 'utf8', nullable: true },
        { name: 'get_urls', type: 'utf8', nullable: false },
        { name: 'created', type: 'utf8', nullable: false },
      ],
    },
    storeGuards: {
      schema,
      name: 'store_guards',
      columns: [
        { name: 'name', type: 'utf8', nullable: false },
        { name: 'version', type: 'int64', nullable: false },
      ],
    },
    segments: {
      schema,
      name: 'segments',
      columns: [
        { name: 'flow_id', type: 'utf8', nullable: false },
        { name: 'start_ns', type: 'int64', nullable: false },
        { name: 'end_ns', type: 'int64', nullable: false },
        { name: 'object_id', type: 'utf8', nullable: false },
        { name: 'init_object_id', type: 'utf8', nullable: true },
        { name: 'json_head', type: 'utf8', nullable: false },
        { name: 'object_storage_id', type: 'utf8', nullable: true },
        { name: 'object_storage_key', type: 'utf8', nullable: true },
        { name: 'object_own_timerange', type: 'utf8', nullable: true },
        { name: 'init_storage_id', type: 'utf8', nullable: true },
        { name: 'init_storage_key', type: 'utf8', nullable: true },
      ],
    },
    flowGuards: {
      schema,
      name: 'flow_guards',
      columns: [
        { name: 'flow_id', type: 'utf8', nullable: false },
        { name: 'source_id', type: 'utf8', nullable: false },
        { name: 'version', type: 'int64', nullable: false },
        { name: 'segment_count', type: 'int64', nullable: false },
        { name: 'min_start_ns', type: 'int64', nullable: true },
        { name: 'max_end_ns', type: 'int64', nullable: true },
        { name: 'segments_updated', type: 'utf8', nullable: true },
        { name: 'init_segments', type: 'bool', nullable: false },
      ],
    },
    outbox: {
      schema,
      name: 'outbox',
      columns: [
        { name: 'seq', type: 'int64', nullable: false },
        { name: 'event_type', type: 'utf8', nullable: false },
        { name: 'event_timestamp', type: 'utf8', nullable: false },
        { name: 'payload', type: 'utf8', nullable: false },
        { name: 'flow_id', type: 'utf8', nullable: true },
        { name: 'source_id', type: 'utf8', nullable: true },
        { name: 'context', type: 'utf8', nullable: true },
      ],
    },
    outboxCounter: {
      schema,
      name: 'outbox_counter',
      columns: [
        { name: 'name', type: 'utf8', nullable: false },
        { name: 'last_seq', type: 'int64', nullable: false },
      ],
    },
    schemaVersion: {
      schema,
      name: 'schema_version',
      columns: [{ name: 'version', type: 'int64', nullable: false }],
    },
    settings: {
      schema,
      name: 'settings',
      columns: [
        { name: 'key', type: 'utf8', nullable: false },
        { name: 'value', type: 'utf8', nullable: false },
      ],
    },
    objectInstances: {
      schema,
      name: 'object_instances',
      columns: [
        { name: 'object_id', type: 'utf8', nullable: false },
        { name: 'storage_id', type: 'utf8', nullable: false },
        { name: 'storage_key', type: 'utf8', nullable: false },
        { name: 'created', type: 'utf8', nullable: false },
      ],
    },
    objectGcCandidates: {
      schema,
      name: 'object_gc_candidates',
      columns: [{ name: 'object_id', type: 'utf8', nullable: false }],
    },
    objectDeletions: {
      schema,
      name: 'object_deletions',
      columns: [
        { name: 'id', type: 'utf8', nullable: false },
        { name: 'storage_id', type: 'utf8', nullable: false },
        { name: 'storage_key', type: 'utf8', nullable: false },
        { name: 'queued', type: 'utf8', nullable: false },
        { name: 'not_before', type: 'utf8', nullable: false },
      ],
    },
    leases: {
      schema,
      name: 'leases',
      columns: [
        { name: 'name', type: 'utf8', nullable: false },
        { name: 'holder', type: 'utf8', nullable: false },
        { name: 'expires_ms', type: 'int64', nullable: false },
      ],
    },
    profiles: {
      schema,
      name: 'profiles',
      columns: [
        { name: 'id', type: 'utf8', nullable: false },
        { name: 'label', type: 'utf8', nullable: true },
        { name: 'created', type: 'utf8', nullable: true },
        { name: 'doc', type: 'utf8', nullable: false },
      ],
    },
    webhooks: {
      schema,
      name: 'webhooks',
      columns: [
        { name: 'id', type: 'utf8', nullable: false },
        { name: 'url', type: 'utf8', nullable: false },
        { name: 'doc', type: 'utf8', nullable: false },
      ],
    },
    deletionRequests: {
      schema,
      name: 'deletion_requests',
      columns: [
        { name: 'id', type: 'utf8', nullable: false },
        { name: 'flow_id', type: 'utf8', nullable: false },
        { name: 'status', type: 'utf8', nullable: false },
        { name: 'created', type: 'utf8', nullable: true },
        { name: 'expiry', type: 'utf8', nullable: true },
        { name: 'doc', type: 'utf8', nullable: false },
      ],
    },
    outboxPruned: {
      schema,
      name: 'outbox_pruned',
      columns: [
        { name: 'through_seq', type: 'int64', nullable: false },
        { name: 'before', type: 'utf8', nullable: true },
      ],
    },
    webhookDeliveries: {
      schema,
      name: 'webhook_deliveries',
      columns: [
        { name: 'webhook_id', type: 'utf8', nullable: false },
        { name: 'cursor', type: 'int64', nullable: false },
        { name: 'attempts', type: 'int64', nullable: false },
        { name: 'next_attempt_ms', type: 'int64', nullable: false },
        { name: 'last_error', type: 'utf8', nullable: true },
      ],
    },
  };
}

/**
 * Creates the schema and every table that is missing, and the counter, store guard and version rows with the
 * tables that hold them, all in one transaction. Replicas starting at once race: two
 * transactions creating one name conflict (409, whether the other has committed or not), and
 * withTransaction runs the loser again, which then finds what the winner made. Making a table
 * and its one row in the same transaction is what keeps that row single: no run can see the
 * table without its row. Returns the recorded layout version (a newer one than
 * VAST_SCHEMA_VERSION is for the caller to refuse).
 */
export async function ensureVastTables(client: VastClient, schema: string): Promise<bigint> {
  const tables = vastStoreTables(schema);
  return client.withTransaction(async (tx) => {
    await tx.createSchema(schema, { ifNotExists: true });
    for (const definition of [
      tables.sources,
      tables.flows,
      tables.objects,
      tables.segments,
      tables.flowGuards,
      tables.outbox,
      tables.settings,
      tables.objectInstances,
      tables.objectGcCandidates,
      tables.objectDeletions,
      tables.leases,
      tables.profiles,
      tables.webhooks,
      tables.deletionRequests,
      tables.webhookDeliveries,
    ]) {
      await createIfAbsent(tx, definition);
    }
    if (await createIfAbsent(tx, tables.storeGuards)) {
      await tx.table(tables.storeGuards).insert(STORE_GUARD_NAMES.map((name) => ({ name, version: 0n })));
    }
    if (await createIfAbsent(tx, tables.outboxPruned)) {
      await tx.table(tables.outboxPruned).insert([{ through_seq: 0n, before: null }]);
    }
    if (await createIfAbsent(tx, tables.outboxCounter)) {
      await tx.table(tables.outboxCounter).insert([{ name: OUTBOX_COUNTER_NAME, last_seq: 0n }]);
    }
    if (await createIfAbsent(tx, tables.schemaVersion)) {
      await tx.table(tables.schemaVersion).insert([{ version: VAST_SCHEMA_VERSION }]);
      return VAST_SCHEMA_VERSION;
    }
    const rows = await tx.table(tables.schemaVersion).select({ columns: ['version'] });
    const version = rows[0]?.version;
    if (rows.length !== 1 || typeof version !== 'bigint') throw new Error(`${schema}/schema_version holds ${rows.length} rows, not one version`);
    return version;
  });
}

/** True when the table was made by this call. */
async function createIfAbsent(tx: VastTransaction, definition: VastTableDefinition): Promise<boolean> {
  if (await tx.tableExists(definition.schema, definition.name)) return false;
  await tx.createTable(definition);
  return true;
}
