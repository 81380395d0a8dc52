import 'reflect-metadata';
import type { GraphQLInterfaceType, GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { FLOW_TYPES, flowTypeName } from './flow.type';
import { FlowResolver } from './flow.resolver';
import { SegmentResolver } from './segment.resolver';
import { ServiceResolver } from './service.resolver';
import { SourceResolver } from './source.resolver';
import { ProfileResolver } from './profile.resolver';
import { WebhookResolver } from './webhook.resolver';
import { DeletionRequestResolver } from './deletion-request.resolver';
import { MediaObjectResolver } from './media-object.resolver';
import { FlowCollectionItemResolver } from './flow-collection.resolver';
import { PrincipalResolver } from './principal.resolver';
import { FlowMutationResolver } from './flow-mutation.resolver';
import { FlowPropertyMutationResolver } from './flow-property-mutation.resolver';
import { SourceMutationResolver } from './source-mutation.resolver';
import { SegmentMutationResolver } from './segment-mutation.resolver';
import { ObjectMutationResolver } from './object-mutation.resolver';
import { ServiceMutationResolver } from './service-mutation.resolver';
import { WebhookMutationResolver } from './webhook-mutation.resolver';
import { ProfileMutationResolver } from './profile-mutation.resolver';
import { NO_TOPIC_PUB_SUB, SubscriptionResolver } from './subscription.resolver';

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
