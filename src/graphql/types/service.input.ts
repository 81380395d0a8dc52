import { Field, InputType } from 'type-graphql';

@InputType({ description: 'The service fields a client may set (POST /service); a field left out keeps its value.' })
export class ServiceInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;
}
