import { decodeEventCursor, encodeEventCursor } from '../../../src/services/event-cursor';

function refused(cursor: string): unknown {
  try {
    decodeEventCursor(cursor);
  } catch (err) {
    return err;
  }
  throw new Error(`${JSON.stringify(cursor)} was accepted`);
}

describe('event cursors', () => {
  it.each([0, 1, 42, 1_000_000, Number.MAX_SAFE_INTEGER])('round-trips outbox position %d, always to the same text', (seq) => {
    const cursor = encodeEventCursor(seq);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encodeEventCursor(seq)).toBe(cursor);
    expect(decodeEventCursor(cursor)).toBe(seq);
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'not!a!cursor'],
    ['padding', `${encodeEventCursor(7)}=`],
    ['another prefix', Buffer.from('page:7').toString('base64url')],
    ['a negative position', Buffer.from('outbox:-7').toString('base64url')],
    ['a leading zero', Buffer.from('outbox:07').toString('base64url')],
    ['a fraction', Buffer.from('outbox:7.5').toString('base64url')],
    ['past the safe integers', Buffer.from('outbox:9007199254740993').toString('base64url')],
    ['trailing bytes', Buffer.from('outbox:7\n').toString('base64url')],
    ['too long', 'A'.repeat(65)],
  ])('refuses %s as BAD_USER_INPUT (bad_event_cursor)', (_what, cursor) => {
    expect(refused(cursor)).toMatchObject({ code: 'bad_event_cursor', graphqlCode: 'BAD_USER_INPUT' });
  });

  it('refuses a non-canonical spelling (spare bits of the last character changed)', () => {
    const cursor = encodeEventCursor(5);
    const last = cursor.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(refused(cursor.slice(0, -1) + sibling)).toMatchObject({ code: 'bad_event_cursor' });
  });
});
