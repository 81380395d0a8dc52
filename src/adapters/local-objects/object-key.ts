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

/** True only for keys `newObjectKey` can produce (one canonical spelling per object). */
export function isObjectKey(key: string): boolean {
  // The directory digits are the uuid's first four: compared before the (costlier) pattern,
  // which every URL of a segments page goes through.
  if (key.length !== 42 || key.charCodeAt(0) !== key.charCodeAt(6) || key.charCodeAt(1) !== key.charCodeAt(7)) return false;
  if (key.charCodeAt(3) !== key.charCodeAt(8) || key.charCodeAt(4) !== key.charCodeAt(9)) return false;
  return OBJECT_KEY_RE.test(key);
}
