import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import type { SourceFilter } from '../../ports/metadata-store';
import { TagFilterInput } from './tag-filter.input';
import { formatArg, tagFilterArg, uuidArg } from '../resolvers/arguments';

export enum SourceSortBy {
  CREATED = 'created',
  UPDATED = 'updated',
  LABEL = 'label',
}

registerEnumType(SourceSortBy, { name: 'SourceSortBy', description: 'Orders of a source listing.' });

@InputType({ description: 'Filters of a source listing (the GET /sources query parameters).' })
export class SourceFilterInput {
  @Field(() => String, { nullable: true })
  label?: string | null;

  @Field(() => String, { nullable: true })
  format?: string | null;

  @Field(() => [TagFilterInput], { nullable: true })
  tags?: TagFilterInput[] | null;

  @Field(() => [ID], { nullable: true, description: 'Sources collected by one of these; [] for sources collected by none.' })
  collectedByIds?: string[] | null;
}

export function toSourceFilter(input: SourceFilterInput | undefined, sortBy: SourceSortBy | undefined, reverse: boolean): SourceFilter {
  const filter: SourceFilter = { reverse };
  if (sortBy !== undefined) filter.sort_by = sortBy;
  if (input === undefined) return filter;
  if (input.label !== undefined && input.label !== null) filter.label = input.label;
  if (input.format !== undefined && input.format !== null) filter.format = formatArg(input.format);
  const tags = tagFilterArg(input.tags ?? undefined);
  if (tags !== undefined) filter.tags = tags;
  if (input.collectedByIds !== undefined && input.collectedByIds !== null) {
    filter.collected_by_ids = input.collectedByIds.map((id) => uuidArg('collectedByIds', id));
  }
  return filter;
}
