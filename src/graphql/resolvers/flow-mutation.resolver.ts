import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { Flow as FlowEntity } from '../../domain/entities';
import { validateFlowPut } from '../../validation/validators';
import type { GraphqlContext } from '../context';
import { PutFlowInput, toFlowPutBody } from '../types/flow.input';
import { toFlow } from '../types/flow.type';
import { checkBody, forgetLoaded } from './mutation-edge';
import { DeletionResult, PutFlowResult, toDeletionResult } from '../types/mutation-results.type';
import { uuidArg } from './arguments';

/** Whole-flow writes: PUT and DELETE /flows/{flowId}. */
@Resolver()
export class FlowMutationResolver {
  @Mutation(() => PutFlowResult, {
    description:
      'Creates or replaces a flow (PUT /flows/{flowId}), checked against the same TAMS schema as REST; validation messages name the TAMS JSON field. Its source is created when new.',
  })
  async putFlow(
    @Ctx() ctx: GraphqlContext,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => PutFlowInput) input: PutFlowInput,
  ): Promise<PutFlowResult> {
    const body = toFlowPutBody(uuidArg('id', id), input);
    checkBody(validateFlowPut(body));
    const result = await ctx.services.flows.putFlow(ctx.request, id, body as FlowEntity);
    forgetLoaded(ctx);
    return { created: result.created, flow: toFlow(result.flow) };
  }

  @Mutation(() => DeletionResult, {
    description:
      'Deletes a flow, its segments, and its source when no other flow uses it (DELETE /flows/{flowId}). A flow with many segments is deleted asynchronously: done is false and deletionRequest tracks it.',
  })
  async deleteFlow(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string): Promise<DeletionResult> {
    const outcome = await ctx.services.deletions.deleteFlow(ctx.request, uuidArg('id', id));
    forgetLoaded(ctx);
    return toDeletionResult(outcome);
  }
}
