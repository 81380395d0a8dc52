import { Arg, Ctx, ID, Int, Query, Resolver, registerEnumType } from 'type-graphql';
import type { Connection } from '../types/connection.type';
import type { GraphqlContext } from '../context';
import { DeletionRequestConnection } from '../types/connections.type';
import { DeletionRequest, toDeletionRequest } from '../types/deletion-request.type';
import { orNull } from './not-found';
import { paginate } from './paging';
import { uuidArg } from './arguments';

export enum DeletionRequestSortBy {
  CREATED = 'created',
  EXPIRY = 'expiry',
}
registerEnumType(DeletionRequestSortBy, { name: 'DeletionRequestSortBy' });

@Resolver(() => DeletionRequest)
export class DeletionRequestResolver {
  @Query(() => DeletionRequestConnection, { description: 'Asynchronous deletions (GET /flow-delete-requests).' })
  async deletionRequests(
    @Ctx() ctx: GraphqlContext,
    @Arg('sortBy', () => DeletionRequestSortBy, { defaultValue: DeletionRequestSortBy.CREATED }) sortBy: DeletionRequestSortBy,
    @Arg('reverse', () => Boolean, { defaultValue: false }) reverse: boolean,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<Connection<DeletionRequest>> {
    return paginate(
      (limit, page) => ctx.services.deletions.listRequests(ctx.request, sortBy, reverse, { limit, ...(page === undefined ? {} : { page }) }),
      { first, after },
      ctx.limits,
      toDeletionRequest,
    );
  }

  @Query(() => DeletionRequest, { nullable: true, description: 'One deletion request, or null when there is none with this id.' })
  async deletionRequest(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string): Promise<DeletionRequest | null> {
    const requestId = uuidArg('id', id);
    const found = await orNull(ctx.services.deletions.getRequest(ctx.request, requestId), () => ctx.request.concealed?.(`deletion_request:${requestId}`));
    return found === null ? null : toDeletionRequest(found);
  }
}
