/** The GraphQL operations the explorer sends (schema/schema.graphql). */

export const FLOW_FIELDS = `id sourceId format label description codec container tags source { id label }`;

export const FLOWS_QUERY = `query ExplorerFlows($filter: FlowFilterInput, $after: String, $first: Int) {
  flows(first: $first, after: $after, filter: $filter, sortBy: LABEL) {
    nodes { ${FLOW_FIELDS} }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const FLOW_SEGMENTS_QUERY = `query ExplorerFlowSegments($id: ID!, $after: String, $first: Int) {
  flow(id: $id) {
    id
    timerange
    segments(reverse: true, first: $first, after: $after) {
      nodes { objectId timerange }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const SEGMENTS_ADDED_SUBSCRIPTION = `subscription ExplorerSegmentsAdded($flowIds: [ID!]) {
  flowSegmentsAdded(flowIds: $flowIds) { flowId segments { objectId timerange } }
}`;

export const SEGMENTS_DELETED_SUBSCRIPTION = `subscription ExplorerSegmentsDeleted($flowIds: [ID!]) {
  flowSegmentsDeleted(flowIds: $flowIds) { flowId timerange }
}`;

export const FLOW_CREATED_SUBSCRIPTION = `subscription ExplorerFlowCreated { flowCreated { id } }`;

export const FLOW_DELETED_SUBSCRIPTION = `subscription ExplorerFlowDeleted { flowDeleted { flowId } }`;

export interface FlowSummary {
  id: string;
  sourceId: string;
  format: string;
  label: string | null;
  description: string | null;
  codec: string | null;
  container: string | null;
  tags: Record<string, string | string[]> | null;
  source: { id: string; label: string | null } | null;
}

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface FlowsResult {
  flows: { nodes: FlowSummary[]; pageInfo: PageInfo };
}

export interface SegmentNode {
  objectId: string;
  timerange: string;
}

export interface FlowSegmentsResult {
  flow: { id: string; timerange: string; segments: { nodes: SegmentNode[]; pageInfo: PageInfo } } | null;
}

export interface SegmentsAddedEvent {
  flowSegmentsAdded: { flowId: string; segments: SegmentNode[] };
}

export interface SegmentsDeletedEvent {
  flowSegmentsDeleted: { flowId: string; timerange: string };
}
