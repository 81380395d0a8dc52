import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int } from 'type-graphql';
import type { Tags } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { ContainerMappingInput, FlowTechnicalInput, MultiEssenceInput, containerMapping, essenceForms, oneForm, technicalFields } from './flow-technical.input';
import { compact, given } from '../resolvers/mutation-edge';

@InputType({ description: 'A member of a flow collection (TAMS collection-item.json).' })
export class FlowCollectionItemInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: 'What the member is for in the collection, e.g. "video".' })
  role?: string | null;

  @Field(() => ContainerMappingInput, { nullable: true })
  containerMapping?: ContainerMappingInput | null;
}

@InputType({
  description:
    'A whole flow document (PUT /flows/{flowId}), replacing the stored one. Technical metadata comes either from exactly one of video, audio, image, data or multi (with codec, container... alongside), or from a profile (profileId, and no technical fields). Server-managed fields (created, timerange, collected_by...) are not inputs.',
})
export class PutFlowInput extends FlowTechnicalInput {
  @Field(() => ID)
  sourceId!: string;

  @Field(() => MultiEssenceInput, { nullable: true })
  multi?: MultiEssenceInput | null;

  @Field(() => ID, { nullable: true, description: 'The profile-linked form: the profile supplies format, codec, container and essence parameters.' })
  profileId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'With technical metadata: unlink the flow from its profile (TAMS profile_id ""). Without it, a profile-linked flow keeps its link only while its technical metadata is unchanged.',
  })
  unlinkProfile?: boolean | null;

  @Field(() => String, { nullable: true })
  label?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'All tags (name to a string or a list of strings); omitted means none.' })
  tags?: Tags | null;

  @Field(() => String, { nullable: true })
  createdBy?: string | null;

  @Field(() => String, { nullable: true })
  updatedBy?: string | null;

  @Field(() => String, { nullable: true })
  metadataVersion?: string | null;

  @Field(() => Int, { nullable: true })
  generation?: number | null;

  @Field(() => String, { nullable: true, description: 'awaiting_content, ingesting, replication_in_progress or closed_complete.' })
  status?: string | null;

  @Field(() => Boolean, { nullable: true })
  readOnly?: boolean | null;

  @Field(() => Int, { nullable: true, description: 'Peak bit rate, kilobits per second.' })
  maxBitRate?: number | null;

  @Field(() => [FlowCollectionItemInput], { nullable: true })
  flowCollection?: FlowCollectionItemInput[] | null;
}

export function collectionItems(items: FlowCollectionItemInput[]): Record<string, unknown>[] {
  return items.map((item) => compact({ id: item.id, role: item.role, container_mapping: containerMapping(item.containerMapping) }));
}

const FLOW_FORMS = 'video, audio, image, data, multi (a flow with its own technical metadata) or profileId (a profile-linked flow)';

/** The TAMS flow-put.json body `input` stands for, before validation. */
export function toFlowPutBody(id: string, input: PutFlowInput): Record<string, unknown> {
  const linked = given(input.profileId);
  const essence = oneForm(essenceForms(input, input.multi), linked ? 1 : 0, FLOW_FORMS);
  if (linked && input.unlinkProfile === true) {
    throw new TamsError('bad_request', 'Give either profileId or unlinkProfile, not both');
  }
  return compact({
    id,
    source_id: input.sourceId,
    label: input.label,
    description: input.description,
    tags: input.tags,
    created_by: input.createdBy,
    updated_by: input.updatedBy,
    metadata_version: input.metadataVersion,
    generation: input.generation,
    status: input.status,
    read_only: input.readOnly,
    max_bit_rate: input.maxBitRate,
    flow_collection: given(input.flowCollection) ? collectionItems(input.flowCollection) : undefined,
    ...technicalFields(input, essence),
    profile_id: input.unlinkProfile === true ? '' : input.profileId,
  });
}
