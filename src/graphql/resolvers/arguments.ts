import { CONTENT_FORMATS } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { UUID_RE } from '../../domain/ids';
import type { TagFilter } from '../../ports/metadata-store';
import type { TagFilterInput } from '../types/tag-filter.input';

/** Argument checks shared by the resolvers; a bad value is BAD_USER_INPUT, as in REST. */
export function uuidArg(name: string, value: string): string {
  if (!UUID_RE.test(value)) throw new TamsError('bad_request', `Invalid argument ${name}: must be a UUID`);
  return value;
}

/** Object ids are the client's own strings (not always UUIDs): only their size is bounded, as in REST. */
export function objectIdArg(name: string, value: string): string {
  if (value === '' || value.length > 1024) throw new TamsError('bad_request', `Invalid argument ${name}: must be 1 to 1024 characters`);
  return value;
}

export function formatArg(value: string): string {
  if (!(CONTENT_FORMATS as readonly string[]).includes(value)) {
    throw new TamsError('bad_request', `Invalid argument format: must be one of ${CONTENT_FORMATS.join(', ')}`);
  }
  return value;
}

export function tagFilterArg(inputs: TagFilterInput[] | undefined): TagFilter | undefined {
  if (inputs === undefined || inputs.length === 0) return undefined;
  const filter: TagFilter = { values: {}, exists: {} };
  for (const input of inputs) {
    if (input.name === '') throw new TamsError('bad_request', 'Invalid tag filter: the tag name is empty');
    if (input.values !== undefined && input.values !== null) filter.values[input.name] = input.values;
    if (input.exists !== undefined && input.exists !== null) filter.exists[input.name] = input.exists;
  }
  return filter;
}
