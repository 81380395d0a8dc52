/**
 * The SQLite store's window row as one text. better-sqlite3 on Node 20 sets every value of a
 * raw row into its array one `v8::Object::Set` at a time, which cost more than SQLite's own work
 * on a page, so the window statement returns each row as one text ({@link segmentRowSql}, read
 * with `pluck`) and {@link readSegmentRow} takes it apart into a {@link SegmentRow}: end_ns and
 * start_ns (decimal), the object's storage id and key, the object's own timerange, json_head
 * (see segmentJsonHeadSql), then the init object id. Fields are separated by U+001E, which none
 * of them can hold but the last, which is read to the end: JSON strings escape it, storage ids
 * and keys carry none (allocateObjects refuses them, and empty ones), timeranges passed the
 * strict parser.
 */
import { FIELD_SEPARATOR, type SegmentRow } from '../sql-common/rows';

/** The window row as one text (see {@link SegmentRow}): all in the segment row (migration 2), so no join. */
export function segmentRowSql(withObjectTimerange: boolean): string {
  const objectTimerange = withObjectTimerange ? "ifnull(s.object_own_timerange, '')" : "''";
  return `s.end_ns || char(30) || s.start_ns || char(30) || ifnull(s.object_storage_id, '') || char(30)
    || ifnull(s.object_storage_key, '') || char(30) || ${objectTimerange} || char(30) || s.json_head
    || ifnull(char(30) || s.init_object_id, '')`;
}

/** A window row's text taken apart (see {@link SegmentRow}; empty fields are absent ones). */
export function readSegmentRow(text: string): SegmentRow {
  const a = text.indexOf(FIELD_SEPARATOR);
  const b = text.indexOf(FIELD_SEPARATOR, a + 1);
  const c = text.indexOf(FIELD_SEPARATOR, b + 1);
  const d = text.indexOf(FIELD_SEPARATOR, c + 1);
  const e = text.indexOf(FIELD_SEPARATOR, d + 1);
  const f = text.indexOf(FIELD_SEPARATOR, e + 1);
  return {
    endNs: text.slice(0, a),
    startNs: text.slice(a + 1, b),
    storageId: b + 1 < c ? text.slice(b + 1, c) : null,
    storageKey: c + 1 < d ? text.slice(c + 1, d) : null,
    objectTimerange: d + 1 < e ? text.slice(d + 1, e) : null,
    head: f < 0 ? text.slice(e + 1) : text.slice(e + 1, f),
    initObjectId: f < 0 ? null : text.slice(f + 1),
  };
}

/**
 * The SQL of a row's `json_head` (migration 4): the segment as a JSON object without its closing
 * brace, `{"object_id":…` quoted by SQLite from the object_id it stores (so the text always says
 * what that column holds, odd Unicode included), then `tail` (see {@link segmentJsonTail}).
 * `objectId` and `tail` are SQL expressions: parameters or columns.
 */
export function segmentJsonHeadSql(objectId: string, tail: string): string {
  return `'{"object_id":' || json_quote(${objectId}) || ${tail}`;
}
