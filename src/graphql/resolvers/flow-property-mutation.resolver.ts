import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import type { CollectionItem, TagValue } from '../../domain/entities';
import { validateBitRate, validateDescription, validateLabel, validateReadOnly, validateTagValue } from '../../validation/property-validators';
import { validateFlowCollectionPut } from '../../validation/validators';
import type { FlowScalarProperty } from '../../services/flow-property-service';
import type { GraphqlContext } from '../context';
import { FlowCollectionItemInput, collectionItems } from '../types/flow.input';
import { Flow, toFlow } from '../types/flow.type';
import { checkBody, forgetLoaded, tagNameArg } from './mutation-edge';
import { uuidArg } from './arguments';

/**
 * The flow property endpoints (/flows/{flowId}/tags/{name}, label, description, read_only,
 * max_bit_rate, avg_bit_rate, flow_collection). Each answers the flow as stored after the
 * write. A read-only flow refuses them all (FORBIDDEN) except setFlowReadOnly.
 */
@Resolver()
export class FlowPropertyMutationResolver {
  private async changed(ctx: GraphqlContext, id: string): Promise<Flow> {
    forgetLoaded(ctx);
    return toFlow(await ctx.services.flows.getFlow(ctx.request, id));
  }

  private async setScalar(
    ctx: GraphqlContext,
    flowId: string,
    property: FlowScalarProperty,
    validate: (body: unknown) => string | undefined,
    value: string | number,
  ): Promise<Flow> {
    const id = uuidArg('flowId', flowId);
    checkBody(validate(value));
    await ctx.services.flows.properties.putFlowProperty(ctx.request, id, property, value);
    return this.changed(ctx, id);
  }

  private async deleteScalar(ctx: GraphqlContext, flowId: string, property: FlowScalarProperty): Promise<Flow> {
    const id = uuidArg('flowId', flowId);
    await ctx.services.flows.properties.deleteFlowProperty(ctx.request, id, property);
    return this.changed(ctx, id);
  }

  @Mutation(() => Flow, { description: 'Sets one tag (PUT /flows/{flowId}/tags/{name}): a string or a list of strings.' })
  async setFlowTag(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('name') name: string,
    @Arg('value', () => GraphQLJSON) value: unknown,
  ): Promise<Flow> {
    const id = uuidArg('flowId', flowId);
    const tag = tagNameArg(name);
    checkBody(validateTagValue(value));
    await ctx.services.flows.properties.putFlowTag(ctx.request, id, tag, value as TagValue);
    return this.changed(ctx, id);
  }

  @Mutation(() => Flow, { description: 'Removes one tag (DELETE /flows/{flowId}/tags/{name}); NOT_FOUND when the flow has no such tag.' })
  async deleteFlowTag(@Ctx() ctx: GraphqlContext, @Arg('flowId', () => ID) flowId: string, @Arg('name') name: string): Promise<Flow> {
    const id = uuidArg('flowId', flowId);
    await ctx.services.flows.properties.deleteFlowTag(ctx.request, id, tagNameArg(name));
    return this.changed(ctx, id);
  }

  @Mutation(() => Flow, { description: 'PUT /flows/{flowId}/label.' })
  async setFlowLabel(@Ctx() ctx: GraphqlContext, @Arg('flowId', () => ID) flowId: string, @Arg('label') label: string): Promise<Flow> {
    return this.setScalar(ctx, flowId, 'label', validateLabel, label);
  }

  @Mutation(() => Flow, { description: 'DELETE /flows/{flowId}/label.' })
  async deleteFlowLabel(@Ctx() ctx: GraphqlContext, @Arg('flowId', () => ID) flowId: string): Promise<Flow> {
    return this.deleteScalar(ctx, flowId, 'label');
  }

  @Mutation(() => Flow, { description: 'PUT /flows/{flowId}/description.' })
  async setFlowDescription(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('description') description: string,
  ): Promise<Flow> {
    return this.setScalar(ctx, flowId, 'description', validateDescription, description);
  }

  @Mutation(() => Flow, { description: 'DELETE /flows/{flowId}/description.' })
  async deleteFlowDescription(@Ctx() ctx: GraphqlContext, @Arg('flowId', () => ID) flowId: string): Promise<Flow> {
    return this.deleteScalar(ctx, flowId, 'description');
  }

  @Mutation(() => Flow, { description: 'PUT /flows/{flowId}/max_bit_rate (kilobits per second).' })
  async setFlowMaxBitRate(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('maxBitRate', () => Int) maxBitRate: number,
  ): Promise<Flow> {
    return this.setScalar(ctx, flowId, 'max_bit_rate', validateBitRate, maxBitRate);
  }

  @Mutation(() => Flow, { description: 'DELETE /flows/{flowId}/max_bit_rate.' })
  async deleteFlowMaxBitRate(@Ctx() ctx: GraphqlContext, @Arg('flowId', () => ID) flowId: string): Promise<Flow> {
    return this.deleteScalar(ctx, flowId, 'max_bit_rate');
  }

  @Mutation(() => Flow, {
    description: 'PUT /flows/{flowId}/avg_bit_rate (kilobits per second). A profile-linked flow takes it from its profile and refuses it.',
  })
  async setFlowAvgBitRate(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('avgBitRate', () => Int) avgBitRate: number,
  ): Promise<Flow> {
    return this.setScalar(ctx, flowId, 'avg_bit_rate', validateBitRate, avgBitRate);
  }

  @Mutation(() => Flow, { description: 'DELETE /flows/{flowId}/avg_bit_rate. A profile-linked flow refuses it (FORBIDDEN).' })
  async deleteFlowAvgBitRate(@Ctx() ctx: GraphqlContext, @Arg('flowId', () => ID) flowId: string): Promise<Flow> {
    return this.deleteScalar(ctx, flowId, 'avg_bit_rate');
  }

  @Mutation(() => Flow, { description: 'PUT /flows/{flowId}/read_only: the one change a read-only flow accepts.' })
  async setFlowReadOnly(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('readOnly', () => Boolean) readOnly: boolean,
  ): Promise<Flow> {
    const id = uuidArg('flowId', flowId);
    checkBody(validateReadOnly(readOnly));
    await ctx.services.flows.properties.putReadOnly(ctx.request, id, readOnly);
    return this.changed(ctx, id);
  }

  @Mutation(() => Flow, {
    description: 'Replaces the ordered collection (PUT /flows/{flowId}/flow_collection). Members must be other existing flows, each once.',
  })
  async setFlowCollection(
    @Ctx() ctx: GraphqlContext,
    @Arg('flowId', () => ID) flowId: string,
    @Arg('collection', () => [FlowCollectionItemInput]) collection: FlowCollectionItemInput[],
  ): Promise<Flow> {
    const id = uuidArg('flowId', flowId);
    const items = collectionItems(collection);
    checkBody(validateFlowCollectionPut(items));
    await ctx.services.flows.properties.putFlowCollection(ctx.request, id, items as CollectionItem[]);
    return this.changed(ctx, id);
  }

  @Mutation(() => Flow, { description: 'DELETE /flows/{flowId}/flow_collection.' })
  async deleteFlowCollection(@Ctx() ctx: GraphqlContext, @Arg('flowId', () => ID) flowId: string): Promise<Flow> {
    const id = uuidArg('flowId', flowId);
    await ctx.services.flows.properties.deleteFlowCollection(ctx.request, id);
    return this.changed(ctx, id);
  }
}
