/**
 * The tabs the IDE opens with on first use (GraphiQL keeps the user's own tabs afterwards, in
 * localStorage). Field names follow schema/schema.graphql; test/unit/graphiql-examples.test.ts
 * validates them against it.
 */
export interface ExampleTab {
  query: string;
  variables?: string;
}

const FLOWS_WITH_SEGMENTS = `# A few flows, each with its first segments.
# Run it with the button or Ctrl-Enter. With authentication
# on, paste a bearer token in the field above first.
query FlowsWithSegments {
  flows(first: 5) {
    nodes {
      id
      label
      format
      container
      segments(first: 10) {
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
  }
}
`;

const REGISTER_SEGMENTS = `# Registers segments on a flow (needs the write scope).
# Upload each object first (allocateStorage, then a PUT
# to its putUrl), or reuse an object of another flow.
mutation RegisterSegments($flowId: ID!, $segments: [FlowSegmentInput!]!) {
  registerSegments(flowId: $flowId, segments: $segments) {
    registeredCount
    failed {
      objectId
      timerange
      error {
        summary
      }
    }
  }
}
`;

const REGISTER_SEGMENTS_VARIABLES = `{
  "flowId": "00000000-0000-0000-0000-000000000000",
  "segments": [
    { "objectId": "object-id-from-allocateStorage", "timerange": "[0:0_10:0)" }
  ]
}
`;

const SEGMENTS_ADDED = `# Live: one event per registration, over a WebSocket
# at this same URL. Run it, then register segments (the
# tab before, or TAMS REST): each event shows here.
subscription SegmentsAdded {
  flowSegmentsAdded {
    flowId
    eventTimestamp
    segments {
      objectId
      timerange
    }
  }
}
`;

export const EXAMPLE_TABS: ExampleTab[] = [
  { query: FLOWS_WITH_SEGMENTS },
  { query: REGISTER_SEGMENTS, variables: REGISTER_SEGMENTS_VARIABLES },
  { query: SEGMENTS_ADDED },
];
