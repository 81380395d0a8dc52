import { TamsError } from '../domain/errors';

/** `x(id)` queries and loaders answer null for a missing id; every other error goes on. */
export async function orNull<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof TamsError && err.code === 'not_found') return null;
    throw err;
  }
}
