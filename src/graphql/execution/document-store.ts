import type { DocumentStore } from '@apollo/server';
import type { DocumentNode } from 'graphql';
import { BoundedCache } from './bounded-cache';

/** Heap bytes per character of operation text in a document parsed with locations (measured 30-100). */
const BYTES_PER_CHAR = 100;

/**
 * Apollo's store of parsed and validated documents, bounded by an estimate of the memory they
 * hold (`maxBytes`, 16 MiB by default) and by count. Apollo's own measures each document by
 * stringifying it to JSON on every insert (2% of a first run's CPU here) and undercounts the
 * heap four times over: its default held about 120 MB after a flood of distinct texts. A
 * document's size is its source text's length (`loc.end`, Apollo parses with locations).
 */
export class BoundedDocumentStore implements DocumentStore {
  private readonly documents: BoundedCache<DocumentNode>;

  constructor(maxBytes = 16 * 1024 * 1024, maxDocuments = 5000) {
    this.documents = new BoundedCache(maxDocuments, maxBytes);
  }

  async get(key: string): Promise<DocumentNode | undefined> {
    this.documents.touch(key);
    return this.documents.get(key);
  }

  async set(key: string, value: DocumentNode): Promise<void> {
    this.documents.set(key, value, key.length + (value.loc?.end ?? 10_000) * BYTES_PER_CHAR);
  }

  async delete(key: string): Promise<boolean> {
    return this.documents.delete(key);
  }
}
