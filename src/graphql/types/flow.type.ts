import { Field, ID, Int, InterfaceType, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { ContentFormat, Flow as FlowEntity, Tags } from '../../domain/entities';

// simpleResolvers: fields without a field resolver are read by graphql's default resolver, not a type-graphql wrapper each.
@ObjectType({ simpleResolvers: true, description: 'A rational number (frame rates, aspect ratios).' })
export class Rational {
  @Field(() => Int)
  numerator!: number;

  @Field(() => Int)
  denominator!: number;
}

const FLOW_TYPE_BY_FORMAT: Record<ContentFormat, string> = {
  'urn:x-nmos:format:video': 'VideoFlow',
  'urn:x-nmos:format:audio': 'AudioFlow',
  'urn:x-tam:format:image': 'ImageFlow',
  'urn:x-nmos:format:data': 'DataFlow',
  'urn:x-nmos:format:multi': 'MultiFlow',
};

/** The concrete GraphQL type of a flow: the Flow interface's resolveType. */
export function flowTypeName(flow: Flow): string | undefined {
  return FLOW_TYPE_BY_FORMAT[flow.format as ContentFormat];
}

@InterfaceType('Flow', {
  description: 'A TAMS flow: one rendition of a source. Its concrete type follows its format.',
  resolveType: flowTypeName,
})
export abstract class Flow {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  sourceId!: string;

  @Field({ description: 'The flow format URN, e.g. urn:x-nmos:format:video.' })
  format!: string;

  @Field(() => String, { nullable: true })
  label?: string;

  @Field(() => String, { nullable: true })
  description?: string;

  @Field(() => String, { nullable: true })
  codec?: string;

  @Field(() => String, { nullable: true })
  container?: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'All tags: name to a string or a list of strings.' })
  tags?: Tags;

  @Field()
  readOnly!: boolean;

  @Field(() => String, { nullable: true })
  created?: string;

  @Field(() => String, { nullable: true })
  createdBy?: string;

  @Field(() => String, { nullable: true })
  updatedBy?: string;

  @Field(() => String, { nullable: true, description: 'Changes with every change to the metadata (metadata_version).' })
  metadataVersion?: string;

  @Field(() => String, { nullable: true })
  metadataUpdated?: string;

  @Field(() => String, { nullable: true })
  segmentsUpdated?: string;

  @Field(() => Int, { nullable: true, description: 'Peak bit rate, kilobits per second.' })
  maxBitRate?: number;

  @Field(() => Int, { nullable: true, description: 'Average bit rate, kilobits per second.' })
  avgBitRate?: number;

  @Field(() => String, { nullable: true })
  profileId?: string;

  @Field(() => String, { nullable: true })
  status?: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'The essence parameters exactly as stored.' })
  essenceParameters?: Record<string, unknown>;

  /** Ids of the flows whose collection holds this one (resolved as `collectedBy`). */
  collectedByIds!: string[];

  /** The flow's own collection (resolved as `collection`). */
  collectionItems!: { id: string; role: string }[];
}

@ObjectType({ simpleResolvers: true, description: 'A member of a flow collection: another flow and the role it plays.' })
export class FlowCollectionItem {
  @Field(() => ID)
  flowId!: string;

  @Field()
  role!: string;
}

@ObjectType({ implements: Flow, simpleResolvers: true, description: 'A video flow (urn:x-nmos:format:video).' })
export class VideoFlow extends Flow {
  @Field(() => Rational, { nullable: true })
  frameRate?: Rational;

  @Field(() => Int, { nullable: true })
  frameWidth?: number;

  @Field(() => Int, { nullable: true })
  frameHeight?: number;

  @Field(() => Int, { nullable: true })
  bitDepth?: number;

  @Field(() => String, { nullable: true })
  interlaceMode?: string;

  @Field(() => String, { nullable: true })
  colorspace?: string;

  @Field(() => String, { nullable: true })
  transferCharacteristic?: string;

  @Field(() => Rational, { nullable: true })
  aspectRatio?: Rational;

  @Field(() => Rational, { nullable: true })
  pixelAspectRatio?: Rational;

  @Field(() => String, { nullable: true })
  componentType?: string;

  @Field(() => Int, { nullable: true })
  horizChromaSubs?: number;

  @Field(() => Int, { nullable: true })
  vertChromaSubs?: number;
}

@ObjectType({ implements: Flow, simpleResolvers: true, description: 'An audio flow (urn:x-nmos:format:audio).' })
export class AudioFlow extends Flow {
  @Field(() => Int, { nullable: true })
  sampleRate?: number;

  @Field(() => Int, { nullable: true })
  channels?: number;

  @Field(() => Int, { nullable: true })
  bitDepth?: number;
}

@ObjectType({ implements: Flow, simpleResolvers: true, description: 'An image flow (urn:x-tam:format:image).' })
export class ImageFlow extends Flow {
  @Field(() => Int, { nullable: true })
  frameWidth?: number;

  @Field(() => Int, { nullable: true })
  frameHeight?: number;
}

@ObjectType({ implements: Flow, simpleResolvers: true, description: 'A data flow (urn:x-nmos:format:data).' })
export class DataFlow extends Flow {
  @Field(() => String, { nullable: true })
  dataType?: string;
}

@ObjectType({ implements: Flow, simpleResolvers: true, description: 'A multi-essence flow (urn:x-nmos:format:multi).' })
export class MultiFlow extends Flow {}

/** Every concrete flow type, for the schema's orphanedTypes (they are reached through the interface). */
export const FLOW_TYPES = [VideoFlow, AudioFlow, ImageFlow, DataFlow, MultiFlow];

function int(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function rational(value: unknown): Rational | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { numerator, denominator } = value as { numerator?: unknown; denominator?: unknown };
  const n = int(numerator);
  if (n === undefined) return undefined;
  return { numerator: n, denominator: int(denominator) ?? 1 };
}

/** Copies the defined values onto `target`, so absent TAMS fields stay absent (and resolve to null). */
function assignDefined(target: Record<string, unknown>, fields: Record<string, unknown>): void {
  for (const key in fields) if (fields[key] !== undefined) target[key] = fields[key];
}

function assignEssenceFields(target: Record<string, unknown>, flow: FlowEntity): void {
  const e = flow.essence_parameters ?? {};
  switch (flow.format) {
    case 'urn:x-nmos:format:video':
      assignDefined(target, {
        frameRate: rational(e.frame_rate),
        frameWidth: int(e.frame_width),
        frameHeight: int(e.frame_height),
        bitDepth: int(e.bit_depth),
        interlaceMode: str(e.interlace_mode),
        colorspace: str(e.colorspace),
        transferCharacteristic: str(e.transfer_characteristic),
        aspectRatio: rational(e.aspect_ratio),
        pixelAspectRatio: rational(e.pixel_aspect_ratio),
        componentType: str(e.component_type),
        horizChromaSubs: int(e.horiz_chroma_subs),
        vertChromaSubs: int(e.vert_chroma_subs),
      });
      return;
    case 'urn:x-nmos:format:audio':
      assignDefined(target, { sampleRate: int(e.sample_rate), channels: int(e.channels), bitDepth: int(e.bit_depth) });
      return;
    case 'urn:x-tam:format:image':
      assignDefined(target, { frameWidth: int(e.frame_width), frameHeight: int(e.frame_height) });
      return;
    case 'urn:x-nmos:format:data':
      assignDefined(target, { dataType: str(e.data_type) });
      return;
    default:
      return;
  }
}

export function toFlow(f: FlowEntity): Flow {
  // One object filled in place: spreading partial objects into a literal measured ~20 µs a
  // flow (about 1 µs this way), and a query may return hundreds of flows.
  const flow: Flow = {
    id: f.id,
    sourceId: f.source_id,
    format: f.format,
    readOnly: f.read_only === true,
    collectedByIds: f.collected_by ?? [],
    collectionItems: (f.flow_collection ?? []).map((item) => ({ id: item.id, role: item.role })),
  };
  const fields = flow as unknown as Record<string, unknown>;
  assignDefined(fields, {
    label: f.label,
    description: f.description,
    codec: f.codec,
    container: f.container,
    tags: f.tags,
    created: f.created,
    createdBy: f.created_by,
    updatedBy: f.updated_by,
    metadataVersion: f.metadata_version,
    metadataUpdated: f.metadata_updated,
    segmentsUpdated: f.segments_updated,
    maxBitRate: f.max_bit_rate,
    avgBitRate: f.avg_bit_rate,
    profileId: f.profile_id,
    status: f.status,
    essenceParameters: f.essence_parameters,
  });
  assignEssenceFields(fields, f);
  return flow;
}
