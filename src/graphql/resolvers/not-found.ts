import { TamsError } from '../../domain/errors';

/** `x(id)` queries and loaders answer null for a missing id; every other error goes on. */
export async function orNull<T>(read: Promise<T>, concealed?: () => void): Promise<T | null> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof TamsError && err.code === 'not_found') {
      // A 404 that hides a resource: answered as for an unknown id, told to the audit trail.
      if ((err as { permissionDenial?: unknown }).permissionDenial === true) concealed?.();
      return null;
    }
    throw err;
  }
}

/**
 * After a root lookup answered null (unknown, or hidden from the caller): `check` throws the
 * access policy's 404 for a hidden resource, which is then recorded as concealed, as REST's
 * 404 for it is recorded as a denial. Costs a read only on the null path.
 */
export async function recordIfHidden(check: Promise<unknown>, concealed: (() => void) | undefined): Promise<null> {
  await orNull(check, concealed);
  return null;
}
