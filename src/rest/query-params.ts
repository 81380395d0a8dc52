/**
 * Query-string parsing for the TAMS REST edge. Every parameter is parsed strictly; a bad
 * value is a 400 with a message naming the parameter. Repeated parameters are refused
 * rather than guessed at.
 */
import { TamsError } from '../domain/errors';
import { TimeRange, tryParseTimeRange } from '../domain/timerange';
import { CONTENT_FORMATS } from '../domain/entities';
import type { TagFilter } from '../ports/metadata-store';
import type { GetUrlOptions } from '../services/get-urls';
import { UUID_RE } from '../domain/ids';

export { UUID_RE };

export type Query = Record<string, string | string[] | undefined>;

const MAX_PARAM_LENGTH = 8192;

function bad(name: string, why: string): TamsError {
  return new TamsError('bad_request', `Invalid query parameter ${name}: ${why}`);
}

export function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw bad(name, 'given more than once');
  if (v.length > MAX_PARAM_LENGTH) throw bad(name, 'too long');
  return v;
}

export function bool(q: Query, name: string): boolean | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  // Any letter case: Python clients send `True` and `False`.
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw bad(name, 'must be true or false');
}

export function int(q: Query, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  if (!/^-?(0|[1-9][0-9]{0,15})$/.test(v)) throw bad(name, 'must be an integer');
  const n = Number(v);
  if (n < min || n > max) throw bad(name, `must be between ${min} and ${max}`);
  return n;
}

export function timerange(q: Query, name = 'timerange'): TimeRange | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  const tr = tryParseTimeRange(v);
  if (tr === undefined) throw bad(name, `${JSON.stringify(v)} is not a TAMS timerange`);
  return tr;
}

export function uuid(q: Query, name: string): string | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  if (!UUID_RE.test(v)) throw bad(name, 'must be a UUID');
  return v;
}

/** A comma-separated list; `allowEmpty` lets `name=` mean the empty list. */
export function list(q: Query, name: string, itemRe?: RegExp): string[] | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  if (v === '') return [];
  const items = v.split(',');
  if (items.length > 1000) throw bad(name, 'too many items');
  for (const item of items) {
    if (item === '' || (itemRe && !itemRe.test(item))) throw bad(name, `invalid item ${JSON.stringify(item)}`);
  }
  return items;
}

export function uuidList(q: Query, name: string): string[] | undefined {
  return list(q, name, UUID_RE);
}

export function enumValue<T extends string>(q: Query, name: string, allowed: readonly T[]): T | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw bad(name, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

export function format(q: Query): string | undefined {
  return enumValue(q, 'format', CONTENT_FORMATS);
}

/** `{prefix}.{name}=a,b` and `{prefix}_exists.{name}=true|false`. */
export function tagFilter(q: Query, prefix: string): TagFilter | undefined {
  const filter: TagFilter = { values: {}, exists: {} };
  let any = false;
  for (const key of Object.keys(q)) {
    if (key.startsWith(`${prefix}.`)) {
      const name = key.slice(prefix.length + 1);
      if (name === '') throw bad(key, 'tag name is empty');
      const values = single(q, key) as string;
      filter.values[name] = values.split(',');
      any = true;
    } else if (key.startsWith(`${prefix}_exists.`)) {
      const name = key.slice(prefix.length + 8);
      if (name === '') throw bad(key, 'tag name is empty');
      filter.exists[name] = bool(q, key) as boolean;
      any = true;
    }
  }
  return any ? filter : undefined;
}

export function pageLimit(q: Query, defaultLimit: number, maxLimit: number): number {
  const n = int(q, 'limit', 1, Number.MAX_SAFE_INTEGER);
  return n === undefined ? defaultLimit : Math.min(n, maxLimit);
}

export function getUrlOptions(q: Query): GetUrlOptions {
  const options: GetUrlOptions = { verbose: bool(q, 'verbose_storage') ?? false };
  const accept = single(q, 'accept_get_urls');
  if (accept !== undefined) options.acceptGetUrls = accept === '' ? [] : accept.split(',');
  const storageIds = uuidList(q, 'accept_storage_ids');
  if (storageIds !== undefined) options.acceptStorageIds = storageIds;
  const presigned = bool(q, 'presigned');
  if (presigned !== undefined) options.presigned = presigned;
  const backendTags = tagFilter(q, 'storage_backend_tag');
  if (backendTags !== undefined) options.backendTags = backendTags;
  return options;
}
