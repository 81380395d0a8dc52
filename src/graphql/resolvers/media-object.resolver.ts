import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { TamsError } from '../../domain/errors';
import { UUID_RE } from '../../domain/ids';
import type { Connection } from '../types/connection.type';
import type { GraphqlContext } from '../context';
import { FlowConnection } from '../types/connections.type';
import { Flow, toFlow } from '../types/flow.type';
import { MediaObject, toMediaObject } from '../types/media-object.type';
import { recordIfHidden } from './not-found';
import { paginate } from './paging';
import { objectIdArg } from './arguments';
import { loadVisible } from './loaders';

@Resolver(() => MediaObject)
export class MediaObjectResolver {
  @Query(() => MediaObject, { nullable: true, description: 'One media object (GET /objects/{id}), or null when none is registered with this id.' })
  async object(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string): Promise<MediaObject | null> {
    const objectId = objectIdArg('id', id);
    const found = await ctx.loaders.objects.load(objectId);
    if (found === null) return recordIfHidden(ctx.services.storage.checkReadable(ctx.request, objectId), () => ctx.request.concealed?.(`object:${objectId}`));
    return toMediaObject(found);
  }

  @FieldResolver(() => FlowConnection, { description: 'The flows with a segment on this object, by id.' })
  async referencedByFlows(
    @Root() object: MediaObject,
    @Ctx() ctx: GraphqlContext,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<Connection<Flow>> {
    return paginate(
      async (limit, page) => {
        if (page !== undefined && !UUID_RE.test(page)) throw new TamsError('bad_cursor', 'Invalid cursor');
        const ids = page === undefined ? object.referencedByFlowIds : object.referencedByFlowIds.filter((id) => id > page);
        const shown = ids.slice(0, limit);
        const items = await loadVisible(ctx.loaders.flows, shown);
        return { items, ...(ids.length > limit ? { next: shown[shown.length - 1]! } : {}) };
      },
      { first, after },
      ctx.limits,
      toFlow,
    );
  }

  @FieldResolver(() => Flow, { nullable: true, description: 'The first flow that referenced the object, while it exists.' })
  async firstReferencedByFlow(@Root() object: MediaObject, @Ctx() ctx: GraphqlContext): Promise<Flow | null> {
    if (object.firstReferencedByFlowId === undefined) return null;
    const flow = await ctx.loaders.flows.load(object.firstReferencedByFlowId);
    return flow === null ? null : toFlow(flow);
  }
}
