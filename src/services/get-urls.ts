import type { ObjectStorageRef, StorageBackend, UncontrolledUrl } from '../domain/entities';
import type { TagFilter } from '../ports/metadata-store';
import type { ObjectStore } from '../ports/object-store';
import { matchesTags } from '../domain/tags';
import { isPlainJsonText, jsonString } from '../domain/json-text';
import type { ObjectStores } from './object-stores';

/** The get_urls filters of segment and object listings (TAMS ADR 0023, 0054). */
export interface GetUrlOptions {
  /** Labels to include; undefined = no filtering, [] = none. */
  acceptGetUrls?: string[];
  /** Storage ids to include; undefined or [] = no filtering. */
  acceptStorageIds?: string[];
  /** Only presigned (true) or only plain (false) URLs; undefined = both. */
  presigned?: boolean;
  verbose: boolean;
  backendTags?: TagFilter;
}

export type GetUrl = Record<string, unknown> & { url: string };

/** What a request's filters decide about one storage backend, worked out once per request. */
interface BackendUrls {
  store: ObjectStore;
  /** Hand out presigned GET URLs of this backend. */
  signed: boolean;
  /** Hand out plain (unsigned) GET URLs of this backend: it has them and the filters allow them. */
  plain: boolean;
  signedTemplate: Record<string, unknown>;
  plainTemplate: Record<string, unknown>;
  /** `,"label":"…"}` closing a non-verbose signed URL's JSON. */
  signedTail: string;
  /** Signed URLs can be written into JSON as they are (see ObjectStore.getUrlsArePlainAfterBase). */
  plainJsonUrls: boolean;
  /** Signed URLs of the page, by key (see prepare). */
  presigned: Map<string, string>;
}

/**
 * Builds get_urls for objects. What the filters decide about each storage backend is worked
 * out once per request, so each controlled instance costs one (batched) signature at most.
 */
export class GetUrlBuilder {
  private readonly backends = new Map<string, BackendUrls>();

  constructor(
    stores: ObjectStores,
    private readonly options: GetUrlOptions,
    private readonly baseUrl: string,
    private readonly expiresAtSec: number,
    /** May the request read this backend (its auth_classes, AppNote 0016)? Else its URLs are left out. */
    readable: (backend: StorageBackend) => boolean = () => true,
  ) {
    for (const store of stores.all) {
      const backend = store.backend;
      const allowedHere = readable(backend) && this.allowsBackend(backend);
      const signed = allowedHere && this.allows(backend.label, backend.id, true);
      const plain = allowedHere && store.plainGet !== undefined && this.allows(backend.label, backend.id, false);
      if (!signed && !plain) continue;
      const verbose = options.verbose ? verboseFields(backend) : { label: backend.label };
      this.backends.set(backend.id, {
        store,
        signed,
        plain,
        signedTemplate: { presigned: true, ...verbose },
        plainTemplate: { presigned: false, ...verbose },
        signedTail: `,"presigned":true,"label":${JSON.stringify(backend.label)}}`,
        plainJsonUrls: store.getUrlsArePlain === true || (store.getUrlsArePlainAfterBase === true && isPlainJsonText(baseUrl)),
        presigned: new Map(),
      });
    }
  }

  private allowsBackend(backend: StorageBackend): boolean {
    const tags = this.options.backendTags;
    return tags === undefined || matchesTags(backend.tags, tags);
  }

  private allows(label: string | undefined, storageId: string | undefined, presigned: boolean): boolean {
    const o = this.options;
    if (o.acceptGetUrls !== undefined && (label === undefined || !o.acceptGetUrls.includes(label))) return false;
    if (o.acceptStorageIds !== undefined && o.acceptStorageIds.length > 0 && (storageId === undefined || !o.acceptStorageIds.includes(storageId))) return false;
    if (o.presigned !== undefined && o.presigned !== presigned) return false;
    return true;
  }

  /** Signs, in one batch per backend, the URLs that `build` and `json` will be asked for (a page of segments). */
  prepare(instanceLists: readonly (readonly ObjectStorageRef[] | undefined)[]): void {
    if (this.backends.size === 0) return;
    const keys = new Map<BackendUrls, string[]>();
    // An object named twice on a page is simply signed twice: cheaper than checking each key.
    for (const list of instanceLists) {
      if (list === undefined) continue;
      for (const instance of list) {
        const b = this.backends.get(instance.storage_id);
        if (b === undefined || !b.signed) continue;
        const batch = keys.get(b);
        if (batch === undefined) keys.set(b, [instance.key]);
        else batch.push(instance.key);
      }
    }
    for (const [b, batch] of keys) {
      const urls = b.store.signGets(batch, this.baseUrl, this.expiresAtSec);
      for (let i = 0; i < batch.length; i++) b.presigned.set(batch[i] as string, urls[i] as string);
    }
  }

  private signedUrl(b: BackendUrls, key: string): string {
    return b.presigned.get(key) || b.store.signGet(key, this.baseUrl, this.expiresAtSec);
  }

  /**
   * `build` as JSON text. The usual case (one controlled instance, its signed URL only, not
   * verbose) is written directly; anything else is `JSON.stringify(build(...))`.
   */
  json(instances: readonly ObjectStorageRef[] | undefined, uncontrolled: UncontrolledUrl[] | undefined): string {
    if (this.options.verbose || uncontrolled !== undefined || (instances !== undefined && instances.length > 1)) {
      return JSON.stringify(this.build(instances, uncontrolled));
    }
    const instance = instances?.[0];
    if (instance === undefined) return '[]';
    const b = this.backends.get(instance.storage_id);
    if (b === undefined) return '[]';
    if (b.plain) return JSON.stringify(this.build(instances, undefined));
    const url = this.signedUrl(b, instance.key);
    return `[{"url":${b.plainJsonUrls ? `"${url}"` : jsonString(url)}${b.signedTail}]`;
  }

  build(instances: readonly ObjectStorageRef[] | undefined, uncontrolled: UncontrolledUrl[] | undefined): GetUrl[] {
    const urls: GetUrl[] = [];
    if (instances !== undefined) {
      for (const instance of instances) {
        const b = this.backends.get(instance.storage_id);
        if (b === undefined) continue;
        // Written out for the usual (non-verbose) case: a spread per URL showed in profiles.
        if (b.signed) {
          const url = this.signedUrl(b, instance.key);
          urls.push(this.options.verbose ? { url, ...b.signedTemplate } : { url, presigned: true, label: b.store.backend.label });
        }
        if (b.plain && b.store.plainGet !== undefined) urls.push({ url: b.store.plainGet(instance.key), ...b.plainTemplate });
      }
    }
    // Uncontrolled URLs have no storage backend, so no backend tag can match them.
    if (uncontrolled && this.options.backendTags === undefined) {
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
