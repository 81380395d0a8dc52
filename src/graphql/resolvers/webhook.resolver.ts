import { Arg, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import type { Connection } from '../types/connection.type';
import type { GraphqlContext } from '../context';
import { WebhookConnection } from '../types/connections.type';
import { orNull } from './not-found';
import { paginate } from './paging';
import { TagFilterInput } from '../types/tag-filter.input';
import { Webhook, toWebhook } from '../types/webhook.type';
import { tagFilterArg, uuidArg } from './arguments';

@Resolver(() => Webhook)
export class WebhookResolver {
  @Query(() => WebhookConnection, { description: 'Webhook registrations (GET /service/webhooks), by url then id.' })
  async webhooks(
    @Ctx() ctx: GraphqlContext,
    @Arg('tags', () => [TagFilterInput], { nullable: true }) tags: TagFilterInput[] | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('reverse', () => Boolean, { defaultValue: false }) reverse: boolean,
  ): Promise<Connection<Webhook>> {
    const tagFilter = tagFilterArg(tags ?? undefined);
    const filter = { reverse, ...(tagFilter === undefined ? {} : { tags: tagFilter }) };
    return paginate(
      (limit, page) => ctx.services.webhooks.list(ctx.request, filter, { limit, ...(page === undefined ? {} : { page }) }),
      { first, after },
      ctx.limits,
      toWebhook,
    );
  }

  @Query(() => Webhook, { nullable: true, description: 'One webhook registration, or null when there is none with this id.' })
  async webhook(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string): Promise<Webhook | null> {
    const webhookId = uuidArg('id', id);
    const found = await orNull(ctx.services.webhooks.get(ctx.request, webhookId), () => ctx.request.concealed?.(`webhook:${webhookId}`));
    return found === null ? null : toWebhook(found);
  }
}
