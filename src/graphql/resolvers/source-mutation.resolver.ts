import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { TagValue } from '../../domain/entities';
import { validateDescription, validateLabel, validateTagValue } from '../../validation/property-validators';
import type { SourceScalarProperty } from '../../services/flow-property-service';
import type { GraphqlContext } from '../context';
import { checkBody, forgetLoaded, tagNameArg } from './mutation-edge';
import { Source, toSource } from '../types/source.type';
import { uuidArg } from './arguments';

/** The source property endpoints (/sources/{sourceId}/tags/{name}, label, description); each answers the source after the write. */
@Resolver()
export class SourceMutationResolver {
  private async changed(ctx: GraphqlContext, id: string): Promise<Source> {
    forgetLoaded(ctx);
    return toSource(await ctx.services.flows.getSource(ctx.request, id));
  }

  private async setScalar(ctx: GraphqlContext, sourceId: string, property: SourceScalarProperty, validate: (body: unknown) => string | undefined, value: string): Promise<Source> {
    const id = uuidArg('sourceId', sourceId);
    checkBody(validate(value));
    await ctx.services.flows.properties.putSourceProperty(ctx.request, id, property, value);
    return this.changed(ctx, id);
  }

  private async deleteScalar(ctx: GraphqlContext, sourceId: string, property: SourceScalarProperty): Promise<Source> {
    const id = uuidArg('sourceId', sourceId);
    await ctx.services.flows.properties.deleteSourceProperty(ctx.request, id, property);
    return this.changed(ctx, id);
  }

  @Mutation(() => Source, { description: 'Sets one tag (PUT /sources/{sourceId}/tags/{name}): a string or a list of strings.' })
  async setSourceTag(
    @Ctx() ctx: GraphqlContext,
    @Arg('sourceId', () => ID) sourceId: string,
    @Arg('name') name: string,
    @Arg('value', () => GraphQLJSON) value: unknown,
  ): Promise<Source> {
    const id = uuidArg('sourceId', sourceId);
    const tag = tagNameArg(name);
    checkBody(validateTagValue(value));
    await ctx.services.flows.properties.putSourceTag(ctx.request, id, tag, value as TagValue);
    return this.changed(ctx, id);
  }

  @Mutation(() => Source, { description: 'Removes one tag (DELETE /sources/{sourceId}/tags/{name}); NOT_FOUND when the source has no such tag.' })
  async deleteSourceTag(@Ctx() ctx: GraphqlContext, @Arg('sourceId', () => ID) sourceId: string, @Arg('name') name: string): Promise<Source> {
    const id = uuidArg('sourceId', sourceId);
    await ctx.services.flows.properties.deleteSourceTag(ctx.request, id, tagNameArg(name));
    return this.changed(ctx, id);
  }

  @Mutation(() => Source, { description: 'PUT /sources/{sourceId}/label.' })
  async setSourceLabel(@Ctx() ctx: GraphqlContext, @Arg('sourceId', () => ID) sourceId: string, @Arg('label') label: string): Promise<Source> {
    return this.setScalar(ctx, sourceId, 'label', validateLabel, label);
  }

  @Mutation(() => Source, { description: 'DELETE /sources/{sourceId}/label.' })
  async deleteSourceLabel(@Ctx() ctx: GraphqlContext, @Arg('sourceId', () => ID) sourceId: string): Promise<Source> {
    return this.deleteScalar(ctx, sourceId, 'label');
  }

  @Mutation(() => Source, { description: 'PUT /sources/{sourceId}/description.' })
  async setSourceDescription(
    @Ctx() ctx: GraphqlContext,
    @Arg('sourceId', () => ID) sourceId: string,
    @Arg('description') description: string,
  ): Promise<Source> {
    return this.setScalar(ctx, sourceId, 'description', validateDescription, description);
  }

  @Mutation(() => Source, { description: 'DELETE /sources/{sourceId}/description.' })
  async deleteSourceDescription(@Ctx() ctx: GraphqlContext, @Arg('sourceId', () => ID) sourceId: string): Promise<Source> {
    return this.deleteScalar(ctx, sourceId, 'description');
  }
}
