/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Audio codec parameters (TAMS codec_parameters). */
export type AudioCodecParametersInput = {
  codedFrameSize?: number | null | undefined;
  mp4Oti?: number | null | undefined;
};

/** Essence parameters of an audio flow (urn:x-nmos:format:audio). */
export type AudioEssenceInput = {
  bitDepth?: number | null | undefined;
  channels: number;
  codecParameters?: AudioCodecParametersInput | null | undefined;
  initSegments?: boolean | null | undefined;
  sampleRate: number;
  uncParameters?: UncParametersInput | null | undefined;
};

/** Which audio channels of the container track the flow uses. */
export type AudioTrackMappingInput = {
  channelNumbers?: Array<number> | null | undefined;
  /** e.g. "0_1". */
  channelRange?: string | null | undefined;
};

/** AVC / H.264 codec parameters (TAMS avc_parameters). */
export type AvcParametersInput = {
  flags: number;
  level: number;
  profile: number;
};

/** Where the flow's essence is in its container (TAMS container_mapping). */
export type ContainerMappingInput = {
  audioTrack?: AudioTrackMappingInput | null | undefined;
  formatTrackIndex?: number | null | undefined;
  isobmffContainer?: IsobmffContainerMappingInput | null | undefined;
  mp2tsContainer?: Mp2tsContainerMappingInput | null | undefined;
  mxfContainer?: MxfContainerMappingInput | null | undefined;
  trackIndex?: number | null | undefined;
};

/** Essence parameters of a data flow (urn:x-nmos:format:data); {} when there are none. */
export type DataEssenceInput = {
  dataType?: string | null | undefined;
  initSegments?: boolean | null | undefined;
};

/** A member of a flow collection (TAMS collection-item.json). */
export type FlowCollectionItemInput = {
  containerMapping?: ContainerMappingInput | null | undefined;
  id: string;
  /** What the member is for in the collection, e.g. "video". */
  role?: string | null | undefined;
};

/** Filters of a flow listing (the GET /flows query parameters). */
export type FlowFilterInput = {
  codec?: string | null | undefined;
  /** Flows collected by one of these; [] for flows collected by none. */
  collectedByIds?: Array<string> | null | undefined;
  format?: string | null | undefined;
  frameHeight?: number | null | undefined;
  frameWidth?: number | null | undefined;
  initSegments?: boolean | null | undefined;
  label?: string | null | undefined;
  profileId?: string | null | undefined;
  sourceId?: string | null | undefined;
  /** ingesting, closed or unknown. */
  status?: string | null | undefined;
  tags?: Array<TagFilterInput> | null | undefined;
  /** Flows with segments overlapping it; "()" for flows with none. */
  timerange?: string | null | undefined;
};

/** A segment to register (TAMS flow-segment-post.json): a media object placed on the flow timeline. */
export type FlowSegmentInput = {
  getUrls?: Array<UncontrolledUrlInput> | null | undefined;
  /** The initialisation object the segment needs, if any. */
  initObjectId?: string | null | undefined;
  keyFrameCount?: number | null | undefined;
  /** A TAMS timestamp: the duration of the last sample. */
  lastDuration?: string | null | undefined;
  /** The media object: allocated with allocateStorage and uploaded, or reused from another flow. */
  objectId: string;
  objectTimerange?: string | null | undefined;
  sampleCount?: number | null | undefined;
  sampleOffset?: number | null | undefined;
  /** Where the segment sits on the flow timeline; it needs a start and an end. */
  timerange: string;
  /** A TAMS timestamp, e.g. "0:0". */
  tsOffset?: string | null | undefined;
};

/** Essence parameters of an image flow (urn:x-tam:format:image). */
export type ImageEssenceInput = {
  aspectRatio?: RationalInput | null | undefined;
  frameHeight: number;
  frameWidth: number;
};

export type IsobmffContainerMappingInput = {
  trackId?: number | null | undefined;
};

export type Mp2tsContainerMappingInput = {
  pid?: number | null | undefined;
};

/** Essence parameters of a multi-essence flow (urn:x-nmos:format:multi); {} when there are none. */
export type MultiEssenceInput = {
  initSegments?: boolean | null | undefined;
};

export type MxfContainerMappingInput = {
  packageUid?: string | null | undefined;
  trackId?: number | null | undefined;
};

/** A whole flow document (PUT /flows/{flowId}), replacing the stored one. Technical metadata comes either from exactly one of video, audio, image, data or multi (with codec, container... alongside), or from a profile (profileId, and no technical fields). Server-managed fields (created, timerange, collected_by...) are not inputs. */
export type PutFlowInput = {
  audio?: AudioEssenceInput | null | undefined;
  /** Average bit rate, kilobits per second. */
  avgBitRate?: number | null | undefined;
  /** MIME type of the coding, e.g. video/h264. Required for every format but multi. */
  codec?: string | null | undefined;
  /** MIME type of the segments, e.g. video/mp2t. Segments and storage need it. */
  container?: string | null | undefined;
  containerMapping?: ContainerMappingInput | null | undefined;
  createdBy?: string | null | undefined;
  data?: DataEssenceInput | null | undefined;
  description?: string | null | undefined;
  flowCollection?: Array<FlowCollectionItemInput> | null | undefined;
  generation?: number | null | undefined;
  image?: ImageEssenceInput | null | undefined;
  label?: string | null | undefined;
  /** Peak bit rate, kilobits per second. */
  maxBitRate?: number | null | undefined;
  metadataVersion?: string | null | undefined;
  multi?: MultiEssenceInput | null | undefined;
  /** The profile-linked form: the profile supplies format, codec, container and essence parameters. */
  profileId?: string | null | undefined;
  readOnly?: boolean | null | undefined;
  /** Target segment duration, seconds. */
  segmentDuration?: RationalInput | null | undefined;
  sourceId: string;
  /** awaiting_content, ingesting, replication_in_progress or closed_complete. */
  status?: string | null | undefined;
  /** All tags (name to a string or a list of strings); omitted means none. */
  tags?: Record<string, unknown> | null | undefined;
  /** With technical metadata: unlink the flow from its profile (TAMS profile_id ""). Without it, a profile-linked flow keeps its link only while its technical metadata is unchanged. */
  unlinkProfile?: boolean | null | undefined;
  updatedBy?: string | null | undefined;
  video?: VideoEssenceInput | null | undefined;
};

/** A rational number. The denominator defaults to 1 where TAMS allows it (frame rates, segment durations). */
export type RationalInput = {
  denominator?: number | null | undefined;
  numerator: number;
};

/** A condition on one tag (REST `tag.{name}` and `tag_exists.{name}`). */
export type TagFilterInput = {
  /** The tag is present (true) or absent (false). */
  exists?: boolean | null | undefined;
  name: string;
  /** The tag (or one of its values) is one of these. */
  values?: Array<string> | null | undefined;
};

/** A TAMS event type (webhook `event_type`): FLOWS_SEGMENTS_ADDED is flows/segments_added. */
export type TamsEventType =
  | 'FLOWS_CREATED'
  | 'FLOWS_DELETED'
  | 'FLOWS_SEGMENTS_ADDED'
  | 'FLOWS_SEGMENTS_DELETED'
  | 'FLOWS_UPDATED'
  | 'SOURCES_CREATED'
  | 'SOURCES_DELETED'
  | 'SOURCES_UPDATED';

/** Uncompressed essence packing (TAMS unc_parameters). */
export type UncParametersInput = {
  /** e.g. v210 or planar for video, interleaved for audio. */
  uncType: string;
};

/** A URL the media object can also be read from, outside the stores the gateway controls. */
export type UncontrolledUrlInput = {
  label: string;
  url: string;
};

/** Essence parameters of a video flow (urn:x-nmos:format:video). */
export type VideoEssenceInput = {
  aspectRatio?: RationalInput | null | undefined;
  avcParameters?: AvcParametersInput | null | undefined;
  bitDepth?: number | null | undefined;
  /** BT601, BT709, BT2020 or BT2100. */
  colorspace?: string | null | undefined;
  /** YCbCr or RGB. */
  componentType?: string | null | undefined;
  frameHeight: number;
  /** Required unless vfr is true; absent when it is. */
  frameRate?: RationalInput | null | undefined;
  frameWidth: number;
  horizChromaSubs?: number | null | undefined;
  initSegments?: boolean | null | undefined;
  /** progressive, interlaced_tff, interlaced_bff or interlaced_psf. */
  interlaceMode?: string | null | undefined;
  pixelAspectRatio?: RationalInput | null | undefined;
  /** SDR, HLG or PQ. */
  transferCharacteristic?: string | null | undefined;
  uncParameters?: UncParametersInput | null | undefined;
  vertChromaSubs?: number | null | undefined;
  /** Variable frame rate. */
  vfr?: boolean | null | undefined;
};

export type PutFlowMutationVariables = Exact<{
  id: string;
  input: PutFlowInput;
}>;


export type PutFlowMutation = { putFlow: { created: boolean, flow:
      | { id: string, sourceId: string, format: string, label: string | null }
      | { id: string, sourceId: string, format: string, label: string | null }
      | { id: string, sourceId: string, format: string, label: string | null }
      | { id: string, sourceId: string, format: string, label: string | null }
      | { id: string, sourceId: string, format: string, label: string | null }
     } };

export type SetFlowLabelMutationVariables = Exact<{
  flowId: string;
  label: string;
}>;


export type SetFlowLabelMutation = { setFlowLabel:
    | { id: string, label: string | null }
    | { id: string, label: string | null }
    | { id: string, label: string | null }
    | { id: string, label: string | null }
    | { id: string, label: string | null }
   };

export type AllocateStorageMutationVariables = Exact<{
  flowId: string;
  limit?: number | null | undefined;
}>;


export type AllocateStorageMutation = { allocateStorage: Array<{ objectId: string, putUrl: { url: string, contentType: string, headers: Array<{ name: string, value: string }> } }> };

export type RegisterSegmentsMutationVariables = Exact<{
  flowId: string;
  segments: Array<FlowSegmentInput> | FlowSegmentInput;
}>;


export type RegisterSegmentsMutation = { registerSegments: { registeredCount: number, failed: Array<{ objectId: string, timerange: string | null, code: string, error: { summary: string } }> } };

export type ServiceAndMeQueryVariables = Exact<{ [key: string]: never; }>;


export type ServiceAndMeQuery = { service: { name: string | null, description: string | null, apiVersion: string, serviceVersion: string }, me: { subject: string, scopes: Array<string>, authClasses: Array<string>, authenticated: boolean } };

export type FlowsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  filter?: FlowFilterInput | null | undefined;
}>;


export type FlowsQuery = { flows: { nodes: Array<
      | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, segmentsUpdated: string | null }
      | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, segmentsUpdated: string | null }
      | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, segmentsUpdated: string | null }
      | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, segmentsUpdated: string | null }
      | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, segmentsUpdated: string | null }
    >, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type FlowWithSegmentsQueryVariables = Exact<{
  id: string;
  timerange?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type FlowWithSegmentsQuery = { flow:
    | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, tags: Record<string, unknown> | null }
    | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, tags: Record<string, unknown> | null }
    | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, tags: Record<string, unknown> | null }
    | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, tags: Record<string, unknown> | null }
    | { id: string, sourceId: string, format: string, label: string | null, codec: string | null, container: string | null, tags: Record<string, unknown> | null }
   | null, segments: { nodes: Array<{ objectId: string, timerange: string, getUrls: Array<{ url: string, presigned: boolean }> }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type EventCursorQueryVariables = Exact<{ [key: string]: never; }>;


export type EventCursorQuery = { eventCursor: string };

export type FlowSegmentsAddedSubscriptionVariables = Exact<{
  after?: string | null | undefined;
  flowIds?: Array<string> | string | null | undefined;
}>;


export type FlowSegmentsAddedSubscription = { flowSegmentsAdded: { flowId: string, sourceId: string | null, eventTimestamp: string, segments: Array<{ objectId: string, timerange: string }> } };

export type FlowSegmentsDeletedSubscriptionVariables = Exact<{
  after?: string | null | undefined;
  flowIds?: Array<string> | string | null | undefined;
}>;


export type FlowSegmentsDeletedSubscription = { flowSegmentsDeleted: { flowId: string, timerange: string, eventTimestamp: string } };

export type FlowCreatedSubscriptionVariables = Exact<{
  after?: string | null | undefined;
  sourceIds?: Array<string> | string | null | undefined;
}>;


export type FlowCreatedSubscription = { flowCreated:
    | { id: string, sourceId: string, format: string, label: string | null }
    | { id: string, sourceId: string, format: string, label: string | null }
    | { id: string, sourceId: string, format: string, label: string | null }
    | { id: string, sourceId: string, format: string, label: string | null }
    | { id: string, sourceId: string, format: string, label: string | null }
   };

export type TamsEventsSubscriptionVariables = Exact<{
  after?: string | null | undefined;
  types?: Array<TamsEventType> | TamsEventType | null | undefined;
  flowIds?: Array<string> | string | null | undefined;
  sourceIds?: Array<string> | string | null | undefined;
}>;


export type TamsEventsSubscription = { tamsEvents: { eventType: TamsEventType, eventTimestamp: string, flowId: string | null, sourceId: string | null, event: Record<string, unknown> } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const PutFlowDocument = new TypedDocumentString(`
    mutation PutFlow($id: ID!, $input: PutFlowInput!) {
  putFlow(id: $id, input: $input) {
    created
    flow {
      id
      sourceId
      format
      label
    }
  }
}
    `) as unknown as TypedDocumentString<PutFlowMutation, PutFlowMutationVariables>;
export const SetFlowLabelDocument = new TypedDocumentString(`
    mutation SetFlowLabel($flowId: ID!, $label: String!) {
  setFlowLabel(flowId: $flowId, label: $label) {
    id
    label
  }
}
    `) as unknown as TypedDocumentString<SetFlowLabelMutation, SetFlowLabelMutationVariables>;
export const AllocateStorageDocument = new TypedDocumentString(`
    mutation AllocateStorage($flowId: ID!, $limit: Int) {
  allocateStorage(flowId: $flowId, limit: $limit) {
    objectId
    putUrl {
      url
      contentType
      headers {
        name
        value
      }
    }
  }
}
    `) as unknown as TypedDocumentString<AllocateStorageMutation, AllocateStorageMutationVariables>;
export const RegisterSegmentsDocument = new TypedDocumentString(`
    mutation RegisterSegments($flowId: ID!, $segments: [FlowSegmentInput!]!) {
  registerSegments(flowId: $flowId, segments: $segments) {
    registeredCount
    failed {
      objectId
      timerange
      code
      error {
        summary
      }
    }
  }
}
    `) as unknown as TypedDocumentString<RegisterSegmentsMutation, RegisterSegmentsMutationVariables>;
export const ServiceAndMeDocument = new TypedDocumentString(`
    query ServiceAndMe {
  service {
    name
    description
    apiVersion
    serviceVersion
  }
  me {
    subject
    scopes
    authClasses
    authenticated
  }
}
    `) as unknown as TypedDocumentString<ServiceAndMeQuery, ServiceAndMeQueryVariables>;
export const FlowsDocument = new TypedDocumentString(`
    query Flows($first: Int, $after: String, $filter: FlowFilterInput) {
  flows(first: $first, after: $after, filter: $filter) {
    nodes {
      id
      sourceId
      format
      label
      codec
      container
      segmentsUpdated
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<FlowsQuery, FlowsQueryVariables>;
export const FlowWithSegmentsDocument = new TypedDocumentString(`
    query FlowWithSegments($id: ID!, $timerange: TimeRange, $first: Int, $after: String) {
  flow(id: $id) {
    id
    sourceId
    format
    label
    codec
    container
    tags
  }
  segments(flowId: $id, timerange: $timerange, first: $first, after: $after) {
    nodes {
      objectId
      timerange
      getUrls {
        url
        presigned
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<FlowWithSegmentsQuery, FlowWithSegmentsQueryVariables>;
export const EventCursorDocument = new TypedDocumentString(`
    query EventCursor {
  eventCursor
}
    `) as unknown as TypedDocumentString<EventCursorQuery, EventCursorQueryVariables>;
export const FlowSegmentsAddedDocument = new TypedDocumentString(`
    subscription FlowSegmentsAdded($after: String, $flowIds: [ID!]) {
  flowSegmentsAdded(after: $after, flowIds: $flowIds) {
    flowId
    sourceId
    eventTimestamp
    segments {
      objectId
      timerange
    }
  }
}
    `) as unknown as TypedDocumentString<FlowSegmentsAddedSubscription, FlowSegmentsAddedSubscriptionVariables>;
export const FlowSegmentsDeletedDocument = new TypedDocumentString(`
    subscription FlowSegmentsDeleted($after: String, $flowIds: [ID!]) {
  flowSegmentsDeleted(after: $after, flowIds: $flowIds) {
    flowId
    timerange
    eventTimestamp
  }
}
    `) as unknown as TypedDocumentString<FlowSegmentsDeletedSubscription, FlowSegmentsDeletedSubscriptionVariables>;
export const FlowCreatedDocument = new TypedDocumentString(`
    subscription FlowCreated($after: String, $sourceIds: [ID!]) {
  flowCreated(after: $after, sourceIds: $sourceIds) {
    id
    sourceId
    format
    label
  }
}
    `) as unknown as TypedDocumentString<FlowCreatedSubscription, FlowCreatedSubscriptionVariables>;
export const TamsEventsDocument = new TypedDocumentString(`
    subscription TamsEvents($after: String, $types: [TamsEventType!], $flowIds: [ID!], $sourceIds: [ID!]) {
  tamsEvents(
    after: $after
    types: $types
    flowIds: $flowIds
    sourceIds: $sourceIds
  ) {
    eventType
    eventTimestamp
    flowId
    sourceId
    event
  }
}
    `) as unknown as TypedDocumentString<TamsEventsSubscription, TamsEventsSubscriptionVariables>;