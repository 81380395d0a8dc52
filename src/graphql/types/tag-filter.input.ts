import { Field, InputType } from 'type-graphql';

@InputType({ description: 'A condition on one tag (REST `tag.{name}` and `tag_exists.{name}`).' })
export class TagFilterInput {
  @Field()
  name!: string;

  @Field(() => [String], { nullable: true, description: 'The tag (or one of its values) is one of these.' })
  values?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'The tag is present (true) or absent (false).' })
  exists?: boolean | null;
}
