import { Ctx, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context';
import { PrincipalType, toPrincipal } from '../types/principal.type';

@Resolver(() => PrincipalType)
export class PrincipalResolver {
  @Query(() => PrincipalType, { description: 'The caller: principal and scopes.' })
  me(@Ctx() ctx: GraphqlContext): PrincipalType {
    return toPrincipal(ctx.request.principal);
  }
}
