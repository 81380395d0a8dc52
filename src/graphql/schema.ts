import 'reflect-metadata';
import type { GraphQLInterfaceType, GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { FLOW_TYPES, flowTypeName } from './types/flow.type';
import { FlowResolver } from './resolvers/flow.resolver';
import { SegmentResolver } from './resolvers/segment.resolver';
import { ServiceResolver } from './resolvers/service.resolver';
import { SourceResolver } from './resolvers/source.resolver';
import { ProfileResolver } from './resolvers/profile.resolver';
import { WebhookResolver } from './resolvers/webhook.resolver';
import { DeletionRequestResolver } from './resolvers/deletion-request.resolver';
import { MediaObjectResolver } from './resolvers/media-object.resolver';
import { FlowCollectionItemResolver } from './resolvers/flow-collection.resolver';
import { SourceCollectionItemResolver } from './resolvers/source-collection.resolver';
import { PrincipalResolver } from './resolvers/principal.resolver';
import { FlowMutationResolver } from './resolvers/flow-mutation.resolver';
import { FlowPropertyMutationResolver } from './resolvers/flow-property-mutation.resolver';
import { SourceMutationResolver } from './resolvers/source-mutation.resolver';
import { SegmentMutationResolver } from './resolvers/segment-mutation.resolver';
import { ObjectMutationResolver } from './resolvers/object-mutation.resolver';
import { ServiceMutationResolver } from './resolvers/service-mutation.resolver';
import { WebhookMutationResolver } from './resolvers/webhook-mutation.resolver';
import { ProfileMutationResolver } from './resolvers/profile-mutation.resolver';
import { NO_TOPIC_PUB_SUB, SubscriptionResolver } from './subscriptions/subscription.resolver';

let built: Promise<GraphQLSchema> | undefined;

/** The GraphQL schema, built once from the resolvers (it holds no per-gateway state). */
export function buildTamsSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: [
      ServiceResolver,
      SourceResolver,
      FlowResolver,
      SegmentResolver,
      ProfileResolver,
      WebhookResolver,
      DeletionRequestResolver,
      MediaObjectResolver,
      FlowCollectionItemResolver,
      SourceCollectionItemResolver,
      PrincipalResolver,
      FlowMutationResolver,
      FlowPropertyMutationResolver,
      SourceMutationResolver,
      SegmentMutationResolver,
      ObjectMutationResolver,
      ServiceMutationResolver,
      WebhookMutationResolver,
      ProfileMutationResolver,
      SubscriptionResolver,
    ],
    pubSub: NO_TOPIC_PUB_SUB,
    orphanedTypes: FLOW_TYPES,
    emitSchemaFile: false,
    validate: false,
  }).then((schema) => {
    // type-graphql wraps resolveType in an async function: graphql-js then waits a tick per
    // flow, and graphql-jit (jit-executor.ts) cannot use a promised type at all.
    (schema.getType('Flow') as GraphQLInterfaceType).resolveType = flowTypeName;
    return schema;
  });
  return built;
}
