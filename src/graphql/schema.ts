import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { FLOW_TYPES } from './flow.type';
import { FlowResolver } from './flow.resolver';
import { SegmentResolver } from './segment.resolver';
import { ServiceResolver } from './service.resolver';
import { SourceResolver } from './source.resolver';

let built: Promise<GraphQLSchema> | undefined;

/** The GraphQL schema, built once from the resolvers (it holds no per-gateway state). */
export function buildTamsSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: [ServiceResolver, SourceResolver, FlowResolver, SegmentResolver],
    orphanedTypes: FLOW_TYPES,
    emitSchemaFile: false,
    validate: false,
  });
  return built;
}
