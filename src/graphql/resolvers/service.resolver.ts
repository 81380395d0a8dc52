import { Ctx, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context';
import { Service, StorageBackend, toService, toStorageBackend } from '../types/service.type';

@Resolver()
export class ServiceResolver {
  @Query(() => Service, { description: 'The service description (GET /service).' })
  async service(@Ctx() ctx: GraphqlContext): Promise<Service> {
    return toService(await ctx.services.serviceInfo.describe());
  }

  @Query(() => [StorageBackend], { description: 'The storage backends (GET /service/storage-backends).' })
  storageBackends(@Ctx() ctx: GraphqlContext): StorageBackend[] {
    return ctx.services.serviceInfo.storageBackends(ctx.request).map(toStorageBackend);
  }
}
