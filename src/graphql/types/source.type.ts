import { Field, ID, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Source as SourceEntity, Tags } from '../../domain/entities';

// simpleResolvers: fields without a field resolver are read by graphql's default resolver, not a type-graphql wrapper each.
@ObjectType({ simpleResolvers: true, description: 'A TAMS source: the abstract content its flows are renditions of.' })
export class Source {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'The source format URN, e.g. urn:x-nmos:format:video.' })
  format!: string;

  @Field(() => String, { nullable: true })
  label?: string;

  @Field(() => String, { nullable: true })
  description?: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'All tags: name to a string or a list of strings.' })
  tags?: Tags;

  @Field(() => String, { nullable: true })
  created?: string;

  @Field(() => String, { nullable: true })
  updated?: string;

  @Field(() => String, { nullable: true })
  createdBy?: string;

  @Field(() => String, { nullable: true })
  updatedBy?: string;

  /** Ids of the sources whose collection holds this one (resolved as `collectedBy`). */
  collectedByIds!: string[];

  /** The source's own collection, inferred from its flows' collections (resolved as `collection`). */
  collectionItems!: { id: string; role: string }[];
}

@ObjectType({ simpleResolvers: true, description: 'A member of a source collection (inferred from flow collections): another source and the role it plays.' })
export class SourceCollectionItem {
  @Field(() => ID)
  sourceId!: string;

  @Field()
  role!: string;
}

export function toSource(s: SourceEntity): Source {
  return {
    id: s.id,
    format: s.format,
    ...(s.label === undefined ? {} : { label: s.label }),
    ...(s.description === undefined ? {} : { description: s.description }),
    ...(s.tags === undefined ? {} : { tags: s.tags }),
    ...(s.created === undefined ? {} : { created: s.created }),
    ...(s.updated === undefined ? {} : { updated: s.updated }),
    ...(s.created_by === undefined ? {} : { createdBy: s.created_by }),
    ...(s.updated_by === undefined ? {} : { updatedBy: s.updated_by }),
    collectedByIds: s.collected_by ?? [],
    collectionItems: (s.source_collection ?? []).map((item) => ({ id: item.id, role: item.role })),
  };
}
