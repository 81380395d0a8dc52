/**
 * Schema versions, applied in order. Version N is `MIGRATIONS[N - 1]`; a migration once
 * released is never edited, only followed by a new one.
 *
 * Times are ISO strings (they sort as text). Segment bounds are int64 nanoseconds, half-open,
 * with INT64_MIN / INT64_MAX standing for an unbounded start / end.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE TABLE sources (
    id      TEXT PRIMARY KEY,
    format  TEXT NOT NULL,
    label   TEXT,
    created TEXT,
    updated TEXT,
    doc     TEXT NOT NULL
  );
  CREATE INDEX sources_created ON sources(created, id);
  CREATE INDEX sources_updated ON sources(updated, id);
  CREATE INDEX sources_label ON sources(label, id);

  CREATE TABLE flows (
    id               TEXT PRIMARY KEY,
    source_id        TEXT NOT NULL,
    format           TEXT NOT NULL,
    codec            TEXT,
    label            TEXT,
    profile_id       TEXT,
    status           TEXT,
    container        TEXT,
    frame_width      INTEGER,
    frame_height     INTEGER,
    init_segments    INTEGER NOT NULL DEFAULT 0,
    read_only        INTEGER NOT NULL DEFAULT 0,
    created          TEXT,
    metadata_updated TEXT,
    segments_updated TEXT,
    segment_count    INTEGER NOT NULL DEFAULT 0,
    doc              TEXT NOT NULL
  );
  CREATE INDEX flows_source ON flows(source_id);
  CREATE INDEX flows_created ON flows(created, id);
  CREATE INDEX flows_metadata_updated ON flows(metadata_updated, id);
  CREATE INDEX flows_label ON flows(label, id);

  -- Segments of one flow never overlap, so (flow_id, end_ns) is unique and orders them by
  -- time. Clustering the table on it makes a window one contiguous range read.
  CREATE TABLE segments (
    flow_id          TEXT NOT NULL,
    end_ns           INTEGER NOT NULL,
    start_ns         INTEGER NOT NULL,
    timerange_text   TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    init_object_id   TEXT,
    -- The optional flow-segment fields (ts_offset, last_duration, object_timerange,
    -- sample_offset, sample_count, key_frame_count, get_urls) as one JSON object, NULL when
    -- none is set: the window query reads a few columns instead of a dozen mostly-NULL ones.
    extra            TEXT,
    PRIMARY KEY (flow_id, end_ns)
  ) WITHOUT ROWID;
  CREATE INDEX segments_object ON segments(object_id, flow_id, end_ns);
  CREATE INDEX segments_init_object ON segments(init_object_id, flow_id, end_ns)
    WHERE init_object_id IS NOT NULL;

  CREATE TABLE objects (
    id                       TEXT PRIMARY KEY,
    storage_id               TEXT,
    storage_key              TEXT,
    allocated_for_flow       TEXT,
    content_type             TEXT,
    role                     TEXT CHECK (role IN ('media', 'init')),
    registered               INTEGER NOT NULL DEFAULT 0,
    key_frame_count          INTEGER,
    timerange                TEXT,
    init_object_id           TEXT,
    first_referenced_by_flow TEXT,
    get_urls                 TEXT NOT NULL DEFAULT '[]',
    created                  TEXT NOT NULL
  );

  CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type      TEXT NOT NULL,
    event_timestamp TEXT NOT NULL,
    payload         TEXT NOT NULL,
    flow_id         TEXT,
    source_id       TEXT
  );
  `,
  // Version 2: the window query reads segments alone. What it used to join from `objects`
  // is copied into the segment row when the segment is stored. The copy cannot go stale:
  // an object's storage_id / storage_key are fixed when it is allocated (an existing object
  // is never allocated again), its timerange is set at its first registration and never
  // rewritten, and this store never deletes an object. Existing rows
  // are filled from `objects` here.
  `
  ALTER TABLE segments ADD COLUMN object_storage_id TEXT;
  ALTER TABLE segments ADD COLUMN object_storage_key TEXT;
  -- The media object's own timerange (for include_object_timerange), not the segment's.
  ALTER TABLE segments ADD COLUMN object_own_timerange TEXT;
  ALTER TABLE segments ADD COLUMN init_storage_id TEXT;
  ALTER TABLE segments ADD COLUMN init_storage_key TEXT;

  UPDATE segments
    SET object_storage_id = o.storage_id, object_storage_key = o.storage_key, object_own_timerange = o.timerange
    FROM objects o
    WHERE o.id = segments.object_id;
  UPDATE segments
    SET init_storage_id = o.storage_id, init_storage_key = o.storage_key
    FROM objects o
    WHERE segments.init_object_id IS NOT NULL AND o.id = segments.init_object_id;
  `,
  // Version 3: flow profiles, webhook registrations and flow delete requests, each a JSON
  // `doc` with the columns its listing filters and sorts on.
  //
  // Object instances (POST / DELETE /objects/{id}/instances) now change an object after its
  // registration, so the copies of migration 2 are kept up to date by the store instead:
  // - removing the controlled instance clears storage_id / storage_key on the object and the
  //   object_storage_* (or init_storage_*) copies on every segment row using it;
  // - adding or removing an uncontrolled instance rewrites `get_urls` inside `extra` (since
  //   version 4: `json_head`) of every segment row of the object (found through
  //   segments_object), so the window query stays join-free. No schema change is needed for either.
  `
  CREATE TABLE profiles (
    id      TEXT PRIMARY KEY,
    label   TEXT,
    created TEXT,
    doc     TEXT NOT NULL
  );
  CREATE INDEX profiles_label ON profiles(label, id);

  CREATE TABLE webhooks (
    id   TEXT PRIMARY KEY,
    url  TEXT NOT NULL,
    doc  TEXT NOT NULL
  );
  CREATE INDEX webhooks_url ON webhooks(url, id);

  CREATE TABLE deletion_requests (
    id      TEXT PRIMARY KEY,
    flow_id TEXT NOT NULL,
    created TEXT,
    expiry  TEXT,
    doc     TEXT NOT NULL
  );
  CREATE INDEX deletion_requests_created ON deletion_requests(created, id);
  CREATE INDEX deletion_requests_expiry ON deletion_requests(expiry, id);
  CREATE INDEX deletion_requests_flow ON deletion_requests(flow_id);
  `,
  // Version 4: each segment row keeps its JSON text (`json_head`) in place of `timerange_text`
  // and `extra`: the segment as a JSON object without its closing brace,
  // `{"object_id":…,"timerange":…` followed by its optional fields (ts_offset, last_duration,
  // object_timerange, sample_offset, sample_count, key_frame_count, then get_urls, always last),
  // as `extra` held them. A REST listing writes it out as it is, records are read back from it,
  // and the window row carries one text where it carried three. editSegmentUrls rewrites it
  // where it rewrote `extra`. The object_id in it is always quoted by SQLite from the column
  // (segmentJsonHeadSql), here as when the store writes a row. The UPDATE and each DROP COLUMN
  // rewrite the table: three passes at first start on a large store, with a WAL about the
  // size of the database, and a file that only shrinks back with a VACUUM.
  `
  ALTER TABLE segments ADD COLUMN json_head TEXT NOT NULL DEFAULT '';
  UPDATE segments SET json_head = '{"object_id":' || json_quote(object_id) || ',"timerange":' || json_quote(timerange_text)
    || CASE WHEN extra IS NULL OR length(extra) <= 2 THEN '' ELSE ',' || substr(extra, 2, length(extra) - 2) END;
  ALTER TABLE segments DROP COLUMN extra;
  ALTER TABLE segments DROP COLUMN timerange_text;
  `,
  // Version 5: every flow has a metadata_version (flow-common.json; set on every metadata change
  // since this version): flows stored before get a random UUID (v4 form). Source collections
  // are inferred from flow collections since this version too; the store fills them in once
  // after this migration (SqliteSourceCollections.refreshAll), as that needs no schema change.
  `
  UPDATE flows SET doc = json_set(doc, '$.metadata_version',
      lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)
      || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)
      || '-' || lower(hex(randomblob(6))))
    WHERE json_extract(doc, '$.metadata_version') IS NULL;
  `,
  // Version 6: an object has a list of controlled instances (issue 17: several storage
  // backends, copies between them). `object_instances` is the list, one row per backend holding
  // the object, indexed by backend for the start-up check that every backend in use is still
  // configured. The hot paths keep reading copies, as since version 2: `objects.storage_id` /
  // `storage_key` and the segment rows' `object_storage_*` / `init_storage_*` now hold the
  // instances' ids and keys, oldest first, joined by U+001F (an id or key holding U+001F or
  // U+001E is refused at allocation), so a one-instance object reads exactly as before and
  // existing rows need no rewrite. The store changes both in the transaction that changes
  // `object_instances`.
  //
  // Garbage collection: `object_gc_candidates` names objects that lost a segment reference (a
  // segment deleted), so a collection pass checks those rather than every object;
  // `object_deletions` is the queue of bytes to delete (instances of collected objects, removed
  // controlled instances), written in the transaction that drops them, so a crash never leaves
  // bytes nothing points at. `leases` lets one process at a time run a worker.
  `
  CREATE TABLE object_instances (
    object_id   TEXT NOT NULL,
    storage_id  TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    created     TEXT NOT NULL,
    PRIMARY KEY (object_id, storage_id)
  ) WITHOUT ROWID;
  CREATE INDEX object_instances_storage ON object_instances(storage_id);
  INSERT INTO object_instances (object_id, storage_id, storage_key, created)
    SELECT id, storage_id, storage_key, created FROM objects WHERE storage_id IS NOT NULL AND storage_key IS NOT NULL;

  CREATE INDEX objects_unregistered ON objects(created) WHERE registered = 0;
  CREATE INDEX objects_init_object ON objects(init_object_id) WHERE init_object_id IS NOT NULL;

  CREATE TABLE object_gc_candidates (
    object_id TEXT PRIMARY KEY
  ) WITHOUT ROWID;
  -- Every way a segment goes (deleted segments, deleted flows) makes its objects candidates.
  CREATE TRIGGER segments_object_gc AFTER DELETE ON segments BEGIN
    INSERT OR IGNORE INTO object_gc_candidates (object_id) VALUES (old.object_id);
    INSERT OR IGNORE INTO object_gc_candidates (object_id) SELECT old.init_object_id WHERE old.init_object_id IS NOT NULL;
  END;
  -- Objects whose segments went before this version.
  INSERT INTO object_gc_candidates (object_id)
    SELECT id FROM objects o WHERE registered = 1
      AND NOT EXISTS (SELECT 1 FROM segments s WHERE s.object_id = o.id)
      AND NOT EXISTS (SELECT 1 FROM segments s WHERE s.init_object_id = o.id);

  -- not_before: a PUT URL handed out for the key may work until then, so deleting earlier would
  -- let an upload put back bytes nothing tracks.
  CREATE TABLE object_deletions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    storage_id  TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    queued      TEXT NOT NULL,
    not_before  TEXT NOT NULL
  );
  CREATE INDEX object_deletions_storage ON object_deletions(storage_id, storage_key);

  CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // Version 7: webhook delivery (issue 18). Filters and permissions are evaluated against the
  // flow or source as it was when the event committed, so each outbox row gets `context`: the
  // flow's source, both collected_by lists and both auth_classes tags, read by a trigger in the
  // event's own transaction (no write path has to remember it). Events written after their
  // resource's row is gone (flows/deleted, sources/deleted) take it from `gone_event_context`,
  // which the delete triggers fill just before; outbox retention prunes both.
  //
  // `webhook_deliveries` is each webhook's position: `cursor` is the last outbox seq it is done
  // with, made when the webhook is (so it gets the events committed after its registration),
  // dropped with it; it starts past the newest event, retained or pruned (an outbox emptied by
  // retention is not the start of time: seq never goes back). Going back to `created` from
  // `error` or `disabled` starts the retries afresh. `outbox_pruned` remembers the newest seq
  // retention removed, so a cursor behind it knows that it skipped events.
  `
  ALTER TABLE outbox ADD COLUMN context TEXT;

  CREATE TABLE gone_event_context (
    kind    TEXT NOT NULL,
    id      TEXT NOT NULL,
    context TEXT NOT NULL,
    gone    TEXT NOT NULL,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;

  CREATE TRIGGER flows_gone_context AFTER DELETE ON flows BEGIN
    INSERT OR REPLACE INTO gone_event_context (kind, id, context, gone)
      SELECT 'flow', old.id, json_object('source_id', old.source_id,
          'flow_collected_by', old.doc -> '$.collected_by', 'flow_classes', old.doc -> '$.tags.auth_classes',
          'source_collected_by', s.doc -> '$.collected_by', 'source_classes', s.doc -> '$.tags.auth_classes'),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
      FROM (SELECT 1) LEFT JOIN sources s ON s.id = old.source_id;
  END;
  CREATE TRIGGER sources_gone_context AFTER DELETE ON sources BEGIN
    INSERT OR REPLACE INTO gone_event_context (kind, id, context, gone)
      VALUES ('source', old.id, json_object('source_id', old.id,
          'source_collected_by', old.doc -> '$.collected_by', 'source_classes', old.doc -> '$.tags.auth_classes'),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;

  CREATE TRIGGER outbox_context AFTER INSERT ON outbox BEGIN
    UPDATE outbox SET context = CASE
      WHEN new.event_type LIKE 'flows/%' THEN coalesce(
        (SELECT json_object('source_id', f.source_id,
            'flow_collected_by', f.doc -> '$.collected_by', 'flow_classes', f.doc -> '$.tags.auth_classes',
            'source_collected_by', s.doc -> '$.collected_by', 'source_classes', s.doc -> '$.tags.auth_classes')
          FROM flows f LEFT JOIN sources s ON s.id = f.source_id
          WHERE f.id = coalesce(new.flow_id, new.payload ->> '$.flow_id', new.payload ->> '$.flow.id')),
        (SELECT context FROM gone_event_context
          WHERE kind = 'flow' AND id = coalesce(new.flow_id, new.payload ->> '$.flow_id', new.payload ->> '$.flow.id')))
      ELSE coalesce(
        (SELECT json_object('source_id', s.id,
            'source_collected_by', s.doc -> '$.collected_by', 'source_classes', s.doc -> '$.tags.auth_classes')
          FROM sources s WHERE s.id = coalesce(new.source_id, new.payload ->> '$.source_id', new.payload ->> '$.source.id')),
        (SELECT context FROM gone_event_context
          WHERE kind = 'source' AND id = coalesce(new.source_id, new.payload ->> '$.source_id', new.payload ->> '$.source.id')))
    END
    WHERE seq = new.seq;
  END;

  CREATE TABLE webhook_deliveries (
    webhook_id      TEXT PRIMARY KEY,
    cursor          INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
  ) WITHOUT ROWID;

  CREATE TABLE outbox_pruned (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq INTEGER NOT NULL,
    before      TEXT NOT NULL
  );

  INSERT INTO webhook_deliveries (webhook_id, cursor)
    SELECT id, max((SELECT coalesce(max(seq), 0) FROM outbox), (SELECT coalesce(max(through_seq), 0) FROM outbox_pruned)) FROM webhooks;

  CREATE TRIGGER webhooks_delivery_made AFTER INSERT ON webhooks BEGIN
    INSERT OR IGNORE INTO webhook_deliveries (webhook_id, cursor)
      VALUES (new.id, max((SELECT coalesce(max(seq), 0) FROM outbox), (SELECT coalesce(max(through_seq), 0) FROM outbox_pruned)));
  END;
  CREATE TRIGGER webhooks_delivery_dropped AFTER DELETE ON webhooks BEGIN
    DELETE FROM webhook_deliveries WHERE webhook_id = old.id;
  END;
  CREATE TRIGGER webhooks_delivery_reenabled AFTER UPDATE OF doc ON webhooks
    WHEN old.doc ->> '$.status' IN ('error', 'disabled') AND new.doc ->> '$.status' = 'created' BEGIN
    UPDATE webhook_deliveries SET attempts = 0, next_attempt_ms = 0, last_error = NULL WHERE webhook_id = new.id;
  END;
  `,
];

/** The version from which source collections are inferred (a store migrated from before gets them filled in). */
export const SOURCE_COLLECTIONS_VERSION = 5;
