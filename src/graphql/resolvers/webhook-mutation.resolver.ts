import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { validateWebhookPost, validateWebhookPut } from '../../validation/registration-validators';
import type { WebhookBody } from '../../services/webhook-service';
import type { GraphqlContext } from '../context';
import { checkBody } from './mutation-edge';
import { WebhookInput, toWebhookBody } from '../types/webhook.input';
import { Webhook, toWebhook } from '../types/webhook.type';
import { uuidArg } from './arguments';

@Resolver()
export class WebhookMutationResolver {
  @Mutation(() => Webhook, { description: 'Registers a webhook (POST /service/webhooks); the id is generated.' })
  async createWebhook(@Ctx() ctx: GraphqlContext, @Arg('input', () => WebhookInput) input: WebhookInput): Promise<Webhook> {
    const body = toWebhookBody(input);
    checkBody(validateWebhookPost(body));
    return toWebhook(await ctx.services.webhooks.create(ctx.request, body as WebhookBody));
  }

  @Mutation(() => Webhook, { description: 'Replaces a webhook registration (PUT /service/webhooks/{webhookId}); input.status is required.' })
  async updateWebhook(
    @Ctx() ctx: GraphqlContext,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => WebhookInput) input: WebhookInput,
  ): Promise<Webhook> {
    const body = toWebhookBody(input, uuidArg('id', id));
    checkBody(validateWebhookPut(body));
    return toWebhook(await ctx.services.webhooks.update(ctx.request, id, body as WebhookBody));
  }

  @Mutation(() => Webhook, { description: 'Deletes a webhook registration (DELETE /service/webhooks/{webhookId}); answers it as it was.' })
  async deleteWebhook(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string): Promise<Webhook> {
    const webhook = await ctx.services.webhooks.get(ctx.request, uuidArg('id', id));
    await ctx.services.webhooks.delete(ctx.request, id);
    return toWebhook(webhook);
  }
}
