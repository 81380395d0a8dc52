import { randomUUID } from 'node:crypto';

/**
 * Storage keys are `ab/cd/<uuid v4>` where `abcd` are the uuid's first hex digits: random,
 * so objects spread evenly over 65,536 directories, and never derived from a client's
 * object id, so no id can steer a path.
 */
const OBJECT_KEY_RE =
  /^([0-9a-f]{2})\/([0-9a-f]{2})\/(([0-9a-f]{4})[0-9a-f]{4}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$/;

export function newObjectKey(): string {
  const uuid = randomUUID();
  return `${uuid.slice(0, 2)}/${uuid.slice(2, 4)}/${uuid}`;
}

/** True only for keys `newObjectKey` can produce (one canonical spelling per object). */
export function isObjectKey(key: string): boolean {
  const m = OBJECT_KEY_RE.exec(key);
  return m !== null && `${m[1]}${m[2]}` === m[4];
}
