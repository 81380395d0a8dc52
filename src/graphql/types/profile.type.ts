import { Field, ID, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Profile as ProfileEntity, Tags } from '../../domain/entities';

@ObjectType({ description: 'A flow profile: the technical part of a flow, shared by the flows linked to it.' })
export class Profile {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  label?: string;

  @Field(() => String, { nullable: true })
  description?: string;

  @Field(() => String, { nullable: true })
  created?: string;

  @Field(() => String, { nullable: true })
  createdBy?: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'All tags: name to a string or a list of strings.' })
  tags?: Tags;

  @Field(() => GraphQLJSONObject, { description: 'format, codec, container, essence_parameters... exactly as stored (TAMS names).' })
  flowMetadata!: Record<string, unknown>;
}

export function toProfile(p: ProfileEntity): Profile {
  const out: Profile = { id: p.id, flowMetadata: p.flow_metadata };
  if (p.label !== undefined) out.label = p.label;
  if (p.description !== undefined) out.description = p.description;
  if (p.created !== undefined) out.created = p.created;
  if (p.created_by !== undefined) out.createdBy = p.created_by;
  if (p.tags !== undefined) out.tags = p.tags;
  return out;
}
