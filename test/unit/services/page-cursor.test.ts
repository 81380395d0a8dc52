import { PageCursorCodec } from '../../../src/services/page-cursor';

describe('PageCursorCodec', () => {
  const codec = new PageCursorCodec(Buffer.alloc(32, 7));
  const key = { label: 'B-confidential-project-19', id: '5f1c2b1e-0000-4000-8000-000000000019', url: 'https://hooks.example/x?secret=hunter2' };

  it('gives back the position it sealed, and the same cursor for the same position', () => {
    const cursor = codec.encode('flows:label', key);
    expect(codec.decode('flows:label', cursor)).toEqual(key);
    expect(codec.encode('flows:label', key)).toBe(cursor);
    expect(codec.encode('flows:label', { ...key, id: 'other' })).not.toBe(cursor);
  });

  it('reveals nothing of the position: no text of it in any decoding of the cursor', () => {
    const cursor = codec.encode('flows:label', key);
    const bytes = Buffer.from(cursor, 'base64url');
    for (const text of [cursor, bytes.toString('latin1'), bytes.toString('utf8')]) {
      for (const secret of ['confidential', 'project-19', 'hunter2', 'hooks.example', '5f1c2b1e']) expect(text).not.toContain(secret);
    }
  });

  it('refuses a cursor changed by one bit, cut, of another listing or another installation', () => {
    const cursor = codec.encode('flows:label', key);
    const bytes = Buffer.from(cursor, 'base64url');
    for (let i = 0; i < bytes.length; i += 7) {
      const flipped = Buffer.from(bytes);
      flipped[i] = (flipped[i] ?? 0) ^ 1;
      expect(() => codec.decode('flows:label', flipped.toString('base64url'))).toThrow(expect.objectContaining({ code: 'bad_cursor' }));
    }
    expect(() => codec.decode('flows:label', cursor.slice(0, -4))).toThrow(expect.objectContaining({ code: 'bad_cursor' }));
    // Every other spelling of the last character (base64's spare bits) is refused too.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const c of alphabet) {
      const other = cursor.slice(0, -1) + c;
      if (other !== cursor) expect(() => codec.decode('flows:label', other)).toThrow(expect.objectContaining({ code: 'bad_cursor' }));
    }
    expect(() => codec.decode('sources:label', cursor)).toThrow(expect.objectContaining({ code: 'bad_cursor' }));
    expect(() => new PageCursorCodec(Buffer.alloc(32, 8)).decode('flows:label', cursor)).toThrow(expect.objectContaining({ code: 'bad_cursor' }));
    for (const junk of ['', 'x', 'a.b', '%%%%', 'A'.repeat(5000), Buffer.from('{"l":"flows:label","k":1}').toString('base64url')]) {
      expect(() => codec.decode('flows:label', junk)).toThrow(expect.objectContaining({ code: 'bad_cursor' }));
    }
  });
});
