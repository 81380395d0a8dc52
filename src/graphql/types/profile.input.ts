import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, InputType } from 'type-graphql';
import type { Tags } from '../../domain/entities';
import { FlowTechnicalInput, essenceForms, oneForm, technicalFields } from './flow-technical.input';
import { compact } from '../resolvers/mutation-edge';

@InputType({ description: 'A flow profile (TAMS profile.json). Profiles are immutable once created.' })
export class ProfileInput {
  @Field(() => String, { nullable: true })
  label?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true })
  createdBy?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Name to a string or a list of strings.' })
  tags?: Tags | null;

  @Field(() => FlowTechnicalInput, {
    description: 'The technical metadata linked flows take: exactly one of video, audio, image or data (multi-essence flows have no profiles).',
  })
  flowMetadata!: FlowTechnicalInput;
}

/** The TAMS profile body `input` stands for, before validation. */
export function toProfileBody(id: string, input: ProfileInput): Record<string, unknown> {
  const essence = oneForm(essenceForms(input.flowMetadata), 0, 'video, audio, image or data in flowMetadata');
  return compact({
    id,
    label: input.label,
    description: input.description,
    created_by: input.createdBy,
    tags: input.tags,
    flow_metadata: technicalFields(input.flowMetadata, essence),
  });
}
