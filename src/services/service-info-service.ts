import type { ServiceInfo, StorageBackend } from '../domain/entities';
import type { MetadataStore } from '../ports/metadata-store';
import type { ObjectStores } from './object-stores';
import type { RequestContext } from './request-context';
import { AccessPolicy, isAdmin, requireAdmin } from './access-policy';

export interface ServiceDescription {
  name?: string;
  description?: string;
  type: string;
  api_version: string;
  service_version: string;
  event_stream_mechanisms: { name: string; docs?: string }[];
  min_object_timeout: string;
  min_presigned_url_timeout: string;
}

export interface ServiceInfoOptions {
  defaultName: string;
  defaultDescription?: string;
  serviceVersion: string;
  minObjectTimeout: string;
  presignedUrlTimeout: string;
}

export class ServiceInfoService {
  constructor(
    private readonly store: MetadataStore,
    private readonly stores: ObjectStores,
    private readonly options: ServiceInfoOptions,
    private readonly policy: AccessPolicy = new AccessPolicy(),
  ) {}

  async describe(): Promise<ServiceDescription> {
    const info = await this.store.getServiceInfo();
    const name = info.name ?? this.options.defaultName;
    const description = info.description ?? this.options.defaultDescription;
    return {
      name,
      ...(description === undefined ? {} : { description }),
      type: 'urn:x-tams:service:tams-gateway',
      api_version: '8.2',
      service_version: this.options.serviceVersion,
      event_stream_mechanisms: [],
      min_object_timeout: this.options.minObjectTimeout,
      min_presigned_url_timeout: this.options.presignedUrlTimeout,
    };
  }

  /**
   * The outbox position of the newest event, retained or pruned (0 before the first): a
   * subscription resumed after it misses nothing committed since this call.
   */
  async newestEventSeq(): Promise<number> {
    const [last, pruned] = await Promise.all([this.store.lastEventSeq(), this.store.outboxPruned()]);
    return Math.max(last, pruned.through_seq);
  }

  /** POST /service: admin only (AppNote 0016). */
  async update(ctx: RequestContext, info: ServiceInfo): Promise<ServiceInfo> {
    requireAdmin(ctx.principal, 'Changing the service description');
    return this.store.setServiceInfo(info);
  }

  /** The storage backends the request has any permission on (their auth_classes tags, ADR 0055). */
  storageBackends(ctx: RequestContext): StorageBackend[] {
    const all = [...this.stores.backends];
    if (isAdmin(ctx.principal)) return all;
    return all.filter((backend) => this.policy.canSeeStorageBackend(ctx.principal, backend));
  }
}
