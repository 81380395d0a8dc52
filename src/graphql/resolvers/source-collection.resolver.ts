import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context';
import { Source, SourceCollectionItem, toSource } from '../types/source.type';

@Resolver(() => SourceCollectionItem)
export class SourceCollectionItemResolver {
  @FieldResolver(() => Source, { nullable: true, description: 'The member source, while it exists and this request may read it.' })
  async source(@Root() item: SourceCollectionItem, @Ctx() ctx: GraphqlContext): Promise<Source | null> {
    const source = await ctx.loaders.sources.load(item.sourceId);
    return source === null ? null : toSource(source);
  }
}
