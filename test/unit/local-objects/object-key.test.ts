import { hasObjectKeyLayout, isObjectKey, newObjectKey } from '../../../src/adapters/local-objects/object-key';

const good = '3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab';

describe('object keys', () => {
  it('newObjectKey makes unique keys spread by their own leading hex digits', () => {
    const keys = Array.from({ length: 2000 }, () => newObjectKey());
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) {
      expect(isObjectKey(key)).toBe(true);
      const [a, b, uuid] = key.split('/') as [string, string, string];
      expect(uuid.startsWith(a + b)).toBe(true);
    }
    expect(new Set(keys.map((k) => k.slice(0, 2))).size).toBeGreaterThan(200);
  });

  it('accepts the canonical form', () => {
    expect(isObjectKey(good)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['3fa2c0de-1234-4abc-8def-0123456789ab', 'no directories'],
    ['00/00/3fa2c0de-1234-4abc-8def-0123456789ab', 'directories not matching the uuid'],
    ['3F/A2/3FA2C0DE-1234-4ABC-8DEF-0123456789AB', 'upper case'],
    ['3f/a2/3fa2c0de-1234-1abc-8def-0123456789ab', 'not a v4 uuid'],
    ['3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab/', 'trailing slash'],
    ['/3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab', 'absolute path'],
    ['3f//a2/3fa2c0de-1234-4abc-8def-0123456789ab', 'empty segment'],
    ['3f/a2/../../3fa2c0de-1234-4abc-8def-0123456789ab', 'dot-dot'],
    ['../../../etc/passwd', 'traversal'],
    ['3f/a2/../../../../etc/passwd', 'traversal after a valid prefix'],
    ['./3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab', 'dot segment'],
    ['3f\\a2\\3fa2c0de-1234-4abc-8def-0123456789ab', 'backslashes'],
    ['3f%2fa2%2f3fa2c0de-1234-4abc-8def-0123456789ab', 'percent-encoded slashes'],
    ['%2e%2e/%2e%2e/3fa2c0de-1234-4abc-8def-0123456789ab', 'percent-encoded dots'],
    ['3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab\0', 'trailing NUL'],
    ['3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab\0.txt', 'embedded NUL'],
    ['3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab\n', 'trailing newline'],
    ['3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab.tmp', 'suffix'],
    ['3f/a2/.3fa2c0de-1234-4abc-8def-0123456789ab.0a.tmp', 'a temp file name'],
    ['3f/a2/３fa2c0de-1234-4abc-8def-0123456789ab', 'fullwidth digit'],
    ['C:/a2/3fa2c0de-1234-4abc-8def-0123456789ab', 'drive letter'],
  ])('rejects %j (%s)', (key) => {
    expect(isObjectKey(key)).toBe(false);
  });

  it('hasObjectKeyLayout holds for every canonical key and leaves only the uuid digits to the signer', () => {
    for (let i = 0; i < 200; i++) expect(hasObjectKeyLayout(newObjectKey())).toBe(true);
    // Same layout, digits the pattern refuses: these are what the signer's hex decode catches.
    expect(hasObjectKeyLayout('3f/a2/3fa2c0de-1234-4abc-8def-0123456789a?')).toBe(true);
    expect(isObjectKey('3f/a2/3fa2c0de-1234-4abc-8def-0123456789a?')).toBe(false);
  });

  it.each([
    ['', 'empty'],
    ['3fa2c0de-1234-4abc-8def-0123456789ab', 'no directories'],
    ['00/00/3fa2c0de-1234-4abc-8def-0123456789ab', 'directories not matching the uuid'],
    ['3f/a2/3fa2c0de-1234-4abc-8def-0123456789ab/', 'trailing slash'],
    ['3f/a2/3fa2c0de/1234-4abc-8def-0123456789ab', 'a slash for a dash'],
    ['3f-a2/3fa2c0de-1234-4abc-8def-0123456789ab', 'a dash for a slash'],
    ['3f/a2/3fa2c0de-1234-4abc-8def0-123456789ab', 'a dash moved'],
  ])('hasObjectKeyLayout rejects %j (%s)', (key) => {
    expect(hasObjectKeyLayout(key)).toBe(false);
  });
});
