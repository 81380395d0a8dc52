import { randomUUID } from 'node:crypto';

/**
 * Storage keys are `ab/cd/<uuid v4>` where `abcd` are the uuid's first hex digits: random,
 * so objects spread evenly over 65,536 directories, and never derived from a client's
 * object id, so no id can steer a path.
 */
const OBJECT_KEY_RE = /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function newObjectKey(): string {
  const uuid = randomUUID();
  return `${uuid.slice(0, 2)}/${uuid.slice(2, 4)}/${uuid}`;
}

/**
 * The layout of a key without the pattern: 42 characters, `/` and `-` where they belong,
 * and the directory digits equal to the uuid's first four. What it leaves unchecked are the
 * 32 uuid digits (hex, version 4): the URL signer's hex decode refuses any non-hex digit, so
 * a page of URLs can be signed without running the pattern over every key.
 */
export function hasObjectKeyLayout(key: string): boolean {
  if (key.length !== 42 || key.charCodeAt(0) !== key.charCodeAt(6) || key.charCodeAt(1) !== key.charCodeAt(7)) return false;
  if (key.charCodeAt(3) !== key.charCodeAt(8) || key.charCodeAt(4) !== key.charCodeAt(9)) return false;
  return key[2] === '/' && key[5] === '/' && key[14] === '-' && key[19] === '-' && key[24] === '-' && key[29] === '-';
}

/** True only for keys `newObjectKey` can produce (one canonical spelling per object). */
export function isObjectKey(key: string): boolean {
  // The layout is compared before the (costlier) pattern.
  return hasObjectKeyLayout(key) && OBJECT_KEY_RE.test(key);
}
