import { TamsError } from '../domain/errors';

const PREFIX = 'outbox:';
/** Longer than any cursor this module writes: a longer text is refused before it is decoded. */
const MAX_CURSOR_CHARS = 64;

/**
 * A subscription event's cursor: its outbox position, the same for every subscriber and every
 * replica on one store. Clients treat it as opaque (base64url), so its form may change with a
 * new prefix while old cursors keep decoding.
 */
export function encodeEventCursor(seq: number): string {
  return Buffer.from(`${PREFIX}${seq}`, 'utf8').toString('base64url');
}

/** The outbox position of a cursor from `encodeEventCursor`; anything else is `bad_event_cursor`. */
export function decodeEventCursor(cursor: string): number {
  const bad = (): TamsError => new TamsError('bad_event_cursor', 'Invalid event cursor: pass a cursor exactly as an earlier subscription event carried it');
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  // Only the canonical spelling: base64 ignores a last character's spare bits.
  if (Buffer.from(text, 'utf8').toString('base64url') !== cursor) throw bad();
  const match = /^outbox:(0|[1-9][0-9]{0,15})$/.exec(text);
  const seq = match === null ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(seq)) throw bad();
  return seq;
}
