import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { TamsError } from '../domain/errors';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Opaque page cursors: the store's keyset position, bound to the listing it came from and
 * sealed with AES-256-GCM (authenticated encryption under a key derived from the installation
 * secret). A tampered or foreign cursor is a clean 400 and never reaches a query, and a cursor
 * reveals nothing: a listing filtered by what the caller may read scans past hidden items, and
 * the key of the last one scanned (a hidden flow's label and id, a webhook's URL) must not be
 * readable from the cursor handed out.
 *
 * The nonce is synthetic (an HMAC of the listing and the position, under a key of its own), so
 * one position always gives the same cursor: a nonce is only ever reused for the very same
 * plaintext, which GCM tolerates, and both edges write identical pages.
 */
export class PageCursorCodec {
  private readonly key: Buffer;
  private readonly nonceKey: Buffer;

  constructor(secret: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'tams-gateway page cursor v2', 32));
    this.nonceKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'tams-gateway page cursor v2 nonce', 32));
  }

  encode(listing: string, key: unknown): string {
    const plain = JSON.stringify({ k: key });
    const iv = createHmac('sha256', this.nonceKey).update(listing).update('\0').update(plain).digest().subarray(0, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(listing));
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
  }

  decode(listing: string, cursor: string): unknown {
    const bad = (): TamsError => new TamsError('bad_cursor', 'Invalid page cursor');
    if (cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
    const bytes = Buffer.from(cursor, 'base64url');
    // Only the canonical spelling: base64 ignores the spare bits of a last character, and a
    // cursor changed there must not pass as the same one.
    if (bytes.length < IV_BYTES + TAG_BYTES || bytes.toString('base64url') !== cursor) throw bad();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(listing));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
      return (JSON.parse(plain.toString('utf8')) as { k?: unknown }).k;
    } catch {
      throw bad();
    }
  }
}
