import { Field, InputType, Int } from 'type-graphql';
import type { ContentFormat } from '../../domain/entities';
import { TamsError } from '../../domain/errors';
import { compact, given } from '../resolvers/mutation-edge';

/*
 * Typed forms of the TAMS technical flow metadata (flow-technical.json and the per-format
 * essence parameters of flow-video.json, flow-audio.json, ...). Field names are the TAMS
 * names in camelCase. Values are checked by the REST body validators once converted back
 * to TAMS JSON, so enumerations (interlaceMode, colorspace, ...) take the TAMS strings and
 * a bad one is refused with the same message REST gives.
 */

@InputType({ description: 'A rational number. The denominator defaults to 1 where TAMS allows it (frame rates, segment durations).' })
export class RationalInput {
  @Field(() => Int)
  numerator!: number;

  @Field(() => Int, { nullable: true })
  denominator?: number | null;
}

@InputType({ description: 'Uncompressed essence packing (TAMS unc_parameters).' })
export class UncParametersInput {
  @Field({ description: 'e.g. v210 or planar for video, interleaved for audio.' })
  uncType!: string;
}

@InputType({ description: 'AVC / H.264 codec parameters (TAMS avc_parameters).' })
export class AvcParametersInput {
  @Field(() => Int)
  profile!: number;

  @Field(() => Int)
  level!: number;

  @Field(() => Int)
  flags!: number;
}

@InputType({ description: 'Audio codec parameters (TAMS codec_parameters).' })
export class AudioCodecParametersInput {
  @Field(() => Int, { nullable: true })
  codedFrameSize?: number | null;

  @Field(() => Int, { nullable: true })
  mp4Oti?: number | null;
}

@InputType({ description: 'Which audio channels of the container track the flow uses.' })
export class AudioTrackMappingInput {
  @Field(() => [Int], { nullable: true })
  channelNumbers?: number[] | null;

  @Field(() => String, { nullable: true, description: 'e.g. "0_1".' })
  channelRange?: string | null;
}

@InputType()
export class Mp2tsContainerMappingInput {
  @Field(() => Int, { nullable: true })
  pid?: number | null;
}

@InputType()
export class MxfContainerMappingInput {
  @Field(() => String, { nullable: true })
  packageUid?: string | null;

  @Field(() => Int, { nullable: true })
  trackId?: number | null;
}

@InputType()
export class IsobmffContainerMappingInput {
  @Field(() => Int, { nullable: true })
  trackId?: number | null;
}

@InputType({ description: "Where the flow's essence is in its container (TAMS container_mapping)." })
export class ContainerMappingInput {
  @Field(() => Int, { nullable: true })
  trackIndex?: number | null;

  @Field(() => Int, { nullable: true })
  formatTrackIndex?: number | null;

  @Field(() => AudioTrackMappingInput, { nullable: true })
  audioTrack?: AudioTrackMappingInput | null;

  @Field(() => Mp2tsContainerMappingInput, { nullable: true })
  mp2tsContainer?: Mp2tsContainerMappingInput | null;

  @Field(() => MxfContainerMappingInput, { nullable: true })
  mxfContainer?: MxfContainerMappingInput | null;

  @Field(() => IsobmffContainerMappingInput, { nullable: true })
  isobmffContainer?: IsobmffContainerMappingInput | null;
}

@InputType({ description: 'Essence parameters of a video flow (urn:x-nmos:format:video).' })
export class VideoEssenceInput {
  @Field(() => Int)
  frameWidth!: number;

  @Field(() => Int)
  frameHeight!: number;

  @Field(() => RationalInput, { nullable: true, description: 'Required unless vfr is true; absent when it is.' })
  frameRate?: RationalInput | null;

  @Field(() => Boolean, { nullable: true, description: 'Variable frame rate.' })
  vfr?: boolean | null;

  @Field(() => Int, { nullable: true })
  bitDepth?: number | null;

  @Field(() => String, { nullable: true, description: 'progressive, interlaced_tff, interlaced_bff or interlaced_psf.' })
  interlaceMode?: string | null;

  @Field(() => String, { nullable: true, description: 'BT601, BT709, BT2020 or BT2100.' })
  colorspace?: string | null;

  @Field(() => String, { nullable: true, description: 'SDR, HLG or PQ.' })
  transferCharacteristic?: string | null;

  @Field(() => RationalInput, { nullable: true })
  aspectRatio?: RationalInput | null;

  @Field(() => RationalInput, { nullable: true })
  pixelAspectRatio?: RationalInput | null;

  @Field(() => String, { nullable: true, description: 'YCbCr or RGB.' })
  componentType?: string | null;

  @Field(() => Int, { nullable: true })
  horizChromaSubs?: number | null;

  @Field(() => Int, { nullable: true })
  vertChromaSubs?: number | null;

  @Field(() => UncParametersInput, { nullable: true })
  uncParameters?: UncParametersInput | null;

  @Field(() => AvcParametersInput, { nullable: true })
  avcParameters?: AvcParametersInput | null;

  @Field(() => Boolean, { nullable: true })
  initSegments?: boolean | null;
}

@InputType({ description: 'Essence parameters of an audio flow (urn:x-nmos:format:audio).' })
export class AudioEssenceInput {
  @Field(() => Int)
  sampleRate!: number;

  @Field(() => Int)
  channels!: number;

  @Field(() => Int, { nullable: true })
  bitDepth?: number | null;

  @Field(() => AudioCodecParametersInput, { nullable: true })
  codecParameters?: AudioCodecParametersInput | null;

  @Field(() => UncParametersInput, { nullable: true })
  uncParameters?: UncParametersInput | null;

  @Field(() => Boolean, { nullable: true })
  initSegments?: boolean | null;
}

@InputType({ description: 'Essence parameters of an image flow (urn:x-tam:format:image).' })
export class ImageEssenceInput {
  @Field(() => Int)
  frameWidth!: number;

  @Field(() => Int)
  frameHeight!: number;

  @Field(() => RationalInput, { nullable: true })
  aspectRatio?: RationalInput | null;
}

@InputType({ description: 'Essence parameters of a data flow (urn:x-nmos:format:data); {} when there are none.' })
export class DataEssenceInput {
  @Field(() => String, { nullable: true })
  dataType?: string | null;

  @Field(() => Boolean, { nullable: true })
  initSegments?: boolean | null;
}

@InputType({ description: 'Essence parameters of a multi-essence flow (urn:x-nmos:format:multi); {} when there are none.' })
export class MultiEssenceInput {
  @Field(() => Boolean, { nullable: true })
  initSegments?: boolean | null;
}

@InputType({
  description:
    'Technical metadata of a flow or a profile (TAMS flow-technical.json): the format-independent fields, and the essence parameters of exactly one format (the field given names the format).',
})
export class FlowTechnicalInput {
  @Field(() => String, { nullable: true, description: 'MIME type of the coding, e.g. video/h264. Required for every format but multi.' })
  codec?: string | null;

  @Field(() => String, { nullable: true, description: 'MIME type of the segments, e.g. video/mp2t. Segments and storage need it.' })
  container?: string | null;

  @Field(() => Int, { nullable: true, description: 'Average bit rate, kilobits per second.' })
  avgBitRate?: number | null;

  @Field(() => RationalInput, { nullable: true, description: 'Target segment duration, seconds.' })
  segmentDuration?: RationalInput | null;

  @Field(() => ContainerMappingInput, { nullable: true })
  containerMapping?: ContainerMappingInput | null;

  @Field(() => VideoEssenceInput, { nullable: true })
  video?: VideoEssenceInput | null;

  @Field(() => AudioEssenceInput, { nullable: true })
  audio?: AudioEssenceInput | null;

  @Field(() => ImageEssenceInput, { nullable: true })
  image?: ImageEssenceInput | null;

  @Field(() => DataEssenceInput, { nullable: true })
  data?: DataEssenceInput | null;
}

function rational(input: RationalInput | null | undefined): Record<string, unknown> | undefined {
  return given(input) ? compact({ numerator: input.numerator, denominator: input.denominator }) : undefined;
}

function uncParameters(input: UncParametersInput | null | undefined): Record<string, unknown> | undefined {
  return given(input) ? { unc_type: input.uncType } : undefined;
}

export function containerMapping(input: ContainerMappingInput | null | undefined): Record<string, unknown> | undefined {
  if (!given(input)) return undefined;
  const { audioTrack, mp2tsContainer, mxfContainer, isobmffContainer } = input;
  return compact({
    track_index: input.trackIndex,
    format_track_index: input.formatTrackIndex,
    audio_track: given(audioTrack) ? compact({ channel_numbers: audioTrack.channelNumbers, channel_range: audioTrack.channelRange }) : undefined,
    mp2ts_container: given(mp2tsContainer) ? compact({ pid: mp2tsContainer.pid }) : undefined,
    mxf_container: given(mxfContainer) ? compact({ package_uid: mxfContainer.packageUid, track_id: mxfContainer.trackId }) : undefined,
    isobmff_container: given(isobmffContainer) ? compact({ track_id: isobmffContainer.trackId }) : undefined,
  });
}

function videoEssence(v: VideoEssenceInput): Record<string, unknown> {
  return compact({
    frame_width: v.frameWidth,
    frame_height: v.frameHeight,
    frame_rate: rational(v.frameRate),
    vfr: v.vfr,
    bit_depth: v.bitDepth,
    interlace_mode: v.interlaceMode,
    colorspace: v.colorspace,
    transfer_characteristic: v.transferCharacteristic,
    aspect_ratio: rational(v.aspectRatio),
    pixel_aspect_ratio: rational(v.pixelAspectRatio),
    component_type: v.componentType,
    horiz_chroma_subs: v.horizChromaSubs,
    vert_chroma_subs: v.vertChromaSubs,
    unc_parameters: uncParameters(v.uncParameters),
    avc_parameters: given(v.avcParameters)
      ? { profile: v.avcParameters.profile, level: v.avcParameters.level, flags: v.avcParameters.flags }
      : undefined,
    init_segments: v.initSegments,
  });
}

function audioEssence(a: AudioEssenceInput): Record<string, unknown> {
  return compact({
    sample_rate: a.sampleRate,
    channels: a.channels,
    bit_depth: a.bitDepth,
    codec_parameters: given(a.codecParameters)
      ? compact({ coded_frame_size: a.codecParameters.codedFrameSize, mp4_oti: a.codecParameters.mp4Oti })
      : undefined,
    unc_parameters: uncParameters(a.uncParameters),
    init_segments: a.initSegments,
  });
}

/** The format chosen by the one essence field given, with its TAMS essence_parameters. */
interface Essence {
  format: ContentFormat;
  essence_parameters?: Record<string, unknown>;
}

/**
 * The essence forms present in `input`, by field name. `multi` is a flow-only form (profiles
 * describe single-essence flows), so callers that accept it pass it in.
 */
export function essenceForms(input: FlowTechnicalInput, multi?: MultiEssenceInput | null): Map<string, Essence> {
  const forms = new Map<string, Essence>();
  if (given(input.video)) forms.set('video', { format: 'urn:x-nmos:format:video', essence_parameters: videoEssence(input.video) });
  if (given(input.audio)) forms.set('audio', { format: 'urn:x-nmos:format:audio', essence_parameters: audioEssence(input.audio) });
  if (given(input.image)) {
    const i = input.image;
    forms.set('image', {
      format: 'urn:x-tam:format:image',
      essence_parameters: compact({ frame_width: i.frameWidth, frame_height: i.frameHeight, aspect_ratio: rational(i.aspectRatio) }),
    });
  }
  if (given(input.data)) {
    forms.set('data', {
      format: 'urn:x-nmos:format:data',
      essence_parameters: compact({ data_type: input.data.dataType, init_segments: input.data.initSegments }),
    });
  }
  if (given(multi)) {
    // flow-multi.json requires no essence_parameters: send them only when there are some.
    const parameters = compact({ init_segments: multi.initSegments });
    forms.set('multi', { format: 'urn:x-nmos:format:multi', ...(Object.keys(parameters).length > 0 ? { essence_parameters: parameters } : {}) });
  }
  return forms;
}

/** The TAMS technical fields of a flow or profile, for the given essence. */
export function technicalFields(input: FlowTechnicalInput, essence: Essence | undefined): Record<string, unknown> {
  return compact({
    ...essence,
    codec: input.codec,
    container: input.container,
    avg_bit_rate: input.avgBitRate,
    segment_duration: rational(input.segmentDuration),
    container_mapping: containerMapping(input.containerMapping),
  });
}

/**
 * The one essence form given, when `alternatives` (how many non-essence forms the caller
 * found, e.g. a profileId) is 0; undefined when it is 1. Anything else is a bad request.
 */
export function oneForm(forms: Map<string, Essence>, alternatives: number, choices: string): Essence | undefined {
  if (forms.size + alternatives !== 1) throw new TamsError('bad_request', `Give exactly one of ${choices}`);
  return forms.values().next().value;
}
