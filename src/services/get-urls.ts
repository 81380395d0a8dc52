import type { ObjectStorageRef, StorageBackend, UncontrolledUrl } from '../domain/entities';
import type { TagFilter } from '../ports/metadata-store';
import type { ObjectStore } from '../ports/object-store';
import { matchesTags } from '../domain/tags';
import { isPlainJsonText, jsonString } from '../domain/json-text';

/** The get_urls filters of segment and object listings (TAMS ADR 0023, 0054). */
export interface GetUrlOptions {
  /** Labels to include; undefined = no filtering, [] = none. */
  acceptGetUrls?: string[];
  /** Storage ids to include; undefined or [] = no filtering. */
  acceptStorageIds?: string[];
  presigned?: boolean;
  verbose: boolean;
  backendTags?: TagFilter;
}

export type GetUrl = Record<string, unknown> & { url: string };

/**
 * Builds get_urls for objects. What a filter decides about the controlled backend is worked
 * out once per request, so each object costs one (cached) signature at most.
 */
export class GetUrlBuilder {
  private readonly controlledAllowed: boolean;
  private readonly controlledTemplate: Record<string, unknown>;
  private readonly labelJson: string;
  /** Signed URLs can be written into JSON as they are (see ObjectStore.getUrlsArePlainAfterBase). */
  private readonly plainUrls: boolean;
  private readonly presigned = new Map<string, string>();

  constructor(
    private readonly objects: ObjectStore,
    private readonly options: GetUrlOptions,
    private readonly baseUrl: string,
    private readonly expiresAtSec: number,
    /** May the request read the controlled backend (its auth_classes, AppNote 0016)? Else its URLs are left out. */
    backendReadable = true,
  ) {
    const backend = objects.backend;
    this.controlledAllowed = backendReadable && this.allows(backend.label, backend.id, true, backend);
    this.controlledTemplate = options.verbose ? verboseFields(backend) : { label: backend.label };
    this.labelJson = JSON.stringify(backend.label);
    this.plainUrls = objects.getUrlsArePlainAfterBase === true && isPlainJsonText(baseUrl);
  }

  private allows(label: string | undefined, storageId: string | undefined, presigned: boolean, backend?: StorageBackend): boolean {
    const o = this.options;
    if (o.acceptGetUrls !== undefined && (label === undefined || !o.acceptGetUrls.includes(label))) return false;
    if (o.acceptStorageIds !== undefined && o.acceptStorageIds.length > 0 && (storageId === undefined || !o.acceptStorageIds.includes(storageId))) return false;
    if (o.presigned !== undefined && o.presigned !== presigned) return false;
    if (o.backendTags !== undefined && (backend === undefined || !matchesTags(backend.tags, o.backendTags))) return false;
    return true;
  }

  /** Signs, in one batch, the URLs that `build` will be asked for (a page of segments). */
  prepare(storages: readonly (ObjectStorageRef | null | undefined)[]): void {
    if (!this.controlledAllowed) return;
    const backendId = this.objects.backend.id;
    const keys: string[] = [];
    // An object named twice on a page is simply signed twice: cheaper than checking each key.
    for (const storage of storages) if (storage && storage.storage_id === backendId) keys.push(storage.key);
    const urls = this.objects.signGets(keys, this.baseUrl, this.expiresAtSec);
    for (let i = 0; i < keys.length; i++) this.presigned.set(keys[i] as string, urls[i] as string);
  }

  /**
   * `build` as JSON text. The usual case (one signed URL of the controlled backend, not
   * verbose) is written directly; anything else is `JSON.stringify(build(...))`.
   */
  json(storage: ObjectStorageRef | null | undefined, uncontrolled: UncontrolledUrl[] | undefined): string {
    if (this.options.verbose || uncontrolled !== undefined) return JSON.stringify(this.build(storage, uncontrolled));
    if (!storage || !this.controlledAllowed || storage.storage_id !== this.objects.backend.id) return '[]';
    const url = this.presigned.get(storage.key) || this.objects.signGet(storage.key, this.baseUrl, this.expiresAtSec);
    return `[{"url":${this.plainUrls ? `"${url}"` : jsonString(url)},"presigned":true,"label":${this.labelJson}}]`;
  }

  build(storage: ObjectStorageRef | null | undefined, uncontrolled: UncontrolledUrl[] | undefined): GetUrl[] {
    const urls: GetUrl[] = [];
    if (storage && this.controlledAllowed && storage.storage_id === this.objects.backend.id) {
      const url = this.presigned.get(storage.key) || this.objects.signGet(storage.key, this.baseUrl, this.expiresAtSec);
      // Written out for the usual (non-verbose) case: a spread per URL showed in profiles.
      urls.push(this.options.verbose ? { url, presigned: true, ...this.controlledTemplate } : { url, presigned: true, label: this.objects.backend.label });
    }
    if (uncontrolled) {
      for (const u of uncontrolled) {
        if (!this.allows(u.label, undefined, false)) continue;
        urls.push(this.options.verbose ? { url: u.url, presigned: false, label: u.label, controlled: false } : { url: u.url, presigned: false, label: u.label });
      }
    }
    return urls;
  }
}

function verboseFields(backend: StorageBackend): Record<string, unknown> {
  return {
    label: backend.label,
    storage_id: backend.id,
    controlled: true,
    store_type: backend.store_type,
    provider: backend.provider,
    store_product: backend.store_product,
    ...(backend.region === undefined ? {} : { region: backend.region }),
    ...(backend.availability_zone === undefined ? {} : { availability_zone: backend.availability_zone }),
    ...(backend.tags === undefined ? {} : { tags: backend.tags }),
  };
}
