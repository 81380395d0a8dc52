/**
 * Schema versions of the PostgreSQL store, applied in order by init(). Version N is
 * `MIGRATIONS[N - 1]`; a released migration is never edited, only followed by a new one. Each
 * applied version is a row of `schema_migrations`, written in the transaction that applies it.
 *
 * The schema is the SQLite store's as it stands after its migration 7 (see
 * ../sqlite/migrations.ts for why each table and copy exists), in PostgreSQL terms:
 * - every text column compared or sorted on is `COLLATE "C"`: bytewise order, as SQLite's;
 * - documents are text (not json/jsonb): kept byte for byte as written, so a document read back
 *   has its members in the order they were written, and compares equal as text (webhook
 *   revisions); queries read into them with `doc::json`;
 * - segment bounds are int8 nanoseconds, half-open, INT64_MIN / INT64_MAX for unbounded ends,
 *   keyed by (flow_id, end_ns) for the window query; segments of one flow never overlap because
 *   every writer takes the flow's lock and checks under it (migration 1's exclusion constraint
 *   did the same for any writer, at seven times the insert's cost: migration 2 drops it);
 * - outbox seqs come from `outbox_counter`, whose one row each event-writing transaction
 *   updates just before it commits, so seqs are handed out in commit order (outbox.ts);
 * - the SQLite triggers are PL/pgSQL triggers; the outbox context is computed by
 *   tams_event_context() when an event is written (outbox.ts) instead of by an insert trigger.
 */
import type { PoolClient } from 'pg';

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE settings (
    key   text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
  );

  CREATE TABLE sources (
    id      text COLLATE "C" PRIMARY KEY,
    format  text COLLATE "C" NOT NULL,
    label   text COLLATE "C",
    created text COLLATE "C",
    updated text COLLATE "C",
    doc     text NOT NULL
  );
  CREATE INDEX sources_created ON sources (created, id);
  CREATE INDEX sources_updated ON sources (updated, id);
  CREATE INDEX sources_label ON sources (label, id);

  CREATE TABLE flows (
    id               text COLLATE "C" PRIMARY KEY,
    source_id        text COLLATE "C" NOT NULL,
    format           text COLLATE "C" NOT NULL,
    codec            text COLLATE "C",
    label            text COLLATE "C",
    profile_id       text COLLATE "C",
    status           text COLLATE "C",
    container        text COLLATE "C",
    frame_width      double precision,
    frame_height     double precision,
    init_segments    boolean NOT NULL DEFAULT false,
    read_only        boolean NOT NULL DEFAULT false,
    created          text COLLATE "C",
    metadata_updated text COLLATE "C",
    segments_updated text COLLATE "C",
    segment_count    bigint NOT NULL DEFAULT 0,
    doc              text NOT NULL
  );
  CREATE INDEX flows_source ON flows (source_id);
  CREATE INDEX flows_created ON flows (created, id);
  CREATE INDEX flows_metadata_updated ON flows (metadata_updated, id);
  CREATE INDEX flows_label ON flows (label, id);

  -- Segments of one flow never overlap, so (flow_id, end_ns) is unique and orders them by time:
  -- a window is one range of that index. The exclusion constraint is the rule itself, for any
  -- writer; the store also serialises registrations on one flow (a lock on the flow) so that
  -- each segment of a batch fails or stores alone. (Migration 2 drops the constraint.)
  CREATE TABLE segments (
    flow_id              text COLLATE "C" NOT NULL,
    end_ns               bigint NOT NULL,
    start_ns             bigint NOT NULL,
    object_id            text COLLATE "C" NOT NULL,
    init_object_id       text COLLATE "C",
    json_head            text NOT NULL,
    object_storage_id    text,
    object_storage_key   text,
    object_own_timerange text,
    init_storage_id      text,
    init_storage_key     text,
    PRIMARY KEY (flow_id, end_ns),
    CONSTRAINT segments_no_overlap EXCLUDE USING gist (flow_id WITH =, int8range(start_ns, end_ns) WITH &&)
  );
  CREATE INDEX segments_object ON segments (object_id, flow_id, end_ns);
  CREATE INDEX segments_init_object ON segments (init_object_id, flow_id, end_ns) WHERE init_object_id IS NOT NULL;

  CREATE TABLE objects (
    id                       text COLLATE "C" PRIMARY KEY,
    storage_id               text,
    storage_key              text,
    allocated_for_flow       text COLLATE "C",
    content_type             text,
    role                     text CHECK (role IN ('media', 'init')),
    registered               boolean NOT NULL DEFAULT false,
    key_frame_count          bigint,
    timerange                text,
    init_object_id           text COLLATE "C",
    first_referenced_by_flow text COLLATE "C",
    get_urls                 text NOT NULL DEFAULT '[]',
    created                  text COLLATE "C" NOT NULL
  );
  CREATE INDEX objects_unregistered ON objects (created) WHERE NOT registered;
  CREATE INDEX objects_init_object ON objects (init_object_id) WHERE init_object_id IS NOT NULL;

  CREATE TABLE object_instances (
    object_id   text COLLATE "C" NOT NULL,
    storage_id  text COLLATE "C" NOT NULL,
    storage_key text NOT NULL,
    created     text COLLATE "C" NOT NULL,
    PRIMARY KEY (object_id, storage_id)
  );
  CREATE INDEX object_instances_storage ON object_instances (storage_id);

  CREATE TABLE object_gc_candidates (
    object_id text COLLATE "C" PRIMARY KEY
  );

  CREATE TABLE object_deletions (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    storage_id  text COLLATE "C" NOT NULL,
    storage_key text COLLATE "C" NOT NULL,
    queued      text COLLATE "C" NOT NULL,
    not_before  text COLLATE "C" NOT NULL
  );
  CREATE INDEX object_deletions_storage ON object_deletions (storage_id, storage_key);

  CREATE TABLE leases (
    name       text COLLATE "C" PRIMARY KEY,
    holder     text COLLATE "C" NOT NULL,
    expires_ms bigint NOT NULL
  );

  CREATE TABLE profiles (
    id      text COLLATE "C" PRIMARY KEY,
    label   text COLLATE "C",
    created text COLLATE "C",
    doc     text NOT NULL
  );
  CREATE INDEX profiles_label ON profiles (label, id);

  CREATE TABLE webhooks (
    id  text COLLATE "C" PRIMARY KEY,
    url text COLLATE "C" NOT NULL,
    doc text COLLATE "C" NOT NULL
  );
  CREATE INDEX webhooks_url ON webhooks (url, id);

  CREATE TABLE deletion_requests (
    id      text COLLATE "C" PRIMARY KEY,
    flow_id text COLLATE "C" NOT NULL,
    created text COLLATE "C",
    expiry  text COLLATE "C",
    doc     text NOT NULL
  );
  CREATE INDEX deletion_requests_created ON deletion_requests (created, id);
  CREATE INDEX deletion_requests_expiry ON deletion_requests (expiry, id);
  CREATE INDEX deletion_requests_flow ON deletion_requests (flow_id);

  CREATE TABLE outbox (
    seq             bigint PRIMARY KEY,
    event_type      text COLLATE "C" NOT NULL,
    event_timestamp text COLLATE "C" NOT NULL,
    payload         text NOT NULL,
    flow_id         text COLLATE "C",
    source_id       text COLLATE "C",
    context         text
  );

  -- The last seq handed out. Writers take seqs by updating this row just before they commit,
  -- holding its lock until then: a seq is visible only once every smaller one is.
  CREATE TABLE outbox_counter (
    id  integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
  );
  INSERT INTO outbox_counter (id, seq) VALUES (1, 0);

  CREATE TABLE outbox_pruned (
    id          integer PRIMARY KEY CHECK (id = 1),
    through_seq bigint NOT NULL,
    before      text COLLATE "C" NOT NULL
  );

  CREATE TABLE gone_event_context (
    kind    text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL,
    context text NOT NULL,
    gone    text COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, id)
  );

  CREATE TABLE webhook_deliveries (
    webhook_id      text COLLATE "C" PRIMARY KEY,
    cursor          bigint NOT NULL,
    attempts        bigint NOT NULL DEFAULT 0,
    next_attempt_ms bigint NOT NULL DEFAULT 0,
    last_error      text
  );

  -- The time as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ', 'now') writes it.
  CREATE FUNCTION tams_now() RETURNS text LANGUAGE sql VOLATILE AS
    $$ SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

  -- Every way a segment goes (deleted segments, deleted flows) makes its objects candidates for
  -- garbage collection: once per statement, however many segments it deletes.
  CREATE FUNCTION tams_segments_object_gc() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO object_gc_candidates (object_id)
      SELECT object_id FROM gone UNION SELECT init_object_id FROM gone WHERE init_object_id IS NOT NULL
      ON CONFLICT DO NOTHING;
    RETURN NULL;
  END $$;
  CREATE TRIGGER segments_object_gc AFTER DELETE ON segments
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION tams_segments_object_gc();

  -- Events written after their resource's row is gone take its context from here.
  CREATE FUNCTION tams_flows_gone_context() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO gone_event_context (kind, id, context, gone)
      SELECT 'flow', OLD.id, json_build_object('source_id', OLD.source_id,
          'flow_collected_by', OLD.doc::json -> 'collected_by', 'flow_classes', OLD.doc::json -> 'tags' -> 'auth_classes',
          'source_collected_by', s.doc::json -> 'collected_by', 'source_classes', s.doc::json -> 'tags' -> 'auth_classes')::text,
        tams_now()
      FROM (SELECT 1) one LEFT JOIN sources s ON s.id = OLD.source_id
      ON CONFLICT (kind, id) DO UPDATE SET context = excluded.context, gone = excluded.gone;
    RETURN NULL;
  END $$;
  CREATE TRIGGER flows_gone_context AFTER DELETE ON flows FOR EACH ROW EXECUTE FUNCTION tams_flows_gone_context();

  CREATE FUNCTION tams_sources_gone_context() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO gone_event_context (kind, id, context, gone)
      VALUES ('source', OLD.id, json_build_object('source_id', OLD.id,
          'source_collected_by', OLD.doc::json -> 'collected_by', 'source_classes', OLD.doc::json -> 'tags' -> 'auth_classes')::text,
        tams_now())
      ON CONFLICT (kind, id) DO UPDATE SET context = excluded.context, gone = excluded.gone;
    RETURN NULL;
  END $$;
  CREATE TRIGGER sources_gone_context AFTER DELETE ON sources FOR EACH ROW EXECUTE FUNCTION tams_sources_gone_context();

  -- What an event's flow or source is at the moment the event is written (the SQLite store's
  -- outbox_context trigger): webhook filters and permissions are evaluated against it.
  CREATE FUNCTION tams_event_context(p_type text, p_flow_id text, p_source_id text, p_payload text) RETURNS text
  LANGUAGE sql STABLE AS $$
    SELECT CASE
      WHEN p_type LIKE 'flows/%' THEN coalesce(
        (SELECT json_build_object('source_id', f.source_id,
            'flow_collected_by', f.doc::json -> 'collected_by', 'flow_classes', f.doc::json -> 'tags' -> 'auth_classes',
            'source_collected_by', s.doc::json -> 'collected_by', 'source_classes', s.doc::json -> 'tags' -> 'auth_classes')::text
          FROM flows f LEFT JOIN sources s ON s.id = f.source_id
          WHERE f.id = coalesce(p_flow_id, p_payload::json ->> 'flow_id', p_payload::json -> 'flow' ->> 'id')),
        (SELECT g.context FROM gone_event_context g
          WHERE g.kind = 'flow' AND g.id = coalesce(p_flow_id, p_payload::json ->> 'flow_id', p_payload::json -> 'flow' ->> 'id')))
      ELSE coalesce(
        (SELECT json_build_object('source_id', s.id,
            'source_collected_by', s.doc::json -> 'collected_by', 'source_classes', s.doc::json -> 'tags' -> 'auth_classes')::text
          FROM sources s WHERE s.id = coalesce(p_source_id, p_payload::json ->> 'source_id', p_payload::json -> 'source' ->> 'id')),
        (SELECT g.context FROM gone_event_context g
          WHERE g.kind = 'source' AND g.id = coalesce(p_source_id, p_payload::json ->> 'source_id', p_payload::json -> 'source' ->> 'id')))
    END
  $$;

  -- A webhook's delivery position is made with it, past the newest event (retained or pruned).
  CREATE FUNCTION tams_webhooks_delivery_made() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO webhook_deliveries (webhook_id, cursor)
      VALUES (NEW.id, greatest((SELECT coalesce(max(seq), 0) FROM outbox), (SELECT coalesce(max(through_seq), 0) FROM outbox_pruned)))
      ON CONFLICT DO NOTHING;
    RETURN NULL;
  END $$;
  CREATE TRIGGER webhooks_delivery_made AFTER INSERT ON webhooks FOR EACH ROW EXECUTE FUNCTION tams_webhooks_delivery_made();

  CREATE FUNCTION tams_webhooks_delivery_dropped() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    DELETE FROM webhook_deliveries WHERE webhook_id = OLD.id;
    RETURN NULL;
  END $$;
  CREATE TRIGGER webhooks_delivery_dropped AFTER DELETE ON webhooks FOR EACH ROW EXECUTE FUNCTION tams_webhooks_delivery_dropped();

  -- Going back to created from error or disabled starts the retries afresh.
  CREATE FUNCTION tams_webhooks_delivery_reenabled() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE webhook_deliveries SET attempts = 0, next_attempt_ms = 0, last_error = NULL WHERE webhook_id = NEW.id;
    RETURN NULL;
  END $$;
  CREATE TRIGGER webhooks_delivery_reenabled AFTER UPDATE OF doc ON webhooks FOR EACH ROW
    WHEN ((OLD.doc::json ->> 'status') IN ('error', 'disabled') AND (NEW.doc::json ->> 'status') = 'created')
    EXECUTE FUNCTION tams_webhooks_delivery_reenabled();
  `,
  // 2: the overlap exclusion constraint goes. Every writer of segments takes the flow's lock
  // (pg_advisory_xact_lock on 'tams-flow:<id>') and checks its batch against the stored
  // segments under it, so the rule holds without it, and its GiST index cost about 40 of the
  // 45 ms a 1,000-segment insert took (bench/RESULTS.md, 2026-12-07): registration over REST
  // ran at under a quarter of SQLite's rate with it, about half without.
  `
  ALTER TABLE segments DROP CONSTRAINT IF EXISTS segments_no_overlap;
  `,
];

/**
 * Every migrating process takes this session-level advisory lock first, so replicas starting
 * at once apply each version once, one after the other (and CREATE EXTENSION / CREATE SCHEMA
 * never race).
 */
const MIGRATION_LOCK = 0x74616d73; // "tams"

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Applies the versions not yet applied, each in its own transaction, under MIGRATION_LOCK.
 * `schema`: made first when missing (the connection's search_path names it). btree_gist (for
 * migration 1's exclusion constraint, dropped by migration 2) is made in `public` then, so
 * dropping a test schema never drops it.
 * Returns the version the store had before (0: new).
 */
export async function migrate(client: PoolClient, schema: string | undefined): Promise<number> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    await client.query(`CREATE EXTENSION IF NOT EXISTS btree_gist${schema === undefined ? '' : ' SCHEMA public'}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied text NOT NULL)');
    const current = Number((await client.query<{ v: number }>('SELECT coalesce(max(version), 0)::integer AS v FROM schema_migrations')).rows[0]?.v ?? 0);
    for (let index = current; index < MIGRATIONS.length; index++) {
      await client.query('BEGIN');
      try {
        await client.query(MIGRATIONS[index] as string);
        await client.query('INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)', [index + 1, new Date().toISOString()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    }
    return current;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
