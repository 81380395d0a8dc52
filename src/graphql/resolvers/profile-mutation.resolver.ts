import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { Profile as ProfileEntity } from '../../domain/entities';
import { validateProfilePost } from '../../validation/property-validators';
import type { GraphqlContext } from '../context';
import { checkBody } from './mutation-edge';
import { ProfileInput, toProfileBody } from '../types/profile.input';
import { Profile, toProfile } from '../types/profile.type';
import { uuidArg } from './arguments';

@Resolver()
export class ProfileMutationResolver {
  @Mutation(() => Profile, {
    description: 'Creates a flow profile (POST /service/profiles/{profileId}). Profiles are immutable: an existing id is refused.',
  })
  async createProfile(
    @Ctx() ctx: GraphqlContext,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => ProfileInput) input: ProfileInput,
  ): Promise<Profile> {
    const body = toProfileBody(uuidArg('id', id), input);
    checkBody(validateProfilePost(body));
    return toProfile(await ctx.services.profiles.createProfile(id, body as unknown as ProfileEntity));
  }
}
