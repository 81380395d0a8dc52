import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { validateServicePost } from '../../validation/validators';
import type { GraphqlContext } from '../context';
import { checkBody, compact } from './mutation-edge';
import { ServiceInput } from '../types/service.input';
import { Service, toService } from '../types/service.type';

@Resolver()
export class ServiceMutationResolver {
  @Mutation(() => Service, { description: "Sets the service's name and/or description (POST /service); answers the service description." })
  async updateService(@Ctx() ctx: GraphqlContext, @Arg('input', () => ServiceInput) input: ServiceInput): Promise<Service> {
    const body = compact({ name: input.name, description: input.description });
    checkBody(validateServicePost(body));
    await ctx.services.serviceInfo.update(ctx.request, body);
    return toService(await ctx.services.serviceInfo.describe());
  }
}
