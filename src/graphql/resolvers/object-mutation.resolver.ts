import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { TamsError } from '../../domain/errors';
import type { InstanceSelector } from '../../ports/metadata-store';
import { validateObjectInstancePost } from '../../validation/registration-validators';
import type { InstanceRequest } from '../../services/storage-service';
import type { GraphqlContext } from '../context';
import { MediaObject, toMediaObject } from '../types/media-object.type';
import { checkBody, compact, forgetLoaded, given } from './mutation-edge';
import { objectIdArg, uuidArg } from './arguments';

/** The instances of a media object (POST and DELETE /objects/{objectId}/instances); each answers the object after the change. */
@Resolver()
export class ObjectMutationResolver {
  private async changed(ctx: GraphqlContext, id: string): Promise<MediaObject> {
    forgetLoaded(ctx);
    const found = await ctx.loaders.objects.load(id);
    if (found === null) throw new TamsError('not_found', `Object ${id} does not exist`);
    return toMediaObject(found);
  }

  @Mutation(() => MediaObject, {
    description:
      'Adds an instance of a registered object (POST /objects/{objectId}/instances): a copy on storage backend storageId, or an uncontrolled instance at url with label. Give one form, not both.',
  })
  async addObjectInstance(
    @Ctx() ctx: GraphqlContext,
    @Arg('objectId') objectId: string,
    @Arg('storageId', () => ID, { nullable: true }) storageId: string | null,
    @Arg('url', () => String, { nullable: true }) url: string | null,
    @Arg('label', () => String, { nullable: true }) label: string | null,
  ): Promise<MediaObject> {
    const id = objectIdArg('objectId', objectId);
    const body = compact({ storage_id: storageId, url, label });
    checkBody(validateObjectInstancePost(body));
    await ctx.services.storage.addInstance(ctx.request, id, body as InstanceRequest);
    return this.changed(ctx, id);
  }

  @Mutation(() => MediaObject, {
    description:
      'Removes one instance of an object, named by its storage backend (storageId) or its label (DELETE /objects/{objectId}/instances). The last instance is never removed.',
  })
  async removeObjectInstance(
    @Ctx() ctx: GraphqlContext,
    @Arg('objectId') objectId: string,
    @Arg('storageId', () => ID, { nullable: true }) storageId: string | null,
    @Arg('label', () => String, { nullable: true }) label: string | null,
  ): Promise<MediaObject> {
    const id = objectIdArg('objectId', objectId);
    await ctx.services.storage.removeInstance(ctx.request, id, instanceSelector(storageId, label));
    return this.changed(ctx, id);
  }
}

/** Exactly one of storageId and label names the instance, as REST's query parameters do. */
function instanceSelector(storageId: string | null, label: string | null): InstanceSelector {
  if (given(storageId) === given(label)) throw new TamsError('bad_request', 'Give exactly one of the arguments storageId and label');
  if (given(storageId)) return { storage_id: uuidArg('storageId', storageId) };
  if (label === '') throw new TamsError('bad_request', 'Invalid argument label: must not be empty');
  return { label: label as string };
}
