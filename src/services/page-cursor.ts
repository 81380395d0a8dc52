import { createHmac, timingSafeEqual } from 'node:crypto';
import { TamsError } from '../domain/errors';

/**
 * Opaque page cursors: the store's keyset position, bound to the listing it came from and
 * signed, so a tampered or foreign cursor is a clean 400 and never reaches a query.
 */
export class PageCursorCodec {
  constructor(private readonly secret: Buffer) {}

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url').slice(0, 22);
  }

  encode(listing: string, key: unknown): string {
    const payload = Buffer.from(JSON.stringify({ l: listing, k: key })).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  decode(listing: string, cursor: string): unknown {
    const bad = (): TamsError => new TamsError('bad_cursor', 'Invalid page cursor');
    const dot = cursor.indexOf('.');
    if (dot <= 0 || cursor.length > 4096) throw bad();
    const payload = cursor.slice(0, dot);
    const given = Buffer.from(cursor.slice(dot + 1));
    const expected = Buffer.from(this.mac(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    if (typeof parsed !== 'object' || parsed === null || (parsed as { l?: unknown }).l !== listing) throw bad();
    return (parsed as { k?: unknown }).k;
  }
}
