import { TamsError } from '../../domain/errors';
import { UUID_RE } from '../query-params';

/** The YAML answers 404 for a malformed id in the path ("The ... ID in the path is invalid"). */
export function pathUuid(params: unknown, name: string): string {
  const value = (params as Record<string, string | undefined>)[name];
  if (value === undefined || !UUID_RE.test(value)) {
    throw new TamsError('invalid_path_id', `The ${name} in the path is not a valid id`);
  }
  return value;
}

export function pathString(params: unknown, name: string): string {
  const value = (params as Record<string, string | undefined>)[name];
  if (value === undefined || value === '' || value.length > 1024) {
    throw new TamsError('invalid_path_id', `The ${name} in the path is not a valid id`);
  }
  return value;
}
