import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context';
import { Flow, FlowCollectionItem, toFlow } from '../types/flow.type';

@Resolver(() => FlowCollectionItem)
export class FlowCollectionItemResolver {
  @FieldResolver(() => Flow, { nullable: true, description: 'The member flow, while it exists.' })
  async flow(@Root() item: FlowCollectionItem, @Ctx() ctx: GraphqlContext): Promise<Flow | null> {
    const flow = await ctx.loaders.flows.load(item.flowId);
    return flow === null ? null : toFlow(flow);
  }
}
