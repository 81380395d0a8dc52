import { Arg, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import { TamsError } from '../../domain/errors';
import type { Connection } from '../types/connection.type';
import type { GraphqlContext } from '../context';
import { ProfileConnection } from '../types/connections.type';
import { orNull } from './not-found';
import { paginate } from './paging';
import { Profile, toProfile } from '../types/profile.type';
import { formatArg, uuidArg } from './arguments';

const MIME_TYPE_RE = /^[^\s/]+\/[^\s/]+$/;

@Resolver(() => Profile)
export class ProfileResolver {
  @Query(() => ProfileConnection, { description: 'Flow profiles (GET /service/profiles), by id.' })
  async profiles(
    @Ctx() ctx: GraphqlContext,
    @Arg('format', () => String, { nullable: true }) format: string | null,
    @Arg('codec', () => String, { nullable: true }) codec: string | null,
    @Arg('label', () => String, { nullable: true }) label: string | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<Connection<Profile>> {
    // An omitted argument arrives as undefined, not null.
    if (codec != null && !MIME_TYPE_RE.test(codec)) {
      throw new TamsError('bad_request', 'Invalid argument codec: must be a MIME type such as video/h264');
    }
    const filter = {
      ...(format == null ? {} : { format: formatArg(format) }),
      ...(codec == null ? {} : { codec }),
      ...(label == null ? {} : { label }),
    };
    return paginate(
      (limit, page) => ctx.services.profiles.listProfiles(filter, { limit, ...(page === undefined ? {} : { page }) }),
      { first, after },
      ctx.limits,
      toProfile,
    );
  }

  @Query(() => Profile, { nullable: true, description: 'One profile, or null when there is none with this id.' })
  async profile(@Ctx() ctx: GraphqlContext, @Arg('id', () => ID) id: string): Promise<Profile | null> {
    const found = await orNull(ctx.services.profiles.getProfile(uuidArg('id', id)));
    return found === null ? null : toProfile(found);
  }
}
