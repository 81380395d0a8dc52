import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { BoundedCache } from './bounded-cache';
import type { SharedOperations } from '../../ports/shared-operations';

/** The key Apollo uses for an operation: `apq:` and the SHA-256 of its text, in hex. */
const PREFIX = 'apq:';

export function operationHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Reads a persisted-queries file: a JSON array of operation texts, or an object of
 * SHA-256 hash to operation text (hashes are checked against the texts).
 */
export function readPersistedQueries(file: string): Map<string, string> {
  const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  const entries: [string, string][] = [];
  if (Array.isArray(parsed)) {
    for (const text of parsed) {
      if (typeof text !== 'string') throw new Error(`${file}: every entry must be an operation text`);
      entries.push([operationHash(text), text]);
    }
  } else if (typeof parsed === 'object' && parsed !== null) {
    for (const [hash, text] of Object.entries(parsed)) {
      if (typeof text !== 'string' || operationHash(text) !== hash) {
        throw new Error(`${file}: ${hash} is not the SHA-256 of its operation text`);
      }
      entries.push([hash, text]);
    }
  } else {
    throw new Error(`${file}: must hold a JSON array of operations or an object of hash to operation`);
  }
  return new Map(entries);
}

/**
 * Apollo's persisted-query cache: the operations of the file (always kept) and, unless only
 * those are accepted, operations clients register by automatic persisted queries (the most
 * recently used, at most `capacity` of them and `maxCharacters` of text in all), kept by this
 * replica and, with `shared` (REDIS_URL), by every replica.
 */
export class PersistedQueryCache {
  private readonly registered: BoundedCache<string>;

  constructor(
    private readonly preloaded: ReadonlyMap<string, string>,
    private readonly acceptRegistrations: boolean,
    capacity = 10_000,
    maxCharacters = 8_000_000,
    private readonly shared?: SharedOperations,
  ) {
    this.registered = new BoundedCache(capacity, maxCharacters);
  }

  async get(key: string): Promise<string | undefined> {
    const hash = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    const fixed = this.preloaded.get(hash);
    if (fixed !== undefined) return fixed;
    this.registered.touch(hash);
    const local = this.registered.get(hash);
    if (local !== undefined || !this.acceptRegistrations || this.shared === undefined) return local;
    const text = await this.shared.get(hash);
    // Registered on another replica: checked like a registration here (the hash must be the text's).
    if (text === undefined || operationHash(text) !== hash) return undefined;
    this.registered.set(hash, text, text.length);
    return text;
  }

  async set(key: string, value: string): Promise<void> {
    if (!this.acceptRegistrations) return;
    const hash = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    if (this.preloaded.has(hash)) return;
    this.registered.set(hash, value, value.length);
    await this.shared?.set(hash, value);
  }

  async delete(key: string): Promise<boolean> {
    const hash = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    return this.registered.delete(hash);
  }
}
